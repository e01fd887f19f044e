"""Fixtures for the index tests: real embedded Chroma under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from qwenvl_agents.settings import Settings
from qwenvl_agents.store import HashingEmbeddings, PageIndex


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", chunk_chars=400, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def open_index(settings) -> Iterator[Callable[..., PageIndex]]:
    def _open(**kw: object) -> PageIndex:
        kw.setdefault("embeddings", HashingEmbeddings(256))
        return PageIndex.open(settings, **kw)  # type: ignore[arg-type]

    yield _open


@pytest.fixture
def index(open_index) -> PageIndex:
    return open_index(knowledge_base="test-kb")
