"""Scripted replies for the agent tests (the fake models themselves are in ``tests.support.fakes``)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage

from tests.support.fakes import tool_call


def answer(text: str, citations: Sequence[tuple[str, int]] = (), found: bool = True) -> AIMessage:
    """The agent's final ``answer`` tool call, citing ``(document, page)`` pairs."""
    return tool_call("answer", text=text, citations=[{"document": d, "page": p} for d, p in citations], found=found)
