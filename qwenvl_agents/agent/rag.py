"""The fixed pipeline: retrieve pages → show their images with the question to the VLM → answer.

No tool calling at all, for servers and models without it. The VLM sees the best ``look_pages`` pages that
have a stored image (at most the server's image limit) and the stored text of retrieved pages that have
none; the answer's citations are the pages it cites inline that were shown, else every page shown. When
no page matches, or the model says the pages do not answer, ``found`` is false.

Example (needs a vLLM server with Qwen2.5-VL and an ingested knowledge base):
    >>> from langchain_core.messages import HumanMessage
    >>> graph = build_rag_graph()
    >>> out = graph.invoke({"messages": [HumanMessage("Who issued invoice INV-2026-0042?")]})  # doctest: +SKIP
    >>> out["found"], [c["document"] for c in out["citations"]]  # doctest: +SKIP
    (True, ['invoice-en.pdf'])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from qwenvl_agents.agent.citations import check_citations
from qwenvl_agents.agent.context import AgentContext
from qwenvl_agents.agent.prompts import NOT_FOUND_TEXT, rag_prompt, rag_system
from qwenvl_agents.agent.resources import AgentResources
from qwenvl_agents.agent.state import (
    AgentState,
    InputState,
    PageRef,
    compact_history,
    last_question,
    merge_pages,
    page_ref,
)
from qwenvl_agents.errors import QwenVLError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from qwenvl_agents.retrieval import PageSearch
    from qwenvl_agents.settings import Settings

TEXT_CHARS = 1500


class RetrievedRef(TypedDict):
    """A retrieved page as the RAG state keeps it."""

    document: str
    page: int
    document_id: str
    score: float
    image_path: str | None
    text: str


class RagState(AgentState, total=False):
    """``retrieved`` are this question's pages; the rest as in :class:`~qwenvl_agents.agent.state.AgentState`."""

    retrieved: list[RetrievedRef]


def says_not_found(text: str) -> bool:
    """Whether an answer says the documents do not hold it (or says nothing)."""
    squashed = " ".join(text.split()).casefold()
    return not squashed or NOT_FOUND_TEXT.casefold().rstrip(".") in squashed


def _ref(r: RetrievedRef) -> PageRef:
    return page_ref(r["document"], r["page"], r["document_id"])


def _label(r: RetrievedRef) -> str:
    return f"[{r['document']}, p. {r['page']}]"


def build_rag_graph(
    settings: Settings | None = None,
    *,
    chat_model: BaseChatModel | None = None,
    search: PageSearch | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the RAG graph (``name="rag"``, ``context_schema=AgentContext``; ``max_steps`` and
    ``tool_choice`` are not used). ``chat_model`` defaults to the configured Qwen2.5-VL server."""
    return compile_rag_graph(AgentResources(settings, chat_model=chat_model, search=search), checkpointer)


def compile_rag_graph(
    resources: AgentResources, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The RAG graph over shared :class:`AgentResources`."""

    def retrieve(state: RagState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = AgentContext.coerce(runtime.context)
        question = last_question(state.get("messages") or [])
        if not question.strip():
            raise ValueError('the rag graph needs input {"messages": [{"role": "user", "content": "..."}]}')
        hits = resources.search(ctx).search(question, k=ctx.k, filters=ctx.filters(), mode=ctx.search_mode)
        retrieved: list[RetrievedRef] = [
            {
                "document": h.name,
                "page": h.page,
                "document_id": h.document_id,
                "score": float(h.score),
                "image_path": h.image_path if h.image_path and Path(h.image_path).is_file() else None,
                "text": h.text[:TEXT_CHARS],
            }
            for h in hits
        ]
        return {"retrieved": retrieved}

    def look(state: RagState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = AgentContext.coerce(runtime.context)
        retrieved = state.get("retrieved") or []
        if not retrieved:
            return {"messages": [AIMessage(NOT_FOUND_TEXT)], "pages_looked_at": []}
        limit = ctx.images_per_look(resources.image_limit)
        shown = [r for r in retrieved if r["image_path"]][:limit]
        texts = [r for r in retrieved if not r["image_path"]][:limit]
        from qwenvl_agents.vlm import prepare_image

        low, high = resources.pixels(ctx)
        aspect, rules = resources.settings.max_aspect_ratio, resources.media_rules
        parts: list[str | dict[str, Any]] = [
            prepare_image(
                str(r["image_path"]), min_pixels=low, max_pixels=high, max_aspect_ratio=aspect, rules=rules
            ).content_part()
            for r in shown
        ]
        prompt = rag_prompt(
            last_question(state["messages"]), [_label(r) for r in shown], [(_label(r), r["text"]) for r in texts]
        )
        parts.append({"type": "text", "text": prompt})
        earlier = compact_history(state["messages"], ctx.history_turns)[:-1]  # the question goes with the pages
        conversation = [SystemMessage(rag_system()), *earlier, HumanMessage(content=parts)]
        try:
            reply = resources.vision_model(ctx).invoke(conversation, config={"tags": ["rag"]})
        except QwenVLError:
            raise
        except Exception as exc:
            raise resources.explain(exc) from exc
        looked = [_ref(r) for r in shown]
        return {"messages": [reply], "pages_looked_at": looked, "pages_seen": looked + [_ref(r) for r in texts]}

    def finish(state: RagState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = AgentContext.coerce(runtime.context)
        last = state["messages"][-1]
        text = last.text.strip() if isinstance(last, AIMessage) else ""
        retrieved = state.get("retrieved") or []
        limit = ctx.images_per_look(resources.image_limit)
        given = merge_pages(
            state.get("pages_looked_at") or [], [_ref(r) for r in retrieved if not r["image_path"]][:limit]
        )
        verified, unverified = check_citations(text, [], given)
        found = bool(retrieved) and not says_not_found(text)
        return {
            "answer": text or NOT_FOUND_TEXT,
            "found": found,
            "citations": (verified or given) if found else [],
            "unverified_citations": unverified,
        }

    builder = StateGraph(RagState, context_schema=AgentContext, input_schema=InputState)
    builder.add_node("retrieve", retrieve)
    builder.add_node("look", look)
    builder.add_node("finish", finish)
    builder.add_edge(START, "retrieve")
    builder.add_edge("retrieve", "look")
    builder.add_edge("look", "finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer, name="rag")
