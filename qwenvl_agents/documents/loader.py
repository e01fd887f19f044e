"""Open one source as a :class:`Document`, and stream the pages of many with :func:`iter_pages`.

:func:`render_pages` is the one renderer: :func:`iter_pages` (``qwenvl pages``, the video detector) and
ingest both stream from it, so ``workers`` (``QWENVL_RENDER_WORKERS``) applies to every caller.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qwenvl_agents.documents.base import Document
from qwenvl_agents.documents.detect import detect_type, hash_file
from qwenvl_agents.documents.download import download
from qwenvl_agents.documents.events import DocumentEnded, DocumentStarted, RenderEvent, SourceSkipped
from qwenvl_agents.documents.exceptions import DocumentNotFoundError
from qwenvl_agents.documents.images import ImageBackend
from qwenvl_agents.documents.office import OfficeBackend
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.documents.pdf import PdfBackend
from qwenvl_agents.documents.sources import SourceEntry, SourceLike, is_url, iter_entries
from qwenvl_agents.documents.video import VideoBackend
from qwenvl_agents.errors import DocumentError, QwenVLError, UnsupportedDocumentError
from qwenvl_agents.types import DocumentInfo, PageImage, SourceFailure

if TYPE_CHECKING:
    from qwenvl_agents.store.page_images import PageImageStore

logger = logging.getLogger(__name__)

PageSelector = Callable[[DocumentInfo], Iterable[int] | None]
"""Given an opened document's info, the page numbers to render (``None``: every page)."""


def open_document(source: SourceLike, options: RenderOptions | None = None) -> Document:
    """Open a file or http(s) URL as a :class:`Document` (use it as a context manager).

    Raises a :class:`~qwenvl_agents.errors.DocumentError` subclass (missing, unsupported, corrupt,
    encrypted, too large, download failure) or :class:`~qwenvl_agents.errors.MissingDependencyError`.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "photo.png"
        >>> Image.new("RGB", (40, 30), "white").save(p)
        >>> with open_document(p) as doc:
        ...     [(page.page, page.image.size) for page in doc.pages()]
        [(1, (40, 30))]
    """
    options = options or RenderOptions()
    text = str(source) if isinstance(source, str) else str(Path(source))
    if is_url(text):
        return _open_url(text, options)
    path = Path(text).expanduser().absolute()
    if not path.exists():
        raise DocumentNotFoundError(str(path), "no such file; check the path")
    if path.is_dir():
        raise UnsupportedDocumentError(str(path), "is a folder; pass it to iter_pages() or find_sources() instead")
    if not path.is_file():  # a FIFO or device would block the type detection forever
        raise UnsupportedDocumentError(str(path), "is not a regular file")
    return _open_file(path, source=str(path), name=path.name, suffix_hint=None, options=options)


def _open_url(url: str, options: RenderOptions) -> Document:
    fetched = download(url, options)
    try:
        document = _open_file(
            fetched.path, source=url, name=fetched.name, suffix_hint=fetched.suffix_hint, options=options
        )
    except BaseException:
        if fetched.temp_dir is not None:
            shutil.rmtree(fetched.temp_dir, ignore_errors=True)
        raise
    if fetched.temp_dir is not None:
        document.add_cleanup(shutil.rmtree, fetched.temp_dir, True)
    return document


def _open_file(path: Path, *, source: str, name: str, suffix_hint: str | None, options: RenderOptions) -> Document:
    try:
        ftype = detect_type(path, suffix_hint, source=source)
        document_id, size = hash_file(path)
    except PermissionError as exc:
        raise DocumentError(source, f"cannot be read ({exc.strerror}); check its permissions") from exc
    info = DocumentInfo(document_id, source, name, ftype.media_type, ftype.suffix, size, page_count=0)
    if ftype.media_type == "pdf":
        return PdfBackend.open(path, info, options)
    if ftype.media_type == "image":
        return ImageBackend.open(path, info, options)
    if ftype.media_type == "office":
        return OfficeBackend.open_office(path, info, ftype, options)
    return VideoBackend.open(path, info, options)


def iter_pages(
    sources: Iterable[SourceLike] | SourceLike,
    options: RenderOptions | None = None,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    store: PageImageStore | None = None,
) -> Iterator[PageImage | SourceFailure]:
    """Lazily render every page of every source, in source order and page order.

    Sources are files, folders (see :func:`find_sources` for ``include``/``exclude``) and http(s) URLs.
    A source that cannot be read yields one :class:`~qwenvl_agents.types.SourceFailure` and the next
    source goes on. A single page that fails to render (the rest of the document is fine) yields a
    ``SourceFailure`` whose message names the page, ``pages_done`` counting the pages yielded so far,
    and rendering continues with the next page — no page is ever dropped silently. A video that breaks
    off mid-way yields a ``SourceFailure`` and stops there (later frames cannot be reached).

    With ``store``, every page image is also written to it and ``PageImage.stored`` is set. With
    ``options.workers`` > 1, pages are rendered (and encoded) in that many spawned processes; the output
    is the same, in the same order (with a PNG store, ``page.image`` is then read back from the stored
    file and decoded on first use). A script using workers > 1 needs the usual
    ``if __name__ == "__main__":`` guard. Errors writing to the store (disk full) are raised, not
    reported as source failures.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (20, 10)).save(d / "a.png")
        >>> _ = (d / "b.pdf").write_bytes(b"not a pdf")
        >>> for item in iter_pages([d]):
        ...     print(type(item).__name__, pathlib.Path(getattr(item, "source", "")).name or item.page)
        PageImage 1
        SourceFailure b.pdf
    """
    stream = render_pages(sources, options, include=include, exclude=exclude, store=store)
    try:
        for item in stream:
            if isinstance(item, PageImage | SourceFailure):
                yield item
    finally:  # a consumer that stops early must stop the workers too
        stream.close()


def render_pages(
    sources: Iterable[SourceLike] | SourceLike,
    options: RenderOptions | None = None,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    store: PageImageStore | None = None,
    select: PageSelector | None = None,
) -> Generator[RenderEvent, None, None]:
    """The one renderer behind :func:`iter_pages`, with each document's start and end and the skipped files.

    Yields what :func:`iter_pages` yields, plus a :class:`~qwenvl_agents.documents.events.DocumentStarted`
    before the pages of each opened document, a :class:`~qwenvl_agents.documents.events.DocumentEnded`
    after them, and a :class:`~qwenvl_agents.documents.events.SourceSkipped` for each file a folder left
    out. A source that cannot be opened yields its ``SourceFailure`` with no start or end around it.

    ``select`` is called once per opened document, in source order and in the calling thread, with its
    info (``page_count`` known); it returns the page numbers to render, and only those are rendered (a
    video is still decoded front to back, up to the last one wanted). Errors it raises stop the stream.
    Rendering is lazy: with ``options.workers`` > 1 at most ``2 x workers`` pages are rendered ahead of
    the consumer, so a slow consumer holds back the rendering (no 1000-page PDF piles up in memory).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (20, 10)).save(d / "a.tiff", save_all=True, append_images=[Image.new("RGB", (20, 10))])
        >>> _ = (d / "notes.txt").write_text("not a page")
        >>> for item in render_pages([d], select=lambda info: [2]):
        ...     print(type(item).__name__, getattr(item, "pages", getattr(item, "page", "-")))
        DocumentStarted (2,)
        PageImage 2
        DocumentEnded -
        SourceSkipped -
    """
    options = options or RenderOptions()
    entries = iter_entries(sources, include=include, exclude=exclude)
    if options.process_count > 1:
        from qwenvl_agents.documents.parallel import iter_pages_parallel

        yield from iter_pages_parallel(entries, options, store, select)
        return
    for entry in entries:
        yield from _entry_pages(entry, options, store, select)


def start_document(document: Document, select: PageSelector | None) -> DocumentStarted:
    """The start event of an opened document: the pages ``select`` picks (in range, ascending)."""
    info = dataclasses.replace(document.info, page_count=document.page_count)
    chosen = None if select is None else select(info)
    every = range(1, info.page_count + 1)
    pages = tuple(every) if chosen is None else tuple(sorted({n for n in chosen if 1 <= n <= info.page_count}))
    return DocumentStarted(info, pages)


def open_entry(entry: SourceEntry, options: RenderOptions) -> Document | SourceFailure | None:
    """Open an expanded source; a failure is returned (not raised) so a batch can go on."""
    if entry.kind == "skipped":
        return None
    if entry.kind == "missing":
        return failure(entry.value, DocumentNotFoundError(entry.value, "no such file or folder; check the path"))
    try:
        return open_document(entry.value, options)
    except Exception as exc:  # one bad source must never stop the batch
        return failure(entry.value, exc)


def _entry_pages(
    entry: SourceEntry, options: RenderOptions, store: PageImageStore | None, select: PageSelector | None
) -> Iterator[RenderEvent]:
    if entry.kind == "skipped":
        yield SourceSkipped(entry.value)
        return
    opened = open_entry(entry, options)
    if opened is None:
        return
    if isinstance(opened, SourceFailure):
        yield opened
        return
    with opened as document:
        started = start_document(document, select)
        yield started
        yield from _document_pages(document, started.pages, store)
        yield DocumentEnded(started.info)


def _document_pages(
    document: Document, wanted: tuple[int, ...], store: PageImageStore | None
) -> Iterator[PageImage | SourceFailure]:
    done = 0
    if document.random_access:
        for number in wanted:
            try:
                page = document.page(number)
            except Exception as exc:
                yield page_failure(document.info, number, exc, done)
                continue
            if store is not None:
                page = dataclasses.replace(page, stored=store.put(page.image))
            done += 1
            yield page
        return
    pages = wanted_in_order(document, wanted)
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except Exception as exc:
            yield failure(document.info.source, exc, done)
            return
        if store is not None:
            page = dataclasses.replace(page, stored=store.put(page.image))
        done += 1
        yield page


def wanted_in_order(document: Document, wanted: tuple[int, ...]) -> Iterator[PageImage]:
    """The ``wanted`` pages of a document read front to back (a video), in order; a decoding error is raised.

    Frames come in order, so decoding stops after the last wanted one.
    """
    if not wanted:
        return
    chosen, last = set(wanted), wanted[-1]
    for page in document.pages():
        if page.page in chosen:
            yield page
            if page.page >= last:
                return


def failure(source: str, exc: BaseException, pages_done: int = 0) -> SourceFailure:
    """A :class:`SourceFailure` for ``exc``; the message always names the source."""
    message = str(exc)
    if not isinstance(exc, DocumentError) and source not in message:
        message = f"{source}: {message}" if message else f"{source}: {type(exc).__name__}"
    if not isinstance(exc, QwenVLError):
        # Not an error we raise on purpose: keep the traceback for whoever debugs it.
        logger.warning("unexpected error reading %s", source, exc_info=exc)
    return SourceFailure(source, type(exc).__name__, message, pages_done)


def page_failure(info: DocumentInfo, number: int, exc: BaseException, pages_done: int) -> SourceFailure:
    """A :class:`SourceFailure` for one page that failed while the rest of the document is fine."""
    reason = exc.reason if isinstance(exc, DocumentError) else f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, QwenVLError):
        logger.warning("unexpected error rendering page %d of %s", number, info.source, exc_info=exc)
    message = (
        f"{info.source}: page {number} of {info.page_count} could not be rendered ({reason}); "
        "the other pages are kept — check the page in a PDF viewer"
    )
    return SourceFailure(info.source, type(exc).__name__, message, pages_done, page=number)
