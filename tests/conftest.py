"""Shared pytest fixtures; the vLLM server logic lives in ``tests.vllm_server``.

Every test runs isolated from the developer's setup: no ``QWENVL_*`` variable of the shell and no ``.env``
file reaches ``Settings`` (in this process or in a subprocess that inherits the environment), and each test
gets a data directory of its own. Test tooling keeps its own variables (:data:`TOOLING_VARIABLES`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vllm_server import ServerHandle, ServerSetupError, ensure_server, stop_server

#: Variables of the test tooling, not of the library: they choose a test server, the corpus, a cache.
TOOLING_VARIABLES = ("QWENVL_TEST_", "QWENVL_CORPUS")

# Before any test module imports qwenvl_agents (tests.vllm_server does not): Settings reads
# QWENVL_ENV_FILE when its module is imported.
for _name in [n for n in os.environ if n.startswith("QWENVL_") and not n.startswith(TOOLING_VARIABLES)]:
    del os.environ[_name]
os.environ["QWENVL_ENV_FILE"] = ""  # no .env file, wherever a test or its subprocess runs
# Tests never reach a model hub: local weights only (the sentence-transformers test uses a packaged copy).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session-scoped fixtures (indexes built once) write under a temporary folder, never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        data_dir = tmp_path_factory.mktemp("session-data")
        patch.setenv("QWENVL_DATA_DIR", str(data_dir))
        yield data_dir


@pytest.fixture(autouse=True)
def _test_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each test's own default data directory (a test that needs a particular one still passes it)."""
    data_dir = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("QWENVL_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[ServerHandle]:
    """A real vLLM server with the tiny Qwen2.5-VL, shared by the whole session.

    Reuses ``QWENVL_TEST_VLLM_URL`` or a server recorded by ``python -m tests.vllm_server start``;
    otherwise installs/builds (idempotent) and starts one on a free port, stopped at session end. A setup
    failure FAILS the tests on purpose: CI must never silently skip the vLLM tests.
    """
    try:
        handle = ensure_server()
    except ServerSetupError as exc:
        pytest.fail(f"vLLM test server could not be set up: {exc}", pytrace=False)
    yield handle
    stop_server(handle)  # no-op unless this session started it
