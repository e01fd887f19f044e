"""qwenvl-agents: ask questions about your documents with Qwen2.5-VL and get answers you can check.

The public API is what this module exports. Heavy parts (Chroma, OCR) load on first use, so importing
the package stays quick.

Example:
    >>> import qwenvl_agents
    >>> qwenvl_agents.Settings(_env_file=None).knowledge_base
    'default'
    >>> qwenvl_agents.Ingestor.__name__
    'Ingestor'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from qwenvl_agents.errors import (
    CaseFileError,
    CorruptDocumentError,
    DocumentError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    DownloadError,
    EmbedderMismatchError,
    EncryptedDocumentError,
    GroundTruthError,
    ImageInputError,
    IndexUnavailableError,
    KnowledgeBaseNameError,
    MissingDependencyError,
    OfficeConversionError,
    PageIndexError,
    QwenVLError,
    ServePlanError,
    UnknownDocumentError,
    UnsupportedDocumentError,
    VLMConnectionError,
    VLMError,
    VLMRequestError,
)
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import (
    Citation,
    DocumentInfo,
    KeyFields,
    LineItem,
    PageExtraction,
    PageImage,
    RetrievedPage,
    SourceFailure,
    StoredImage,
    Table,
    TextLayer,
    TextSpan,
)

if TYPE_CHECKING:
    from qwenvl_agents.agent import AgentContext, Answer, DocumentChat, build_agent_graph, build_rag_graph
    from qwenvl_agents.documents import RenderOptions, iter_pages, open_document
    from qwenvl_agents.extract import make_extractor
    from qwenvl_agents.ingest import IngestContext, Ingestor, IngestSummary, build_ingest_graph
    from qwenvl_agents.retrieval import FusionWeights, PageRetriever, PageSearch, SearchFilters
    from qwenvl_agents.samples import write_samples
    from qwenvl_agents.serving import plan_server
    from qwenvl_agents.store import IngestLedger, LexicalIndex, PageImageStore, PageIndex
    from qwenvl_agents.vlm import ChatQwenTransformers, ChatQwenVLLM, ModelPort, VLMClient, chat_model_from_settings
    from qwenvl_agents.workflows import (
        VideoDetector,
        VideoSearch,
        VisualInspector,
        ask_video,
        ask_videos,
    )

__version__ = "0.1.0"

_LAZY = {
    "AgentContext": "qwenvl_agents.agent",
    "Answer": "qwenvl_agents.agent",
    "DocumentChat": "qwenvl_agents.agent",
    "build_agent_graph": "qwenvl_agents.agent",
    "build_rag_graph": "qwenvl_agents.agent",
    "RenderOptions": "qwenvl_agents.documents",
    "iter_pages": "qwenvl_agents.documents",
    "open_document": "qwenvl_agents.documents",
    "make_extractor": "qwenvl_agents.extract",
    "IngestContext": "qwenvl_agents.ingest",
    "Ingestor": "qwenvl_agents.ingest",
    "IngestSummary": "qwenvl_agents.ingest",
    "build_ingest_graph": "qwenvl_agents.ingest",
    "FusionWeights": "qwenvl_agents.retrieval",
    "PageRetriever": "qwenvl_agents.retrieval",
    "PageSearch": "qwenvl_agents.retrieval",
    "SearchFilters": "qwenvl_agents.retrieval",
    "write_samples": "qwenvl_agents.samples",
    "IngestLedger": "qwenvl_agents.store",
    "LexicalIndex": "qwenvl_agents.store",
    "PageImageStore": "qwenvl_agents.store",
    "PageIndex": "qwenvl_agents.store",
    "ModelPort": "qwenvl_agents.vlm",
    "VLMClient": "qwenvl_agents.vlm",
    "ChatQwenTransformers": "qwenvl_agents.vlm",
    "ChatQwenVLLM": "qwenvl_agents.vlm",
    "chat_model_from_settings": "qwenvl_agents.vlm",
    "plan_server": "qwenvl_agents.serving",
    "VideoDetector": "qwenvl_agents.workflows",
    "VideoSearch": "qwenvl_agents.workflows",
    "VisualInspector": "qwenvl_agents.workflows",
    "ask_video": "qwenvl_agents.workflows",
    "ask_videos": "qwenvl_agents.workflows",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qwenvl_agents' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AgentContext",
    "Answer",
    "CaseFileError",
    "ChatQwenTransformers",
    "ChatQwenVLLM",
    "Citation",
    "CorruptDocumentError",
    "DocumentChat",
    "DocumentError",
    "DocumentInfo",
    "DocumentNotFoundError",
    "DocumentTooLargeError",
    "DownloadError",
    "EmbedderMismatchError",
    "EncryptedDocumentError",
    "FusionWeights",
    "GroundTruthError",
    "ImageInputError",
    "IndexUnavailableError",
    "IngestContext",
    "IngestLedger",
    "IngestSummary",
    "Ingestor",
    "KeyFields",
    "KnowledgeBaseNameError",
    "LexicalIndex",
    "LineItem",
    "MissingDependencyError",
    "ModelPort",
    "OfficeConversionError",
    "PageExtraction",
    "PageImage",
    "PageImageStore",
    "PageIndex",
    "PageIndexError",
    "PageRetriever",
    "PageSearch",
    "QwenVLError",
    "RenderOptions",
    "RetrievedPage",
    "SearchFilters",
    "ServePlanError",
    "Settings",
    "SourceFailure",
    "StoredImage",
    "Table",
    "TextLayer",
    "TextSpan",
    "UnknownDocumentError",
    "UnsupportedDocumentError",
    "VLMClient",
    "VLMConnectionError",
    "VLMError",
    "VLMRequestError",
    "VideoDetector",
    "VideoSearch",
    "VisualInspector",
    "__version__",
    "ask_video",
    "ask_videos",
    "build_agent_graph",
    "build_ingest_graph",
    "build_rag_graph",
    "chat_model_from_settings",
    "iter_pages",
    "make_extractor",
    "open_document",
    "plan_server",
    "write_samples",
]
