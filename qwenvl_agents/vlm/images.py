"""Images sized and encoded for a Qwen-VL model.

The sizing rules (the visual-token grid: 28 px for Qwen2.5-VL, 32 px for Qwen3-VL, and the default pixel
budget) are the model family's :class:`~qwenvl_agents.vlm.media_rules.MediaRules`, given as ``rules``;
without them the functions here size for Qwen2.5-VL. vLLM ignores a per-request ``max_pixels`` inside an
image part, so the client has to enforce the pixel budget itself: that is what keeps a page within
``--max-model-len`` and the GPU's batch predictable.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union
from urllib.parse import unquote, unquote_to_bytes, urlsplit
from urllib.request import url2pathname

from PIL import Image, ImageOps, UnidentifiedImageError

from qwenvl_agents.errors import DownloadError, ImageInputError
from qwenvl_agents.fetch import open_url
from qwenvl_agents.vlm.media_rules import DEFAULT_RULES, MediaRules, grid_resize

# Qwen2.5-VL's defaults, for callers that know no model; a model's own are its MediaRules'.
DEFAULT_MIN_PIXELS = DEFAULT_RULES.default_min_pixels
DEFAULT_MAX_PIXELS = DEFAULT_RULES.default_max_pixels
DEFAULT_MAX_ASPECT_RATIO = DEFAULT_RULES.max_aspect_ratio

DEFAULT_FETCH_TIMEOUT = 10.0
"""Seconds an image URL has to deliver the whole image."""
DEFAULT_FETCH_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
FETCH_TIMEOUT_SETTING = "QWENVL_IMAGE_FETCH_TIMEOUT"

ImageInput = Union[Image.Image, bytes, str, "os.PathLike[str]"]
"""A PIL image, encoded bytes, a file path, an http(s):// or file:// URL, or a ``data:`` URL."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")  # two letters at least: C:/ is a Windows path
_NOT_IMAGE_TYPES = {"application/json", "application/xhtml+xml", "application/xml", "application/pdf"}


def smart_resize(
    height: int,
    width: int,
    *,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    factor: int = DEFAULT_RULES.factor,
) -> tuple[int, int]:
    """The ``(height, width)`` the model will see: multiples of ``factor`` within the pixel budget.

    ``factor`` is the family's visual-token side (:attr:`MediaRules.factor <qwenvl_agents.vlm.media_rules.\
MediaRules.factor>`: 28 for Qwen2.5-VL, 32 for Qwen3-VL). Follows the reference ``smart_resize`` (round
    to the nearest multiple, then scale down or up keeping the aspect ratio), so the server's own processor
    leaves the result unchanged.

    >>> smart_resize(1754, 1240)  # an A4 page at 150 dpi
    (1176, 840)
    >>> smart_resize(10, 10)
    (448, 448)
    >>> smart_resize(1754, 1240, min_pixels=256 * 32 * 32, max_pixels=1280 * 32 * 32, factor=32)  # Qwen3-VL
    (1344, 960)
    """
    return grid_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)


def visual_tokens(height: int, width: int, factor: int = DEFAULT_RULES.factor) -> int:
    """Visual tokens an image of this (already resized) size costs, ``factor`` pixels a token side."""
    return (height // factor) * (width // factor)


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to put in a chat message, with what it will cost."""

    data_url: str = ""
    width: int = 0
    height: int = 0
    original_width: int = 0
    original_height: int = 0
    tokens: int = 0
    source: str = ""
    """A short name of the input (:func:`image_name`): the path or URL, never a whole data URL."""

    def content_part(self) -> dict[str, object]:
        """The OpenAI chat ``image_url`` content part for this image."""
        return {"type": "image_url", "image_url": {"url": self.data_url}}


def image_name(source: object, max_chars: int = 120) -> str:
    """A short name for an image input, for messages and results: never a whole data URL or all the bytes.

    >>> image_name("data:image/png;base64," + "A" * 5000)
    'data:image/png;base64,AAAAAAAAAAAA… (5022 chars)'
    >>> image_name(b"\\x89PNG" + bytes(100))
    '<104 bytes>'
    >>> image_name("photos/site-1.jpg")
    'photos/site-1.jpg'
    >>> from PIL import Image
    >>> image_name(Image.new("RGB", (640, 480)))
    '<PIL image 640x480>'
    """
    if isinstance(source, Image.Image):
        filename = getattr(source, "filename", "")
        return str(filename) if filename else f"<PIL image {source.width}x{source.height}>"
    if isinstance(source, bytes | bytearray | memoryview):
        return f"<{len(source)} bytes>"
    text = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if text.startswith("data:"):
        header, _, payload = text.partition(",")
        return f"{header},{payload[:12]}… ({len(text)} chars)"
    if len(text) > max_chars:
        return f"{text[: max_chars - 20]}…{text[-19:]}"
    return text


def fetch_image_bytes(
    url: str,
    *,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    max_bytes: int = DEFAULT_FETCH_MAX_BYTES,
) -> bytes:
    """The body of an http(s) image URL, within ``timeout`` seconds in all and ``max_bytes``.

    Fetched by the one bounded downloader (:func:`qwenvl_agents.fetch.open_url`). Raises
    :class:`~qwenvl_agents.errors.ImageInputError` for a timeout, a connection failure, an HTTP error
    status, a web page instead of an image, or a body over ``max_bytes``.

    Example (needs a server):
        >>> data = fetch_image_bytes("https://example.org/photo.jpg", timeout=5)  # doctest: +SKIP
    """
    name = image_name(url)
    try:
        with open_url(
            url, timeout=timeout, max_bytes=max_bytes, name=name, timeout_setting=FETCH_TIMEOUT_SETTING
        ) as opened:
            content_type = opened.content_type
            if content_type.startswith("text/") or content_type in _NOT_IMAGE_TYPES:
                raise ImageInputError(
                    name, f"is not an image: the server sent {content_type}; link to the image file itself"
                )
            return b"".join(opened.chunks())
    except DownloadError as exc:
        raise ImageInputError(name, exc.reason) from exc


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ImageInputError(image_name(url), f"names another host ({parts.netloc}); only local file:// URLs work")
    return Path(url2pathname(unquote(parts.path)))


def _data_url_bytes(url: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma:
        raise ImageInputError(image_name(url), "is not a valid data URL (no comma before the data)")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload)
        except (binascii.Error, ValueError) as exc:
            raise ImageInputError(image_name(url), f"is not valid base64 ({exc})") from exc
    return unquote_to_bytes(payload)


def _open_path(path: Path, name: str) -> Image.Image:
    if not path.exists():
        raise ImageInputError(name, "no such file; check the path")
    if path.is_dir():
        raise ImageInputError(name, "is a folder, not an image file")
    try:
        return Image.open(path)
    except OSError as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ImageInputError(name, "is not an image Pillow can read (damaged, or another kind of file)") from exc
        raise ImageInputError(name, f"cannot be opened ({exc})") from exc


def _open_bytes(data: bytes, name: str) -> Image.Image:
    if not data:
        raise ImageInputError(name, "is empty")
    try:
        return Image.open(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise ImageInputError(name, "is not an image Pillow can read (damaged, or another kind of data)") from exc


def _open_any(source: ImageInput, name: str, timeout: float, max_bytes: int) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, bytes | bytearray | memoryview):
        return _open_bytes(bytes(source), name)
    text = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(text, str):
        raise ImageInputError(name, f"is a {type(source).__name__}; give a path, a URL, bytes or a PIL image")
    if text.startswith("data:"):
        return _open_bytes(_data_url_bytes(text), name)
    scheme = _SCHEME.match(text)
    if scheme is None:
        return _open_path(Path(text), name)
    kind = scheme.group(1).lower()
    if kind in ("http", "https"):
        return _open_bytes(fetch_image_bytes(text, timeout=timeout, max_bytes=max_bytes), name)
    if kind == "file":
        return _open_path(_file_url_path(text), name)
    raise ImageInputError(name, f"has an unsupported URL scheme {kind!r}; give http(s)://, file://, a path or bytes")


def load_image(
    source: ImageInput,
    *,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    max_bytes: int = DEFAULT_FETCH_MAX_BYTES,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> Image.Image:
    """Open an image, upright and in RGB, from any :data:`ImageInput`.

    http(s) URLs are fetched here (``timeout`` seconds in all, at most ``max_bytes``) so that the pixel
    budget is ours to enforce; ``file://`` URLs are paths. Images over ``max_image_pixels`` are refused
    before their pixels are decoded (decompression-bomb guard). Any input that cannot be read raises
    :class:`~qwenvl_agents.errors.ImageInputError` naming it.

    >>> load_image(Image.new("RGBA", (4, 3), (255, 0, 0, 0))).getpixel((0, 0))
    (255, 255, 255)
    >>> try:
    ...     load_image(b"%PDF-1.7 not an image")
    ... except ImageInputError as exc:
    ...     print(exc)
    <21 bytes>: is not an image Pillow can read (damaged, or another kind of data)
    """
    name = image_name(source)
    image = _open_any(source, name, timeout, max_bytes)
    width, height = image.size
    # A PIL image is already decoded: the guard is against decoding a small file into a huge bitmap.
    if not isinstance(source, Image.Image) and width * height > max_image_pixels:
        raise ImageInputError(
            name,
            f"is {width} x {height} = {width * height:,} pixels, more than max_image_pixels={max_image_pixels:,}; "
            "raise QWENVL_MAX_IMAGE_PIXELS if you trust it (this guards against decompression bombs)",
        )
    try:
        with warnings.catch_warnings():
            # Our own limit was checked above; Pillow's lower warning threshold is not a problem here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except Image.DecompressionBombError as exc:
        raise ImageInputError(name, f"is larger than Pillow's decompression-bomb limit ({exc})") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Pillow reports truncated or garbled pixel data as OSError ("image file is truncated").
        raise ImageInputError(name, f"cannot be decoded ({exc}); the image is damaged or truncated") from exc
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def cap_aspect_ratio(image: Image.Image, max_ratio: float = DEFAULT_MAX_ASPECT_RATIO) -> Image.Image:
    """Pad the short side with white so the long side is at most ``max_ratio`` times it.

    Qwen2.5-VL refuses images more elongated than 200:1; padding keeps every pixel of a long receipt
    or a scroll capture, where cropping would lose content.
    """
    w, h = image.size
    if max(w, h) <= max_ratio * min(w, h):
        return image
    size = (w, math.ceil(w / max_ratio)) if w >= h else (math.ceil(h / max_ratio), h)
    padded = Image.new("RGB", size, "white")
    padded.paste(image, (0, 0))
    return padded


def prepare_image(
    source: ImageInput,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO,
    format: Literal["png", "jpeg"] = "png",
    quality: int = 90,
    fetch_timeout: float = DEFAULT_FETCH_TIMEOUT,
    max_bytes: int = DEFAULT_FETCH_MAX_BYTES,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    rules: MediaRules = DEFAULT_RULES,
) -> PreparedImage:
    """Resize ``source`` to the model family's grid within the pixel budget and encode it as a data URL.

    ``source`` is any :data:`ImageInput` (see :func:`load_image` for URLs and limits). ``rules`` are the
    family's media rules (default Qwen2.5-VL); ``min_pixels`` / ``max_pixels`` default to theirs.
    Applications size images with :meth:`ModelPort.prepare <qwenvl_agents.vlm.port.ModelPort.prepare>`,
    which passes the served model's rules and the configured budget.

    >>> from PIL import Image
    >>> p = prepare_image(Image.new("RGB", (1240, 1754), "white"))
    >>> (p.width, p.height, p.tokens, p.source)
    (840, 1176, 1260, '<PIL image 1240x1754>')
    >>> from qwenvl_agents.vlm.media_rules import QWEN3_VL
    >>> p = prepare_image(Image.new("RGB", (1240, 1754), "white"), rules=QWEN3_VL)
    >>> (p.width, p.height, p.tokens)
    (960, 1344, 1260)
    """
    image = load_image(source, timeout=fetch_timeout, max_bytes=max_bytes, max_image_pixels=max_image_pixels)
    original = image.size
    image = cap_aspect_ratio(image, max_aspect_ratio)
    height, width = rules.resize(image.height, image.width, min_pixels=min_pixels, max_pixels=max_pixels)
    if (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    if format == "png":
        image.save(buf, "PNG", compress_level=1)
        mime = "image/png"
    else:
        image.save(buf, "JPEG", quality=quality)
        mime = "image/jpeg"
    data_url = f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
    return PreparedImage(
        data_url, width, height, original[0], original[1], rules.tokens(height, width), image_name(source)
    )
