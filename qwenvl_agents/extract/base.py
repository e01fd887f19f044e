"""What every extractor offers, and running one over many pages with bounded concurrency.

An extractor turns one :class:`~qwenvl_agents.types.PageImage` into one
:class:`~qwenvl_agents.types.PageExtraction` and never raises for a bad page: failures come back as
``status="failed"`` with a ``reason``, so one page never stops a document. ``name``, ``model`` and
``prompt_version`` together say what produced a result; the index compares them with what it stored to
skip pages whose extraction would not change.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

from qwenvl_agents.types import ExtractorName, PageExtraction, PageImage, TextLayer

log = logging.getLogger(__name__)


def failed(page: PageImage, extractor: ExtractorName, reason: str, **kw: Any) -> PageExtraction:
    """The record of a page nothing could read."""
    return PageExtraction(
        document_id=page.document.document_id,
        page=page.page,
        markdown="",
        extractor=extractor,
        status="failed",
        reason=reason,
        **kw,
    )


class BaseExtractor(ABC):
    """Common API: ``await aextract(page)``, ``extract(page)`` and ``aextract_many(pages)``."""

    name: str = "base"
    model: str | None = None
    prompt_version: str | None = None
    max_in_flight: int = 1
    """How many pages :meth:`aextract_many` keeps in progress at once."""

    @abstractmethod
    async def aextract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        """Read one page. Never raises for a page problem (``status`` says what happened)."""

    @abstractmethod
    def extract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        """The synchronous :meth:`aextract`."""

    async def _guarded(self, page: PageImage) -> PageExtraction:
        try:
            return await self.aextract(page)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not drop the page silently: record it on the page
            log.exception("extractor %s crashed on %s page %s", self.name, page.document.name, page.page)
            extractor: ExtractorName = self.name if self.name in ("vlm", "ocr", "text") else "text"  # type: ignore[assignment]
            return failed(page, extractor, f"{self.name}: {type(exc).__name__}: {exc}")

    async def aextract_many(
        self,
        pages: Iterable[PageImage] | AsyncIterable[PageImage],
        *,
        max_in_flight: int | None = None,
        ordered: bool = False,
    ) -> AsyncIterator[tuple[PageImage, PageExtraction]]:
        """Yield ``(page, extraction)`` for every page, at most ``max_in_flight`` pages in progress.

        Pages are pulled from ``pages`` lazily, so a long stream is never held in memory. With
        ``ordered=False`` results come as they finish (best throughput); ``ordered=True`` keeps input
        order. Every page yields exactly one result.

        Example:
            >>> import asyncio
            >>> from qwenvl_agents.extract.text import TextLayerExtractor
            >>> async def run(pages):
            ...     return [e.status async for _, e in TextLayerExtractor().aextract_many(pages)]
            >>> asyncio.run(run([]))
            []
        """
        limit = max(1, max_in_flight or self.max_in_flight)
        pending: deque[tuple[PageImage, asyncio.Task[PageExtraction]]] = deque()

        async def source() -> AsyncIterator[PageImage]:
            if isinstance(pages, AsyncIterable):
                async for p in pages:
                    yield p
            else:
                # A plain iterator may render each page as it is pulled (iter_pages): pull it in a thread
                # so the requests already in flight keep being served meanwhile.
                it = iter(pages)

                def pull() -> PageImage | None:
                    return next(it, None)

                while (pulled := await asyncio.to_thread(pull)) is not None:
                    yield pulled

        try:
            async for page in source():
                pending.append((page, asyncio.ensure_future(self._guarded(page))))
                while len(pending) >= limit:
                    yield await self._next(pending, ordered)
            while pending:
                yield await self._next(pending, ordered)
        finally:
            for _, task in pending:
                task.cancel()

    @staticmethod
    async def _next(
        pending: deque[tuple[PageImage, asyncio.Task[PageExtraction]]], ordered: bool
    ) -> tuple[PageImage, PageExtraction]:
        if ordered:
            page, task = pending.popleft()
            return page, await task
        await asyncio.wait([t for _, t in pending], return_when=asyncio.FIRST_COMPLETED)
        for i, (page, task) in enumerate(pending):
            if task.done():
                del pending[i]
                return page, task.result()
        raise AssertionError("asyncio.wait returned with nothing done")  # pragma: no cover

    async def aextract_all(
        self, pages: Iterable[PageImage], *, max_in_flight: int | None = None
    ) -> list[PageExtraction]:
        """Every page's extraction, in input order."""
        return [e async for _, e in self.aextract_many(pages, max_in_flight=max_in_flight, ordered=True)]

    def describe(self) -> dict[str, str | None]:
        """``name``, ``model`` and ``prompt_version``: what the index stores to detect changes."""
        return {"name": self.name, "model": self.model, "prompt_version": self.prompt_version}
