"""Frozen records passed between the stages of qwenvl-agents.

Coordinates are image pixels of the rendered page, origin at the top left: ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image

MediaType = Literal["pdf", "image", "office", "video"]
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A word or line of a page's text layer with its box in page-image pixels."""

    text: str
    box: Box


@dataclass(frozen=True, slots=True)
class TextLayer:
    """Text that came with the page (PDF text layer, slide text) rather than from a model.

    ``text`` is the whole page in reading order; ``spans`` carry boxes where the format has them
    (empty for slide text, which has no reliable geometry after conversion).
    """

    text: str
    spans: tuple[TextSpan, ...] = ()
    source: Literal["pdf", "pptx", "ocr"] = "pdf"


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """Where a document came from. ``document_id`` is the SHA-256 of its bytes (hex)."""

    document_id: str
    source: str
    """Absolute path, or the URL it was downloaded from."""
    name: str
    """File name, e.g. ``invoice.pdf``."""
    media_type: MediaType
    suffix: str
    """Lower-case file suffix without the dot, e.g. ``pdf``, ``pptx``, ``mp4``."""
    size_bytes: int
    page_count: int
    title: str | None = None


@dataclass(frozen=True, slots=True)
class StoredImage:
    """A page image written to the content-addressed page store."""

    path: str
    sha256: str
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class PageImage:
    """One rendered page of a document, numbered from 1.

    ``dpi`` is the resolution a PDF (or converted office file) was rendered at; ``None`` for images and
    video frames, which keep their own pixels. ``timestamp`` is the position of a video frame in seconds.
    """

    document: DocumentInfo
    page: int
    image: Image.Image = field(repr=False, compare=False)
    dpi: float | None = None
    text_layer: TextLayer | None = None
    timestamp: float | None = None
    stored: StoredImage | None = None

    @property
    def width(self) -> int:
        return int(self.image.width)

    @property
    def height(self) -> int:
        return int(self.image.height)


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """A source (file or URL) that produced no pages, or stopped producing them, and why.

    Yielded in the page stream instead of raised so that one bad document never stops a batch.
    ``pages_done`` counts the pages yielded before the failure.
    """

    source: str
    error_type: str
    message: str
    pages_done: int = 0
