"""Document errors specific to loading sources, defined in :mod:`qwenvl_agents.errors` and re-exported here.

They derive from :class:`~qwenvl_agents.errors.DocumentError`, so ``except DocumentError`` catches them.
"""

from __future__ import annotations

from qwenvl_agents.errors import DocumentNotFoundError, DownloadError, OfficeConversionError

__all__ = ["DocumentNotFoundError", "DownloadError", "OfficeConversionError"]
