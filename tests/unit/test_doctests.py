"""Every example in the package's docstrings runs as written (those needing a server are marked SKIP)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import qwenvl_agents

MODULES = sorted(m.name for m in pkgutil.walk_packages(qwenvl_agents.__path__, "qwenvl_agents."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no project .env: the examples use the defaults
    monkeypatch.setenv("QWENVL_DATA_DIR", str(tmp_path / "data"))  # never the user's real data folder
    monkeypatch.delenv("QWENVL_VLM_BASE_URL", raising=False)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
