"""Run the tiny-model builder in the server venv, once per builder version.

The builder needs torch + transformers, which only the server venv has, so it runs there as a script. The
output goes to a temporary folder that replaces the model folder only when complete, and a stamp that
hashes the builder's sources (plus the pinned package versions) makes later calls a no-op until the recipe
changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from . import paths

#: Bump to force a rebuild even when the builder's source files are unchanged.
BUILDER_VERSION = "1"
HERE = Path(__file__).resolve().parent
BUILDER_SOURCES = ("build_tiny_model.py", "tiny_corpus.py", "chat_template.jinja")
#: The tiny Qwen3-VL's builder reuses the Qwen2.5-VL builder's tokenizer and weights code.
QWEN3_BUILDER = "build_tiny_qwen3_model.py"


class BuildError(RuntimeError):
    """Raised when the tiny checkpoint cannot be built."""


def _log(message: str) -> None:
    print(f"[vllm-server build] {message}", flush=True)


def builder_fingerprint(sources: tuple[str, ...] = BUILDER_SOURCES) -> str:
    """Identifies the build recipe: builder version, builder sources and the venv's pinned versions."""
    digest = hashlib.sha256(f"v{BUILDER_VERSION}\n{paths.requirements_hash()}\n".encode())
    for name in sources:
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return digest.hexdigest()


def _stamp(model: Path) -> Path:
    return model / ".builder-stamp"


def is_built(model: Path | None = None, sources: tuple[str, ...] = BUILDER_SOURCES) -> bool:
    """True when ``model`` holds a complete checkpoint made by the current builder."""
    model = model or paths.model_dir()
    stamp = _stamp(model)
    fingerprint = builder_fingerprint(sources)
    return (model / "config.json").exists() and stamp.exists() and stamp.read_text().strip() == fingerprint


def content_digest(model: Path) -> str:
    """One hash over all files of the checkpoint, to show (and test) that builds are byte-identical."""
    digest = hashlib.sha256()
    for file in sorted(p for p in model.iterdir() if p.is_file() and not p.name.startswith(".")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def build_qwen3_model(force: bool = False) -> Path:
    """Build the tiny Qwen3-VL checkpoint (:data:`QWEN3_BUILDER`) into the cache unless already current."""
    return build_model(force, paths.qwen3_model_dir(), script=QWEN3_BUILDER)


def build_model(force: bool = False, out: Path | None = None, script: str = BUILDER_SOURCES[0]) -> Path:
    """Build the checkpoint into ``out`` (default: the cache's model folder) unless already current."""
    model = out or paths.model_dir()
    sources = BUILDER_SOURCES if script == BUILDER_SOURCES[0] else (script, *BUILDER_SOURCES)
    if is_built(model, sources) and not force:
        _log(f"already built: {model} (content {content_digest(model)[:12]})")
        return model
    python = paths.venv_python()
    if not python.exists():
        raise BuildError(f"server venv missing ({python}); run `python -m tests.vllm_server install` first")
    started = time.monotonic()
    tmp = model.with_name(model.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)
    cmd = [str(python), str(HERE / script), str(tmp)]
    _log(f"building: {' '.join(cmd)}")
    result = subprocess.run(cmd, env=env, cwd=HERE, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(f"builder failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    for line in result.stdout.splitlines():
        _log(line)
    if (model / "config.json").exists() and content_digest(model) == content_digest(tmp):
        # Same bytes (e.g. only comments changed): keep the folder a running server may be using.
        shutil.rmtree(tmp)
    else:
        if model.is_symlink() or model.is_file():
            model.unlink()
        shutil.rmtree(model, ignore_errors=True)
        _stamp(tmp).write_text("")
        tmp.rename(model)
    _stamp(model).write_text(builder_fingerprint(sources) + "\n")
    _log(f"built {model} in {time.monotonic() - started:.1f} s (content {content_digest(model)[:12]})")
    return model
