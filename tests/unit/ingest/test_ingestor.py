"""The Ingestor's orchestration with a scripted extractor: writer batches, the crash guard, changed files.

Everything but the extractor is real: embedded Chroma under ``tmp_path``, the SQLite ledger, the page image
store, PDFs drawn with reportlab, PNGs drawn with Pillow and a video written with OpenCV. The scripted
extractor returns each page's own text, records which pages it was asked for, and raises on the pages it
is told to, so a test knows exactly what reached the extractor and what the index must hold afterwards.
Writes are observed by wrapping the real index's ``upsert_pages`` (the one call the writer makes per batch).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.documents import RenderOptions
from qwenvl_agents.extract.base import BaseExtractor
from qwenvl_agents.ingest import Ingestor, IngestSummary, pipeline
from qwenvl_agents.retrieval import PageSearch
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import HashingEmbeddings, IngestLedger, PageEntry, PageIndex
from qwenvl_agents.types import PageExtraction, PageImage, TextLayer

KB = "ingest-test"
Key = tuple[str, int]  # (file name, page)


class SimulatedCrash(RuntimeError):
    """Stands for the process dying at that point: nothing after it is written."""


class ScriptedExtractor(BaseExtractor):
    """An extractor whose answer for a page is the page's own text (or its name and number).

    ``raise_on`` maps ``(file name, page)`` to the exception to raise for that page; ``before`` maps
    ``(file name, page)`` to a coroutine function awaited before answering (to hold a page back).
    """

    name = "text"
    model = "scripted"
    prompt_version = "s1"

    def __init__(
        self,
        *,
        raise_on: dict[Key, BaseException] | None = None,
        before: dict[Key, Callable[[], Awaitable[None]]] | None = None,
        max_in_flight: int = 2,
    ) -> None:
        self.raise_on = raise_on or {}
        self.before = before or {}
        self.max_in_flight = max_in_flight
        self.calls: list[Key] = []

    async def aextract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        key = (page.document.name, page.page)
        self.calls.append(key)
        hold = self.before.get(key)
        if hold is not None:
            await hold()
        error = self.raise_on.get(key)
        if error is not None:
            raise error
        return self._answer(page)

    def extract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        self.calls.append((page.document.name, page.page))
        return self._answer(page)

    def _answer(self, page: PageImage) -> PageExtraction:
        text = page.text_layer.text.strip() if page.text_layer else ""
        markdown = text or f"{page.document.name} page {page.page}"
        return PageExtraction(page.document.document_id, page.page, markdown, "text", model=self.model)


class WriteLog:
    """Wraps the real index's ``upsert_pages``: records the pages of every write; ``crash_at=n`` makes the
    n-th write raise :class:`SimulatedCrash` before anything of it is written."""

    def __init__(self, index: PageIndex, monkeypatch: pytest.MonkeyPatch, *, crash_at: int | None = None) -> None:
        self.writes: list[list[Key]] = []
        self.attempts = 0
        real = index.upsert_pages

        def upsert_pages(entries: Iterable[PageEntry]) -> int:
            entries = list(entries)
            self.attempts += 1
            if self.attempts == crash_at:
                raise SimulatedCrash(f"killed before write {crash_at}")
            written = real(entries)
            self.writes.append([(e.document.name, e.page) for e in entries])
            return written

        monkeypatch.setattr(index, "upsert_pages", upsert_pages)

    @property
    def sizes(self) -> list[int]:
        return [len(w) for w in self.writes]

    @property
    def pages(self) -> list[Key]:
        return [key for write in self.writes for key in write]


# --- documents and helpers ---------------------------------------------------------------------------------


def write_pdf(path: Path, texts: list[str]) -> Path:
    """A PDF with one small page per text (invariant: the same texts give the same bytes)."""
    from reportlab.pdfgen import canvas

    path.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(path), pagesize=(320, 90), invariant=1)
    for text in texts:
        c.setFont("Helvetica", 11)
        c.drawString(12, 40, text)
        c.showPage()
    c.save()
    return path


def write_png(path: Path, color: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), color).save(path)
    return path


def document_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


def open_index(settings: Settings) -> PageIndex:
    """A new PageIndex on the same embedded Chroma (what a new process would open)."""
    return PageIndex.open(settings, KB, HashingEmbeddings(256))


def ingest(
    settings: Settings,
    sources: list[Path],
    extractor: ScriptedExtractor,
    index: PageIndex | None = None,
    **options: float,
) -> IngestSummary:
    render = RenderOptions(dpi=50, **options)  # type: ignore[arg-type]
    ingestor = Ingestor(settings, extractor=extractor, index=index or open_index(settings), render_options=render)
    return ingestor.run(sources)


def page_records(index: PageIndex) -> Counter[Key]:
    """How many page records each (file name, page) has, over every document id: exactly one is the goal."""
    found: Counter[Key] = Counter()
    for _, _, metas in index.iter_batches({"record_type": "page"}, include_metadata=True):
        for md in metas:
            assert md is not None
            found[(str(md["name"]), int(md["page"]))] += 1
    return found


def one_each(name: str, pages: int) -> Counter[Key]:
    return Counter({(name, n): 1 for n in range(1, pages + 1)})


def lexical_hits(index: PageIndex, query: str) -> list[Key]:
    return [(hit.name, hit.page) for hit in PageSearch(index).search(query, 5, mode="lexical")]


# --- writer batching ------------------------------------------------------------------------------------------


def test_pages_are_written_in_full_batches_and_the_rest_at_the_end(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "_WRITE_WAIT", 60.0)  # no partial batch on a timer: only size and the end
    batch = pipeline._WRITE_BATCH
    pages = batch + 3
    pdf = write_pdf(
        tmp_path / "in" / "long.pdf", [f"Tern count on page {n}: {n * 7} birds" for n in range(1, pages + 1)]
    )
    index = open_index(settings)
    log = WriteLog(index, monkeypatch)
    extractor = ScriptedExtractor()

    summary = ingest(settings, [pdf], extractor, index)

    assert log.sizes == [batch, 3]
    assert sorted(log.pages) == sorted(one_each("long.pdf", pages))
    assert sorted(extractor.calls) == sorted(one_each("long.pdf", pages))
    assert (summary.pages_new, summary.pages_failed, summary.documents_new, summary.records) == (pages, 0, 1, pages)
    assert page_records(index) == one_each("long.pdf", pages)
    assert index.collection.count() == pages  # short pages: no chunk records
    assert lexical_hits(index, "Tern count on page 5: 35 birds")[0] == ("long.pdf", 5)


def test_one_page_documents_share_one_write(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "_WRITE_WAIT", 60.0)
    folder = tmp_path / "photos"
    for name, color in (("a.png", (200, 0, 0)), ("b.png", (0, 200, 0)), ("c.png", (0, 0, 200))):
        write_png(folder / name, color)
    index = open_index(settings)
    log = WriteLog(index, monkeypatch)

    summary = ingest(settings, [folder], ScriptedExtractor(), index)

    assert [sorted(w) for w in log.writes] == [[("a.png", 1), ("b.png", 1), ("c.png", 1)]]
    assert summary.documents_new == 3 and summary.pages_new == 3
    assert sorted((d.name, d.pages_indexed) for d in index.documents()) == [("a.png", 1), ("b.png", 1), ("c.png", 1)]
    ledger = IngestLedger(settings.ledger_path)
    assert sorted(d.name for d in ledger.documents(KB, "done")) == ["a.png", "b.png", "c.png"]


@pytest.mark.timeout(120)
def test_a_partial_batch_is_written_while_the_next_page_is_still_being_read(settings, tmp_path, monkeypatch) -> None:
    pdf = write_pdf(tmp_path / "in" / "slow.pdf", ["Plover one", "Plover two", "Plover three"])
    index = open_index(settings)
    log = WriteLog(index, monkeypatch)
    seen: list[bool] = []

    async def until_something_is_written() -> None:
        deadline = time.monotonic() + 20 * pipeline._WRITE_WAIT + 10
        while not log.writes and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        seen.append(bool(log.writes))

    # One worker, held on page 3: pages 1 and 2 must reach the index without waiting for page 3.
    extractor = ScriptedExtractor(before={("slow.pdf", 3): until_something_is_written}, max_in_flight=1)
    summary = ingest(settings, [pdf], extractor, index)

    assert seen == [True]
    assert ("slow.pdf", 3) not in log.writes[0] and log.writes[-1] == [("slow.pdf", 3)]
    assert sorted(log.pages) == sorted(one_each("slow.pdf", 3))
    assert summary.pages_new == 3 and page_records(index) == one_each("slow.pdf", 3)


# --- the crash guard ------------------------------------------------------------------------------------------


def test_an_extractor_that_raises_fails_only_its_page_and_the_next_run_retries_only_that_page(
    settings, tmp_path
) -> None:
    pdf = write_pdf(tmp_path / "in" / "report.pdf", ["Gannet colony north", "Gannet colony east", "Gannet colony west"])
    flaky = ScriptedExtractor(raise_on={("report.pdf", 2): RuntimeError("model server fell over")})

    first = ingest(settings, [pdf], flaky)

    assert sorted(flaky.calls) == sorted(one_each("report.pdf", 3))
    assert (first.pages_new, first.pages_failed, first.ok) == (2, 1, False)
    assert [(e.page, e.message) for e in first.errors] == [(2, "RuntimeError: model server fell over")]
    index = open_index(settings)
    doc = document_id(pdf)
    assert [(p.page, p.status) for p in index.pages_of(doc)] == [(1, "ok"), (2, "failed"), (3, "ok")]
    ledger = IngestLedger(settings.ledger_path)
    assert [(p.page, p.reason) for p in ledger.failed_pages(KB)] == [(2, "RuntimeError: model server fell over")]
    assert ledger.document(doc, KB).state == "done"  # type: ignore[union-attr]

    fixed = ScriptedExtractor()
    second = ingest(settings, [pdf], fixed)

    assert fixed.calls == [("report.pdf", 2)]  # the pages already read are not sent again
    assert (second.pages_skipped, second.pages_updated, second.pages_failed, second.ok) == (2, 1, 0, True)
    assert [(p.page, p.status) for p in index.pages_of(doc)] == [(1, "ok"), (2, "ok"), (3, "ok")]
    assert page_records(index) == one_each("report.pdf", 3) and index.collection.count() == 3
    assert ledger.failed_pages(KB) == []
    assert lexical_hits(index, "Gannet colony east")[0] == ("report.pdf", 2)

    idle = ScriptedExtractor()
    third = ingest(settings, [pdf], idle)
    assert idle.calls == [] and third.documents_unchanged == 1 and third.pages_skipped == 3


@pytest.mark.timeout(120)
def test_a_run_killed_between_two_writes_resumes_without_duplicates(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "_WRITE_BATCH", 2)
    monkeypatch.setattr(pipeline, "_WRITE_WAIT", 60.0)
    pdf = write_pdf(tmp_path / "in" / "survey.pdf", [f"Survey transect {n}" for n in range(1, 6)])
    doc = document_id(pdf)
    index = open_index(settings)
    log = WriteLog(index, monkeypatch, crash_at=2)

    with pytest.raises(SimulatedCrash):  # the dead stage stops the whole run instead of leaving it waiting
        ingest(settings, [pdf], ScriptedExtractor(), index)

    assert log.sizes == [2]
    after_crash = page_records(open_index(settings))
    assert after_crash == one_each("survey.pdf", 2)
    ledger = IngestLedger(settings.ledger_path)
    assert ledger.document(doc, KB).state == "pending"  # type: ignore[union-attr]
    assert sorted(ledger.pages(doc, KB)) == [1, 2]

    resumed = ScriptedExtractor()
    summary = ingest(settings, [pdf], resumed)

    assert sorted(resumed.calls) == [("survey.pdf", n) for n in (3, 4, 5)]
    assert (summary.pages_skipped, summary.pages_updated, summary.pages_failed) == (2, 3, 0)
    index = open_index(settings)
    assert page_records(index) == one_each("survey.pdf", 5) and index.collection.count() == 5
    assert ledger.document(doc, KB).state == "done"  # type: ignore[union-attr]
    assert sorted(ledger.pages(doc, KB)) == [1, 2, 3, 4, 5]


@pytest.mark.timeout(120)
def test_a_run_interrupted_while_pages_are_being_read_redoes_only_the_missing_pages(
    settings, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(pipeline, "_WRITE_BATCH", 2)
    pdf = write_pdf(tmp_path / "in" / "atlas.pdf", [f"Atlas square {n}" for n in range(1, 7)])
    index = open_index(settings)
    log = WriteLog(index, monkeypatch)

    async def interrupt_once_something_is_written() -> None:
        deadline = time.monotonic() + 30
        while not log.writes and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        raise KeyboardInterrupt  # Ctrl-C while page 4 is with the extractor

    extractor = ScriptedExtractor(before={("atlas.pdf", 4): interrupt_once_something_is_written})
    with pytest.raises(KeyboardInterrupt):
        ingest(settings, [pdf], extractor, index)

    kept = page_records(open_index(settings))
    assert set(kept.values()) == {1} and ("atlas.pdf", 4) not in kept
    assert len(kept) >= 2  # the first batch was written before the interrupt

    resumed = ScriptedExtractor()
    summary = ingest(settings, [pdf], resumed)

    assert sorted(resumed.calls) == sorted(set(one_each("atlas.pdf", 6)) - set(kept))
    assert summary.pages_skipped == len(kept) and summary.pages_failed == 0
    index = open_index(settings)
    assert page_records(index) == one_each("atlas.pdf", 6) and index.collection.count() == 6


# --- changed and shrinking documents -----------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_changed_file_replaces_its_old_version_once_the_new_one_is_complete(settings, tmp_path, monkeypatch) -> None:
    path = tmp_path / "in" / "notes.pdf"
    write_pdf(path, ["Heron roost count page one", "Heron roost count page two"])
    old = document_id(path)
    ingest(settings, [path], ScriptedExtractor())
    index = open_index(settings)
    assert lexical_hits(index, "Heron roost")[0][0] == "notes.pdf"

    # New bytes at the same path: another document. A run that dies half-way leaves the old version whole.
    write_pdf(path, ["Kestrel nest survey page one", "Kestrel nest survey page two", "Kestrel nest survey page three"])
    new = document_id(path)
    assert new != old
    monkeypatch.setattr(pipeline, "_WRITE_BATCH", 2)
    monkeypatch.setattr(pipeline, "_WRITE_WAIT", 60.0)
    dying = open_index(settings)
    WriteLog(dying, monkeypatch, crash_at=2)
    with pytest.raises(SimulatedCrash):
        ingest(settings, [path], ScriptedExtractor(), dying)
    assert [p.page for p in index.pages_of(old)] == [1, 2]
    assert [p.page for p in index.pages_of(new)] == [1, 2]

    finishing = ScriptedExtractor()
    summary = ingest(settings, [path], finishing)

    assert finishing.calls == [("notes.pdf", 3)]
    assert (summary.documents_updated, summary.documents_deleted) == (1, 1)
    assert index.pages_of(old, include_chunks=True) == [] and index.get_page(old, 1) is None
    assert [p.page for p in index.pages_of(new)] == [1, 2, 3]
    assert [d.document_id for d in index.documents()] == [new]
    assert page_records(index) == one_each("notes.pdf", 3) and index.collection.count() == 3
    assert IngestLedger(settings.ledger_path).documents_at(str(path.resolve()), KB) == [new]
    assert lexical_hits(index, "Heron roost") == []
    assert lexical_hits(index, "Kestrel nest survey page three")[0] == ("notes.pdf", 3)


def test_a_file_rewritten_with_fewer_pages_loses_the_pages_it_no_longer_has(settings, tmp_path) -> None:
    path = tmp_path / "in" / "brief.pdf"
    write_pdf(path, ["Curlew brief one", "Curlew brief two", "Curlew brief three"])
    ingest(settings, [path], ScriptedExtractor())
    index = open_index(settings)
    assert page_records(index) == one_each("brief.pdf", 3)

    write_pdf(path, ["Godwit note one", "Godwit note two"])
    summary = ingest(settings, [path], ScriptedExtractor())

    assert summary.documents_deleted == 1 and summary.pages_new + summary.pages_updated == 2
    assert page_records(index) == one_each("brief.pdf", 2) and index.collection.count() == 2
    assert index.ids_where({"page": 3}) == []
    assert [p.page for p in index.pages_of(document_id(path))] == [1, 2]
    assert lexical_hits(index, "Curlew") == []  # no text of the old version is left to find


def test_the_same_document_read_into_fewer_pages_loses_the_extra_pages(settings, tmp_path) -> None:
    pytest.importorskip("cv2")
    from qwenvl_agents.samples import write_sample_video

    (tmp_path / "in").mkdir()
    clip = write_sample_video(tmp_path / "in" / "clip.mp4", seconds=2, fps=4.0)
    doc = document_id(clip)
    ingest(settings, [clip], ScriptedExtractor(), video_fps=1.5)  # 8 frames at 4 fps, sampled at 1.5 fps: 3
    index = open_index(settings)
    assert [p.page for p in index.pages_of(doc)] == [1, 2, 3]

    # Same bytes, so the same document, now sampled at 1 fps: 2 pages. Page 3 must not linger.
    again = ScriptedExtractor()
    summary = ingest(settings, [clip], again, video_fps=1.0)

    assert sorted(again.calls) == [("clip.mp4", 1), ("clip.mp4", 2)]  # another rate, other frames
    assert summary.documents_deleted == 0
    assert [p.page for p in index.pages_of(doc, include_chunks=True)] == [1, 2]
    assert index.get_page(doc, 3) is None and index.collection.count() == 2
    assert [(d.page_count, d.pages_indexed) for d in index.documents()] == [(2, 2)]
