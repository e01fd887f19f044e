"""Errors of the index that a caller can act on, defined in :mod:`qwenvl_agents.errors` and re-exported here.

All derive from :class:`~qwenvl_agents.errors.QwenVLError`.
"""

from __future__ import annotations

from qwenvl_agents.errors import EmbedderMismatchError, IndexUnavailableError, KnowledgeBaseNameError, PageIndexError

__all__ = ["EmbedderMismatchError", "IndexUnavailableError", "KnowledgeBaseNameError", "PageIndexError"]
