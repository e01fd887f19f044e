"""A real Chroma index of the project's sample documents, built once per session for the agent tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from qwenvl_agents.ingest import ingest
from qwenvl_agents.retrieval import PageSearch
from qwenvl_agents.samples import write_samples
from qwenvl_agents.settings import Settings


@dataclass(frozen=True)
class SampleIndex:
    settings: Settings
    folder: Path
    facts: dict[str, dict[str, str]]
    """samples.json facts by file name."""

    def search(self) -> PageSearch:
        return PageSearch.open(self.settings)

    def total(self, name: str) -> Decimal:
        """The printed total of a sample, as a Decimal (``"2,587.72"`` → 2587.72)."""
        return Decimal(self.facts[name]["total"].replace(",", ""))


@pytest.fixture(scope="session")
def samples_index(tmp_path_factory) -> SampleIndex:
    root = tmp_path_factory.mktemp("agent-kb")
    settings = Settings(data_dir=root / "data", _env_file=None)  # type: ignore[call-arg]
    folder = root / "samples"
    write_samples(folder)
    # The text layer reads the PDFs and decks; the receipts are images, read by OCR.
    first = ingest([folder], settings, extractor="text")
    assert first.documents_new == 8, first.to_dict()
    receipts = [folder / "receipt-en.jpg", folder / "receipt-zh.jpg"]
    second = ingest(receipts, settings, extractor="ocr")
    assert second.pages_failed == 0, second.to_dict()
    manifest = json.loads((folder / "samples.json").read_text(encoding="utf-8"))
    facts = {d["path"]: d["facts"] for d in manifest["documents"]}
    return SampleIndex(settings, folder, facts)
