"""What :func:`~qwenvl_agents.documents.loader.render_pages` reports besides pages and failures.

:func:`~qwenvl_agents.documents.iter_pages` only yields pages and failures; a caller that keeps books
per document (ingest) also needs to know where each document starts and ends, which pages of it will be
rendered, and which files of a folder were left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from qwenvl_agents.types import DocumentInfo, PageImage, SourceFailure


@dataclass(frozen=True)
class DocumentStarted:
    """A document opened; ``pages`` are the page numbers that will be rendered, in order.

    For a video ``info.page_count`` is the number of samples announced by the container: a stream that
    ends early yields fewer pages than ``pages`` names.
    """

    info: DocumentInfo
    pages: tuple[int, ...]


@dataclass(frozen=True)
class DocumentEnded:
    """Every page of the document that was asked for has been yielded (or reported as a failure)."""

    info: DocumentInfo


@dataclass(frozen=True)
class SourceSkipped:
    """A file inside a folder that was left out (unsupported type, ``include``/``exclude``)."""

    source: str


RenderEvent = PageImage | SourceFailure | DocumentStarted | DocumentEnded | SourceSkipped
