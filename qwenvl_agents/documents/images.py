"""Image files as pages: PNG, JPEG, TIFF (every frame a page), WebP, BMP and GIF.

Only the first frame of a GIF (or an animated WebP/PNG) is read: animations are rarely documents,
and a hundred near-identical frames would flood the index. Every frame of a TIFF is a page, since
multi-page TIFF is what scanners and fax software produce.

Images keep their own pixels (no resampling); the EXIF orientation is applied and transparency is
flattened onto white, so a phone photo and a transparent PNG both come out upright RGB.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from struct import error as struct_error

from PIL import Image, ImageOps, UnidentifiedImageError

from qwenvl_agents.documents.base import Document, DocumentSpec, with_page_count
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.errors import CorruptDocumentError, DocumentTooLargeError
from qwenvl_agents.types import DocumentInfo, PageImage

_MULTI_PAGE_FORMATS = {"TIFF"}
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}


class ImageBackend(Document):
    """Pages of an image file. The file stays open (lazily decoded) until :meth:`close`."""

    backend_name = "image"

    def __init__(self, path: Path, info: DocumentInfo, options: RenderOptions) -> None:
        super().__init__(info, options)
        self.path = path
        self._image = _open(path, info.source, options.max_image_pixels)

    @classmethod
    def open(cls, path: Path, info: DocumentInfo, options: RenderOptions) -> ImageBackend:
        backend = cls(path, info, options)
        try:
            frames = getattr(backend._image, "n_frames", 1) if backend._image.format in _MULTI_PAGE_FORMATS else 1
            backend.info = with_page_count(info, max(1, int(frames)))
        except (OSError, ValueError, EOFError) as exc:
            backend.close()
            raise CorruptDocumentError(info.source, f"is a damaged image ({exc}); re-export it") from exc
        except BaseException:
            backend.close()
            raise
        return backend

    @classmethod
    def reopen(cls, spec: DocumentSpec) -> ImageBackend:
        return cls(Path(spec.path), spec.info, spec.options)

    def spec(self) -> DocumentSpec:
        return DocumentSpec(self.backend_name, str(self.path), self.info, self.options)

    def _render(self, number: int) -> PageImage:
        source = self.info.source
        where = f"frame {number}" if self.info.page_count > 1 else "the image"
        try:
            if number > 1 or self.info.page_count > 1:
                self._image.seek(number - 1)
            _check_size(self._image, source, self.options.max_image_pixels)
            with warnings.catch_warnings():
                # Our own limit was checked above; PIL's lower warning threshold is not an error here.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._image.load()
            image = to_rgb(_upright(self._image))
        except (Image.DecompressionBombError, DocumentTooLargeError) as exc:
            raise _too_large(source, self.options.max_image_pixels, exc) from exc
        except (OSError, ValueError, EOFError, SyntaxError) as exc:
            # PIL reports truncated or garbled data as OSError ("image file is truncated"), broken
            # headers as SyntaxError/ValueError.
            raise CorruptDocumentError(
                source, f"{where} cannot be decoded ({exc}); the file is damaged or truncated"
            ) from exc
        if image is self._image:
            image = image.copy()  # never hand out the object that the next seek() would change
        return PageImage(self.info, number, image)

    def _close_backend(self) -> None:
        self._image.close()


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a garbled EXIF block is ignored rather than failing the page."""
    try:
        upright = ImageOps.exif_transpose(image)
    except (ValueError, TypeError, SyntaxError, struct_error, OSError):
        return image
    return upright if upright is not None else image


def _open(path: Path, source: str, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _too_large(source, max_pixels, exc) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptDocumentError(source, f"is not a readable image ({exc}); the file is damaged or misnamed") from exc
    try:
        # Header only: width x height are known before any pixel is decoded.
        _check_size(image, source, max_pixels)
    except BaseException:
        image.close()
        raise
    return image


def _check_size(image: Image.Image, source: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise DocumentTooLargeError(
            source,
            f"is {width} x {height} = {width * height:,} pixels, more than max_image_pixels={max_pixels:,}; "
            "raise QWENVL_MAX_IMAGE_PIXELS if you trust the file (this guards against decompression bombs)",
        )


def _too_large(source: str, max_pixels: int, exc: BaseException) -> DocumentTooLargeError:
    if isinstance(exc, DocumentTooLargeError):
        return exc
    return DocumentTooLargeError(
        source,
        f"is larger than Pillow's decompression-bomb limit ({exc}); max_image_pixels={max_pixels:,} "
        "cannot raise Pillow's own hard limit — downscale the image first",
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """An RGB version of ``image``, with transparency flattened onto white.

    Example:
        >>> from PIL import Image
        >>> to_rgb(Image.new("RGBA", (2, 2), (255, 0, 0, 0))).getpixel((0, 0))
        (255, 255, 255)
    """
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT:
        # 16-bit greyscale (scientific/medical TIFF): scale to 8 bits instead of clipping at 255.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
