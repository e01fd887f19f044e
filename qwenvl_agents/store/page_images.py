"""Content-addressed page images on disk, so the agent can show a page to the vision model again.

A page image is stored once per distinct content: the file name is the SHA-256 of the encoded bytes,
fanned out into two-character folders. Writes go to a temporary file first and are renamed into place,
so a crash never leaves a half-written image under a final name, and concurrent writers of the same
page agree on the result.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from qwenvl_agents.types import StoredImage

if TYPE_CHECKING:
    from PIL import Image

    from qwenvl_agents.settings import Settings

ImageFormat = Literal["png", "jpeg", "webp"]
_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


@dataclass(frozen=True)
class PageImageStore:
    """A folder of page images addressed by content hash.

    ``quality`` applies to JPEG and WebP; PNG is lossless and uses a fast compression level because
    encoding, not rasterising, dominates rendering time.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> store = PageImageStore(tempfile.mkdtemp())
        >>> ref = store.put(Image.new("RGB", (56, 28), "white"))
        >>> store.open(ref.sha256, ref.format).size
        (56, 28)
    """

    root: Path | str
    format: ImageFormat = "png"
    quality: int = 90

    def __post_init__(self) -> None:
        if self.format not in _PIL_FORMAT:
            raise ValueError(f"page image format must be one of {sorted(_PIL_FORMAT)}, not {self.format!r}")
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def from_settings(cls, settings: Settings) -> PageImageStore:
        """The store configured by :class:`~qwenvl_agents.settings.Settings`."""
        return cls(settings.page_image_dir, settings.page_image_format, settings.page_image_quality)

    def encode(self, image: Image.Image) -> bytes:
        buf = io.BytesIO()
        if self.format == "png":
            image.save(buf, "PNG", compress_level=1)
        else:
            rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
            rgb.save(buf, _PIL_FORMAT[self.format], quality=self.quality)
        return buf.getvalue()

    def path_for(self, sha256: str, format: str | None = None) -> Path:
        root = Path(self.root)
        return root / sha256[:2] / f"{sha256}{_SUFFIX[format or self.format]}"

    def put(self, image: Image.Image) -> StoredImage:
        """Encode and store ``image``; storing the same content again is a no-op."""
        data = self.encode(image)
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredImage(str(path), sha, self.format, image.width, image.height)

    def open(self, sha256: str, format: str | None = None) -> Image.Image:
        """Load a stored image (fully read, so the file handle is closed)."""
        from PIL import Image

        with Image.open(self.path_for(sha256, format)) as im:
            im.load()
            return im.copy()

    def __contains__(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()
