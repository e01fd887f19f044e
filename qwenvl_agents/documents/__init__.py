"""Turn documents into page images: PDFs, images, office files, videos and http(s) URLs.

Every page becomes a :class:`~qwenvl_agents.types.PageImage` (RGB, numbered from 1) with the text the
format carries (PDF text layer with line boxes, slide text for pptx); later stages show the images to
the vision model. One bad source never stops a batch: it yields a
:class:`~qwenvl_agents.types.SourceFailure` saying what is wrong and what to do.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from qwenvl_agents.documents import RenderOptions, iter_pages
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (64, 48), "white").save(folder / "scan.png")
    >>> [(p.document.name, p.page, p.image.size) for p in iter_pages([folder], RenderOptions(dpi=100))]
    [('scan.png', 1, (64, 48))]

Formats: PDF (pypdfium2); PNG, JPEG, TIFF (every frame), WebP, BMP, GIF (first frame); pptx, docx,
xlsx, odp, odt, ods, ppt, doc, xls (LibreOffice → PDF); mp4, mov, avi, mkv, webm (OpenCV, sampled at
``video_fps``). Types are detected from the file's bytes, not trusted from its name.
"""

from qwenvl_agents.documents.base import Document
from qwenvl_agents.documents.detect import SUPPORTED_SUFFIXES
from qwenvl_agents.documents.exceptions import DocumentNotFoundError, DownloadError, OfficeConversionError
from qwenvl_agents.documents.loader import iter_pages, open_document
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.documents.sources import SourceListing, find_sources

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Document",
    "DocumentNotFoundError",
    "DownloadError",
    "OfficeConversionError",
    "RenderOptions",
    "SourceListing",
    "find_sources",
    "iter_pages",
    "open_document",
]
