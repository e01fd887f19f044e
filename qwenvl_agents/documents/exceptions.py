"""Document errors specific to loading sources, on top of :mod:`qwenvl_agents.errors`.

They derive from :class:`~qwenvl_agents.errors.DocumentError`, so ``except DocumentError`` catches them.
"""

from __future__ import annotations

from qwenvl_agents.errors import DocumentError


class DocumentNotFoundError(DocumentError, FileNotFoundError):
    """The path does not exist (also a :class:`FileNotFoundError`)."""


class DownloadError(DocumentError):
    """A URL could not be downloaded: HTTP error status, timeout, refused connection, bad URL."""


class OfficeConversionError(DocumentError):
    """LibreOffice crashed or did not finish converting an office file to PDF in time."""
