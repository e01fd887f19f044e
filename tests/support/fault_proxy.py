"""A real HTTP proxy in front of the vLLM test server that injects faults on demand.

Modes (``proxy.set_mode(mode, times=N)``; ``times=None`` keeps the mode until changed):

- ``pass``: forward everything unchanged;
- ``refuse``: stop listening, so connections are refused (``set_mode("pass")`` listens again, same port);
- ``http_500``: answer chat requests with HTTP ``status`` (500 by default, e.g. 503/429) and an optional
  ``Retry-After`` header, without forwarding;
- ``slow``: hold chat requests for ``delay`` seconds (past the client's timeout), then forward;
- ``truncate_json``: forward, then cut the completion's ``content`` in half and set ``finish_reason``
  ``length``;
- ``invalid_json``: forward, then replace ``content`` with text that is not JSON.

Only ``POST .../chat/completions`` requests are faulted (``refuse`` aside); ``GET /v1/models`` passes.
``counts`` tallies requests by path, ``faults`` by injected mode, ``bodies`` keeps the chat request
bodies, and ``max_in_flight`` the most chat requests seen at once.

Example:
    >>> with FaultProxy("http://127.0.0.1:8799") as proxy:  # doctest: +SKIP
    ...     proxy.set_mode("http_500", times=2)
    ...     # point a VLMClient at proxy.base_url ...
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MODES = ("pass", "refuse", "http_500", "slow", "truncate_json", "invalid_json")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures, not traffic
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        proxy = self.server.proxy
        if proxy.mode == "refuse":
            # A stopped server also drops the connections that were already open (keep-alive ones).
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        is_chat = self.command == "POST" and self.path.rstrip("/").endswith("/chat/completions")
        mode, options = proxy._take(self.path, is_chat, body)
        try:
            if mode == "http_500":
                status = int(options.get("status", 500))
                payload = json.dumps({"error": {"message": f"injected HTTP {status}", "code": status}}).encode()
                headers = {"Content-Type": "application/json"}
                if options.get("retry_after") is not None:
                    headers["Retry-After"] = str(options["retry_after"])
                self._reply(status, headers, payload)
                return
            if mode == "slow" and proxy._stopping.wait(float(options.get("delay", 5.0))):
                return
            with proxy._track() if is_chat else contextlib.nullcontext():
                status, headers, payload = proxy._forward(self.command, self.path, self.headers, body)
            if mode in ("truncate_json", "invalid_json") and status == 200:
                payload = _mutate(payload, mode)
            self._reply(status, headers, payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


def _mutate(payload: bytes, mode: str) -> bytes:
    data = json.loads(payload)
    for choice in data.get("choices", []):
        message = choice.get("message") or {}
        content = message.get("content") or ""
        if mode == "truncate_json":
            message["content"] = content[: max(1, len(content) // 2)]
            choice["finish_reason"] = "length"
        else:
            message["content"] = "Sure! Here is the page: " + content.replace("{", "(").replace("}", ")")
    return json.dumps(data).encode()


class FaultProxy:
    """A threaded HTTP proxy to ``upstream`` (``http://host:port``) on a free loopback port."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 120.0) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.host = host
        self.port = port
        self.timeout = timeout
        self.mode = "pass"
        self.options: dict[str, Any] = {}
        self.remaining: int | None = None
        self.counts: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FaultProxy:
        server = _Server((self.host, self.port), _Handler)
        server.proxy = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def stop(self) -> None:
        self._stopping.set()
        self._stop_listening()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control ---------------------------------------------------------------------------------

    def set_mode(self, mode: str, times: int | None = None, **options: Any) -> None:
        """Switch mode for the next ``times`` chat requests (``None``: until changed)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
        with self._lock:
            self.mode, self.remaining, self.options = mode, times, options
        if mode == "refuse":
            self._stop_listening()
        elif self._server is None and not self._stopping.is_set():
            deadline = time.monotonic() + 5
            while True:  # the port may linger a moment after close
                try:
                    self.start()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def chat_requests(self) -> int:
        return sum(n for path, n in self.counts.items() if path.endswith("/chat/completions"))

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.faults.clear()
            self.bodies.clear()
            self.max_in_flight = 0

    # --- used by the handler ---------------------------------------------------------------------

    def _take(self, path: str, is_chat: bool, body: bytes) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self.counts[path.split("?")[0]] += 1
            if not is_chat:
                return "pass", {}
            try:
                self.bodies.append(json.loads(body))
            except ValueError:
                self.bodies.append({})
            mode, options = self.mode, dict(self.options)
            if mode != "pass":
                self.faults[mode] += 1
                if self.remaining is not None:
                    self.remaining -= 1
                    if self.remaining <= 0:
                        self.mode, self.remaining, self.options = "pass", None, {}
            return mode, options

    def _track(self) -> _InFlight:
        return _InFlight(self)

    def _forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=self.timeout)
        try:
            forward = {k: v for k, v in headers.items() if k.lower() in ("content-type", "authorization", "accept")}
            conn.request(method, path, body=body or None, headers=forward)
            response = conn.getresponse()
            payload = response.read()
            content_type = response.getheader("Content-Type", "application/json")
            return response.status, {"Content-Type": content_type}, payload
        finally:
            conn.close()


class _InFlight:
    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    def __enter__(self) -> None:
        with self.proxy._lock:
            self.proxy.in_flight += 1
            self.proxy.max_in_flight = max(self.proxy.max_in_flight, self.proxy.in_flight)

    def __exit__(self, *exc: object) -> None:
        with self.proxy._lock:
            self.proxy.in_flight -= 1
