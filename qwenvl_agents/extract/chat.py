"""Small adapters between the extractor and LangChain chat model answers."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage


def content_text(message: AIMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(
        b if isinstance(b, str) else str(b.get("text", "")) for b in message.content if isinstance(b, str | dict)
    )


def usage_tokens(usage: Any) -> tuple[int, int]:
    """(input, output) tokens from LangChain ``usage_metadata`` or an OpenAI ``CompletionUsage``."""
    if not usage:
        return 0, 0
    if isinstance(usage, dict):
        return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)
