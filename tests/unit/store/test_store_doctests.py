"""The examples in the store's docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["chroma", "chunks", "embeddings", "index", "ledger", "lexical", "records", "text"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no project .env: the examples use the defaults
    module = importlib.import_module(f"qwenvl_agents.store.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
