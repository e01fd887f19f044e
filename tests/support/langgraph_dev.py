"""Start a real ``langgraph dev`` server for a test, and a trap that records outbound connection attempts.

``LangGraphDev`` runs ``langgraph dev --no-browser --no-reload`` in its own process group on a free port
and waits for ``GET /ok``; ``stop()`` ends the whole group (SIGTERM, then SIGKILL) and is safe to call
twice. Its output goes to a log file whose tail ``log_tail()`` returns for failure messages.

``OutboundTrap`` is a local listener meant to be set as ``HTTP(S)_PROXY`` for the server (with
``NO_PROXY`` covering 127.0.0.1 and localhost): a library that would reach the internet through the
standard proxy variables (httpx, requests, urllib, gRPC) connects to it instead, and ``attempts`` records
the request line (``CONNECT host:443 HTTP/1.1``). Raw sockets that ignore the proxy variables are not
seen; the test machine has no route out anyway, so the trap is what makes an attempt visible.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.vllm_server.server import free_port, group_alive


class LangGraphDevError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


class LangGraphDev:
    """One ``langgraph dev`` process group: ``start()``, ``url``, ``log_tail()``, ``stop()``."""

    def __init__(
        self,
        executable: Path,
        config: Path,
        cwd: Path,
        env: dict[str, str],
        log: Path,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.executable = executable
        self.extra_args = extra_args
        self.config = config
        self.cwd = cwd
        self.env = env
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.executable), "dev", "--no-browser", "--no-reload",
            "--host", "127.0.0.1", "--port", str(self.port), "--config", str(self.config),
            "--server-log-level", "INFO", *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 180.0) -> LangGraphDev:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the workers too
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LangGraphDevError(f"langgraph dev exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.ok():
                return self
            time.sleep(0.25)
        self.stop()
        raise LangGraphDevError(f"langgraph dev did not answer /ok within {timeout:.0f} s:\n{self.log_tail()}")

    def ok(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ok", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    @contextlib.contextmanager
    def log_on_failure(self) -> Iterator[None]:
        """Print the tail of the server's log (shown with the failure) when the block raises."""
        try:
            yield
        except BaseException:
            sys.stderr.write(f"\n--- langgraph dev log (tail) ---\n{self.log_tail()}\n")
            raise

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 10.0) -> None:
        proc = self.proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the leader's pid is the group id
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and (proc.poll() is None or group_alive(pgid)):
                time.sleep(0.1)
            if proc.poll() is not None and not group_alive(pgid):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1)


class OutboundTrap:
    """A listener that stands in for an HTTP(S) proxy and records every request line sent to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.attempts: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="outbound-trap", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def proxy_env(self) -> dict[str, str]:
        """Proxy variables (both spellings) sending everything but 127.0.0.1/localhost to the trap."""
        env: dict[str, str] = {}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[name] = env[name.lower()] = self.url
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        return env

    def __enter__(self) -> OutboundTrap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                except OSError:
                    first = ""
                self.attempts.append(first or "(connection without a request line)")
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
