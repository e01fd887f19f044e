"""Where pages live after rendering: page images on disk (and, later, the index)."""

from qwenvl_agents.store.page_images import PageImageStore

__all__ = ["PageImageStore"]
