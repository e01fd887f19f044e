"""Where pages live after rendering: page images on disk, the Chroma page index, BM25 beside it, and the
ingest ledger."""

from qwenvl_agents.store.embeddings import (
    HashingEmbeddings,
    SentenceTransformerEmbeddings,
    embedder_name,
    make_embeddings,
)
from qwenvl_agents.store.errors import (
    EmbedderMismatchError,
    IndexUnavailableError,
    KnowledgeBaseNameError,
    PageIndexError,
)
from qwenvl_agents.store.index import DocumentSummary, PageIndex
from qwenvl_agents.store.ledger import IngestLedger, LedgerDocument, LedgerPage, LedgerSummary
from qwenvl_agents.store.lexical import LexicalIndex
from qwenvl_agents.store.page_images import PageImageStore
from qwenvl_agents.store.records import PageEntry, chunk_id, content_key, page_id
from qwenvl_agents.store.stored import StoredPage
from qwenvl_agents.store.text import tokenize

__all__ = [
    "DocumentSummary",
    "EmbedderMismatchError",
    "HashingEmbeddings",
    "IndexUnavailableError",
    "IngestLedger",
    "KnowledgeBaseNameError",
    "LedgerDocument",
    "LedgerPage",
    "LedgerSummary",
    "LexicalIndex",
    "PageEntry",
    "PageImageStore",
    "PageIndex",
    "PageIndexError",
    "SentenceTransformerEmbeddings",
    "StoredPage",
    "chunk_id",
    "content_key",
    "embedder_name",
    "make_embeddings",
    "page_id",
    "tokenize",
]
