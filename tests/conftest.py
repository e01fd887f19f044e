"""Shared pytest fixtures; the vLLM server logic lives in ``tests.vllm_server``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Tests never reach a model hub: local weights only (the sentence-transformers test uses a packaged copy).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.vllm_server import ServerHandle, ServerSetupError, ensure_server, stop_server


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
