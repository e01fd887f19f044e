"""A real vLLM (CPU) server with a tiny random Qwen2.5-VL, for integration tests.

Why: the library talks to Qwen2.5-VL through vLLM's OpenAI-compatible API; mocks cannot show that image
payloads, token limits, structured outputs, tool calls and streaming really work. The real model needs a
GPU, so tests run vLLM's CPU build against a tiny, deterministic, random checkpoint built offline. Tests
assert plumbing (status, usage, schema validity, limits), never wording.

Usage: ``python -m tests.vllm_server install|build|start|stop|status|run`` or, from Python,
:func:`ensure_server` / :func:`stop_server`. Only the standard library is imported here, so the project
venv (without torch) can drive everything; torch-dependent work runs in the server venv.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from . import paths
from .build import BuildError, build_model
from .install import InstallError, install
from .server import ServerError, ServerHandle, external_server, recorded_server, register_cleanup, start_server
from .server import stop_server as stop_server

__all__ = [
    "ServerHandle",
    "ServerSetupError",
    "ensure_installed",
    "ensure_server",
    "paths",
    "stop_server",
]


class ServerSetupError(RuntimeError):
    """Install, build or start failed; tests must fail (not skip) on it so CI cannot hide the problem."""


@contextmanager
def _cache_lock() -> Iterator[None]:
    """Serialise install/build between concurrent sessions sharing one cache dir."""
    paths.cache_dir().mkdir(parents=True, exist_ok=True)
    with (paths.cache_dir() / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_installed() -> None:
    """Install the server venv and build the tiny model (both no-ops when already current)."""
    try:
        with _cache_lock():
            install()
            build_model()
    except (InstallError, BuildError, OSError) as exc:
        raise ServerSetupError(f"{type(exc).__name__}: {exc}") from exc


def ensure_server(port: int | None = None, timeout: float = 300.0) -> ServerHandle:
    """Return a usable server: the one named by env, else a recorded healthy one, else a new one.

    ``QWENVL_TEST_VLLM_URL`` (optionally ``QWENVL_TEST_VLLM_MODEL``) points at an existing server. A new
    server is started on ``port`` (default: a free port), is ``owned`` by the caller, is not recorded in
    the state file (so no other session reuses a server this one will stop), and is also stopped at exit.
    """
    url = os.environ.get("QWENVL_TEST_VLLM_URL")
    if url:
        try:
            return external_server(url, os.environ.get("QWENVL_TEST_VLLM_MODEL") or None)
        except (OSError, ValueError, KeyError) as exc:
            raise ServerSetupError(f"QWENVL_TEST_VLLM_URL={url} is not a usable vLLM server: {exc}") from exc
    recorded = recorded_server()
    if recorded is not None and (port is None or recorded.port == port):
        return recorded
    ensure_installed()
    try:
        handle = start_server(port=port, timeout=timeout)
    except (ServerError, OSError) as exc:
        raise ServerSetupError(f"{type(exc).__name__}: {exc}") from exc
    register_cleanup(handle)
    return handle
