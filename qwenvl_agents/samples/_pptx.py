"""A small slide-deck builder on python-pptx, and the byte-stable packaging of its output."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_LEGEND_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

# Every timestamp in the package is pinned: zip entries, core properties, and the workbook embedded
# behind each chart (XlsxWriter stamps it with the current time).
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
_W3C_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


@dataclass(frozen=True, slots=True)
class Theme:
    """Colours of one deck; ``east_asian`` marks every run as Chinese so viewers pick a CJK font."""

    dark: RGBColor
    accent: RGBColor
    light: RGBColor
    series: tuple[RGBColor, ...]
    east_asian: bool = False


EN_THEME = Theme(
    dark=RGBColor(0x12, 0x2B, 0x4A),
    accent=RGBColor(0xE0, 0x8A, 0x1E),
    light=RGBColor(0xEE, 0xF2, 0xF7),
    series=(RGBColor(0x9A, 0xA9, 0xBC), RGBColor(0x12, 0x2B, 0x4A)),
)
ZH_THEME = Theme(
    dark=RGBColor(0x2E, 0x4A, 0x32),
    accent=RGBColor(0xC2, 0x8B, 0x2C),
    light=RGBColor(0xF1, 0xF4, 0xEE),
    series=(RGBColor(0x2E, 0x4A, 0x32), RGBColor(0x7F, 0xA3, 0x6E), RGBColor(0xC2, 0x8B, 0x2C)),
    east_asian=True,
)
# Named rather than detected, so the deck is the same file on every machine; viewers substitute a
# Chinese font they have when this one is missing.
_ZH_TYPEFACE = "Microsoft YaHei"


class Deck:
    """A 4:3 deck on python-pptx's default template, with a coloured title slide and a footer band."""

    def __init__(self, theme: Theme, footer: str) -> None:
        self.prs = Presentation()
        self.theme = theme
        self.footer = footer

    @property
    def width(self) -> int:
        return int(self.prs.slide_width)

    def _style_runs(self, runs: Iterable[Any], size: float | None = None, color: RGBColor | None = None) -> None:
        for run in runs:
            if size is not None:
                run.font.size = Pt(size)
            if color is not None:
                run.font.color.rgb = color
            if self.theme.east_asian:
                r_pr = run._r.get_or_add_rPr()
                r_pr.set("lang", "zh-CN")
                r_pr.set("altLang", "en-US")
                ea = r_pr.find(qn("a:ea"))
                if ea is None:
                    ea = r_pr.makeelement(qn("a:ea"), {})
                    r_pr.append(ea)
                ea.set("typeface", _ZH_TYPEFACE)

    def _frame_runs(self, text_frame: Any) -> list[Any]:
        return [run for p in text_frame.paragraphs for run in p.runs]

    def _chrome(self, slide: Any, number: int) -> None:
        """The band, footer and slide number every content slide carries."""
        bar = slide.shapes.add_shape(1, 0, 0, self.prs.slide_width, Inches(0.12))
        bar.fill.solid()
        bar.fill.fore_color.rgb = self.theme.accent
        bar.line.fill.background()
        box = slide.shapes.add_textbox(Inches(0.5), Inches(7.0), Inches(7.5), Inches(0.35))
        box.text_frame.text = self.footer
        num = slide.shapes.add_textbox(Inches(8.8), Inches(7.0), Inches(0.7), Inches(0.35))
        num.text_frame.text = str(number)
        num.text_frame.paragraphs[0].alignment = PP_ALIGN.RIGHT
        grey = RGBColor(0x6B, 0x72, 0x80)
        self._style_runs(self._frame_runs(box.text_frame) + self._frame_runs(num.text_frame), 10, grey)

    def _title(self, slide: Any, text: str) -> None:
        slide.shapes.title.text = text
        title_frame = slide.shapes.title.text_frame
        title_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
        self._style_runs(self._frame_runs(title_frame), 30, self.theme.dark)

    def _notes(self, slide: Any, notes: str) -> None:
        frame = slide.notes_slide.notes_text_frame
        frame.text = notes
        self._style_runs(self._frame_runs(frame))

    def title_slide(self, title: str, subtitle: str, notes: str = "") -> None:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[0])
        background = slide.background.fill
        background.solid()
        background.fore_color.rgb = self.theme.dark
        slide.shapes.title.text = title
        slide.placeholders[1].text = subtitle
        self._style_runs(self._frame_runs(slide.shapes.title.text_frame), 38, RGBColor(0xFF, 0xFF, 0xFF))
        self._style_runs(self._frame_runs(slide.placeholders[1].text_frame), 20, RGBColor(0xD6, 0xDE, 0xE8))
        rule = slide.shapes.add_shape(1, Inches(3.5), Inches(3.95), Inches(3.0), Inches(0.06))
        rule.fill.solid()
        rule.fill.fore_color.rgb = self.theme.accent
        rule.line.fill.background()
        if notes:
            self._notes(slide, notes)

    def bullet_slide(self, title: str, bullets: Sequence[str], notes: str = "") -> None:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[1])
        self._title(slide, title)
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        for paragraph in body.paragraphs:
            paragraph.space_after = Pt(10)
        self._style_runs(self._frame_runs(body), 22, RGBColor(0x22, 0x22, 0x22))
        self._chrome(slide, len(self.prs.slides))
        if notes:
            self._notes(slide, notes)

    def table_slide(self, title: str, rows: Sequence[Sequence[str]], caption: str = "", notes: str = "") -> None:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[5])
        self._title(slide, title)
        n_rows, n_cols = len(rows), len(rows[0])
        left, top = Inches(0.5), Inches(1.7)
        shape = slide.shapes.add_table(n_rows, n_cols, left, top, self.width - 2 * left, Inches(0.5) * n_rows)
        table = shape.table
        table.columns[0].width = Emu(int(Inches(2.6)))
        other = (self.width - 2 * left - Inches(2.6)) // (n_cols - 1)
        for c in range(1, n_cols):
            table.columns[c].width = Emu(int(other))
        table.last_row = True
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                cell = table.cell(r, c)
                cell.text = value
                paragraph = cell.text_frame.paragraphs[0]
                paragraph.alignment = PP_ALIGN.LEFT if c == 0 else PP_ALIGN.RIGHT
                header_or_total = r == 0 or r == n_rows - 1
                cell.fill.solid()
                cell.fill.fore_color.rgb = (
                    self.theme.dark if r == 0 else (self.theme.light if r % 2 else RGBColor(0xFF, 0xFF, 0xFF))
                )
                color = RGBColor(0xFF, 0xFF, 0xFF) if r == 0 else RGBColor(0x22, 0x22, 0x22)
                self._style_runs(paragraph.runs, 16, color)
                for run in paragraph.runs:
                    run.font.bold = header_or_total
        if caption:
            box = slide.shapes.add_textbox(left, top + Inches(0.5) * n_rows + Inches(0.25), Inches(9.0), Inches(0.5))
            box.text_frame.text = caption
            self._style_runs(self._frame_runs(box.text_frame), 14, RGBColor(0x55, 0x5B, 0x66))
        self._chrome(slide, len(self.prs.slides))
        if notes:
            self._notes(slide, notes)

    def chart_slide(
        self,
        title: str,
        chart_type: Any,
        categories: Sequence[str],
        series: Sequence[tuple[str, Sequence[float]]],
        number_format: str,
        caption: str = "",
        notes: str = "",
    ) -> None:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[5])
        self._title(slide, title)
        data = CategoryChartData(number_format=number_format)
        data.categories = list(categories)
        for name, values in series:
            data.add_series(name, list(values))
        frame = slide.shapes.add_chart(chart_type, Inches(0.7), Inches(1.55), Inches(8.6), Inches(4.55), data)
        chart = frame.chart
        chart.has_legend = True
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False
        chart.legend.font.size = Pt(14)
        plot = chart.plots[0]
        plot.has_data_labels = True
        labels = plot.data_labels
        labels.number_format = number_format
        labels.number_format_is_linked = False
        labels.font.size = Pt(13)
        if chart_type == XL_CHART_TYPE.PIE:
            labels.position = XL_LABEL_POSITION.OUTSIDE_END
            for i, point in enumerate(plot.series[0].points):
                point.format.fill.solid()
                point.format.fill.fore_color.rgb = self.theme.series[i % len(self.theme.series)]
        else:
            labels.position = XL_LABEL_POSITION.OUTSIDE_END
            plot.gap_width = 80
            chart.value_axis.has_major_gridlines = True
            chart.value_axis.tick_labels.font.size = Pt(12)
            chart.category_axis.tick_labels.font.size = Pt(14)
            for i, plot_series in enumerate(plot.series):
                plot_series.format.fill.solid()
                plot_series.format.fill.fore_color.rgb = self.theme.series[i % len(self.theme.series)]
        if caption:
            box = slide.shapes.add_textbox(Inches(0.7), Inches(6.2), Inches(8.6), Inches(0.5))
            box.text_frame.text = caption
            self._style_runs(self._frame_runs(box.text_frame), 16, self.theme.dark)
            for run in self._frame_runs(box.text_frame):
                run.font.bold = True
        self._chrome(slide, len(self.prs.slides))
        if notes:
            self._notes(slide, notes)

    def save(self, *, title: str, author: str, subject: str, when: datetime, language: str) -> bytes:
        props = self.prs.core_properties
        props.title = title
        props.author = author
        props.subject = subject
        props.last_modified_by = author
        props.created = when
        props.modified = when
        props.last_printed = when
        props.revision = 1
        props.language = language
        props.keywords = "sample; qwenvl-agents"
        props.comments = "Synthetic sample generated by qwenvl-agents. All names and numbers are fictitious."
        buffer = io.BytesIO()
        self.prs.save(buffer)
        return normalize_zip(buffer.getvalue(), when)


def normalize_zip(data: bytes, when: datetime) -> bytes:
    """Rewrite an OOXML package with pinned entry times (recursing into embedded workbooks)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            blob = source.read(info.filename)
            if info.filename.endswith(".xlsx"):
                blob = normalize_zip(blob, when)
            elif info.filename == "docProps/core.xml":
                blob = _W3C_TIME.sub(rb"\g<1>" + stamp + rb"\g<2>", blob)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, blob)
    return out.getvalue()
