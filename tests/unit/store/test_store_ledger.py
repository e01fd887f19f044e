"""The SQLite ingest ledger: resume semantics, summaries, two writers at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

from qwenvl_agents.settings import Settings
from qwenvl_agents.store import IngestLedger
from tests.unit.store.helpers import make_doc


@pytest.fixture
def ledger(tmp_path) -> IngestLedger:
    return IngestLedger(tmp_path / "ledger.sqlite3")


def test_interrupted_run_resumes_where_it_stopped(tmp_path) -> None:
    path = tmp_path / "ledger.sqlite3"
    doc = make_doc("report.pdf", pages=4)
    first = IngestLedger(path)
    first.start_document(doc, "kb")
    first.page_done(doc.document_id, 1, "kb", "done", "k1")
    first.page_done(doc.document_id, 2, "kb", "fallback", "k2", "invalid JSON after 3 attempts")
    first.close()  # the run is interrupted here: no finish_document

    again = IngestLedger(path)
    state = again.document(doc.document_id, "kb")
    assert state is not None and state.state == "pending" and state.page_count == 4
    done = again.pages(doc.document_id, "kb")
    assert {p: (r.state, r.content_key) for p, r in done.items()} == {1: ("done", "k1"), 2: ("fallback", "k2")}
    todo = [p for p in range(1, 5) if p not in done]
    assert todo == [3, 4]

    again.start_document(doc, "kb")  # restarting keeps the pages already done
    assert len(again.pages(doc.document_id, "kb")) == 2
    for page in todo:
        again.page_done(doc.document_id, page, "kb", "done", f"k{page}")
    again.page_done(doc.document_id, 2, "kb", "done", "k2b")  # retried fallback page is now fine
    again.finish_document(doc.document_id, "kb", "done")
    summary = again.summary("kb")
    assert summary.documents == {"done": 1} and summary.pages == {"done": 4}
    assert again.failed_pages("kb", include_fallback=True) == []


def test_failed_pages_documents_at_and_forget(ledger) -> None:
    old, new = make_doc("a.pdf", 2, content=b"v1"), make_doc("a.pdf", 2, content=b"v2")
    other_kb = make_doc("a.pdf", 2, content=b"v3")
    ledger.start_document(old, "kb")
    ledger.finish_document(old.document_id, "kb", "done")
    ledger.start_document(new, "kb")
    ledger.start_document(other_kb, "elsewhere")
    ledger.page_done(new.document_id, 1, "kb", "failed", None, "VLM timeout")
    ledger.page_done(new.document_id, 2, "kb", "fallback", "k", "repetition")
    ledger.finish_document(new.document_id, "kb", "failed", "1 page unreadable")

    # The same path now holds a new version: the old one is found to be replaced.
    assert ledger.documents_at(old.source, "kb") == [new.document_id, old.document_id]
    assert [(p.page, p.reason) for p in ledger.failed_pages("kb")] == [(1, "VLM timeout")]
    assert len(ledger.failed_pages("kb", include_fallback=True)) == 2
    assert ledger.document(new.document_id, "kb").error == "1 page unreadable"  # type: ignore[union-attr]
    assert [d.document_id for d in ledger.documents("kb", "done")] == [old.document_id]

    ledger.forget_document(old.document_id, "kb")
    assert ledger.documents_at(old.source, "kb") == [new.document_id]
    assert ledger.documents_at(old.source, "elsewhere") == [other_kb.document_id]


def test_bad_states_and_unknown_documents_fail_loudly(ledger) -> None:
    doc = make_doc()
    with pytest.raises(ValueError, match="page state"):
        ledger.page_done(doc.document_id, 1, "kb", "ok", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="done or failed"):
        ledger.finish_document(doc.document_id, "kb", "pending")
    with pytest.raises(KeyError, match="never started"):
        ledger.finish_document(doc.document_id, "kb", "done")


def test_wal_mode_and_settings_path(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "d", _env_file=None)  # type: ignore[call-arg]
    ledger = IngestLedger.from_settings(settings)
    ledger.start_document(make_doc(), "kb")
    assert ledger.path == settings.ledger_path and settings.ledger_path.exists()
    with sqlite3.connect(settings.ledger_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_threads_share_one_ledger(ledger) -> None:
    doc = make_doc(pages=200)
    ledger.start_document(doc, "kb")
    threads = [
        threading.Thread(
            target=lambda start=start: [
                ledger.page_done(doc.document_id, p, "kb", "done", f"k{p}") for p in range(start, 201, 4)
            ]
        )
        for start in range(1, 5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.pages(doc.document_id, "kb")) == 200


WRITER = """
import sys
from qwenvl_agents.store import IngestLedger
ledger = IngestLedger(sys.argv[1])
doc_id, first = sys.argv[2], int(sys.argv[3])
for page in range(first, first + 150):
    ledger.page_done(doc_id, page, "kb", "done", f"key-{page}")
"""


def test_two_processes_write_at_once(ledger) -> None:
    doc = make_doc(pages=300)
    ledger.start_document(doc, "kb")
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(ledger.path), doc.document_id, str(first)])
        for first in (1, 151)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    pages = ledger.pages(doc.document_id, "kb")
    assert sorted(pages) == list(range(1, 301)) and pages[300].content_key == "key-300"
