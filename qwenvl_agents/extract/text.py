"""The page's own text (PDF text layer, slide text) as a ``PageExtraction``, and a test of its quality.

Born-digital PDFs carry exact text, so it is the cheapest and most faithful reading when it is good. It
is not good when a scan carries only a page number or a stamp, when fonts lack a Unicode map (the text
comes out as replacement characters or ``(cid:12)``), or when there is simply too little of it — then
:func:`text_layer_problem` says why, and ``auto`` runs OCR instead.

Example:
    >>> from PIL import Image
    >>> from qwenvl_agents.types import DocumentInfo, PageImage, TextLayer
    >>> doc = DocumentInfo("d" * 64, "/tmp/a.pdf", "a.pdf", "pdf", "pdf", 1, 1)
    >>> layer = TextLayer("INVOICE\\nInvoice No: 42-A\\nDate: 2023-05-01\\nTotal: 1,007.50 EUR")
    >>> page = PageImage(doc, 1, Image.new("RGB", (10, 10)), text_layer=layer)
    >>> e = TextLayerExtractor().extract(page)
    >>> (e.status, e.extractor, e.page_kind, e.fields.total, e.fields.issue_date)
    ('ok', 'text', 'invoice', 1007.5, '2023-05-01')
    >>> text_layer_problem(TextLayer("- 3 -"))
    'the text layer holds only page numbers'
"""

from __future__ import annotations

import re

from qwenvl_agents.extract.base import BaseExtractor, failed
from qwenvl_agents.extract.heuristics import guess_fields, guess_page_kind
from qwenvl_agents.extract.lang import guess_language
from qwenvl_agents.types import ExtractorName, KeyFields, PageExtraction, PageImage, TextLayer

HEURISTICS_REVISION = "1"
"""Part of the offline extractors' ``prompt_version``: bump when the rules change their output."""

MIN_CHARS = 20
MAX_BAD_RATIO = 0.05
_PAGE_NUMBER = re.compile(
    r"(?i)^\s*(?:page|seite|pagina|página|p\.|第)?\s*[-–—]?\s*(?:\d+|[ivxlcdm]+)\s*[-–—]?\s*"
    r"(?:(?:of|von|de|/|共)\s*\d+\s*页?)?\s*页?\s*$"
)


def _is_bad_char(ch: str) -> bool:
    code = ord(ch)
    return ch == "\ufffd" or 0xE000 <= code <= 0xF8FF or (code < 32 and ch not in "\n\t\r")


def text_layer_problem(
    layer: TextLayer | None, page: PageImage | None = None, *, min_chars: int = MIN_CHARS
) -> str | None:
    """Why ``layer`` is not a usable reading of the page, or ``None`` when it is.

    Slide text (``source="pptx"``) is exact however short (a title slide has a few words), so only its
    emptiness counts. ``page`` is accepted for checks that need the image; none need it today.
    """
    del page  # reserved for image-aware checks (e.g. text covering too little of an inked page)
    if layer is None or not layer.text.strip():
        return "the page has no text layer"
    text = layer.text
    visible = [ch for ch in text if not ch.isspace()]
    if layer.source == "pptx":
        return None
    bad = sum(1 for ch in visible if _is_bad_char(ch)) + 5 * len(re.findall(r"\(cid:\d+\)", text))
    if bad / max(1, len(visible)) > MAX_BAD_RATIO:
        return f"the text layer is garbled ({bad} unreadable of {len(visible)} characters)"
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and all(_PAGE_NUMBER.match(line) for line in lines):
        return "the text layer holds only page numbers"
    if len(visible) < min_chars:
        return f"the text layer has only {len(visible)} characters"
    alnum = sum(1 for ch in visible if ch.isalnum())
    if alnum / len(visible) < 0.5:
        return "the text layer is mostly symbols"
    return None


def is_good_text_layer(layer: TextLayer | None, page: PageImage | None = None) -> bool:
    """Whether ``layer`` can stand in for reading the page image (see :func:`text_layer_problem`)."""
    return text_layer_problem(layer, page) is None


def layer_to_markdown(layer: TextLayer) -> str:
    """The layer's text with tidy whitespace (no layout is recoverable as Markdown structure)."""
    lines = [line.rstrip() for line in layer.text.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def reading_from_text(
    page: PageImage,
    layer: TextLayer,
    *,
    extractor: ExtractorName,
    model: str | None,
    prompt_version: str | None,
) -> PageExtraction:
    """A ``PageExtraction`` from plain text: Markdown, language, page kind and rule-based key fields."""
    markdown = layer_to_markdown(layer)
    language = guess_language(markdown)
    kind = guess_page_kind(markdown, source=layer.source)
    if not markdown:
        kind = "blank"
    if kind == "slide":
        lines = [line.strip(" -•\t") for line in markdown.splitlines() if line.strip(" -•\t")]
        fields = KeyFields(title=lines[0] if lines else None, bullets=tuple(lines[1:]))
    elif kind == "blank":
        fields = KeyFields()
    else:
        fields = guess_fields(markdown, page_kind=kind, language=language)
    return PageExtraction(
        document_id=page.document.document_id,
        page=page.page,
        markdown=markdown,
        extractor=extractor,
        status="ok",
        fields=fields,
        page_kind=kind,
        language=language,
        blank=not markdown,
        model=model,
        prompt_version=prompt_version,
        attempts=1,
    )


class TextLayerExtractor(BaseExtractor):
    """Reads the page's text layer (``page.text_layer``); a page without a usable one is ``failed``.

    ``require_good=False`` accepts any non-empty layer (used when it is the last resort).
    """

    name = "text"
    model = None
    prompt_version = f"text-{HEURISTICS_REVISION}"
    max_in_flight = 64

    def __init__(self, *, require_good: bool = True) -> None:
        self.require_good = require_good

    def extract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        layer = hint or page.text_layer
        problem = text_layer_problem(layer, page)
        if layer is None or (problem and (self.require_good or not layer.text.strip())):
            return failed(page, "text", f"text: {problem}", prompt_version=self.prompt_version)
        source: ExtractorName = "ocr" if layer.source == "ocr" else "text"
        return reading_from_text(page, layer, extractor=source, model=self.model, prompt_version=self.prompt_version)

    async def aextract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        return self.extract(page, hint)
