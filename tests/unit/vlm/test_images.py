import base64
import io

import pytest
from PIL import Image

from qwenvl_agents.errors import ImageInputError
from qwenvl_agents.vlm.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    cap_aspect_ratio,
    image_name,
    load_image,
    prepare_image,
    smart_resize,
    visual_tokens,
)


@pytest.mark.parametrize(
    ("height", "width"),
    [(1754, 1240), (1240, 1754), (10, 10), (28, 28), (5000, 300), (300, 5000), (3508, 2480), (600, 800), (1, 1)],
)
def test_smart_resize_gives_multiples_of_28_within_budget(height: int, width: int) -> None:
    h, w = smart_resize(height, width)
    assert h % 28 == 0 and w % 28 == 0
    assert DEFAULT_MIN_PIXELS <= h * w <= DEFAULT_MAX_PIXELS
    # The aspect ratio survives, up to rounding each side to the 28-pixel grid.
    assert abs((h / w) / (height / width) - 1) <= 2 * 28 / min(h, w)


def test_smart_resize_keeps_sizes_already_on_the_grid() -> None:
    assert smart_resize(840, 644) == (840, 644)
    assert visual_tokens(840, 644) == 30 * 23


def test_smart_resize_rejects_bad_budget() -> None:
    with pytest.raises(ValueError, match="min_pixels"):
        smart_resize(100, 100, min_pixels=10_000, max_pixels=100)
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 100)


def test_custom_budget_bounds_tokens() -> None:
    h, w = smart_resize(3508, 2480, min_pixels=4 * 784, max_pixels=64 * 784)
    assert visual_tokens(h, w) <= 64


def test_cap_aspect_ratio_pads_instead_of_cropping() -> None:
    strip = Image.new("RGB", (10, 3000), "black")
    capped = cap_aspect_ratio(strip, max_ratio=100)
    assert capped.size == (30, 3000)
    # The original pixels are all still there, the padding is white.
    assert capped.getpixel((5, 2999)) == (0, 0, 0)
    assert capped.getpixel((25, 10)) == (255, 255, 255)
    assert cap_aspect_ratio(Image.new("RGB", (100, 100)), 10).size == (100, 100)


def test_prepare_image_encodes_data_url_with_token_count(tmp_path) -> None:
    path = tmp_path / "page.png"
    Image.new("RGB", (1240, 1754), "white").save(path)
    prepared = prepare_image(path)
    assert prepared.data_url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(prepared.data_url.split(",", 1)[1])))
    assert decoded.size == (prepared.width, prepared.height)
    assert prepared.tokens == visual_tokens(prepared.height, prepared.width)
    assert (prepared.original_width, prepared.original_height) == (1240, 1754)
    assert prepared.content_part()["type"] == "image_url"


def test_prepare_image_jpeg_and_inputs_of_every_kind(tmp_path) -> None:
    image = Image.new("RGBA", (300, 200), (255, 0, 0, 0))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    as_bytes = buf.getvalue()
    as_data_url = "data:image/png;base64," + base64.b64encode(as_bytes).decode()
    for source in (image, as_bytes, as_data_url):
        prepared = prepare_image(source, format="jpeg")
        assert prepared.data_url.startswith("data:image/jpeg;base64,")
        # Transparent pixels are flattened onto white, not black.
        assert load_image(source).getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path) -> None:
    image = Image.new("RGB", (200, 100), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert load_image(path).size == (100, 200)


def test_missing_path_and_folder_are_named(tmp_path) -> None:
    missing = tmp_path / "nowhere.png"
    with pytest.raises(ImageInputError, match=r"nowhere\.png: no such file") as info:
        load_image(missing)
    assert info.value.source == str(missing)
    with pytest.raises(ImageInputError, match="is a folder"):
        load_image(str(tmp_path))


def test_bytes_and_files_that_are_not_images(tmp_path) -> None:
    with pytest.raises(ImageInputError, match=r"<11 bytes>: is not an image"):
        load_image(b"hello world")
    with pytest.raises(ImageInputError, match="is empty"):
        load_image(b"")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageInputError, match=r"notes\.png: is not an image"):
        prepare_image(text)


def test_truncated_image_file_is_a_clear_error(tmp_path) -> None:
    buf = io.BytesIO()
    Image.effect_noise((300, 300), 80).convert("RGB").save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageInputError, match=r"cut\.png: cannot be decoded"):
        load_image(path)


def test_bad_data_url_message_does_not_carry_the_whole_url() -> None:
    url = "data:image/png;base64," + base64.b64encode(b"garbage" * 2000).decode()
    with pytest.raises(ImageInputError) as info:
        load_image(url)
    message = str(info.value)
    assert "is not an image" in message
    assert len(message) < 200 and f"({len(url)} chars)" in message
    assert image_name(url).startswith("data:image/png;base64,")


def test_file_url_is_a_path(tmp_path) -> None:
    path = tmp_path / "a b.png"
    Image.new("RGB", (60, 40), "red").save(path)
    assert load_image(path.as_uri()).size == (60, 40)
    assert prepare_image(path.as_uri()).source == path.as_uri()
    with pytest.raises(ImageInputError, match="no such file"):
        load_image((tmp_path / "gone.png").as_uri())
    with pytest.raises(ImageInputError, match="unsupported URL scheme 'ftp'"):
        load_image("ftp://example.org/a.png")


def test_pixel_guard_refuses_before_decoding(tmp_path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (2000, 1000)).save(path)
    with pytest.raises(ImageInputError, match="max_image_pixels=1,000,000"):
        load_image(path, max_image_pixels=1_000_000)
    assert load_image(path, max_image_pixels=2_000_000).size == (2000, 1000)
