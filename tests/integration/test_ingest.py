"""`qwenvl ingest` end to end: the offline path on the corpus, incremental reruns, changed files, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from qwenvl_agents.ingest import Ingestor
from qwenvl_agents.samples import write_samples
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import PageIndex
from tests.support.corpus import LONG_DOCUMENT_FOLDERS, expected_page_counts, require_corpus

pytestmark = pytest.mark.integration


def qwenvl(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "QWENVL_DATA_DIR": str(data_dir), **env}
    environ.pop("QWENVL_VLM_BASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", *args], capture_output=True, text=True, env=environ, timeout=1800
    )


def summary_of(result: subprocess.CompletedProcess[str]) -> dict:
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and lines[-1]["type"] == "summary", result.stdout + result.stderr
    return lines[-1]


def page_records(data_dir: Path) -> Counter[tuple[str, int]]:
    """How many page records each (source, page) has in the index: exactly one is the goal."""
    index = PageIndex.open(Settings(data_dir=data_dir, _env_file=None))
    found: Counter[tuple[str, int]] = Counter()
    for _, _, metas in index.iter_batches({"record_type": "page"}, include_metadata=True):
        for md in metas:
            assert md is not None
            found[(str(md["source"]), int(md["page"]))] += 1
    return found


@pytest.mark.slow
def test_offline_corpus_ingest_indexes_every_page_and_reruns_extract_nothing(tmp_path) -> None:
    corpus = require_corpus()
    expected = expected_page_counts(corpus, skip_folders=LONG_DOCUMENT_FOLDERS)
    exclude = [arg for folder in LONG_DOCUMENT_FOLDERS for arg in ("--exclude", f"{folder}/**")]
    first = qwenvl("ingest", str(corpus), *exclude, "--json", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    s1 = summary_of(first)
    total = sum(expected.values())
    assert s1["pages_new"] == total and s1["pages_failed"] == 0 and s1["documents_failed"] == 0
    assert s1["documents_new"] == len(expected) and s1["files_skipped"] > 0
    records = page_records(tmp_path)
    assert set(records.values()) == {1}
    assert Counter(source for source, _ in records) == Counter(expected)

    second = qwenvl("ingest", str(corpus), *exclude, "--json", data_dir=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    s2 = summary_of(second)
    # No page reached an extractor: every page sent to one is counted as new, updated or failed.
    assert s2["pages_extracted"] == 0 and s2["pages_failed"] == 0
    assert s2["pages_skipped"] == total and s2["documents_unchanged"] == len(expected)
    assert s2["records"] == s1["records"]


def test_changed_file_reextracts_only_its_pages_and_replaces_the_old_version(tmp_path) -> None:
    folder = tmp_path / "docs"
    write_samples(folder)
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    first = Ingestor(settings, extractor="auto").run([folder])
    assert first.pages_failed == 0 and first.documents_new == 8
    before = page_records(settings.data_dir)

    # The same path now holds other bytes: a new 3-page document where a 1-page invoice was.
    _long_pdf(folder / "invoice-en.pdf", 3)
    second = Ingestor(settings, extractor="auto").run([folder])
    assert second.pages_extracted == 3  # only the changed file's pages
    assert second.pages_skipped == first.pages_extracted - 1
    assert second.documents_updated == 1 and second.documents_deleted == 1 and second.documents_unchanged == 7
    after = page_records(settings.data_dir)
    assert set(after.values()) == {1}
    invoice = str((folder / "invoice-en.pdf").resolve())
    assert sorted(p for s, p in after if s == invoice) == [1, 2, 3]
    assert sum(after.values()) == sum(before.values()) + 2

    # A removed file is deleted with its pages and its page images.
    index = PageIndex.open(settings)
    receipt = next(d for d in index.documents() if d.name == "receipt-en.jpg")
    image = Path(str(index.get_page(receipt.document_id, 1).metadata["image_path"]))  # type: ignore[union-attr]
    assert image.exists()
    (folder / "receipt-en.jpg").unlink()
    assert Ingestor(settings, extractor="auto").prune() == [receipt.source]
    assert not image.exists() and index.get_page(receipt.document_id, 1) is None


def _long_pdf(path: Path, pages: int) -> None:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), invariant=1)
    for n in range(1, pages + 1):
        c.setFont("Helvetica", 14)
        for line in range(30):
            c.drawString(
                60, 780 - line * 24, f"Page {n} line {line}: shipment {n * 100 + line} delivered to dock {line}"
            )
        c.showPage()
    c.save()


def _ledger_pages(data_dir: Path) -> int:
    path = data_dir / "ingest-ledger.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_sigkill_midway_then_rerun_leaves_exactly_one_record_per_page(tmp_path) -> None:
    pdf = tmp_path / "long.pdf"
    pages = 14
    _long_pdf(pdf, pages)
    data = tmp_path / "data"
    env = {**os.environ, "QWENVL_DATA_DIR": str(data)}
    env.pop("QWENVL_VLM_BASE_URL", None)
    # OCR takes about a second a page here: slow enough to be killed in the middle.
    proc = subprocess.Popen(
        [sys.executable, "-m", "qwenvl_agents.cli", "ingest", str(pdf), "--extractor", "ocr", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _ledger_pages(data) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "ingest finished before it could be killed; make the input longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _ledger_pages(data)
    assert 3 <= done_before < pages

    rerun = qwenvl("ingest", str(pdf), "--extractor", "ocr", "--json", data_dir=data)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    s = summary_of(rerun)
    assert s["pages_skipped"] >= 3  # what was written before the kill is kept
    assert s["pages_skipped"] + s["pages_extracted"] == pages and s["pages_failed"] == 0
    records = page_records(data)
    assert sorted(p for _, p in records) == list(range(1, pages + 1))
    assert set(records.values()) == {1}


@pytest.mark.timeout(120)
def test_an_index_that_goes_away_stops_the_run_with_an_error_instead_of_hanging(tmp_path) -> None:
    folder = tmp_path / "docs"
    write_samples(folder)
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    ingestor = Ingestor(settings, extractor="text")
    # The collection is dropped under the running ingest (another process, an operator): a real Chroma error.
    ingestor.index.client.delete_collection(ingestor.index.collection.name)
    with pytest.raises(Exception) as raised:
        ingestor.run([folder])
    assert "Collection" in str(raised.value) or "collection" in str(raised.value)
