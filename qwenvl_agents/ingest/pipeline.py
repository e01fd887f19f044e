"""Ingest: render → skip unchanged pages → extract → embed → upsert, streaming and crash-safe.

Pages of many documents are in flight at once, so a vLLM server's continuous batch stays full even
when documents are one page long. Three stages run concurrently, joined by bounded queues (memory stays
flat however many pages there are):

* a producer streams the pages from the documents package's one renderer
  (:func:`~qwenvl_agents.documents.loader.render_pages`, in ``QWENVL_RENDER_WORKERS`` processes): as each
  source opens it works out which pages need extraction (a page is skipped when the index holds it with
  the same content key: document hash, page, extractor, model, prompt version and resolution), and only
  those are rendered and stored. The renderer runs only as far ahead as the bounded page queue lets it
  (plus ``2 x workers`` pages in flight in the process pool);
* ``max_in_flight`` extraction workers (the extractor bounds its own requests to the server);
* one writer that embeds and upserts pages in batches, then records them in the ledger.

Records have deterministic ids and a page record is written only with its extraction, so a run killed at
any point leaves no duplicates, and the next run redoes only what is missing. A changed file (new bytes
at the same path) replaces the old version's pages once the new version is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from qwenvl_agents.documents import RenderOptions
from qwenvl_agents.documents.events import DocumentEnded, DocumentStarted, SourceSkipped
from qwenvl_agents.documents.loader import render_pages
from qwenvl_agents.documents.sources import SourceLike
from qwenvl_agents.extract import make_extractor
from qwenvl_agents.extract.base import BaseExtractor
from qwenvl_agents.ingest.summary import IngestCounts, IngestError, IngestProgress, IngestSummary
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import IngestLedger, PageEntry, PageImageStore, PageIndex, content_key
from qwenvl_agents.types import DocumentInfo, ExtractorName, PageExtraction, PageImage, SourceFailure
from qwenvl_agents.vlm import VLMClient

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[IngestProgress], None]
_DONE = object()
_WRITE_BATCH = 16
_WRITE_WAIT = 0.25  # seconds a partial batch waits for more pages before it is written


@dataclass
class _DocumentRun:
    info: DocumentInfo
    todo: list[int]
    previous: list[str]
    indexed_before: int
    outstanding: int = 0
    received: set[int] = field(default_factory=set)  # pages the renderer yielded or reported as failed
    broken: str | None = None  # why the renderer stopped reading the document early (a video cut short)
    rendered: bool = False
    failed_pages: int = 0
    finished: bool = False


@dataclass
class _Stages:
    pages: asyncio.Queue[Any]
    results: asyncio.Queue[Any]
    workers: int
    runs: list[_DocumentRun] = field(default_factory=list)


class Ingestor:
    """Ingests documents into one knowledge base with one extractor.

    Example (offline: the text layer, OCR for scans; no server needed):
        >>> import tempfile
        >>> from qwenvl_agents.samples import write_samples
        >>> data = tempfile.mkdtemp()
        >>> docs = write_samples(f"{data}/samples")
        >>> ingestor = Ingestor(Settings(data_dir=data), extractor="text")
        >>> summary = ingestor.run([f"{data}/samples/invoice-en.pdf"])
        >>> (summary.pages_new, summary.pages_failed, summary.records >= 1)
        (1, 0, True)
        >>> ingestor.run([f"{data}/samples/invoice-en.pdf"]).pages_skipped
        1
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        extractor: BaseExtractor | str | None = None,
        client: VLMClient | None = None,
        index: PageIndex | None = None,
        ledger: IngestLedger | None = None,
        store: PageImageStore | None = None,
        knowledge_base: str | None = None,
        render_options: RenderOptions | None = None,
    ) -> None:
        self.settings = settings or Settings()
        s = self.settings
        if isinstance(extractor, BaseExtractor):
            self.extractor = extractor
        else:
            self.extractor = make_extractor(s, client, extractor)
        self.index = index or PageIndex.open(s, knowledge_base)
        self.knowledge_base = self.index.knowledge_base
        self.ledger = ledger or IngestLedger.from_settings(s)
        self.store = store or PageImageStore.from_settings(s)
        options = render_options or RenderOptions.from_settings(s, cache_dir=s.cache_dir)
        if options.max_render_pixels is None and _reads_with_vlm(self.extractor):
            # The model sees at most max_pixels: rendering more would only be thrown away by the resize.
            options = dataclasses.replace(options, max_render_pixels=s.max_pixels)
        self.render_options = options

    # --- public API ------------------------------------------------------------------------------------

    def run(
        self,
        sources: Iterable[SourceLike] | SourceLike,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        retry_failed: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> IngestSummary:
        """Ingest ``sources`` (files, folders, URLs); see :meth:`arun`."""
        return asyncio.run(
            self.arun(sources, include=include, exclude=exclude, retry_failed=retry_failed, on_progress=on_progress)
        )

    async def arun(
        self,
        sources: Iterable[SourceLike] | SourceLike,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        retry_failed: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> IngestSummary:
        """Ingest ``sources``; pages that fell back or failed before are tried again when ``retry_failed``."""
        counts = IngestCounts()
        workers = max(1, int(getattr(self.extractor, "max_in_flight", 1) or 1))
        stages = _Stages(asyncio.Queue(maxsize=workers + 2), asyncio.Queue(maxsize=2 * _WRITE_BATCH), workers)
        notify = _notifier(on_progress, counts)
        tasks = [asyncio.create_task(self._extract_worker(stages)) for _ in range(workers)]
        writer = asyncio.create_task(self._writer(stages, counts, notify))

        async def drive() -> None:
            await self._produce(sources, include, exclude, retry_failed, stages, counts, notify)
            for _ in tasks:
                await stages.pages.put(_DONE)
            await asyncio.gather(*tasks)
            await stages.results.put(_DONE)
            await writer

        driver = asyncio.create_task(drive())
        everything = [driver, writer, *tasks]
        try:
            # A stage that dies (disk full, index unreachable) must stop the run, not leave the others
            # waiting on a queue nobody drains.
            done, _ = await asyncio.wait(everything, return_when=asyncio.FIRST_EXCEPTION)
            failed = next((t for t in done if not t.cancelled() and t.exception() is not None), None)
            if failed is not None:
                error = failed.exception()
                assert error is not None
                raise error
            await driver
            completed = True
        except (asyncio.CancelledError, KeyboardInterrupt):
            completed = False
            raise
        finally:
            for task in everything:
                task.cancel()
            for run in stages.runs:
                if not run.finished and run.todo:
                    logger.info("%s: interrupted; the next run resumes it", run.info.source)
        if completed:
            await asyncio.to_thread(self._refresh_lexical)
        return IngestSummary.from_counts(
            counts,
            knowledge_base=self.knowledge_base,
            extractor=self.extractor.describe(),
            records=self.index.count(),
        )

    def delete_document(self, document_id: str) -> int:
        """Delete a document's records, its ledger rows and the page images no other record uses."""
        pages = self.index.pages_of(document_id, include_chunks=False)
        removed = self.index.delete_document(document_id)
        for page in pages:
            sha = page.metadata.get("image_sha256")
            path = page.metadata.get("image_path")
            if isinstance(sha, str) and isinstance(path, str) and not self.index.ids_where({"image_sha256": sha}):
                Path(path).unlink(missing_ok=True)
        self.ledger.forget_document(document_id, self.knowledge_base)
        return removed

    def prune(self) -> list[str]:
        """Delete the documents whose source file no longer exists; returns their sources."""
        gone = []
        for doc in self.index.documents():
            if "://" not in doc.source and not Path(doc.source).exists():
                self.delete_document(doc.document_id)
                gone.append(doc.source)
        if gone:
            self._refresh_lexical()
        return gone

    # --- stages -----------------------------------------------------------------------------------------

    def _key(self, info: DocumentInfo, page: int) -> str:
        ex = self.extractor
        version = f"{ex.prompt_version}|dpi={self.render_options.dpi:g}"
        if info.media_type == "video":  # page N is the frame at (N - 1) / fps: another rate, another frame
            version += f"|fps={self.render_options.video_fps:g}"
        return content_key((info.document_id, page), ex.name, ex.model, version)

    def _plan(self, info: DocumentInfo, retry_failed: bool) -> tuple[list[int], int]:
        """Pages of ``info`` that need extraction, and how many pages were indexed before."""
        stored = {p.page: p for p in self.index.pages_of(info.document_id)}
        if any(number > info.page_count for number in stored):
            self.index.delete_pages_after(info.document_id, info.page_count)
            stored = {n: p for n, p in stored.items() if n <= info.page_count}
        todo = []
        for number in range(1, info.page_count + 1):
            page = stored.get(number)
            if (
                page is None
                or page.metadata.get("content_key") != self._key(info, number)
                or (retry_failed and page.metadata.get("status") in ("fallback", "failed"))
            ):
                todo.append(number)
        return todo, len(stored)

    async def _produce(
        self,
        sources: Iterable[SourceLike] | SourceLike,
        include: Sequence[str],
        exclude: Sequence[str],
        retry_failed: bool,
        stages: _Stages,
        counts: IngestCounts,
        notify: Callable[[str | None], None],
    ) -> None:
        plans: deque[tuple[str, list[int], int]] = deque()

        def select(info: DocumentInfo) -> list[int]:
            # Called by the renderer as each document opens, in order: only these pages get rendered.
            todo, indexed_before = self._plan(info, retry_failed)
            plans.append((info.document_id, todo, indexed_before))
            return todo

        stream = render_pages(
            sources, self.render_options, include=include, exclude=exclude, store=self.store, select=select
        )
        # One thread steps the renderer, so the close after a cancel queues behind the page being rendered
        # (a generator cannot be closed while another thread runs it) and still shuts the workers down.
        stepper = ThreadPoolExecutor(1, thread_name_prefix="qwenvl-render")
        run: _DocumentRun | None = None
        try:
            while (item := await asyncio.wrap_future(stepper.submit(next, stream, None))) is not None:
                if isinstance(item, PageImage):
                    assert run is not None
                    run.received.add(item.page)
                    run.outstanding += 1
                    await stages.pages.put((run, item))
                elif isinstance(item, SourceFailure):
                    if run is None:  # the source could not be opened (missing, corrupt, encrypted, ...)
                        counts.documents_seen += 1
                        counts.documents_failed += 1
                        counts.errors.append(IngestError(item.source, item.message))
                        notify(item.source)
                    elif item.page is not None:
                        run.received.add(item.page)
                        self._page_failed(run, counts, item.message, item.page)
                        notify(item.source)
                    else:
                        run.broken = item.message
                elif isinstance(item, DocumentStarted):
                    document_id, todo, indexed_before = plans.popleft()
                    assert document_id == item.info.document_id
                    run = await self._start(item, todo, indexed_before, stages, counts, notify)
                elif isinstance(item, DocumentEnded):
                    assert run is not None
                    await self._end(run, counts, notify)
                    run = None
                elif isinstance(item, SourceSkipped):
                    counts.files_skipped += 1
        finally:
            await _close_stream(stepper, stream)

    async def _start(
        self,
        started: DocumentStarted,
        todo: list[int],
        indexed_before: int,
        stages: _Stages,
        counts: IngestCounts,
        notify: Callable[[str | None], None],
    ) -> _DocumentRun:
        info = started.info
        kb = self.knowledge_base
        counts.documents_seen += 1
        previous = [d for d in self.ledger.documents_at(info.source, kb) if d != info.document_id]
        run = _DocumentRun(info, todo, previous, indexed_before)
        stages.runs.append(run)
        counts.pages_skipped += info.page_count - len(todo)
        counts.pages_planned += len(todo)
        if not todo:
            counts.documents_unchanged += 1
            await asyncio.to_thread(self._finish, run, counts)
            notify(info.source)
        else:
            await asyncio.to_thread(self.ledger.start_document, info, kb)
        return run

    async def _end(self, run: _DocumentRun, counts: IngestCounts, notify: Callable[[str | None], None]) -> None:
        """Every page the renderer will give for ``run`` has come; pages it never reached are failures."""
        if not run.todo:
            return  # unchanged: finished when it started
        for number in run.todo:
            if number not in run.received:  # a video that broke off, or has fewer frames than announced
                self._page_failed(run, counts, _missing_page(run.info, number, run.broken), number)
                notify(run.info.source)
        run.rendered = True
        if run.outstanding == 0:
            await asyncio.to_thread(self._finish, run, counts)
            notify(run.info.source)

    @staticmethod
    def _page_failed(run: _DocumentRun, counts: IngestCounts, message: str, page: int) -> None:
        run.failed_pages += 1
        counts.pages_failed += 1
        counts.errors.append(IngestError(run.info.source, message, page))

    async def _extract_worker(self, stages: _Stages) -> None:
        while (item := await stages.pages.get()) is not _DONE:
            run, page = item
            try:
                extraction = await self.extractor.aextract(page)
            except Exception as exc:  # extractors report page problems in the result; this is a bug guard
                logger.exception("extractor raised on page %d of %s", page.page, run.info.source)
                name = cast(ExtractorName, self.extractor.name)
                reason = f"{type(exc).__name__}: {exc}"
                extraction = PageExtraction(run.info.document_id, page.page, "", name, "failed", reason)
            await stages.results.put((run, page, extraction))

    async def _writer(self, stages: _Stages, counts: IngestCounts, notify: Callable[[str | None], None]) -> None:
        batch: list[tuple[_DocumentRun, PageImage, PageExtraction]] = []
        done = False
        while not done:
            try:
                item = await asyncio.wait_for(stages.results.get(), timeout=_WRITE_WAIT if batch else None)
            except asyncio.TimeoutError:
                item = None
            if item is _DONE:
                done = True
            elif item is not None:
                batch.append(item)
                if len(batch) < _WRITE_BATCH:
                    continue
            if batch:
                written, batch = batch, []
                await asyncio.to_thread(self._write, written, counts)
                for run in {id(r): r for r, _, _ in written}.values():
                    if run.rendered and run.outstanding == 0 and not run.finished:
                        await asyncio.to_thread(self._finish, run, counts)
                notify(written[-1][0].info.source)

    # --- blocking work, run in threads -----------------------------------------------------------------

    def _write(self, batch: list[tuple[_DocumentRun, PageImage, PageExtraction]], counts: IngestCounts) -> None:
        entries = [PageEntry.from_page(page, ex, self._key(run.info, page.page)) for run, page, ex in batch]
        self.index.upsert_pages(entries)
        kb = self.knowledge_base
        for (run, page, ex), entry in zip(batch, entries, strict=True):
            state = {"ok": "done", "fallback": "fallback", "failed": "failed"}[ex.status]
            self.ledger.page_done(run.info.document_id, page.page, kb, state, entry.key, ex.reason)  # type: ignore[arg-type]
            run.outstanding -= 1
            counts.input_tokens += ex.input_tokens
            counts.output_tokens += ex.output_tokens
            if ex.status == "failed":
                run.failed_pages += 1
                counts.pages_failed += 1
                counts.errors.append(IngestError(run.info.source, ex.reason or "could not be read", page.page))
                continue
            if ex.status == "fallback":
                counts.pages_fallback += 1
            if run.indexed_before:
                counts.pages_updated += 1
            else:
                counts.pages_new += 1

    def _finish(self, run: _DocumentRun, counts: IngestCounts) -> None:
        """A document is complete: mark it, then let it replace older versions from the same path."""
        run.finished = True
        kb = self.knowledge_base
        if self.ledger.document(run.info.document_id, kb) is None:
            self.ledger.start_document(run.info, kb)
        self.ledger.finish_document(run.info.document_id, kb, "done")
        for old in run.previous:
            self.delete_document(old)
            counts.documents_deleted += 1
        if run.todo:
            if run.indexed_before or run.previous:
                counts.documents_updated += 1
            else:
                counts.documents_new += 1

    def _refresh_lexical(self) -> None:
        from qwenvl_agents.store import LexicalIndex

        LexicalIndex.load_or_build(self.index)


def _reads_with_vlm(extractor: BaseExtractor) -> bool:
    return extractor.name == "vlm" or getattr(extractor, "vlm", None) is not None


def _missing_page(info: DocumentInfo, number: int, broken: str | None) -> str:
    reason = broken or "frame not found in the video"
    return f"{info.source}: page {number} could not be rendered: {reason}"


async def _close_stream(stepper: ThreadPoolExecutor, stream: Generator[Any, None, None]) -> None:
    """Close the renderer (its worker processes stop) once the page it is rendering is done.

    Waited for even through repeated cancellation (a cancelled run is cancelled again by ``arun`` and
    by ``asyncio.run``): otherwise ``run()`` would return while the render workers still run. The wait is
    at most one page (or one office conversion or download).
    """
    closing = asyncio.wrap_future(stepper.submit(stream.close))
    stepper.shutdown(wait=False)
    cancelled = False
    while not closing.done():
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            cancelled = True
    closing.result()
    if cancelled:
        raise asyncio.CancelledError


def _notifier(callback: ProgressCallback | None, counts: IngestCounts) -> Callable[[str | None], None]:
    def notify(current: str | None) -> None:
        if callback is not None:
            with contextlib.suppress(Exception):  # a broken progress display must not stop ingestion
                callback(counts.snapshot(current))

    return notify


def ingest(
    sources: Iterable[SourceLike] | SourceLike,
    settings: Settings | None = None,
    *,
    extractor: BaseExtractor | str | None = None,
    knowledge_base: str | None = None,
    on_progress: ProgressCallback | None = None,
    **kwargs: Any,
) -> IngestSummary:
    """Ingest files, folders or URLs into the knowledge base; the short path to :class:`Ingestor`.

    Example:
        >>> import tempfile
        >>> from qwenvl_agents.samples import write_samples
        >>> data = tempfile.mkdtemp()
        >>> _ = write_samples(f"{data}/samples")
        >>> s = ingest([f"{data}/samples/report-en.pdf"], Settings(data_dir=data), extractor="text")
        >>> (s.documents_new, s.pages_new)
        (1, 3)
    """
    ingestor = Ingestor(settings, extractor=extractor, knowledge_base=knowledge_base)
    return ingestor.run(sources, on_progress=on_progress, **kwargs)
