"""A PDF page's text layer as line spans with boxes in rendered-image pixels.

PDFium's own text rectangles (``count_rects``/``get_rect``) follow the PDF's text objects, which can be
one per character (many generated PDFs draw glyph by glyph), so they are not usable as lines. Instead the
characters are walked once: PDFium's reading order and its inserted line breaks give the lines, loose
character boxes (the font's full ascent-to-descent height, so every box on a line has the same height)
give the geometry. A line is split where the gap between two words is wider than twice the text height,
so table cells on one visual row become separate spans instead of one box across the table.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from qwenvl_agents.types import Box, TextLayer, TextSpan

_GAP_FACTOR = 2.0  # a gap wider than this many text heights starts a new span
_PRECISION = 64  # PageToDevice returns integers; map onto a bitmap this many times larger


@dataclass
class _Run:
    """Characters joined into a word or a line segment, with the union of their boxes."""

    text: list[str] = field(default_factory=list)
    box: list[float] | None = None


def clean_text(text: str) -> str:
    """PDFium text with ``\\r\\n`` line breaks and control characters (unmapped glyphs) removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


def page_to_image(page: pdfium.PdfPage, width: int, height: int) -> Callable[[float, float], tuple[float, float]]:
    """A function mapping PDF page coordinates to pixels of the page rendered at ``width`` x ``height``.

    PDFium's PageToDevice accounts for the crop box and the page's /Rotate; it is sampled at three
    points on an enlarged virtual bitmap to get a float affine transform.
    """
    size_x, size_y = width * _PRECISION, height * _PRECISION
    dx, dy = ctypes.c_int(), ctypes.c_int()

    def device(x: float, y: float) -> tuple[float, float]:
        pdfium_c.FPDF_PageToDevice(page, 0, 0, size_x, size_y, 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        return dx.value / _PRECISION, dy.value / _PRECISION

    ox, oy = device(0.0, 0.0)
    ax, ay = device(1000.0, 0.0)
    bx, by = device(0.0, 1000.0)
    m = ((ax - ox) / 1000, (bx - ox) / 1000, (ay - oy) / 1000, (by - oy) / 1000)

    def transform(x: float, y: float) -> tuple[float, float]:
        return ox + m[0] * x + m[1] * y, oy + m[2] * x + m[3] * y

    return transform


def extract_text_layer(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, width: int, height: int) -> TextLayer:
    """Full text and line spans of ``page`` for an image of ``width`` x ``height`` pixels."""
    raw_text = textpage.get_text_range()
    full = clean_text(raw_text)
    count = textpage.count_chars()
    if count <= 0:
        return TextLayer(full, (), "pdf")
    to_image = page_to_image(page, width, height)
    frame = _reading_frame(to_image)
    spans: list[TextSpan] = []
    line: list[_Run] = []
    # This loop runs once per character (thousands per page): handles and functions are bound to
    # locals, and boxes are collected in PDF units per word and transformed once per word.
    handle = textpage.raw
    get_unicode = pdfium_c.FPDFText_GetUnicode
    get_box = pdfium_c.FPDFText_GetLooseCharBox
    rect = pdfium_c.FS_RECTF()
    rect_ref = ctypes.byref(rect)
    # Use the extracted string when it maps 1:1 onto the characters (almost always); else ask per char.
    chars: str | None = raw_text if len(raw_text) == count else None
    text: list[str] = []
    left = bottom = math.inf
    right = top = -math.inf
    pending_high = 0  # first half of a UTF-16 surrogate pair

    def end_word() -> None:
        nonlocal left, bottom, right, top
        if text:
            run = _Run(text.copy())
            if left <= right:
                x0, y0 = to_image(left, top)
                x1, y1 = to_image(right, bottom)
                run.box = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
            line.append(run)
            text.clear()
        left = bottom = math.inf
        right = top = -math.inf

    def end_line() -> None:
        end_word()
        spans.extend(_segments(line, width, height, frame))
        line.clear()

    for i in range(count):
        if chars is not None:
            ch = chars[i]
        else:
            code = get_unicode(handle, i)
            if 0xD800 <= code < 0xDC00:
                pending_high = code
                continue
            if 0xDC00 <= code < 0xE000 and pending_high:
                code = 0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00)
            pending_high = 0
            ch = chr(code) if code < 0x110000 else "\ufffd"
        if ch == "\r" or ch == "\n":
            end_line()
            continue
        if ch <= " " or ch.isspace() or ch in "\ufffe\uffff":
            end_word()
            continue
        text.append(ch)
        if get_box(handle, i, rect_ref):
            left = min(left, rect.left)
            right = max(right, rect.right)
            bottom = min(bottom, rect.bottom)
            top = max(top, rect.top)
    end_line()
    return TextLayer(full, tuple(spans), "pdf")


def _reading_frame(to_image: Callable[[float, float], tuple[float, float]]) -> Callable[[list[float]], Box]:
    """Map image boxes into a frame where the page's text runs left to right (for /Rotate pages).

    On a page rotated by 90 degrees a line of text runs down the image; gaps and rows are judged along
    the text direction, which is where the page's x axis lands in the image.
    """
    ox, oy = to_image(0.0, 0.0)
    dx, dy = to_image(100.0, 0.0)
    dx, dy = dx - ox, dy - oy
    if abs(dx) >= abs(dy):
        if dx >= 0:
            return lambda b: (b[0], b[1], b[2], b[3])
        return lambda b: (-b[2], -b[3], -b[0], -b[1])
    if dy >= 0:  # text runs downwards
        return lambda b: (b[1], -b[2], b[3], -b[0])
    return lambda b: (-b[3], b[0], -b[1], b[2])


def _segments(words: list[_Run], width: int, height: int, frame: Callable[[list[float]], Box]) -> list[TextSpan]:
    """Join a line's words into spans, splitting at wide gaps and at jumps to another visual line."""
    out: list[TextSpan] = []
    current: list[_Run] = []
    box: list[float] | None = None

    def flush() -> None:
        if current and box is not None:
            clipped = (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))
            # Text outside the visible page (clipped away by the crop box) gets no span.
            if clipped[0] < clipped[2] and clipped[1] < clipped[3]:
                text = " ".join("".join(w.text) for w in current)
                out.append(TextSpan(text, tuple(round(v, 2) for v in clipped)))  # type: ignore[arg-type]

    for w in words:
        if w.box is None:
            continue
        if box is not None:
            a, b = frame(box), frame(w.box)
            h = max(a[3] - a[1], b[3] - b[1], 1.0)
            gap = b[0] - a[2]
            same_row = abs((b[1] + b[3]) / 2 - (a[1] + a[3]) / 2) < 0.6 * h
            if not same_row or gap > _GAP_FACTOR * h or gap < -h:
                flush()
                current, box = [], None
        current.append(w)
        if box is None:
            box = list(w.box)
        else:
            box = [min(box[0], w.box[0]), min(box[1], w.box[1]), max(box[2], w.box[2]), max(box[3], w.box[3])]
    flush()
    return out
