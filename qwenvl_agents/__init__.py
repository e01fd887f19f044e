"""qwenvl-agents: ask questions about your documents with Qwen2.5-VL and get answers you can check."""

from qwenvl_agents.errors import (
    CorruptDocumentError,
    DocumentError,
    EncryptedDocumentError,
    MissingDependencyError,
    QwenVLError,
    UnsupportedDocumentError,
    VLMConnectionError,
    VLMError,
    VLMRequestError,
)
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import DocumentInfo, PageImage, SourceFailure, StoredImage, TextLayer, TextSpan

__version__ = "0.1.0"

__all__ = [
    "CorruptDocumentError",
    "DocumentError",
    "DocumentInfo",
    "EncryptedDocumentError",
    "MissingDependencyError",
    "PageImage",
    "QwenVLError",
    "Settings",
    "SourceFailure",
    "StoredImage",
    "TextLayer",
    "TextSpan",
    "UnsupportedDocumentError",
    "VLMConnectionError",
    "VLMError",
    "VLMRequestError",
    "__version__",
]
