"""The state of the agent and RAG graphs: the conversation, the pages seen, and the last answer.

Pages travel as plain dicts (:class:`PageRef`) so that checkpointers and LangGraph Studio store and show
them as JSON.

Example:
    >>> a = [page_ref("a.pdf", 1, "aa"), page_ref("b.pdf", 2, "bb")]
    >>> [p["document"] for p in merge_pages(a, [page_ref("a.pdf", 1, "aa"), page_ref("c.pdf", 1, "cc")])]
    ['a.pdf', 'b.pdf', 'c.pdf']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from qwenvl_agents.types import Citation


class PageRef(TypedDict):
    """A page: its document's file name, the page number (from 1) and the document id."""

    document: str
    page: int
    document_id: str


def page_ref(document: str, page: int, document_id: str = "") -> PageRef:
    return {"document": document, "page": int(page), "document_id": document_id}


def ref_key(ref: PageRef) -> tuple[str, int]:
    return (ref.get("document_id") or ref["document"], int(ref["page"]))


def merge_pages(left: Sequence[PageRef] | None, right: Sequence[PageRef] | None) -> list[PageRef]:
    """Pages of ``left`` then the new ones of ``right``, each page once (the reducer of ``pages_seen``)."""
    out: list[PageRef] = []
    seen: set[tuple[str, int]] = set()
    for ref in [*(left or []), *(right or [])]:
        key = ref_key(ref)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


def to_citation(ref: PageRef) -> Citation:
    return Citation(ref["document"], int(ref["page"]), ref.get("document_id", ""))


class AgentState(TypedDict, total=False):
    """``messages`` is the conversation (append-only); ``pages_seen`` every page a tool showed the model in
    this thread (the pages an answer may cite); ``answer``, ``found``, ``citations``,
    ``unverified_citations`` and ``pages_looked_at`` describe the last question's answer."""

    messages: Annotated[list[AnyMessage], add_messages]
    pages_seen: Annotated[list[PageRef], merge_pages]
    answer: str
    found: bool
    citations: list[PageRef]
    unverified_citations: list[PageRef]
    pages_looked_at: list[PageRef]


class InputState(TypedDict):
    """What a run takes: the new message(s), usually one user question."""

    messages: Annotated[list[AnyMessage], add_messages]


def turn_messages(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages since (and including) the last user message: the current question's turn."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i:])
    return list(messages)


def split_turns(messages: Sequence[BaseMessage]) -> list[list[BaseMessage]]:
    """The conversation cut into turns, each starting at a user message."""
    turns: list[list[BaseMessage]] = []
    for message in messages:
        if isinstance(message, HumanMessage) or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


def compact_history(messages: Sequence[BaseMessage], turns: int) -> list[BaseMessage]:
    """The model's view of a conversation: the last ``turns`` earlier turns as question and final answer
    only (their tool traffic left out), then the current turn in full."""
    cut = split_turns(messages)
    if not cut:
        return []
    out: list[BaseMessage] = []
    for turn in cut[:-1][-turns:] if turns > 0 else []:
        if not isinstance(turn[0], HumanMessage):
            continue
        replies = [m for m in turn[1:] if isinstance(m, AIMessage) and not m.tool_calls and m.text.strip()]
        out.append(HumanMessage(turn[0].content))
        if replies:
            out.append(AIMessage(replies[-1].text))
    return out + cut[-1]


def last_question(messages: Sequence[BaseMessage]) -> str:
    """The text of the last user message (text parts joined), or ``""``."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def message_text(message: BaseMessage) -> str:
    content: Any = message.content
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else str(p.get("text", "")) for p in content if isinstance(p, str | dict)]
    return "".join(parts)


def artifact_pages(messages: Iterable[BaseMessage], key: str) -> list[PageRef]:
    """Pages recorded under ``key`` (``seen`` or ``looked``) in the artifacts of tool results."""
    out: list[PageRef] = []
    for message in messages:
        if isinstance(message, ToolMessage) and isinstance(message.artifact, dict):
            out = merge_pages(out, message.artifact.get(key) or [])
    return out
