"""Download http(s) sources to a local file, with a size limit and a deadline.

The bytes come from the one bounded downloader (:mod:`qwenvl_agents.fetch`). They are streamed to disk
while they are hashed, so a 100 MB PDF never sits in memory, and the download stops as soon as it passes
``download_max_bytes`` (servers may send no or a false Content-Length) or ``download_timeout`` seconds in
all. With a ``cache_dir`` the file is kept as ``cache_dir/downloads/<sha256>.<suffix>``.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from qwenvl_agents.documents.detect import SUPPORTED_SUFFIXES
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.errors import DocumentTooLargeError, DownloadError
from qwenvl_agents.fetch import open_url

_CONTENT_TYPES = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/tiff": "tiff",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
}


@dataclass(frozen=True)
class Downloaded:
    """A downloaded file: ``path`` to read, ``name`` for display, ``suffix_hint`` from the URL or headers.

    ``temp_dir`` is the folder to delete when done (``None`` when the file lives in the cache).
    """

    path: Path
    name: str
    suffix_hint: str | None
    temp_dir: Path | None


def download(url: str, options: RenderOptions) -> Downloaded:
    """Fetch ``url`` (following redirects) into the cache or a temporary folder.

    The whole download must finish within ``options.download_timeout`` seconds. Raises
    :class:`DownloadError` (HTTP error status, timeout, connection failure, bad URL) or
    :class:`~qwenvl_agents.errors.DocumentTooLargeError` past ``options.download_max_bytes``.

    Example (not run: needs a server):
        >>> d = download("https://example.org/report.pdf", RenderOptions())  # doctest: +SKIP
        >>> d.name, d.suffix_hint  # doctest: +SKIP
        ('report.pdf', 'pdf')
    """
    if options.cache_dir is not None:
        folder = options.cache_dir / "downloads"
        folder.mkdir(parents=True, exist_ok=True)
        temp_dir = None
    else:
        folder = temp_dir = Path(tempfile.mkdtemp(prefix="qwenvl-download-"))
    try:
        result = _fetch(url, folder, options)
    except BaseException:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return Downloaded(result[0], result[1], result[2], temp_dir)


def _fetch(url: str, folder: Path, options: RenderOptions) -> tuple[Path, str, str | None]:
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with (
            os.fdopen(fd, "wb") as out,
            open_url(url, timeout=options.download_timeout, max_bytes=options.download_max_bytes) as opened,
        ):
            for chunk in opened.chunks():
                digest.update(chunk)
                out.write(chunk)
            name, hint = _name_and_suffix(url, opened.url, opened.headers)
        final = folder / f"{digest.hexdigest()}.{hint or 'bin'}"
        os.replace(tmp, final)
        return final, name, hint
    except DownloadError as exc:
        # The loader's promises: a size limit is a DocumentTooLargeError, a timeout says "timed out".
        if exc.kind == "too_large":
            raise DocumentTooLargeError(exc.source, exc.reason) from exc
        if exc.kind == "timeout":
            raise DownloadError(exc.source, f"timed out: {exc.reason}", exc.kind) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _name_and_suffix(url: str, final_url: str, headers: Mapping[str, str]) -> tuple[str, str | None]:
    """A display name and a type hint from Content-Disposition, the URL path, or Content-Type."""
    name = ""
    disposition = headers.get("content-disposition", "")
    match = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", disposition, re.IGNORECASE)
    if match:
        name = PurePosixPath(unquote(match.group(1))).name
    for candidate in (url, final_url):
        if not name:
            name = PurePosixPath(unquote(urlsplit(candidate).path)).name
    name = name or urlsplit(url).hostname or "download"
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    if suffix in SUPPORTED_SUFFIXES:
        return name, suffix
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    guessed = _CONTENT_TYPES.get(content_type)
    if guessed is None and content_type:
        extension = mimetypes.guess_extension(content_type) or ""
        guessed = extension.lstrip(".") if extension.lstrip(".") in SUPPORTED_SUFFIXES else None
    return name, guessed
