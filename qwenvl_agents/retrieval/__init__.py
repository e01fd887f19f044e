"""Question → ranked pages: hybrid dense + lexical search with metadata filters, and a LangChain retriever.

Example:
    >>> from qwenvl_agents.retrieval import SearchFilters
    >>> SearchFilters(vendor="acme", date_from="2026-01").is_empty
    False
"""

from qwenvl_agents.retrieval.filters import ResolvedFilters, SearchFilters, UnknownDocumentError, resolve_documents
from qwenvl_agents.retrieval.fusion import FusionWeights
from qwenvl_agents.retrieval.retriever import PageRetriever, page_document
from qwenvl_agents.retrieval.search import SEARCH_MODES, LegHits, PageSearch, SearchMode

__all__ = [
    "SEARCH_MODES",
    "FusionWeights",
    "LegHits",
    "PageRetriever",
    "PageSearch",
    "ResolvedFilters",
    "SearchFilters",
    "SearchMode",
    "UnknownDocumentError",
    "page_document",
    "resolve_documents",
]
