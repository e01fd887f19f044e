"""`qwenvl search` on the sample documents ingested offline: hits, citations, filters, scoping, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qwenvl_agents.ingest import ingest
from qwenvl_agents.samples import write_samples
from qwenvl_agents.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("search-data")
    write_samples(data / "samples")
    summary = ingest([data / "samples"], Settings(data_dir=data, _env_file=None), extractor="auto")  # type: ignore[call-arg]
    assert summary.ok and summary.pages_new >= 10
    return data


def qwenvl(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWENVL_DATA_DIR": str(data_dir)}
    env.pop("QWENVL_VLM_BASE_URL", None)  # search never needs a VLM
    return subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", "search", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def hits(result: subprocess.CompletedProcess[str]) -> list[dict]:
    return [row for row in map(json.loads, result.stdout.splitlines()) if row["type"] == "page"]


def test_an_invoice_number_finds_its_page_with_citation_and_image(data_dir):
    result = qwenvl(data_dir, "INV-2026-0042", "--json", "-k", "3")
    assert result.returncode == 0, result.stderr
    found = hits(result)
    assert len(found) == 3 and [h["rank"] for h in found] == [1, 2, 3]
    top = found[0]
    assert (top["document"], top["page"], top["citation"]) == ("invoice-en.pdf", 1, "[invoice-en.pdf, p. 1]")
    assert "INV-2026-0042" in top["snippet"]
    assert Path(top["image_path"]).is_file()


def test_human_output_lists_citations_and_snippets(data_dir):
    result = qwenvl(data_dir, "INV-2026-0042", "-k", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1. [invoice-en.pdf, p. 1]")
    assert "INV-2026-0042" in result.stdout


def test_scoped_to_a_document_and_filtered_by_kind(data_dir):
    scoped = hits(qwenvl(data_dir, "发票 金额", "--document", "invoice-zh.pdf", "--json"))
    assert scoped and {h["document"] for h in scoped} == {"invoice-zh.pdf"}
    slides = hits(qwenvl(data_dir, "revenue growth", "--kind", "slide", "--json", "-k", "10"))
    assert slides and {h["page_kind"] for h in slides} == {"slide"}
    two = hits(qwenvl(data_dir, "total", "-d", "invoice-en.pdf", "-d", "report-en.pdf", "--json", "-k", "10"))
    assert {h["document"] for h in two} == {"invoice-en.pdf", "report-en.pdf"}


def test_bad_input_gets_a_clear_error(data_dir):
    unknown = qwenvl(data_dir, "total", "-d", "nope.pdf")
    assert unknown.returncode == 2 and "nope.pdf" in unknown.stderr and "invoice-en.pdf" in unknown.stderr
    bad_date = qwenvl(data_dir, "total", "--date-from", "2026-13")
    assert bad_date.returncode == 2 and "no month 13" in bad_date.stderr
    bad_mode = qwenvl(data_dir, "total", "--mode", "sparse")
    assert bad_mode.returncode == 2 and "hybrid, dense, lexical" in bad_mode.stderr


def test_nothing_found_and_empty_knowledge_base_exit_1(data_dir):
    nothing = qwenvl(data_dir, "total", "--vendor", "Initech", "--json")
    assert nothing.returncode == 1
    assert [json.loads(line) for line in nothing.stdout.splitlines()] == [{"type": "summary", "pages": 0}]
    empty = qwenvl(data_dir, "total", "--kb", "empty-kb")
    assert empty.returncode == 1 and "is empty" in empty.stderr and "qwenvl ingest" in empty.stderr


def test_language_and_page_filters_reach_the_search(data_dir):
    chinese = hits(qwenvl(data_dir, "total report slide invoice", "--language", "zh", "--json", "-k", "10"))
    assert chinese and {h["language"] for h in chinese} == {"zh"}
    assert {h["document"] for h in chinese} <= {"invoice-zh.pdf", "receipt-zh.jpg", "slides-zh.pptx", "report-zh.pdf"}
    second = hits(qwenvl(data_dir, "report slide", "--page", "2", "--json", "-k", "10"))
    assert second and {h["page"] for h in second} == {2}
    both = hits(qwenvl(data_dir, "report", "--language", "en", "--page", "2", "--page", "3", "--json", "-k", "10"))
    assert both and {(h["language"], h["page"] in (2, 3)) for h in both} == {("en", True)}
    bad_page = qwenvl(data_dir, "total", "--page", "0")
    assert bad_page.returncode == 2 and "page numbers from 1" in bad_page.stderr
