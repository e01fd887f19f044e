"""Image files: orientation, transparency, TIFF frames, decompression bombs, damage."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.documents import RenderOptions, open_document
from qwenvl_agents.errors import CorruptDocumentError, DocumentTooLargeError
from tests.support.documents import png_header_only, sha256_file


def test_png_alpha_is_flattened_onto_white(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (10, 6), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    image.save(path)
    with open_document(path) as doc:
        (page,) = list(doc.pages())
    assert (doc.info.media_type, doc.info.suffix, doc.info.page_count) == ("image", "png", 1)
    assert doc.info.document_id == sha256_file(path)
    assert page.image.mode == "RGB" and page.image.size == (10, 6)
    assert page.image.getpixel((0, 0)) == (255, 0, 0)
    assert page.image.getpixel((5, 5)) == (255, 255, 255)
    assert page.dpi is None and page.text_layer is None and page.page == 1


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    image = Image.new("RGB", (40, 20), "white")
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red band on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(path, quality=95, exif=exif)
    with open_document(path) as doc:
        page = doc.page(1)
    assert page.image.size == (20, 40)
    red, green, blue = page.image.getpixel((10, 2))  # the red band is now at the top
    assert red > 200 and green < 60 and blue < 60


def test_every_tiff_frame_is_a_page(tmp_path: Path) -> None:
    path = tmp_path / "fax.tiff"
    frames = [Image.new("RGB", (30, 20), color) for color in ("red", "lime", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with open_document(path) as doc:
        pages = list(doc.pages())
        assert doc.page(3).image.getpixel((0, 0)) == (0, 0, 255)
    assert doc.info.page_count == 3
    assert [p.page for p in pages] == [1, 2, 3]
    assert [p.image.getpixel((0, 0)) for p in pages] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_only_the_first_gif_frame_is_read(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with open_document(path) as doc:
        pages = list(doc.pages())
    assert len(pages) == 1 and pages[0].image.getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP"])
def test_other_formats(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"img.{fmt.lower()}"
    Image.new("RGB", (12, 9), "blue").save(path, fmt)
    with open_document(path) as doc:
        assert doc.page(1).image.size == (12, 9)


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "scan16.tif"
    Image.new("I;16", (4, 4), 32768).save(path)
    with open_document(path) as doc:
        value = doc.page(1).image.getpixel((0, 0))
    assert value == (128, 128, 128)


def test_decompression_bombs_are_refused_from_the_header(tmp_path: Path) -> None:
    pil_limit = Image.MAX_IMAGE_PIXELS
    within_pil = png_header_only(tmp_path / "bomb.png", 12_000, 10_000)  # 120 Mpx: our limit, not PIL's
    huge = png_header_only(tmp_path / "huge.png", 30_000, 30_000)  # 900 Mpx: PIL refuses it too
    for path in (within_pil, huge):
        with pytest.raises(DocumentTooLargeError, match=rf"{path.name}: .*max_image_pixels"):
            open_document(path)
    with pytest.raises(DocumentTooLargeError, match="max_image_pixels=1,000"):
        open_document(png_header_only(tmp_path / "small.png", 100, 100), RenderOptions(max_image_pixels=1000))
    assert pil_limit == Image.MAX_IMAGE_PIXELS  # no global state changed


def test_truncated_and_garbled_images_are_corrupt(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(buf, "JPEG")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with open_document(truncated) as doc, pytest.raises(CorruptDocumentError, match=r"cut\.jpg: the image cannot"):
        doc.page(1)
    garbled = tmp_path / "garbled.png"
    garbled.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(CorruptDocumentError, match=r"garbled\.png"):
        open_document(garbled)
