"""Run a probe or an example with the server venv's python and collect its JSON, time and peak memory.

Imported by the project venv (standard library + psutil only). The subprocess gets the test server's
environment (offline, 1 GiB KV cache, vLLM caches under the test cache) and the repo on PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.vllm_server import paths
from tests.vllm_server.install import install
from tests.vllm_server.server import server_env

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float

    def json(self) -> dict:
        lines = [line for line in self.stdout.splitlines() if line.startswith("{")]
        assert lines, f"no JSON in stdout (exit {self.returncode}); stderr tail:\n{self.stderr[-3000:]}"
        return json.loads(lines[-1])

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]


def venv_env() -> dict[str, str]:
    env = server_env()
    env["PYTHONPATH"] = str(paths.repo_root())
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_script(script: Path | str, *args: str, timeout: float = 900.0, cwd: Path | None = None) -> Run:
    """Run ``script`` with the server venv's python (installed from its lock when needed)."""
    python = install()
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(python), str(script), *args],
        env=venv_env(),
        cwd=str(cwd or paths.repo_root()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while not done.wait(0.5):
            try:
                peak = max(peak, _tree_rss(ps))
            except psutil.Error:
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        raise AssertionError(f"{script} did not finish in {timeout:.0f} s; stderr tail:\n{err[-3000:]}") from None
    finally:
        done.set()
        watcher.join()
    return Run(proc.returncode, out, err, time.monotonic() - started, peak / 2**20)
