"""Slide text read with python-pptx: what each slide says, including what a picture of it cannot show.

Per slide, in order: the title, then every shape in z-order — text frames, tables (one line per row,
cells separated by `` | ``), charts (title, categories, one line per series with its values), the
contents of grouped shapes, picture alt texts — and finally the speaker notes prefixed ``Notes:``.
Hidden slides are included, because LibreOffice is told to export them too (one page per slide).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def slide_texts(path: Path) -> tuple[str, ...] | None:
    """The text of every slide of a pptx, or ``None`` when python-pptx is missing or cannot read it.

    Example:
        >>> import tempfile, pathlib
        >>> from pptx import Presentation
        >>> prs = Presentation()
        >>> slide = prs.slides.add_slide(prs.slide_layouts[0])
        >>> slide.shapes.title.text = "Quarterly report"
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "deck.pptx"
        >>> prs.save(p)
        >>> slide_texts(p)
        ('Quarterly report',)
    """
    try:
        from pptx import Presentation
    except ImportError:
        logger.warning(
            "python-pptx is not installed; using the PDF text of %s (pip install 'qwenvl-agents[office]')", path
        )
        return None
    try:
        prs = Presentation(str(path))
        return tuple(_slide_text(slide) for slide in prs.slides)
    except Exception as exc:  # python-pptx raises many kinds of errors on odd files; the PDF text still works
        logger.warning("python-pptx could not read %s (%s); using the PDF text instead", path, exc)
        return None


def _slide_text(slide: Any) -> str:
    parts: list[str] = []
    title = slide.shapes.title
    if title is not None and title.has_text_frame:
        parts.append(_frame_text(title.text_frame))
    for shape in slide.shapes:
        if title is not None and shape.shape_id == title.shape_id:
            continue
        parts.extend(_shape_text(shape))
    if slide.has_notes_slide:
        notes_frame = slide.notes_slide.notes_text_frame
        notes = _frame_text(notes_frame) if notes_frame is not None else ""
        if notes:
            parts.append(f"Notes: {notes}")
    return "\n".join(p for p in parts if p.strip())


def _frame_text(frame: Any) -> str:
    # python-pptx separates paragraphs with "\n" and line breaks inside a paragraph with "\v".
    return str(frame.text).replace("\v", "\n").strip()


def _shape_text(shape: Any) -> Iterator[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for child in shape.shapes:
            yield from _shape_text(child)
        return
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        yield _frame_text(shape.text_frame)
    if getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            cells = [cell.text.replace("\v", " ").replace("\n", " ").strip() for cell in row.cells]
            if any(cells):
                yield " | ".join(cells)
    if getattr(shape, "has_chart", False) and shape.has_chart:
        yield from _chart_text(shape.chart)
    if shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
        alt = shape._element.xpath("./p:nvPicPr/p:cNvPr/@descr")
        if alt and str(alt[0]).strip():
            yield f"Image: {str(alt[0]).strip()}"


def _chart_text(chart: Any) -> Iterator[str]:
    """Chart title, categories and series values, read from the chart XML.

    python-pptx's plot objects do not know every chart type (3-D bar charts raise), so the series are
    read from the ``c:ser`` elements directly, which every chart type shares.
    """
    try:
        space = chart._chartSpace
        title = " ".join(t.strip() for t in space.xpath("./c:chart/c:title//a:t/text()") if t.strip())
        if title:
            yield f"Chart: {title}"
        categories_done = False
        for ser in space.xpath(".//c:ser"):
            if not categories_done:
                categories = _points(ser.xpath("./c:cat | ./c:xVal"))
                if any(categories):
                    yield "Categories: " + " | ".join(categories)
                categories_done = True
            name = " ".join(ser.xpath("./c:tx//c:v/text()")).strip() or "Series"
            values = _points(ser.xpath("./c:val | ./c:yVal"))
            yield f"{name}: " + " | ".join(_number(v) for v in values)
    except Exception as exc:  # a chart with odd XML should not cost the slide's other text
        logger.debug("chart text unreadable: %s", exc)


def _points(containers: list[Any]) -> list[str]:
    """Point values of a ``c:cat``/``c:val`` element, placed by their ``idx`` (missing points stay empty)."""
    if not containers:
        return []
    node = containers[0]
    counts = node.xpath(".//c:ptCount/@val")
    points = node.xpath(".//c:pt")
    size = int(counts[0]) if counts else len(points)
    values = [""] * size
    for pt in points:
        idx = int(pt.get("idx", "0"))
        text = "".join(pt.xpath("./c:v/text()"))
        if idx >= size:
            values.extend([""] * (idx + 1 - size))
            size = idx + 1
        values[idx] = text
    return values


def _number(text: str) -> str:
    """Chart XML stores numbers like "150.0" or "1.2E3"; show whole numbers without the ".0"."""
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return text
