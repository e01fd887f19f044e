"""Image URLs fetched from a real HTTP server (stdlib ``http.server`` in a thread), not a mock."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from qwenvl_agents.errors import ImageInputError
from qwenvl_agents.vlm.images import fetch_image_bytes, load_image, prepare_image


def _png(size: tuple[int, int] = (120, 80), color: str = "green") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    release: threading.Event  # set at teardown so the slow handlers end at once

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/photo.png":
            self._send(200, _png(), "image/png")
        elif self.path == "/photo-no-type":
            self._send(200, _png((50, 50)), "application/octet-stream")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/photo.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow.png":
            self.release.wait(30)  # never answers within the client's timeout
        elif self.path == "/trickle.png":
            # Headers at once, then a byte every 0.1 s: each read is quick, the whole is not.
            body = _png()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                if self.release.wait(0.1):
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
        elif self.path == "/page.html":
            self._send(200, b"<html><body>a gallery</body></html>", "text/html; charset=utf-8")
        elif self.path == "/garbage":
            self._send(200, b"\x00\x01not an image at all" * 10, "image/png")
        elif self.path == "/big.png":
            self._send(200, _png((600, 600)), "image/png")
        elif self.path == "/big-undeclared.png":
            # HTTP/1.0 without Content-Length: the body ends when the connection closes.
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(Image.effect_noise((200, 200), 60).tobytes() * 4)
        else:
            self._send(404, b"not here", "text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"release": release})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    release.set()
    httpd.shutdown()
    httpd.server_close()


def test_image_url_is_fetched_and_sized(server: str) -> None:
    prepared = prepare_image(f"{server}/photo.png", min_pixels=16 * 784, max_pixels=96 * 784)
    assert (prepared.original_width, prepared.original_height) == (120, 80)
    assert prepared.data_url.startswith("data:image/png;base64,")
    assert prepared.source == f"{server}/photo.png"
    # Redirects are followed; an unhelpful content type is fine when the bytes are an image.
    assert load_image(f"{server}/moved").size == (120, 80)
    assert load_image(f"{server}/photo-no-type").size == (50, 50)


def test_slow_url_times_out_with_a_clear_message(server: str) -> None:
    start = time.monotonic()
    with pytest.raises(ImageInputError) as info:
        load_image(f"{server}/slow.png", timeout=0.5)
    assert time.monotonic() - start < 5
    assert str(info.value) == (
        f"{server}/slow.png: did not answer within 0.5 s; check the server or raise QWENVL_IMAGE_FETCH_TIMEOUT"
    )


def test_trickling_url_is_bounded_by_the_whole_timeout(server: str) -> None:
    start = time.monotonic()
    with pytest.raises(ImageInputError, match=r"did not answer within 0\.8 s"):
        fetch_image_bytes(f"{server}/trickle.png", timeout=0.8)
    assert time.monotonic() - start < 5


def test_http_errors_and_web_pages_are_named(server: str) -> None:
    with pytest.raises(ImageInputError, match=r"/missing\.png: the server answered HTTP 404 Not Found"):
        load_image(f"{server}/missing.png")
    with pytest.raises(ImageInputError, match=r"/page\.html: is not an image: the server sent text/html"):
        load_image(f"{server}/page.html")
    with pytest.raises(ImageInputError, match=r"/garbage: is not an image Pillow can read"):
        load_image(f"{server}/garbage")


def test_size_cap_stops_the_download(server: str) -> None:
    size = len(fetch_image_bytes(f"{server}/big.png"))
    with pytest.raises(ImageInputError, match="more than 1,000 "):
        load_image(f"{server}/big.png", max_bytes=1000)
    with pytest.raises(ImageInputError, match="is more than 50,000 bytes"):
        load_image(f"{server}/big-undeclared.png", max_bytes=50_000)
    assert load_image(f"{server}/big.png", max_bytes=size).size == (600, 600)
    with pytest.raises(ImageInputError, match="max_image_pixels=100,000"):
        load_image(f"{server}/big.png", max_image_pixels=100_000)


def test_unreachable_host_is_a_clear_error() -> None:
    # A port nothing listens on: bind one, then close it.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ImageInputError, match=r"could not be fetched \(ConnectError"):
        load_image(f"http://127.0.0.1:{port}/a.png", timeout=2)
