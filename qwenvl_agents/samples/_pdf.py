"""reportlab plumbing shared by the PDF samples: byte-stable builds and page anchors."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, TableStyle

from qwenvl_agents.samples._fonts import FontFile
from qwenvl_agents.samples._numbers import round_cents

CJK_FONT_NAME = "QwenVLSamplesCJK"
CREATOR = "qwenvl-agents sample generator"

PageDecorator = Callable[[Any, Any], None]


def esc(text: str) -> str:
    """Escape for reportlab's paragraph mini-markup, where a bare ``&`` or ``<`` is a syntax error."""
    return escape(text)


def register_cjk_font(font: FontFile) -> str:
    """Register ``font`` with reportlab under one fixed name and return that name.

    Re-registering on every call is deliberate: the chosen file can change between calls (the
    ``QWENVL_CJK_FONT`` override), and a stale registration would silently embed the wrong font.
    """
    pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(font.path), subfontIndex=font.index))
    return CJK_FONT_NAME


def anchor(flowable: Flowable, name: str) -> Flowable:
    """Tag ``flowable`` so the build reports the page it lands on (used for the page of a Q/A pair)."""
    flowable.sample_anchor = name
    return flowable


class _AnchoredDoc(BaseDocTemplate):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.anchors: dict[str, int] = {}

    def afterFlowable(self, flowable: Flowable) -> None:
        name = getattr(flowable, "sample_anchor", None)
        if name is not None and name not in self.anchors:
            self.anchors[name] = int(self.page)


@dataclass(frozen=True, slots=True)
class BuiltPdf:
    data: bytes
    page_count: int
    anchors: dict[str, int]


def build_pdf(
    story: Sequence[Flowable],
    *,
    pagesize: tuple[float, float],
    margins: tuple[float, float, float, float],
    title: str,
    author: str,
    subject: str,
    on_page: PageDecorator | None = None,
    lang: str = "en-US",
) -> BuiltPdf:
    """Lay ``story`` out on pages of ``pagesize``; ``margins`` are (left, right, top, bottom) points.

    ``invariant=1`` pins the creation date and document ID that reportlab would otherwise take from the
    clock, which is what makes two builds byte-identical.
    """
    left, right, top, bottom = margins
    buffer = io.BytesIO()
    doc = _AnchoredDoc(
        buffer,
        pagesize=pagesize,
        leftMargin=left,
        rightMargin=right,
        topMargin=top,
        bottomMargin=bottom,
        title=title,
        author=author,
        subject=subject,
        creator=CREATOR,
        producer=CREATOR,
        invariant=1,
        lang=lang,
    )
    frame = Frame(left, bottom, pagesize[0] - left - right, pagesize[1] - top - bottom, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=on_page or _no_decoration)])
    doc.build(list(story))
    return BuiltPdf(data=buffer.getvalue(), page_count=int(doc.page), anchors=dict(doc.anchors))


def _no_decoration(canvas: Any, doc: Any) -> None:
    return None


@dataclass(frozen=True, slots=True)
class LineItem:
    """An invoice line; ``amount`` is derived so a line can never disagree with its quantity and price."""

    description: str
    quantity: int
    unit_price: Decimal
    code: str = ""
    spec: str = ""
    unit: str = ""

    @property
    def amount(self) -> Decimal:
        return round_cents(self.unit_price * self.quantity)


def table_style(header: colors.Color, zebra: colors.Color, font: str, bold: str, size: float) -> TableStyle:
    """The report tables' look: coloured header row, zebra body, ruled and bold totals row."""
    return TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font, size),
            ("FONT", (0, 0), (-1, 0), bold, size),
            ("FONT", (0, -1), (-1, -1), bold, size),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("BACKGROUND", (0, 0), (-1, 0), header),
            ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, zebra]),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, header),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, header),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ]
    )
