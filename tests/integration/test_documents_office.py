"""Office files through LibreOffice: one page per slide (hidden ones too), slide text, caching, errors."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from qwenvl_agents.documents import OfficeConversionError, RenderOptions, iter_pages, open_document
from qwenvl_agents.errors import CorruptDocumentError, MissingDependencyError
from qwenvl_agents.types import PageImage, SourceFailure
from tests.support.documents import sha256_file

pytestmark = [
    pytest.mark.integration,
    pytest.mark.office,
    pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"),
]


def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Inches

    prs = Presentation()
    prs.core_properties.title = "Duck survey deck"
    first = prs.slides.add_slide(prs.slide_layouts[0])
    first.shapes.title.text = "Quarterly duck survey"
    first.placeholders[1].text = "Prepared by the pond team"
    first.notes_slide.notes_text_frame.text = "Mention the new pond"

    hidden = prs.slides.add_slide(prs.slide_layouts[5])
    hidden.shapes.title.text = "Backup numbers"
    hidden._element.set("show", "0")  # a hidden slide
    table = hidden.shapes.add_table(2, 3, Inches(1), Inches(2), Inches(6), Inches(1)).table
    for r, row in enumerate([["Pond", "Ducks", "Geese"], ["North", "150", "12"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text

    third = prs.slides.add_slide(prs.slide_layouts[5])
    third.shapes.title.text = "Observations"
    data = CategoryChartData()
    data.categories = ["2021", "2022"]
    data.add_series("Freshwater", (150, 175))
    data.add_series("Saltwater", (80.5, 95))
    third.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(4), data)
    group = third.shapes.add_group_shape()
    box = group.shapes.add_shape(MSO_SHAPE.RECTANGLE, Inches(7), Inches(1), Inches(2), Inches(1))
    box.text_frame.text = "Grouped label"
    prs.save(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Repair estimate"
    document.add_heading("Repair estimate 2024-17", level=1)
    document.add_paragraph("Grand total: 5,738.00 EUR")
    document.add_page_break()
    document.add_paragraph("Second page: terms and conditions")
    document.save(str(path))
    return path


def make_xlsx(path: Path) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Item", "Amount"])
    sheet.append(["Beeswax", 42])
    sheet.append(["Truffles", 150])
    workbook.save(str(path))
    return path


def make_odt(path: Path) -> Path:
    """A minimal hand-written OpenDocument text file."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:text><text:p>Open document invoice 99</text:p></office:text></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


def test_pptx_has_one_page_per_slide_including_hidden_ones(tmp_path: Path) -> None:
    from pptx import Presentation

    path = make_pptx(tmp_path / "deck.pptx")
    with open_document(path, RenderOptions(dpi=50)) as doc:
        pages = list(doc.pages())
    assert doc.info.page_count == len(Presentation(str(path)).slides) == 3
    assert (doc.info.media_type, doc.info.suffix, doc.info.title) == ("office", "pptx", "Duck survey deck")
    assert doc.info.document_id == sha256_file(path)
    assert [p.page for p in pages] == [1, 2, 3]
    assert all(p.image.mode == "RGB" and p.width > p.height and p.dpi == 50 for p in pages)
    texts = [p.text_layer.text for p in pages if p.text_layer is not None and p.text_layer.source == "pptx"]
    assert len(texts) == 3
    assert texts[0] == "Quarterly duck survey\nPrepared by the pond team\nNotes: Mention the new pond"
    assert "Backup numbers" in texts[1] and "Pond | Ducks | Geese\nNorth | 150 | 12" in texts[1]
    assert "Categories: 2021 | 2022" in texts[2]
    assert "Freshwater: 150 | 175" in texts[2] and "Saltwater: 80.5 | 95" in texts[2]
    assert "Grouped label" in texts[2]
    assert all(p.text_layer is not None and p.text_layer.spans == () for p in pages)


def test_docx_xlsx_and_odt_use_the_pdf_text_layer(tmp_path: Path) -> None:
    docx_path = make_docx(tmp_path / "estimate.docx")
    xlsx_path = make_xlsx(tmp_path / "costs.xlsx")
    odt_path = make_odt(tmp_path / "invoice.odt")
    items = list(iter_pages([docx_path, xlsx_path, odt_path], RenderOptions(dpi=50)))
    pages = [i for i in items if isinstance(i, PageImage)]
    assert len(pages) == len(items)
    by_name: dict[str, list[PageImage]] = {}
    for page in pages:
        by_name.setdefault(page.document.name, []).append(page)
    estimate = by_name["estimate.docx"]
    assert [p.page for p in estimate] == [1, 2]
    assert estimate[0].document.title == "Repair estimate"
    assert estimate[0].text_layer is not None and "Grand total: 5,738.00 EUR" in estimate[0].text_layer.text
    assert any(s.text.startswith("Grand total") for s in estimate[0].text_layer.spans)
    costs = by_name["costs.xlsx"][0]
    assert costs.text_layer is not None and "Truffles" in costs.text_layer.text
    invoice = by_name["invoice.odt"][0]
    assert invoice.document.suffix == "odt"
    assert invoice.text_layer is not None and "Open document invoice 99" in invoice.text_layer.text


def test_conversions_are_cached_and_reused_without_libreoffice(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "estimate.docx")
    cache = tmp_path / "cache"
    with open_document(path, RenderOptions(dpi=30, cache_dir=cache)) as doc:
        first = doc.page(1).image.tobytes()
    cached = cache / "office-pdf" / f"{sha256_file(path)}.pdf"
    assert cached.is_file()
    assert [p.name for p in (cache / "office-pdf").iterdir()] == [cached.name]  # no work folders left
    no_office = RenderOptions(dpi=30, cache_dir=cache, soffice_path="/nonexistent/soffice")
    with open_document(path, no_office) as doc:
        assert doc.page(1).image.tobytes() == first


def test_temporary_conversions_are_removed_on_close(tmp_path: Path) -> None:
    doc = open_document(make_docx(tmp_path / "e.docx"), RenderOptions(dpi=30))
    assert doc.spec() is not None
    converted = Path(doc.spec().path)  # type: ignore[union-attr]
    assert converted.is_file()
    doc.close()
    assert not converted.exists() and not converted.parent.parent.exists()


def test_missing_libreoffice_says_how_to_install(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "e.docx")
    options = RenderOptions(soffice_path="/nonexistent/soffice")
    with pytest.raises(MissingDependencyError, match="apt-get install -y --no-install-recommends libreoffice"):
        open_document(path, options)
    (failure,) = list(iter_pages([path], options))
    assert isinstance(failure, SourceFailure) and failure.error_type == "MissingDependencyError"
    assert str(path) in failure.message and "QWENVL_SOFFICE_PATH" in failure.message


def test_damaged_office_files_fail_cleanly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pptx"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("[Content_Types].xml", "<Types")  # truncated XML
        z.writestr("ppt/presentation.xml", "garbage")
    with pytest.raises(CorruptDocumentError, match=r"broken\.pptx: LibreOffice could not open it"):
        open_document(broken)


def test_a_conversion_that_takes_too_long_is_stopped(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "slow.docx")
    with pytest.raises(OfficeConversionError, match="did not finish converting it within"):
        open_document(path, RenderOptions(office_timeout=0.05))
