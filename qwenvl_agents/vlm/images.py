"""Images sized and encoded for Qwen2.5-VL.

Qwen2.5-VL cuts an image into 14-pixel patches and merges 2x2 of them into one visual token, so each
side must be a multiple of 28 and the token count is ``(height / 28) * (width / 28)``. vLLM ignores a
per-request ``max_pixels`` inside an image part, so the client has to enforce the pixel budget itself:
that is what keeps a page within ``--max-model-len`` and the GPU's batch predictable.
"""

from __future__ import annotations

import base64
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

from PIL import Image, ImageOps

from qwenvl_agents.settings import QWEN_PATCH

DEFAULT_MIN_PIXELS = 256 * QWEN_PATCH * QWEN_PATCH
DEFAULT_MAX_PIXELS = 1280 * QWEN_PATCH * QWEN_PATCH
DEFAULT_MAX_ASPECT_RATIO = 200.0

ImageInput = Union[Image.Image, bytes, str, "os.PathLike[str]"]
"""A PIL image, encoded bytes, a file path, or a ``data:`` URL."""


def smart_resize(
    height: int,
    width: int,
    *,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    factor: int = QWEN_PATCH,
) -> tuple[int, int]:
    """The ``(height, width)`` Qwen2.5-VL will see: multiples of ``factor`` within the pixel budget.

    Follows the reference ``smart_resize`` of Qwen2.5-VL (round to the nearest multiple, then scale
    down or up keeping the aspect ratio), so the server's own processor leaves the result unchanged.

    >>> smart_resize(1754, 1240)  # an A4 page at 150 dpi
    (1176, 840)
    >>> smart_resize(10, 10)
    (448, 448)
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def visual_tokens(height: int, width: int, factor: int = QWEN_PATCH) -> int:
    """Visual tokens an image of this (already resized) size costs."""
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

    def content_part(self) -> dict[str, object]:
        """The OpenAI chat ``image_url`` content part for this image."""
        return {"type": "image_url", "image_url": {"url": self.data_url}}


def load_image(source: ImageInput) -> Image.Image:
    """Open an image given as a PIL image, bytes, a path or a ``data:`` URL, upright and in RGB."""
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, bytes):
        image = Image.open(io.BytesIO(source))
    elif isinstance(source, str) and source.startswith("data:"):
        _, _, payload = source.partition(",")
        image = Image.open(io.BytesIO(base64.b64decode(payload)))
    elif isinstance(source, str) and source.startswith(("http://", "https://")):
        raise ValueError("image URLs are not fetched here; download the image or pass it to the server as is")
    else:
        image = Image.open(Path(source))
    image = ImageOps.exif_transpose(image) or image
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P"):
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
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO,
    format: Literal["png", "jpeg"] = "png",
    quality: int = 90,
) -> PreparedImage:
    """Resize ``source`` to Qwen2.5-VL's grid within the pixel budget and encode it as a data URL.

    >>> from PIL import Image
    >>> p = prepare_image(Image.new("RGB", (1240, 1754), "white"))
    >>> (p.width, p.height, p.tokens)
    (840, 1176, 1260)
    """
    image = load_image(source)
    original = image.size
    image = cap_aspect_ratio(image, max_aspect_ratio)
    height, width = smart_resize(image.height, image.width, min_pixels=min_pixels, max_pixels=max_pixels)
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
    return PreparedImage(data_url, width, height, original[0], original[1], visual_tokens(height, width))
