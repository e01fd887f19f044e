"""Real test documents written into a temporary folder: PDFs (reportlab), images (Pillow), servers.

Shared by ``tests/unit/documents/`` and ``tests/integration/test_documents_*.py``.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from PIL import Image

Placed = tuple[float, float, str]  # x, y (PDF points from the bottom left), text


def make_pdf(
    path: Path,
    pages: Sequence[str | Sequence[Placed]],
    *,
    encrypt: str | None = None,
    title: str | None = None,
    pagesize: tuple[float, float] = (595.0, 842.0),
    rotation: int = 0,
    font_size: float = 12,
) -> Path:
    """A PDF with a real text layer; a page is a string (drawn at 72, 750) or a list of placed strings."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=pagesize, encrypt=encrypt)
    if title:
        c.setTitle(title)
    for page in pages:
        if rotation:
            c.setPageRotation(rotation)
        c.setFont("Helvetica", font_size)
        placed = [(72.0, 750.0, page)] if isinstance(page, str) else page
        for x, y, text in placed:
            c.drawString(x, y, text)
        c.showPage()
    c.save()
    return path


def text_width(text: str, font_size: float = 12) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return float(stringWidth(text, "Helvetica", font_size))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pdfinfo_pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^Pages:\s+(\d+)", out, re.M)
    assert match, out
    return int(match.group(1))


def dark_fraction(image: Image.Image, box: tuple[float, float, float, float]) -> float:
    """Share of pixels darker than mid-grey inside ``box`` (0 when the box is empty)."""
    x0, y0, x1, y1 = (round(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    crop = image.convert("L").crop((x0, y0, x1, y1))
    histogram = crop.histogram()
    return sum(histogram[:128]) / max(1, crop.width * crop.height)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` but holds almost no data (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer encoding needs it
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes, float]]] = {}

    def do_GET(self) -> None:
        import time

        status, headers, body, delay = self.routes.get(self.path, (404, {}, b"not found", 0.0))
        if delay:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Connection", "close")
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if headers.get("Transfer-Encoding") == "chunked":
            for i in range(0, len(body), 4096):
                part = body[i : i + 4096]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up early (size limit, timeout) is what some tests do on purpose


@contextmanager
def http_server(routes: dict[str, tuple[int, dict[str, str], bytes, float]]) -> Iterator[str]:
    """A loopback HTTP server in a thread answering ``routes`` (path -> status, headers, body, delay)."""
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
