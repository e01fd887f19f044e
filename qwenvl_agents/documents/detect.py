"""What kind of file a source is, from its first bytes (magic numbers), with the suffix as a hint.

The suffix alone is never trusted: a ``.pdf`` that is really an HTML error page must fail as
"not a PDF" instead of crashing the PDF renderer, and a PNG saved as ``.jpg`` is still a PNG.
The suffix decides only what the bytes cannot (``.doc`` vs ``.xls`` inside an OLE2 container,
``.mov`` vs ``.mp4``) and shapes the error message when the bytes match nothing.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from qwenvl_agents.errors import (
    CorruptDocumentError,
    EncryptedDocumentError,
    UnsupportedDocumentError,
)
from qwenvl_agents.types import MediaType

# canonical type -> (media type, suffixes that name it). The first suffix is the canonical one.
_TYPES: dict[str, tuple[MediaType, tuple[str, ...]]] = {
    "pdf": ("pdf", ("pdf",)),
    "png": ("image", ("png",)),
    "jpeg": ("image", ("jpg", "jpeg", "jpe", "jfif")),
    "tiff": ("image", ("tif", "tiff")),
    "webp": ("image", ("webp",)),
    "bmp": ("image", ("bmp", "dib")),
    "gif": ("image", ("gif",)),
    "pptx": ("office", ("pptx", "pptm", "ppsx")),
    "docx": ("office", ("docx", "docm")),
    "xlsx": ("office", ("xlsx", "xlsm")),
    "odp": ("office", ("odp",)),
    "odt": ("office", ("odt",)),
    "ods": ("office", ("ods",)),
    "ppt": ("office", ("ppt", "pps")),
    "doc": ("office", ("doc",)),
    "xls": ("office", ("xls",)),
    "mp4": ("video", ("mp4", "m4v")),
    "mov": ("video", ("mov", "qt")),
    "avi": ("video", ("avi",)),
    "mkv": ("video", ("mkv",)),
    "webm": ("video", ("webm",)),
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(s for _, suffixes in _TYPES.values() for s in suffixes)
"""Lower-case suffixes (without the dot) that :func:`find_sources` picks up in folders."""

_LABEL = {"pdf": "PDF", "jpeg": "JPEG image", "tiff": "TIFF image", "mov": "QuickTime video"}
_SUFFIX_TO_TYPE = {s: t for t, (_, suffixes) in _TYPES.items() for s in suffixes}
_HEAD_BYTES = 4096


@dataclass(frozen=True)
class FileType:
    """A detected file type: ``kind`` is the canonical name (``pdf``, ``jpeg``, ``pptx``, ``mp4``...)."""

    kind: str
    media_type: MediaType
    suffix: str
    """The file's own suffix when it agrees with ``kind``, else the canonical suffix of ``kind``."""


def supported_list() -> str:
    """A readable list of supported suffixes for error messages."""
    return ", ".join(sorted(SUPPORTED_SUFFIXES))


def detect_type(path: Path, suffix_hint: str | None = None, *, source: str | None = None) -> FileType:
    """Detect the type of ``path`` from its content; ``suffix_hint`` defaults to the path's suffix.

    Raises :class:`UnsupportedDocumentError`, :class:`CorruptDocumentError` (a known suffix whose bytes
    do not match) or :class:`EncryptedDocumentError` (a password-protected Office file).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "scan.bin"
        >>> _ = p.write_bytes(b"%PDF-1.7\\n...")
        >>> detect_type(p)
        FileType(kind='pdf', media_type='pdf', suffix='pdf')
    """
    name = source or str(path)
    hint = (suffix_hint if suffix_hint is not None else path.suffix).lower().lstrip(".")
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    kind = _sniff(path, head, hint, name)
    if kind is None:
        raise _no_match(name, head, hint)
    media_type, suffixes = _TYPES[kind]
    return FileType(kind, media_type, hint if hint in suffixes else suffixes[0])


def _sniff(path: Path, head: bytes, hint: str, name: str) -> str | None:
    if b"%PDF-" in head[:1024]:  # PDF allows junk before the header; PDFium accepts it too
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM, the DocType says which
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"):
            raise UnsupportedDocumentError(name, "is a HEIC/AVIF image; convert it to JPEG or PNG first")
        return "mov" if brand == b"qt  " or hint in ("mov", "qt") else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):  # old QuickTime files
        return "mp4" if hint in ("mp4", "m4v") else "mov"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path, hint, name)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _sniff_ole(path, hint, name)
    return None


def _sniff_zip(path: Path, hint: str, name: str) -> str | None:
    """OOXML and OpenDocument files are ZIP archives; their members say which application wrote them."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            mimetype = z.read("mimetype")[:100].decode("ascii", "replace") if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        if _SUFFIX_TO_TYPE.get(hint) in ("pptx", "docx", "xlsx", "odp", "odt", "ods"):
            raise CorruptDocumentError(name, f"is a damaged ZIP container ({exc}); re-save or re-download it") from exc
        raise UnsupportedDocumentError(name, f"is a damaged ZIP archive; supported: {supported_list()}") from exc
    if "[Content_Types].xml" in names:
        if any(n.startswith("ppt/") for n in names):
            return "pptx"
        if any(n.startswith("word/") for n in names):
            return "docx"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
    odf = {
        "application/vnd.oasis.opendocument.presentation": "odp",
        "application/vnd.oasis.opendocument.text": "odt",
        "application/vnd.oasis.opendocument.spreadsheet": "ods",
    }
    if mimetype.strip() in odf:
        return odf[mimetype.strip()]
    if _SUFFIX_TO_TYPE.get(hint) in ("pptx", "docx", "xlsx", "odp", "odt", "ods"):
        raise CorruptDocumentError(name, f"is a ZIP archive but not a valid .{hint} file; re-save it")
    raise UnsupportedDocumentError(name, f"is a ZIP archive; unpack it first (supported: {supported_list()})")


def _sniff_ole(path: Path, hint: str, name: str) -> str | None:
    """Legacy Office (and encrypted OOXML) files are OLE2 containers; their stream names tell them apart.

    The directory can sit anywhere in the file, so the whole file is scanned in chunks for the
    UTF-16 stream names. Old Office files are small enough for this to be cheap.
    """
    markers = {
        "EncryptedPackage": "encrypted",
        "WordDocument": "doc",
        "Workbook": "xls",
        "PowerPoint Document": "ppt",
    }
    needles = {m.encode("utf-16-le"): kind for m, kind in markers.items()}
    found: set[str] = set()
    overlap = max(len(n) for n in needles)
    tail = b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            block = tail + chunk
            found.update(kind for needle, kind in needles.items() if needle in block)
            tail = block[-overlap:]
    if "encrypted" in found:
        raise EncryptedDocumentError(
            name, "is a password-protected Office file; save a copy without a password and load that"
        )
    hinted = _SUFFIX_TO_TYPE.get(hint)
    if hinted in found or (hinted in ("doc", "xls", "ppt") and not found):
        return hinted
    for kind in ("ppt", "doc", "xls"):
        if kind in found:
            return kind
    raise UnsupportedDocumentError(
        name, f"is an OLE2 compound file that is not a Word, Excel or PowerPoint file; supported: {supported_list()}"
    )


def _no_match(name: str, head: bytes, hint: str) -> Exception:
    expected = _SUFFIX_TO_TYPE.get(hint)
    if not head:
        if expected:
            return CorruptDocumentError(name, "is empty (0 bytes); re-download or re-export it")
        return UnsupportedDocumentError(name, "is empty (0 bytes)")
    if expected:
        label = _LABEL.get(expected, f".{hint} file")
        article = "an" if label[0] in "AEIOU" else "a"
        return CorruptDocumentError(
            name,
            f"not {article} {label} (it starts with {head[:16]!r}); the file is damaged or misnamed — "
            "check that it opens in a viewer, or re-download it",
        )
    what = f"'.{hint}' files are" if hint else "files without a recognisable type are"
    return UnsupportedDocumentError(name, f"{what} not supported; supported types: {supported_list()}")


def hash_file(path: Path, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in chunks so big files do not fill memory.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
        >>> _ = p.write_bytes(b"abc")
        >>> hash_file(p)[0][:12], hash_file(p)[1]
        ('ba7816bf8f01', 3)
    """
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
