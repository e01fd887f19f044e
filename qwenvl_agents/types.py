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
    ``pages_done`` counts the pages yielded before the failure; ``page`` is set when only that page
    failed and the rest of the document goes on.
    """

    source: str
    error_type: str
    message: str
    pages_done: int = 0
    page: int | None = None


ExtractionStatus = Literal["ok", "fallback", "failed"]
ExtractorName = Literal["vlm", "ocr", "text"]


@dataclass(frozen=True, slots=True)
class Table:
    """A table read from a page: ``header`` (may be empty) and ``rows`` of cell strings."""

    rows: tuple[tuple[str, ...], ...]
    header: tuple[str, ...] = ()
    caption: str | None = None

    def to_markdown(self) -> str:
        """The table as a GitHub-flavoured Markdown table (pipes in cells escaped)."""
        width = max([len(self.header), *(len(r) for r in self.rows)], default=0)
        if width == 0:
            return ""

        def line(cells: tuple[str, ...]) -> str:
            padded = [c.replace("|", "\\|").replace("\n", " ") for c in cells] + [""] * (width - len(cells))
            return "| " + " | ".join(padded) + " |"

        head = self.header or tuple(f"col{i + 1}" for i in range(width))
        out = [line(head), "| " + " | ".join(["---"] * width) + " |", *(line(r) for r in self.rows)]
        if self.caption:
            out.insert(0, self.caption)
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class LineItem:
    description: str
    quantity: float | None = None
    unit_price: float | None = None
    amount: float | None = None


@dataclass(frozen=True, slots=True)
class KeyFields:
    """Key fields by kind of page. Amounts are numbers; dates ISO ``YYYY-MM-DD`` where they could be read.

    Invoices and receipts fill the commercial fields; slides ``title`` and ``bullets``; other pages
    ``title``, ``summary`` and ``entities``. Unknown values are ``None`` or empty, never guessed.
    """

    title: str | None = None
    summary: str | None = None
    entities: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    document_number: str | None = None
    issue_date: str | None = None
    due_date: str | None = None
    seller: str | None = None
    buyer: str | None = None
    currency: str | None = None
    subtotal: float | None = None
    tax: float | None = None
    total: float | None = None
    line_items: tuple[LineItem, ...] = ()


@dataclass(frozen=True, slots=True)
class PageExtraction:
    """What an extractor read from one page, and how it got there.

    ``status`` is ``ok`` when the configured extractor succeeded, ``fallback`` when it failed and the text
    layer or OCR stood in (``reason`` says why), ``failed`` when nothing could read the page (``reason``
    says why; ``markdown`` is empty). ``extractor`` is the one that produced the content.
    """

    document_id: str
    page: int
    markdown: str
    extractor: ExtractorName
    status: ExtractionStatus = "ok"
    reason: str | None = None
    tables: tuple[Table, ...] = ()
    fields: KeyFields = field(default_factory=KeyFields)
    page_kind: str = "other"
    """invoice, receipt, slide, report, form, letter, table, figure, blank or other."""
    language: str | None = None
    """ISO 639-1 code such as ``en`` or ``zh``, when known."""
    blank: bool = False
    model: str | None = None
    prompt_version: str | None = None
    attempts: int = 1
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a claim comes from: a document (file name) and a page, from 1.

    Example:
        >>> str(Citation("invoice-en.pdf", 1, "ab" * 32))
        '[invoice-en.pdf, p. 1]'
    """

    document: str
    page: int
    document_id: str = ""

    def __str__(self) -> str:
        return f"[{self.document}, p. {self.page}]"


@dataclass(frozen=True, slots=True)
class RetrievedPage:
    """One page found by retrieval, best first by ``rank`` (from 1).

    ``score`` is the fused score (higher is better; comparable only within one result list),
    ``dense_rank`` / ``lexical_rank`` where each leg ranked the page (``None``: not among its hits).
    ``snippet`` is the passage that matched best; ``text`` the whole stored page text; ``image_path`` the
    page image in the page store, to show to the VLM again (``None`` when no image was kept).
    """

    record_id: str
    document_id: str
    name: str
    source: str
    page: int
    page_count: int
    rank: int
    score: float
    snippet: str
    text: str
    image_path: str | None = None
    title: str | None = None
    page_kind: str = "other"
    language: str | None = None
    status: str = "ok"
    timestamp: float | None = None
    fields: KeyFields = field(default_factory=KeyFields)
    tables: tuple[Table, ...] = ()
    dense_rank: int | None = None
    lexical_rank: int | None = None

    @property
    def citation(self) -> Citation:
        return Citation(self.name, self.page, self.document_id)
