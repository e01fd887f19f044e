"""Errors of the index that a caller can act on. All derive from :class:`~qwenvl_agents.errors.QwenVLError`."""

from __future__ import annotations

from qwenvl_agents.errors import QwenVLError


class PageIndexError(QwenVLError):
    """Base class of the index's errors."""


class KnowledgeBaseNameError(PageIndexError, ValueError):
    """A knowledge-base name Chroma cannot use as a collection name."""


class EmbedderMismatchError(PageIndexError):
    """The knowledge base was indexed with other embeddings; its vectors cannot be compared with ours."""


class IndexUnavailableError(PageIndexError):
    """The Chroma server could not be reached, or the collection was not made by qwenvl-agents."""
