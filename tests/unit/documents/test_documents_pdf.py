"""PDF rendering with pypdfium2: page images, text layer boxes, passwords, damage."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.documents import RenderOptions, open_document
from qwenvl_agents.errors import CorruptDocumentError, EncryptedDocumentError
from tests.support.documents import dark_fraction, make_pdf, pdfinfo_pages, sha256_file, text_width


def test_pages_are_numbered_from_one_at_the_requested_dpi(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "three.pdf", ["first page", "second page", "third page"], title="Quarterly")
    with open_document(path, RenderOptions(dpi=72)) as doc:
        info = doc.info
        pages = list(doc.pages())
    assert info.page_count == 3 == pdfinfo_pages(path)
    assert (info.media_type, info.suffix, info.name, info.source) == ("pdf", "pdf", "three.pdf", str(path))
    assert info.document_id == sha256_file(path)
    assert info.size_bytes == path.stat().st_size
    assert info.title == "Quarterly"
    assert [p.page for p in pages] == [1, 2, 3]
    assert all(p.image.size == (595, 842) and p.image.mode == "RGB" and p.dpi == 72 for p in pages)
    assert [p.text_layer.text for p in pages if p.text_layer] == ["first page", "second page", "third page"]
    with open_document(path, RenderOptions(dpi=144)) as doc:
        assert doc.page(2).image.size == (1190, 1684)


def test_text_layer_boxes_sit_on_the_words_in_image_pixels(tmp_path: Path) -> None:
    placed = [(72.0, 700.0, "Invoice number 4711"), (72.0, 400.0, "Total"), (400.0, 400.0, "12.50 EUR")]
    path = make_pdf(tmp_path / "boxes.pdf", [placed])
    scale = 2.0
    with open_document(path, RenderOptions(dpi=72 * scale)) as doc:
        page = doc.page(1)
    assert page.text_layer is not None and page.text_layer.source == "pdf"
    spans = {s.text: s.box for s in page.text_layer.spans}
    # Same baseline, far apart: two spans (table cells), not one box across the page.
    assert set(spans) == {"Invoice number 4711", "Total", "12.50 EUR"}
    for x, y, text in placed:
        x0, y0, x1, y1 = spans[text]
        baseline = (842 - y) * scale
        assert x0 == pytest.approx(x * scale, abs=3)
        assert x1 == pytest.approx((x + text_width(text)) * scale, abs=4)
        assert y0 < baseline < y1 and y1 - y0 < 40
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        assert dark_fraction(page.image, (x0, y0, x1, y1)) > 0.05, text  # the glyphs are inside the box
        assert dark_fraction(page.image, (x1 + 4, y0, x1 + 60, y1)) == 0  # and nothing right after it
    assert "Invoice number 4711" in page.text_layer.text and "12.50 EUR" in page.text_layer.text


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_boxes_follow_page_rotation(tmp_path: Path, rotation: int) -> None:
    path = make_pdf(tmp_path / "rot.pdf", [[(100.0, 300.0, "Rotated heading text")]], rotation=rotation)
    with open_document(path, RenderOptions(dpi=72)) as doc:
        page = doc.page(1)
    # poppler is the reference for how a /Rotate page is displayed
    subprocess.run(["pdftoppm", "-r", "72", "-png", str(path), str(tmp_path / "ref")], check=True)
    with Image.open(next(tmp_path.glob("ref*.png"))) as reference:
        assert page.image.size == reference.size
    assert page.text_layer is not None
    (span,) = page.text_layer.spans
    assert span.text == "Rotated heading text"
    x0, y0, x1, y1 = span.box
    assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
    assert dark_fraction(page.image, span.box) > 0.05
    if rotation == 180:  # upside down: still a horizontal line of text, at the mirrored place
        assert x1 == pytest.approx(page.width - 100, abs=3)


def test_encrypted_pdf_needs_the_right_password(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "secret.pdf", ["Top secret 4711"], encrypt="s3cret")
    with pytest.raises(EncryptedDocumentError, match=r"secret\.pdf: is password protected; pass password="):
        open_document(path)
    with pytest.raises(EncryptedDocumentError, match="password given is wrong"):
        open_document(path, RenderOptions(password="nope"))
    with open_document(path, RenderOptions(password="s3cret")) as doc:
        page = doc.page(1)
    assert page.text_layer is not None and page.text_layer.text == "Top secret 4711"


def test_damaged_pdfs_are_corrupt_and_named(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["one", "two"]).read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(good[: len(good) // 2])
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage" + bytes(range(256)) * 4)
    for path in (truncated, garbage):
        with pytest.raises(CorruptDocumentError, match=rf"{path.name}: is a damaged PDF"):
            open_document(path)


def test_huge_pages_are_rendered_smaller_instead_of_exhausting_memory(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "poster.pdf", ["big"], pagesize=(2000.0, 2000.0))
    with open_document(path, RenderOptions(dpi=300, max_image_pixels=1_000_000)) as doc:
        page = doc.page(1)
    assert page.width * page.height <= 1_000_000
    assert page.dpi is not None and page.dpi < 300
    assert page.width == pytest.approx(2000 * page.dpi / 72, abs=1)


def test_page_numbers_outside_the_document_raise(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "one.pdf", ["only"])
    with open_document(path) as doc, pytest.raises(IndexError):
        doc.page(2)


def test_document_is_closed_by_the_context_manager(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "one.pdf", ["only"])
    with open_document(path) as doc:
        pass
    with pytest.raises(ValueError, match="closed"):
        doc.page(1)


def test_memory_stays_flat_over_many_pages(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    path = make_pdf(tmp_path / "long.pdf", [f"Line of text on page {i}" for i in range(150)])
    process = psutil.Process()
    rss: dict[int, int] = {}
    with open_document(path, RenderOptions(dpi=100)) as doc:
        for page in doc.pages():  # each page is ~4 MB of pixels: keeping them would add ~500 MB
            if page.page in (20, 150):
                rss[page.page] = process.memory_info().rss
    assert rss[150] - rss[20] < 40 * 1024 * 1024
