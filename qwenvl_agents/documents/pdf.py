"""PDF pages rendered with PDFium (pypdfium2), with the PDF's text layer.

PDFium is not thread-safe, so parallel rendering uses processes (see :mod:`.parallel`), and within a
process every PDFium call goes through :data:`PDFIUM_LOCK`, so documents used from several threads (an
agent's tool calls) cannot crash it. Pages, text pages and bitmaps are closed as soon as a page is
rendered, so memory stays flat however long the document is.
"""

from __future__ import annotations

import contextlib
import math
import threading
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from qwenvl_agents.documents.base import Document, DocumentSpec, with_page_count
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.documents.textlayer import extract_text_layer
from qwenvl_agents.errors import (
    CorruptDocumentError,
    DocumentError,
    EncryptedDocumentError,
    UnsupportedDocumentError,
)
from qwenvl_agents.types import DocumentInfo, PageImage, TextLayer

PDFIUM_LOCK = threading.RLock()
"""Serialises PDFium calls within a process (PDFium keeps global state and is not thread-safe)."""


def load_pdf(path: Path, password: str | None, source: str) -> pdfium.PdfDocument:
    """Open ``path`` with PDFium, translating its error codes into :mod:`qwenvl_agents.errors`."""
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(path, password=password)
        except pdfium.PdfiumError as exc:
            raise _load_error(exc, password, source) from exc
        # Without a form environment, filled-in form fields without appearance streams would render blank.
        with contextlib.suppress(pdfium.PdfiumError):
            pdf.init_forms()
        return pdf


def _load_error(exc: pdfium.PdfiumError, password: str | None, source: str) -> DocumentError:
    code = getattr(exc, "err_code", None)
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        if password:
            return EncryptedDocumentError(source, "is password protected and the password given is wrong")
        return EncryptedDocumentError(source, "is password protected; pass password=... (RenderOptions(password=...))")
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return UnsupportedDocumentError(source, "uses an encryption scheme PDFium cannot open; decrypt it first")
    if code == pdfium_c.FPDF_ERR_SUCCESS:
        return CorruptDocumentError(source, "is a PDF without pages")
    return CorruptDocumentError(
        source, f"is a damaged PDF that PDFium cannot open ({exc}); re-download or re-export it"
    )


def pdf_title(pdf: pdfium.PdfDocument) -> str | None:
    try:
        return pdf.get_metadata_value("Title").strip() or None
    except (pdfium.PdfiumError, UnicodeDecodeError):
        return None


class PdfBackend(Document):
    """Renders PDF pages at ``options.dpi`` as RGB images with their text layer.

    A page that would exceed ``options.max_image_pixels`` (or ``options.max_render_pixels``) at that
    resolution is rendered at the largest resolution that fits, and ``PageImage.dpi`` says which.

    ``page_texts`` replaces the PDF text layer (slide text of a converted pptx, ``text_source`` "pptx").
    """

    backend_name = "pdf"

    def __init__(
        self,
        path: Path,
        info: DocumentInfo,
        options: RenderOptions,
        *,
        pdf: pdfium.PdfDocument | None = None,
        page_texts: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(info, options)
        self.path = path
        self.page_texts = page_texts
        self._pdf = pdf if pdf is not None else load_pdf(path, options.password, info.source)

    @classmethod
    def open(cls, path: Path, info: DocumentInfo, options: RenderOptions) -> PdfBackend:
        """Open a PDF file; ``info`` has the identity fields, page count and title are filled in here."""
        pdf = load_pdf(path, options.password, info.source)
        try:
            with PDFIUM_LOCK:
                info = with_page_count(info, len(pdf), pdf_title(pdf))
        except BaseException:
            pdf.close()
            raise
        return cls(path, info, options, pdf=pdf)

    @classmethod
    def reopen(cls, spec: DocumentSpec) -> PdfBackend:
        return cls(Path(spec.path), spec.info, spec.options, page_texts=spec.page_texts)

    def spec(self) -> DocumentSpec:
        return DocumentSpec(self.backend_name, str(self.path), self.info, self.options, self.page_texts)

    def _render(self, number: int) -> PageImage:
        with PDFIUM_LOCK:
            return self._render_locked(number)

    def _render_locked(self, number: int) -> PageImage:
        source = self.info.source
        try:
            page = self._pdf[number - 1]
        except pdfium.PdfiumError as exc:
            raise CorruptDocumentError(source, f"page {number} cannot be loaded ({exc})") from exc
        textpage = None
        try:
            width_pt, height_pt = page.get_size()
            dpi = self._fitting_dpi(width_pt, height_pt)
            bitmap = page.render(scale=dpi / 72.0, rev_byteorder=True, may_draw_forms=True)
            # An RGB bitmap is copied into the PIL image (PIL stores RGB as 4 bytes per pixel), so the
            # image stays valid after the bitmap is freed.
            image = bitmap.to_pil()
            bitmap.close()
            if image.mode != "RGB":
                image = image.convert("RGB")
            text_layer: TextLayer | None
            if self.page_texts is not None:
                text_layer = TextLayer(self.page_texts[number - 1], (), "pptx")
            else:
                textpage = page.get_textpage()
                text_layer = extract_text_layer(page, textpage, image.width, image.height)
        except pdfium.PdfiumError as exc:
            raise CorruptDocumentError(source, f"page {number} cannot be rendered ({exc})") from exc
        finally:
            if textpage is not None:
                textpage.close()
            page.close()
        return PageImage(self.info, number, image, dpi=dpi, text_layer=text_layer)

    def _fitting_dpi(self, width_pt: float, height_pt: float) -> float:
        dpi = self.options.dpi
        if width_pt <= 0 or height_pt <= 0:
            raise CorruptDocumentError(self.info.source, f"has a page of size {width_pt} x {height_pt} pt")
        pixels = math.ceil(width_pt * dpi / 72) * math.ceil(height_pt * dpi / 72)
        cap = min(self.options.max_image_pixels, self.options.max_render_pixels or self.options.max_image_pixels)
        if pixels > cap:
            # Scale down (with a little margin for the rounding up of each side) instead of failing:
            # a poster-sized page is still worth reading at a lower resolution.
            dpi = 72 * math.sqrt(cap / (width_pt * height_pt)) * 0.999
        return dpi

    def _close_backend(self) -> None:
        with PDFIUM_LOCK:
            self._pdf.close()
