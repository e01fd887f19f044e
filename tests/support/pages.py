"""Synthetic pages for extraction tests: real rendered text, no corpus needed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from qwenvl_agents.types import DocumentInfo, PageImage, TextLayer

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def font(size: int = 28, cjk: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = CJK_FONT if cjk else FONT
    if Path(path).exists():
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def document(name: str = "doc.pdf", pages: int = 1) -> DocumentInfo:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return DocumentInfo(digest, f"/tmp/{name}", name, "pdf", "pdf", 1000, pages)


def text_image(
    rows: Sequence[Sequence[tuple[int, str]]],
    size: tuple[int, int] = (1000, 700),
    *,
    font_size: int = 30,
    cjk: bool = False,
    top: int = 40,
    line_gap: int = 60,
) -> Image.Image:
    """An image with text rows; each row is ``[(x, text), ...]`` so a row can hold separate pieces."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    f = font(font_size, cjk)
    for i, row in enumerate(rows):
        for x, text in row:
            draw.text((x, top + i * line_gap), text, font=f, fill="black")
    return image


def page(
    lines: Sequence[str] = ("Invoice 42", "Total 12.50 EUR"),
    *,
    number: int = 1,
    doc: DocumentInfo | None = None,
    text_layer: str | None = None,
    source: str = "pdf",
    size: tuple[int, int] = (800, 600),
) -> PageImage:
    """A page whose image shows ``lines``; ``text_layer`` attaches a text layer with that text."""
    image = text_image([[(40, line)] for line in lines], size)
    layer = TextLayer(text_layer, (), source) if text_layer is not None else None  # type: ignore[arg-type]
    return PageImage(doc or document(), number, image, dpi=150.0, text_layer=layer)
