"""Rendering pages in worker processes, yielding them in the same order as the sequential path.

PDFium is not thread-safe and forking a process that has it loaded is risky, so workers are *spawned*.
The parent opens each source (hashing, type detection, office conversion, download) and submits one
task per page; each worker opens a document once and keeps it for the following pages
(:data:`_OPEN`), renders the page, encodes it into the page store when one is given — encoding is the
expensive part — and sends the page back. At most ``2 x workers`` pages are in flight, so memory stays
flat however many pages there are. Sources that must be read front to back (video) are decoded in the
parent; only the encoding of their frames goes to the workers.

When the store is PNG (lossless), a worker sends back the page without its pixels and the parent reads
the stored PNG instead, decoded only when ``page.image`` is used: pickling ~6 MB of pixels per page
through the pipe cost about as much as the encoding that was moved out of the parent. The pixels are
identical to the sequential path's.
"""

from __future__ import annotations

import dataclasses
import io
import multiprocessing
import warnings
from collections import OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvl_agents.documents.base import Document, DocumentSpec
from qwenvl_agents.documents.events import DocumentEnded, DocumentStarted, RenderEvent, SourceSkipped
from qwenvl_agents.documents.images import ImageBackend
from qwenvl_agents.documents.loader import (
    PageSelector,
    failure,
    open_entry,
    page_failure,
    start_document,
    wanted_in_order,
)
from qwenvl_agents.documents.office import OfficeBackend
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.documents.pdf import PdfBackend
from qwenvl_agents.documents.sources import SourceEntry
from qwenvl_agents.types import PageImage, SourceFailure, StoredImage

if TYPE_CHECKING:
    from PIL import Image

    from qwenvl_agents.store.page_images import PageImageStore

_BACKENDS: dict[str, Any] = {"pdf": PdfBackend, "office": OfficeBackend, "image": ImageBackend}
_OPEN: OrderedDict[DocumentSpec, Document] = OrderedDict()
"""Documents open in this worker process, most recently used last."""
_MAX_OPEN = 2  # the in-flight window rarely spans more than two documents


@dataclass(frozen=True)
class _Failed:
    """A page that failed in a worker. DocumentError subclasses do not survive pickling
    (their __init__ takes two arguments), so workers send the failure, not the exception."""

    error_type: str
    message: str


@dataclass
class _Item:
    """One position in the output stream: a page (maybe still rendering), a failure, an event, or a close marker."""

    source: str
    result: Future[Any] | PageImage | _Failed | SourceFailure | DocumentStarted | SourceSkipped | None = None
    task: tuple[Any, ...] | None = None  # (function, *args) of the future, to resubmit after a crash
    page: PageImage | None = None  # a page rendered in the parent whose image is being stored
    close: Document | None = None
    number: int = 0


@dataclass(frozen=True)
class _StoredPage:
    """A page whose pixels are only in the store (PNG); ``page.image`` is a 1x1 placeholder."""

    page: PageImage


_Result = PageImage | _StoredPage | _Failed


def _worker_document(spec: DocumentSpec) -> Document:
    document = _OPEN.get(spec)
    if document is None:
        document = _BACKENDS[spec.backend].reopen(spec)
        _OPEN[spec] = document
        while len(_OPEN) > _MAX_OPEN:
            _OPEN.popitem(last=False)[1].close()
    _OPEN.move_to_end(spec)
    return document


def _render_task(spec: DocumentSpec, number: int, store: PageImageStore | None) -> _Result:
    """Runs in a worker: render page ``number``; failures come back as :class:`_Failed`."""
    try:
        page = _worker_document(spec).page(number)
    except Exception as exc:
        sf = page_failure(spec.info, number, exc, 0)
        return _Failed(sf.error_type, sf.message)
    if store is not None:
        # Outside the try: a store that cannot be written (disk full) must stop the run, not skip pages.
        page = dataclasses.replace(page, stored=store.put(page.image))
        if page.stored is not None and page.stored.format == "png":
            # The pixels are on disk, losslessly: do not push ~6 MB per page through the pipe
            # (pickling them cost as much as the PNG encoding saved). The parent reopens the PNG.
            return _StoredPage(dataclasses.replace(page, image=_placeholder()))
    return page


def _placeholder() -> Image.Image:
    from PIL import Image

    return Image.new("L", (1, 1))


def _reload(page: PageImage, stored: StoredImage) -> PageImage:
    """In the parent: the page with its image read back from its stored PNG, decoded on first use."""
    from PIL import Image

    data = Path(stored.path).read_bytes()  # in memory, so no file handle stays open per page
    with warnings.catch_warnings():
        # Our own page; its size was checked against max_image_pixels when it was rendered.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
    return dataclasses.replace(page, image=image)


def _store_task(image: Image.Image, store: PageImageStore) -> StoredImage:
    return store.put(image)


class _LazyPool:
    """Starts the processes only when the first page needs them (a batch of failures needs none)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self.worked = False  # some task has come back from a worker

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def item(self, source: str, number: int, *task: Any, page: PageImage | None = None) -> _Item:
        return _Item(source, self.submit(*task), task=task, page=page, number=number)


def iter_pages_parallel(
    entries: Iterator[SourceEntry],
    options: RenderOptions,
    store: PageImageStore | None,
    select: PageSelector | None = None,
) -> Iterator[RenderEvent]:
    """The parallel path of :func:`~qwenvl_agents.documents.loader.render_pages` (same output, same order)."""
    workers = options.process_count
    window = 2 * workers
    pool = _LazyPool(workers)
    pending: deque[_Item] = deque()
    done: dict[str, int] = {}
    try:
        for entry in entries:
            for item in _plan(entry, options, store, pool, select):
                pending.append(item)
                while len(pending) > window:
                    yield from _resolve(pending.popleft(), pending, pool, done)
        while pending:
            yield from _resolve(pending.popleft(), pending, pool, done)
    finally:
        for item in pending:
            if item.close is not None:
                item.close.close()
            if isinstance(item.result, Future):
                item.result.cancel()
        pool.shutdown()


def _plan(
    entry: SourceEntry,
    options: RenderOptions,
    store: PageImageStore | None,
    pool: _LazyPool,
    select: PageSelector | None,
) -> Iterator[_Item]:
    if entry.kind == "skipped":
        yield _Item(entry.value, SourceSkipped(entry.value))
        return
    opened = open_entry(entry, options)
    if opened is None:
        return
    if isinstance(opened, SourceFailure):
        yield _Item(opened.source, opened)
        return
    document = opened
    source = document.info.source
    try:
        started = start_document(document, select)
        yield _Item(source, started)
        spec = document.spec() if document.random_access else None
        if spec is not None:
            for number in started.pages:
                yield pool.item(source, number, _render_task, spec, number, store)
        else:
            yield from _plan_sequential(document, started.pages, store, pool)
    except BaseException:  # includes GeneratorExit when the consumer stops early
        document.close()
        raise
    # Closed only once its last page has been yielded: workers may still be reading its (temporary) file.
    yield _Item(source, close=document)


def _plan_sequential(
    document: Document, wanted: tuple[int, ...], store: PageImageStore | None, pool: _LazyPool
) -> Iterator[_Item]:
    source = document.info.source
    pages = wanted_in_order(document, wanted)
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except Exception as exc:
            yield _Item(source, failure(source, exc))
            return
        if store is None:
            yield _Item(source, page)
        else:
            yield pool.item(source, page.page, _store_task, page.image, store, page=page)


def _wait(item: _Item, pending: deque[_Item], pool: _LazyPool) -> Any:
    """The result of ``item``'s future, surviving a worker that crashed (a PDFium segfault, the OOM killer).

    A crash breaks the whole pool and fails every future in it, so the culprit is not known. The oldest
    item is retried alone in a fresh pool: if it crashes again it is the culprit and becomes a failure;
    the other pending items are resubmitted either way.
    """
    assert isinstance(item.result, Future) and item.task is not None
    try:
        result = item.result.result()
        pool.worked = True
        return result
    except BrokenProcessPool as exc:
        pool.shutdown()
        if not pool.worked:
            # No worker has answered yet: either this page crashed one, or workers cannot start at
            # all (then it is not the page's fault). A trivial task tells which.
            try:
                pool.submit(int).result()
                pool.worked = True
            except BrokenProcessPool:
                pool.shutdown()
                raise RuntimeError(
                    "the rendering worker processes could not start (see the error printed above). "
                    "With workers > 1 the calling script needs an `if __name__ == '__main__':` guard "
                    "(workers are spawned and re-import it); or use workers=1"
                ) from exc
    try:
        result = pool.submit(*item.task).result()
    except BrokenProcessPool:
        pool.shutdown()
        result = _Failed(
            "WorkerCrashedError",
            f"{item.source}: the rendering process crashed on page {item.number} (out of memory, or a "
            "page that crashes PDFium); the other pages are kept",
        )
    for other in pending:
        if isinstance(other.result, Future) and other.task is not None:
            other.result = pool.submit(*other.task)
    return result


def _resolve(item: _Item, pending: deque[_Item], pool: _LazyPool, done: dict[str, int]) -> Iterator[RenderEvent]:
    if item.close is not None:
        item.close.close()
        done.pop(item.source, None)  # the same source may come again later (a URL named twice)
        yield DocumentEnded(dataclasses.replace(item.close.info, page_count=item.close.page_count))
        return
    if isinstance(item.result, DocumentStarted | SourceSkipped):
        yield item.result
        return
    result = _wait(item, pending, pool) if isinstance(item.result, Future) else item.result
    count = done.get(item.source, 0)
    if isinstance(result, _Failed):
        yield SourceFailure(item.source, result.error_type, result.message, count, page=item.number or None)
    elif isinstance(result, SourceFailure):
        yield dataclasses.replace(result, pages_done=count)
    elif isinstance(result, StoredImage) and item.page is not None:
        done[item.source] = count + 1
        yield dataclasses.replace(item.page, stored=result)
    elif isinstance(result, _StoredPage) and result.page.stored is not None:
        done[item.source] = count + 1
        yield _reload(result.page, result.page.stored)
    elif isinstance(result, PageImage):
        done[item.source] = count + 1
        yield result
