"""A LangChain ``BaseRetriever`` over the page search, for chains and agents built with LangChain.

Example:
    >>> import tempfile
    >>> from qwenvl_agents.samples import write_samples
    >>> from qwenvl_agents.ingest import ingest
    >>> from qwenvl_agents.settings import Settings
    >>> settings = Settings(data_dir=tempfile.mkdtemp(), _env_file=None)
    >>> _ = write_samples(f"{settings.data_dir}/samples")
    >>> _ = ingest([f"{settings.data_dir}/samples"], settings, extractor="text")
    >>> retriever = PageRetriever.from_settings(settings, k=2)
    >>> docs = retriever.invoke("receipt total")
    >>> len(docs), docs[0].metadata["citation"].startswith("[receipt")
    (2, True)
    >>> [d.metadata["page_kind"] for d in retriever.invoke("slides", filters=SearchFilters(page_kinds=["slide"]))]
    ['slide', 'slide']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from qwenvl_agents.retrieval.filters import SearchFilters
from qwenvl_agents.retrieval.search import PageSearch, SearchMode

if TYPE_CHECKING:
    from qwenvl_agents.settings import Settings
    from qwenvl_agents.types import RetrievedPage


def page_document(page: RetrievedPage) -> Document:
    """A LangChain Document for a retrieved page: the page text, and everything else as metadata."""
    metadata: dict[str, Any] = {
        "id": page.record_id,
        "document_id": page.document_id,
        "name": page.name,
        "source": page.source,
        "page": page.page,
        "page_count": page.page_count,
        "rank": page.rank,
        "score": page.score,
        "snippet": page.snippet,
        "citation": str(page.citation),
        "image_path": page.image_path,
        "title": page.title,
        "page_kind": page.page_kind,
        "language": page.language,
        "status": page.status,
        "dense_rank": page.dense_rank,
        "lexical_rank": page.lexical_rank,
    }
    return Document(page_content=page.text, metadata=metadata, id=page.record_id)


class PageRetriever(BaseRetriever):
    """Pages of a knowledge base for a query, as LangChain ``Document`` objects (one per page, best first).

    ``page_content`` is the stored page text; ``metadata`` holds ``citation`` (``[name, p. N]``), ``name``,
    ``page``, ``document_id``, ``score``, ``rank``, ``snippet``, ``image_path`` (show it to a VLM), ``page_kind``...
    ``k``, ``filters`` and ``mode`` can also be given per call: ``retriever.invoke(query, k=3)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: PageSearch
    k: int = Field(default=5, ge=1)
    filters: SearchFilters | None = None
    mode: SearchMode = "hybrid"

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, knowledge_base: str | None = None, **kwargs: Any
    ) -> PageRetriever:
        """A retriever over the configured knowledge base; keyword arguments set ``k``, ``filters``, ``mode``."""
        return cls(search=PageSearch.open(settings, knowledge_base), **kwargs)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: SearchFilters | None = None,
        mode: SearchMode | None = None,
    ) -> list[Document]:
        pages = self.search.search(
            query,
            k if k is not None else self.k,
            filters=filters if filters is not None else self.filters,
            mode=mode or self.mode,
        )
        return [page_document(p) for p in pages]
