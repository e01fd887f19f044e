"""Command line: ``python -m tests.vllm_server {install,lock,build,start,stop,status,run}`` (repo root).

``install`` makes the server venv hold exactly ``locks/vllm-test-server.txt``; ``lock`` rewrites that file
from a fresh resolution (then run the suite, and commit the file if it passes).

``start`` leaves a recorded background server that test sessions reuse (saves ~30-60 s per run);
``stop`` stops only that recorded server; ``run`` keeps a server in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType

from . import ServerSetupError, ensure_installed, paths
from .build import BuildError, build_model
from .install import InstallError, install, lock
from .server import (
    ServerError,
    ServerHandle,
    group_alive,
    health_ok,
    read_state,
    recorded_server,
    start_server,
    stop_server,
)


def _print_handle(handle: ServerHandle, note: str) -> None:
    print(f"{note}: {handle.base_url} model={handle.model} pid={handle.pid} log={handle.log_path}")


def cmd_start(port: int, timeout: float) -> int:
    """Reuse the recorded healthy server, else install/build as needed and start a recorded one."""
    existing = recorded_server()
    if existing is not None:
        _print_handle(existing, "already running")
        return 0
    ensure_installed()
    handle = start_server(port=port, timeout=timeout, record=True)
    _print_handle(handle, "started")
    return 0


def cmd_stop() -> int:
    """Stop the server recorded by ``start`` (never any other vLLM process)."""
    state = read_state()
    if not state or not isinstance(state.get("pid"), int):
        print("no recorded server")
        return 0
    handle = ServerHandle(**{**state, "owned": True})  # type: ignore[arg-type]
    stopped = stop_server(handle)
    paths.state_file().unlink(missing_ok=True)
    print(f"stopped pid {handle.pid}" if stopped else f"pid {handle.pid} was not running; state cleared")
    return 0


def cmd_status() -> int:
    """Print install/build/server state; exit 0 only when a recorded server is healthy."""
    from .build import is_built
    from .install import is_installed

    print(f"cache:   {paths.cache_dir()}")
    print(f"venv:    {'installed' if is_installed() else 'missing'} ({paths.venv_dir()})")
    print(f"model:   {'built' if is_built() else 'missing'} ({paths.model_dir()})")
    state = read_state()
    if not state:
        print("server:  none recorded")
        return 1
    pid = state.get("pid")
    alive = isinstance(pid, int) and group_alive(pid)
    healthy = health_ok(str(state.get("base_url", "")).removesuffix("/v1"))
    print(f"server:  {json.dumps(state)} alive={alive} healthy={healthy}")
    return 0 if healthy else 1


def cmd_run(port: int, timeout: float) -> int:
    """Foreground server with output on the terminal; Ctrl-C or SIGTERM stops it."""
    ensure_installed()
    other = recorded_server()
    if other is not None:  # never overwrite the record of a server someone else started
        _print_handle(other, "note: not recording this server; another one is recorded")
    handle = start_server(port=port, timeout=timeout, record=other is None, log_to_terminal=True)
    _print_handle(handle, "running (Ctrl-C to stop)")

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        while group_alive(handle.pid or 0):
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(handle)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and dispatch; setup failures exit 1 with a message instead of a traceback."""
    parser = argparse.ArgumentParser(prog="python -m tests.vllm_server", description=__doc__)
    parser.add_argument("command", choices=["install", "lock", "build", "start", "stop", "status", "run"])
    parser.add_argument("--port", type=int, default=paths.DEFAULT_PORT, help="port for start/run")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for /health")
    parser.add_argument("--force", action="store_true", help="redo install/build even if up to date")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install(force=args.force)
        elif args.command == "lock":
            lock()
        elif args.command == "build":
            build_model(force=args.force)
        elif args.command == "start":
            return cmd_start(args.port, args.timeout)
        elif args.command == "stop":
            return cmd_stop()
        elif args.command == "status":
            return cmd_status()
        else:
            return cmd_run(args.port, args.timeout)
    except (InstallError, BuildError, ServerError, ServerSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
