"""Tests of the sample-document generator (qwenvl_agents.samples)."""

from __future__ import annotations

import doctest
import json
import logging
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("reportlab")
pytest.importorskip("pptx")

import pypdfium2 as pdfium
from PIL import Image
from pptx import Presentation

import qwenvl_agents.samples as samples_pkg
from qwenvl_agents.errors import MissingDependencyError
from qwenvl_agents.samples import (
    CJK_FONT_ENV,
    MANIFEST_NAME,
    SAMPLE_FILES,
    SampleDocument,
    _fonts,
    _invoice_en,
    _invoice_zh,
    _receipts,
    _report_en,
    _report_zh,
    find_cjk_font,
    load_samples,
    write_samples,
)
from qwenvl_agents.samples._invoice_zh import amount_in_words_zh


def _cjk_available() -> bool:
    try:
        find_cjk_font()
    except MissingDependencyError:
        return False
    return True


requires_cjk = pytest.mark.skipif(
    not _cjk_available(), reason="no Chinese TrueType font (apt-get install fonts-wqy-microhei)"
)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleDocument]]:
    if not _cjk_available():
        pytest.skip("no Chinese TrueType font (apt-get install fonts-wqy-microhei)")
    dest = tmp_path_factory.mktemp("samples")
    return dest, write_samples(dest)


@pytest.fixture(scope="module")
def by_name(written: tuple[Path, list[SampleDocument]]) -> dict[str, SampleDocument]:
    return {s.name: s for s in written[1]}


def _squash(text: str) -> str:
    """Whitespace-free text: PDF extraction inserts line breaks wherever a paragraph wrapped."""
    return re.sub(r"\s+", "", text)


def _pdf_pages(path: Path) -> list[str]:
    doc = pdfium.PdfDocument(str(path))
    try:
        return [doc[i].get_textpage().get_text_bounded() for i in range(len(doc))]
    finally:
        doc.close()


def _chart_value(value: float, number_format: str) -> str:
    if number_format.endswith("%"):
        return f"{value * 100:.0f}%"
    decimals = len(number_format.split(".")[1]) if "." in number_format else 0
    return f"{value:,.{decimals}f}"


def _slide_text(slide: Any) -> str:
    parts: list[str] = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts += [cell.text for row in shape.table.rows for cell in row.cells]
        if shape.has_chart:
            plot = shape.chart.plots[0]
            fmt = plot.data_labels.number_format
            parts += [str(c) for c in plot.categories]
            for series in plot.series:
                parts.append(series.name)
                parts += [_chart_value(v, fmt) for v in series.values]
    if slide.has_notes_slide:
        parts.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(parts)


PDFS = [name for name in SAMPLE_FILES if name.endswith(".pdf")]
DECKS = [name for name in SAMPLE_FILES if name.endswith(".pptx")]
RECEIPTS = [name for name in SAMPLE_FILES if name.endswith(".jpg")]


# --- files and manifest ---------------------------------------------------------------------------


def test_every_file_is_written(written: tuple[Path, list[SampleDocument]]) -> None:
    dest, docs = written
    assert [d.name for d in docs] == list(SAMPLE_FILES)
    for name in (*SAMPLE_FILES, MANIFEST_NAME):
        assert (dest / name).is_file(), name
        assert (dest / name).stat().st_size > 1000, name
    assert {(d.kind, d.language) for d in docs} == {
        (kind, lang) for kind in ("invoice", "receipt", "slides", "report") for lang in ("en", "zh")
    }
    assert all(d.path == dest / d.name for d in docs)


def test_manifest_round_trips(written: tuple[Path, list[SampleDocument]]) -> None:
    dest, docs = written
    assert load_samples(dest) == docs
    assert load_samples(dest / MANIFEST_NAME) == docs
    raw = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert raw["version"] == 1
    # Paths are relative so the directory can be moved or committed.
    assert [d["path"] for d in raw["documents"]] == list(SAMPLE_FILES)
    for doc in raw["documents"]:
        assert doc["facts"] and doc["questions"]
        assert all(set(q) == {"question", "answer", "page"} for q in doc["questions"])


def test_every_sample_has_facts_and_questions_on_real_pages(written: tuple[Path, list[SampleDocument]]) -> None:
    for doc in written[1]:
        assert len(doc.facts) >= 5, doc.name
        assert 3 <= len(doc.questions) <= 8, doc.name
        assert all(1 <= q.page <= doc.page_count for q in doc.questions), doc.name
        assert all(v.strip() for v in doc.facts.values()), doc.name


def test_facts_are_distinct_across_documents(written: tuple[Path, list[SampleDocument]]) -> None:
    docs = written[1]
    for key in ("vendor", "total", "invoice_number", "organization", "company", "title"):
        values = [d.facts[key] for d in docs if key in d.facts]
        assert len(values) == len(set(values)), key
    questions = [q.question for d in docs for q in d.questions]
    assert len(questions) == len(set(questions))


# --- PDFs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PDFS)
def test_pdf_opens_with_stated_page_count(by_name: dict[str, SampleDocument], name: str) -> None:
    doc = by_name[name]
    pdf = pdfium.PdfDocument(str(doc.path))
    try:
        assert len(pdf) == doc.page_count
    finally:
        pdf.close()
    expected = {"invoice-en.pdf": (1, 1), "invoice-zh.pdf": (1, 1), "report-en.pdf": (3, 6), "report-zh.pdf": (2, 3)}
    low, high = expected[name]
    assert low <= doc.page_count <= high


@pytest.mark.parametrize("name", PDFS)
def test_pdf_text_layer_contains_every_fact(by_name: dict[str, SampleDocument], name: str) -> None:
    doc = by_name[name]
    text = _squash("".join(_pdf_pages(doc.path)))
    missing = {k: v for k, v in doc.facts.items() if _squash(v) not in text}
    assert not missing, f"{name}: facts not in the text layer: {missing}"


@pytest.mark.parametrize("name", PDFS)
def test_pdf_answers_are_on_their_stated_page(by_name: dict[str, SampleDocument], name: str) -> None:
    doc = by_name[name]
    pages = [_squash(p) for p in _pdf_pages(doc.path)]
    for qa in doc.questions:
        assert _squash(qa.answer) in pages[qa.page - 1], f"{name}: {qa.answer!r} not on page {qa.page}"


@pytest.mark.parametrize("name", ["invoice-zh.pdf", "report-zh.pdf"])
def test_chinese_pdfs_embed_a_font_and_extract_as_chinese(by_name: dict[str, SampleDocument], name: str) -> None:
    doc = by_name[name]
    data = doc.path.read_bytes()
    assert b"/FontFile2" in data  # an embedded TrueType subset, not a reference to a system font
    text = "".join(_pdf_pages(doc.path))
    for word in ("发票号码", "开票日期", "合计", "税额", "价税合计") if name.startswith("invoice") else ("运营", "表1"):
        assert word in text, word


@requires_cjk
def test_cjk_font_has_a_glyph_for_every_chinese_character_printed() -> None:
    """No tofu: every CJK character the samples print is in the font that draws them."""
    from reportlab.pdfbase.ttfonts import TTFont

    font = find_cjk_font()
    face = TTFont("QwenVLTestProbe", str(font.path), subfontIndex=font.index).face
    printed = "".join(
        [
            Path(_invoice_zh.__file__).read_text(encoding="utf-8"),
            Path(_report_zh.__file__).read_text(encoding="utf-8"),
            _receipts.receipt_text(_receipts.zh_lines()),
        ]
    )
    cjk = {ch for ch in printed if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"}
    missing = sorted(ch for ch in cjk if ord(ch) not in face.charToGlyph)
    assert not missing, f"{font.path} lacks glyphs for {''.join(missing)}"


# --- receipts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECEIPTS)
def test_receipt_is_a_narrow_jpeg_showing_its_facts(by_name: dict[str, SampleDocument], name: str) -> None:
    doc = by_name[name]
    with Image.open(doc.path) as image:
        assert image.format == "JPEG"
        assert image.mode == "RGB"
        width, height = image.size
        assert height > 1.3 * width  # till paper is narrow
        assert width >= 500
    lines = _receipts.en_lines() if doc.language == "en" else _receipts.zh_lines()
    printed = _squash(_receipts.receipt_text(lines))
    missing = {k: v for k, v in doc.facts.items() if _squash(v) not in printed}
    assert not missing
    assert all(_squash(q.answer) in printed for q in doc.questions)


# --- slide decks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DECKS)
def test_deck_has_table_chart_notes_and_its_facts(by_name: dict[str, SampleDocument], name: str) -> None:
    doc = by_name[name]
    prs = Presentation(str(doc.path))
    slides = list(prs.slides)
    assert len(slides) == doc.page_count
    assert 4 <= len(slides) <= 5
    shapes = [shape for slide in slides for shape in slide.shapes]
    assert any(shape.has_table for shape in shapes)
    charts = [shape.chart for shape in shapes if shape.has_chart]
    assert charts and all(len(list(c.plots[0].series[0].values)) >= 3 for c in charts)
    assert any(s.has_notes_slide and s.notes_slide.notes_text_frame.text.strip() for s in slides)

    texts = [_squash(_slide_text(s)) for s in slides]
    missing = {k: v for k, v in doc.facts.items() if not any(_squash(v) in t for t in texts)}
    assert not missing
    for qa in doc.questions:
        assert _squash(qa.answer) in texts[qa.page - 1], f"{qa.answer!r} not on slide {qa.page}"
    props = prs.core_properties
    assert props.created is not None and props.created.year == 2026
    assert props.created == props.modified


# --- determinism and overwriting ------------------------------------------------------------------


def test_two_runs_are_byte_identical(written: tuple[Path, list[SampleDocument]], tmp_path: Path) -> None:
    first, _ = written
    # Cross a second boundary so a stray wall-clock timestamp (zip entries, core.xml) would show up.
    time.sleep(1.1)
    write_samples(tmp_path)
    for name in (*SAMPLE_FILES, MANIFEST_NAME):
        assert (first / name).read_bytes() == (tmp_path / name).read_bytes(), name


@requires_cjk
def test_existing_different_file_is_kept_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_samples(tmp_path)
    original = (tmp_path / "invoice-en.pdf").read_bytes()
    (tmp_path / "invoice-en.pdf").write_bytes(b"my own invoice")

    with caplog.at_level(logging.WARNING, logger="qwenvl_agents.samples"):
        docs = write_samples(tmp_path)
    assert (tmp_path / "invoice-en.pdf").read_bytes() == b"my own invoice"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "invoice-en.pdf" in warnings[0] and "overwrite=True" in warnings[0]
    assert [d.name for d in docs] == list(SAMPLE_FILES)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qwenvl_agents.samples"):
        write_samples(tmp_path, overwrite=True)
    assert (tmp_path / "invoice-en.pdf").read_bytes() == original
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@requires_cjk
def test_identical_existing_files_are_left_alone_silently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_samples(tmp_path)
    stamps = {name: (tmp_path / name).stat().st_mtime_ns for name in SAMPLE_FILES}
    with caplog.at_level(logging.WARNING, logger="qwenvl_agents.samples"):
        write_samples(tmp_path)
    assert not caplog.records
    assert stamps == {name: (tmp_path / name).stat().st_mtime_ns for name in SAMPLE_FILES}
    assert not list(tmp_path.glob(".*.tmp"))


@requires_cjk
def test_creates_missing_destination(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b"
    write_samples(str(dest))
    assert sorted(p.name for p in dest.iterdir()) == sorted((*SAMPLE_FILES, MANIFEST_NAME))


@requires_cjk
def test_docstring_example_runs() -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(samples_pkg.write_samples, "write_samples", globs={})
    assert tests and tests[0].examples
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


# --- numbers add up -------------------------------------------------------------------------------


def _amount(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


def test_invoice_and_receipt_arithmetic(by_name: dict[str, SampleDocument]) -> None:
    for name in ("invoice-en.pdf", "invoice-zh.pdf", "receipt-en.jpg"):
        facts = by_name[name].facts
        assert _amount(facts["subtotal"]) + _amount(facts["tax"]) == _amount(facts["total"]), name
    en_items = sum((item.amount for item in _invoice_en.EN_ITEMS), Decimal(0))
    assert en_items == _amount(by_name["invoice-en.pdf"].facts["subtotal"])
    zh_items = sum((item.amount for item in _invoice_zh.ZH_ITEMS), Decimal(0))
    assert zh_items == _amount(by_name["invoice-zh.pdf"].facts["subtotal"])
    zh_receipt = by_name["receipt-zh.jpg"].facts
    assert _amount(zh_receipt["subtotal"]) - _amount(zh_receipt["discount"]) == _amount(zh_receipt["total"])


def test_report_tables_add_up() -> None:
    quarters = sum(v for _, v in _report_en.EN_QUARTERS)
    assert quarters == sum(site[3] for site in _report_en.EN_SITES)
    zh_quarters = sum((q[1] for q in _report_zh.ZH_QUARTERS), Decimal(0))
    assert zh_quarters == sum((d[3] for d in _report_zh.ZH_DISTRICTS), Decimal(0))


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("19652.96", "壹万玖仟陆佰伍拾贰元玖角陆分"),
        ("10000", "壹万元整"),
        ("10005", "壹万零伍元整"),
        ("100200.50", "壹拾万零贰佰元伍角"),
        ("1001.10", "壹仟零壹元壹角"),
        ("20.06", "贰拾元零陆分"),
        ("0.06", "陆分"),
        ("0", "零元整"),
    ],
)
def test_amount_in_words_zh(amount: str, words: str) -> None:
    assert amount_in_words_zh(Decimal(amount)) == words


# --- fonts ----------------------------------------------------------------------------------------


@pytest.fixture
def no_system_cjk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(CJK_FONT_ENV, raising=False)
    monkeypatch.setattr(_fonts, "_CJK_CANDIDATES", ())
    monkeypatch.setattr(_fonts, "_fc_list", lambda pattern: [])
    yield


@pytest.mark.usefixtures("no_system_cjk")
def test_missing_cjk_font_says_how_to_install_one(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError, match=r"apt-get install fonts-wqy-microhei"):
        find_cjk_font()
    dest = tmp_path / "out"
    with pytest.raises(MissingDependencyError):
        write_samples(dest)
    assert not dest.exists()  # nothing is written when a dependency is missing


def test_cjk_font_override_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CJK_FONT_ENV, str(tmp_path / "missing.ttf"))
    with pytest.raises(MissingDependencyError, match=CJK_FONT_ENV):
        find_cjk_font()


def test_cjk_font_override_must_cover_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    latin = _fonts.find_mono_font()
    monkeypatch.setenv(CJK_FONT_ENV, str(latin.path))
    with pytest.raises(MissingDependencyError, match="Simplified Chinese"):
        find_cjk_font()


@requires_cjk
def test_cjk_font_override_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    found = find_cjk_font()
    monkeypatch.setenv(CJK_FONT_ENV, str(found.path))
    assert find_cjk_font().path == found.path
