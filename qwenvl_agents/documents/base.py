"""The open-document interface every format backend implements."""

from __future__ import annotations

import contextlib
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.types import DocumentInfo, PageImage


@dataclass(frozen=True)
class DocumentSpec:
    """Everything a worker process needs to reopen a document without hashing or converting it again.

    ``path`` is the file the backend reads (for office files, the converted PDF); ``page_texts`` carries
    per-page text computed in the parent (slide text of a pptx).
    """

    backend: str
    path: str
    info: DocumentInfo
    options: RenderOptions
    page_texts: tuple[str, ...] | None = None


class Document(ABC):
    """An open document: ``info`` up front, pages rendered on demand.

    Use it as a context manager so files, temporary conversions and downloads are released.
    ``random_access`` backends render any page cheaply (``page(n)``) and can be split across worker
    processes; others (video) are read front to back by :meth:`pages`.
    """

    random_access: ClassVar[bool] = True

    def __init__(self, info: DocumentInfo, options: RenderOptions) -> None:
        self.info = info
        self.options = options
        self._cleanup = contextlib.ExitStack()
        self._closed = False

    @property
    def page_count(self) -> int:
        return self.info.page_count

    @abstractmethod
    def _render(self, number: int) -> PageImage:
        """Render page ``number`` (1-based, already range-checked)."""

    def page(self, number: int) -> PageImage:
        """Render one page, numbered from 1. Raises :class:`IndexError` outside ``1..page_count``."""
        if self._closed:
            raise ValueError(f"{self.info.source}: document is closed")
        if not 1 <= number <= self.info.page_count:
            raise IndexError(f"{self.info.source}: page {number} out of range 1..{self.info.page_count}")
        return self._render(number)

    def pages(self) -> Iterator[PageImage]:
        """Render every page in order, holding only the current one."""
        for number in range(1, self.info.page_count + 1):
            yield self.page(number)

    def spec(self) -> DocumentSpec | None:
        """How a worker process reopens this document; ``None`` if it cannot be split across processes."""
        return None

    def add_cleanup(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` when the document is closed (temporary files, downloads)."""
        self._cleanup.callback(callback, *args)

    def _close_backend(self) -> None:  # noqa: B027 - optional hook, most backends have nothing to free
        """Release the backend's own handles; called once by :meth:`close`."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._close_backend()
        finally:
            self._cleanup.close()

    def __enter__(self) -> Document:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.source!r} pages={self.info.page_count}>"


def with_page_count(info: DocumentInfo, page_count: int, title: str | None = None) -> DocumentInfo:
    """``info`` completed by a backend once it knows the page count and title."""
    title = (title or "").strip() or None
    return dataclasses.replace(info, page_count=page_count, title=title)
