"""Page -> ``PageExtraction``: the VLM with validation, retries and fallbacks; OCR; the text layer.

Pick an extractor with :func:`make_extractor` (``text``, ``ocr``, ``vlm`` or ``auto``); each has
``name``, ``model``, ``prompt_version`` and ``async aextract(page) -> PageExtraction``, and never raises
for a bad page.

Example:
    >>> from qwenvl_agents.extract import make_extractor
    >>> from qwenvl_agents.settings import Settings
    >>> extractor = make_extractor(Settings(extractor="auto"), ocr=False)  # offline: no VLM configured
    >>> extractor.name, extractor.model
    ('auto', None)
"""

from qwenvl_agents.extract.auto import AutoExtractor, make_extractor
from qwenvl_agents.extract.base import BaseExtractor
from qwenvl_agents.extract.lang import guess_language
from qwenvl_agents.extract.ocr import OcrExtractor, OcrLine, reading_order
from qwenvl_agents.extract.schemas import PROMPT_VERSION, PageReading, page_reading_schema, response_format
from qwenvl_agents.extract.text import TextLayerExtractor, is_good_text_layer, text_layer_problem
from qwenvl_agents.extract.validate import (
    BadOutput,
    EmptyOutput,
    InvalidJson,
    RefusedOutput,
    RepeatedText,
    SchemaViolation,
    TruncatedOutput,
    validate_answer,
)
from qwenvl_agents.extract.vlm import ExtractorStats, VLMExtractor

__all__ = [
    "PROMPT_VERSION",
    "AutoExtractor",
    "BadOutput",
    "BaseExtractor",
    "EmptyOutput",
    "ExtractorStats",
    "InvalidJson",
    "OcrExtractor",
    "OcrLine",
    "PageReading",
    "RefusedOutput",
    "RepeatedText",
    "SchemaViolation",
    "TextLayerExtractor",
    "TruncatedOutput",
    "VLMExtractor",
    "guess_language",
    "is_good_text_layer",
    "make_extractor",
    "page_reading_schema",
    "reading_order",
    "response_format",
    "text_layer_problem",
    "validate_answer",
]
