"""OCR (real RapidOCR) and text-layer extraction, and the auto strategy without a VLM."""

from __future__ import annotations

import asyncio

import pytest

from qwenvl_agents.extract import make_extractor
from qwenvl_agents.extract.auto import AutoExtractor
from qwenvl_agents.extract.ocr import OcrExtractor, OcrLine, reading_order, rows_to_text
from qwenvl_agents.extract.text import TextLayerExtractor, is_good_text_layer, text_layer_problem
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import PageImage, TextLayer
from tests.support.pages import document, page, text_image

pytest.importorskip("rapidocr")


@pytest.fixture(scope="module")
def ocr() -> OcrExtractor:
    return OcrExtractor(min_score=0.5)


def receipt_page() -> PageImage:
    image = text_image(
        [
            [(60, "GOLDEN BAKERY SDN BHD")],
            [(60, "Receipt No: CS00012345")],
            [(60, "Date: 25/12/2023")],
            [(60, "Bread"), (700, "RM4.50")],
            [(60, "Coffee"), (700, "RM3.00")],
            [(60, "TOTAL"), (700, "RM7.50")],
            [(60, "CASH"), (700, "RM10.00")],
            [(60, "Thank you")],
        ],
        size=(1000, 560),
    )
    return PageImage(document("receipt.jpg"), 1, image)


def test_ocr_reads_known_text_in_reading_order(ocr: OcrExtractor) -> None:
    result = asyncio.run(ocr.aextract(receipt_page()))
    assert result.status == "ok" and result.extractor == "ocr"
    assert result.model is not None and result.model.startswith("rapidocr-")
    lines = result.markdown.splitlines()
    assert lines[0] == "GOLDEN BAKERY SDN BHD"
    assert "TOTAL RM7.50" in lines  # the amount far right joins its label's row
    assert lines.index("TOTAL RM7.50") > lines.index("Coffee RM3.00")
    assert result.page_kind == "receipt" and result.language == "en"
    assert result.fields.total == 7.5 and result.fields.currency == "MYR"
    assert result.fields.issue_date == "2023-12-25"
    assert result.fields.document_number == "CS00012345"


def test_ocr_text_layer_carries_line_boxes(ocr: OcrExtractor) -> None:
    rows, layer = ocr.read(receipt_page().image)
    assert layer.source == "ocr" and layer.text == rows_to_text(rows)
    assert len(layer.spans) >= 8
    for span in layer.spans:
        x0, y0, x1, y1 = span.box
        assert 0 <= x0 < x1 <= 1000 and 0 <= y0 < y1 <= 560


def test_ocr_reads_chinese(ocr: OcrExtractor) -> None:
    image = text_image([[(40, "发票号码 12345678")], [(40, "价税合计 ¥1,280.00 元")]], size=(800, 200), cjk=True)
    result = ocr.extract(PageImage(document("fapiao.png"), 1, image))
    assert result.language == "zh"
    assert "12345678" in result.markdown.replace(" ", "")
    assert "1,280.00" in result.markdown


def test_blank_image_is_a_blank_page(ocr: OcrExtractor) -> None:
    result = ocr.extract(PageImage(document("blank.png"), 1, text_image([], size=(400, 300))))
    assert result.status == "ok" and result.blank and result.markdown == "" and result.page_kind == "blank"


def test_low_score_lines_are_dropped_and_the_others_kept() -> None:
    image = receipt_page().image
    everything = OcrExtractor(min_score=0.0).read_lines(image)
    assert {"GOLDEN BAKERY SDN BHD", "TOTAL", "RM7.50"} <= {line.text for line in everything}
    # A threshold in the widest gap between the scores seen: lines fall clearly on one side or the other.
    scores = sorted({line.score for line in everything})
    assert len(scores) >= 2, everything
    _, low, high = max((scores[i + 1] - scores[i], scores[i], scores[i + 1]) for i in range(len(scores) - 1))
    threshold = (low + high) / 2
    kept = [line for line in everything if line.score >= threshold]
    dropped = [line for line in everything if line.score < threshold]
    assert kept and dropped
    assert OcrExtractor(min_score=threshold).read_lines(image) == kept
    # min_score is enforced by read_lines itself, not only by the engine's own text_score setting.
    unfiltered_engine = OcrExtractor(min_score=threshold, params={"Global.text_score": 0.0})
    assert unfiltered_engine.read_lines(image) == kept


def test_reading_order_groups_rows_on_skewed_scans() -> None:
    lines = [
        OcrLine("9.00", (400, 206, 450, 226), 0.9),
        OcrLine("TOTAL", (20, 200, 90, 220), 0.9),
        OcrLine("Header", (20, 10, 200, 40), 0.9),
        OcrLine("Item A", (20, 100, 120, 120), 0.9),
        OcrLine("1.00", (400, 96, 450, 116), 0.9),
    ]
    assert rows_to_text(reading_order(lines)) == "Header\nItem A 1.00\nTOTAL 9.00"


def test_text_layer_quality() -> None:
    assert is_good_text_layer(TextLayer("Invoice 2023-001 for services rendered in May"))
    assert text_layer_problem(None) == "the page has no text layer"
    assert text_layer_problem(TextLayer("   ")) == "the page has no text layer"
    assert "only page numbers" in (text_layer_problem(TextLayer("Page 3 of 12")) or "")
    assert "garbled" in (text_layer_problem(TextLayer("\ufffd" * 30 + " abc")) or "")
    assert "garbled" in (text_layer_problem(TextLayer("(cid:12)(cid:15)(cid:3) hello world text")) or "")
    assert "only 5 characters" in (text_layer_problem(TextLayer("Hello")) or "")
    assert is_good_text_layer(TextLayer("Thanks!", source="pptx"))  # slide text is exact, even short


def test_text_layer_extractor() -> None:
    ok = TextLayerExtractor().extract(page(text_layer="Quarterly report\n\n\n\nRevenue grew by 12 percent."))
    assert (
        ok.status == "ok"
        and ok.extractor == "text"
        and ok.markdown == "Quarterly report\n\nRevenue grew by 12 percent."
    )
    assert ok.fields.title == "Quarterly report"
    slide = TextLayerExtractor().extract(page(text_layer="Roadmap\n- Ship v1\n- Grow", source="pptx"))
    assert (
        slide.page_kind == "slide" and slide.fields.title == "Roadmap" and slide.fields.bullets == ("Ship v1", "Grow")
    )
    bad = TextLayerExtractor().extract(page(text_layer="- 7 -"))
    assert bad.status == "failed" and "page numbers" in (bad.reason or "")


def test_auto_uses_text_layer_when_good_and_ocr_when_not(ocr: OcrExtractor) -> None:
    auto = AutoExtractor(TextLayerExtractor(), ocr)
    digital = asyncio.run(auto.aextract(page(text_layer="Invoice 42\nTotal 12.50 EUR\nThank you for your order")))
    assert digital.extractor == "text" and digital.status == "ok"
    scan = asyncio.run(auto.aextract(page(["Invoice 42", "Total 12.50 EUR"], text_layer="- 1 -")))
    assert scan.extractor == "ocr" and "Total 12.50 EUR" in scan.markdown
    assert auto.prompt_version.startswith("auto/text-") and "ocr-" in auto.prompt_version


def test_make_extractor_names() -> None:
    s = Settings(vlm_base_url=None, _env_file=None)  # type: ignore[call-arg]
    assert make_extractor(s, name="text").name == "text"
    assert make_extractor(s, name="ocr").name == "ocr"
    offline = make_extractor(s, name="auto", ocr=False)
    result = asyncio.run(offline.aextract(page()))  # a scan without OCR installed: failed, with the fix
    assert result.status == "failed" and "pip install" in (result.reason or "")
    with pytest.raises(ValueError, match="QWENVL_VLM_BASE_URL"):
        make_extractor(s, name="vlm")
    with pytest.raises(ValueError, match="unknown extractor"):
        make_extractor(s, name="magic")
