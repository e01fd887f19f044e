"""A small real index (embedded Chroma, hashing vectors) shared by the retrieval tests of a module."""

from __future__ import annotations

import pytest

from qwenvl_agents.retrieval import PageSearch
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import HashingEmbeddings, PageIndex
from tests.unit.retrieval.helpers import entries


@pytest.fixture(scope="module")
def search(tmp_path_factory) -> PageSearch:
    settings = Settings(data_dir=tmp_path_factory.mktemp("retrieval"), chunk_chars=400, _env_file=None)  # type: ignore[call-arg]
    index = PageIndex.open(settings, "retrieval-test", HashingEmbeddings(256))
    index.upsert_pages(entries())
    return PageSearch(index)
