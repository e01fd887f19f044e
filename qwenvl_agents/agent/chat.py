"""Chat with your documents from Python: questions in, :class:`Answer` records with citations out, with memory.

:class:`DocumentChat` runs the agent graph (or the RAG graph) with a checkpointer, so every thread keeps
its conversation: the second question of a thread sees the first and its answer. Threads live in memory
by default; ``checkpointer="sqlite"`` keeps them in ``<data_dir>/threads.sqlite`` across processes.

Example (needs a vLLM server with Qwen2.5-VL and an ingested knowledge base):
    >>> chat = DocumentChat(context=AgentContext(k=4))  # doctest: +SKIP
    >>> answer = chat.invoke("What is the total of invoice INV-2026-0042?")  # doctest: +SKIP
    >>> print(answer.text, [str(c) for c in answer.citations])  # doctest: +SKIP
    The total is USD 2,587.72 [invoice-en.pdf, p. 1]. ['[invoice-en.pdf, p. 1]']
    >>> chat.invoke("And when is it due?").found  # doctest: +SKIP
    True
    >>> for event in chat.stream("Sum the totals of all invoices"):  # doctest: +SKIP
    ...     if isinstance(event, TokenEvent) and event.source == "answer":
    ...         print(event.text, end="")
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.utils.json import parse_partial_json
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import StreamMode

from qwenvl_agents.agent.context import AgentContext
from qwenvl_agents.agent.graph import compile_agent_graph
from qwenvl_agents.agent.rag import compile_rag_graph
from qwenvl_agents.agent.resources import AgentResources
from qwenvl_agents.agent.state import PageRef, to_citation, turn_messages
from qwenvl_agents.agent.tools import ANSWER_TOOL
from qwenvl_agents.types import Citation

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.graph.state import CompiledStateGraph

    from qwenvl_agents.retrieval import PageSearch
    from qwenvl_agents.settings import Settings

GraphName = Literal["agent", "rag"]
THREADS_FILE = "threads.sqlite"


def _citations(refs: Sequence[PageRef] | None) -> tuple[Citation, ...]:
    return tuple(to_citation(r) for r in refs or ())


@dataclass(frozen=True)
class Answer:
    """The answer to one question: ``text`` with inline citations ``[name, p. N]``, the checked
    ``citations`` (pages the run actually showed the model), whether the documents held the answer
    (``found``), the pages whose images the VLM looked at, citations that named pages never shown
    (``unverified_citations``), the thread, and the tokens the question cost."""

    text: str
    citations: tuple[Citation, ...] = ()
    found: bool = False
    pages_looked_at: tuple[Citation, ...] = ()
    unverified_citations: tuple[Citation, ...] = ()
    thread_id: str = ""
    input_tokens: int = 0
    output_tokens: int = 0

    def __str__(self) -> str:
        return self.text

    @classmethod
    def from_state(cls, state: Mapping[str, Any], thread_id: str = "") -> Answer:
        """The answer recorded in a graph's final state (agent or RAG)."""
        turn = turn_messages(state.get("messages") or [])
        input_tokens = output_tokens = 0
        for m in turn:
            if isinstance(m, AIMessage) and m.usage_metadata:
                input_tokens += int(m.usage_metadata.get("input_tokens", 0))
                output_tokens += int(m.usage_metadata.get("output_tokens", 0))
            elif isinstance(m, ToolMessage) and isinstance(m.artifact, dict):
                usage = m.artifact.get("usage") or {}
                input_tokens += int(usage.get("input_tokens", 0))
                output_tokens += int(usage.get("output_tokens", 0))
        return cls(
            text=str(state.get("answer") or ""),
            citations=_citations(state.get("citations")),
            found=bool(state.get("found")),
            pages_looked_at=_citations(state.get("pages_looked_at")),
            unverified_citations=_citations(state.get("unverified_citations")),
            thread_id=thread_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )


@dataclass(frozen=True)
class StepEvent:
    """One graph step finished: ``node`` (``agent``, ``tools``, ``finalize``; ``retrieve``, ``look``,
    ``finish`` for RAG) and the state update it made."""

    node: str
    update: dict[str, Any] = field(default_factory=dict)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The tool calls the model made in this step (``agent`` node), as ``{name, args, id}``."""
        return [dict(c) for m in self.update.get("messages") or [] if isinstance(m, AIMessage) for c in m.tool_calls]


@dataclass(frozen=True)
class TokenEvent:
    """A piece of streamed text: ``answer`` (the answer as it is written), ``look`` (the vision model reading
    pages) or ``model`` (other text the agent model wrote)."""

    text: str
    source: Literal["answer", "look", "model"]
    node: str


ChatEvent = StepEvent | TokenEvent | Answer


class _TokenTracker:
    """Turns ``messages``-mode chunks into :class:`TokenEvent`s, following the answer tool's ``text``
    argument as its JSON arrives."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, int], dict[str, str]] = {}
        self.emitted: dict[tuple[str, int], int] = {}

    def feed(self, message: Any, metadata: Mapping[str, Any]) -> list[TokenEvent]:
        if not isinstance(message, AIMessageChunk):
            return []
        node = str(metadata.get("langgraph_node", ""))
        if node == "tools":
            return [TokenEvent(message.text, "look", node)] if message.text else []
        if node in ("look",):
            return [TokenEvent(message.text, "answer", node)] if message.text else []
        if node != "agent":
            return []
        events = [TokenEvent(message.text, "model", node)] if message.text else []
        for chunk in message.tool_call_chunks:
            key = (str(message.id), int(chunk.get("index") or 0))
            call = self.calls.setdefault(key, {"name": "", "args": ""})
            call["name"] += chunk.get("name") or ""
            call["args"] += chunk.get("args") or ""
            if call["name"] != ANSWER_TOOL:
                continue
            parsed = parse_partial_json(call["args"]) if call["args"] else None
            text = parsed.get("text") if isinstance(parsed, dict) else None
            done = self.emitted.get(key, 0)
            if isinstance(text, str) and len(text) > done:
                events.append(TokenEvent(text[done:], "answer", node))
                self.emitted[key] = len(text)
        return events


class DocumentChat:
    """Ask questions about the indexed documents, with memory per thread.

    - ``graph``: ``"agent"`` (tool calling: search, look at pages, compute over fields, answer) or
      ``"rag"`` (retrieve → look → answer, for servers without tool calling).
    - ``context``: the default per-run knobs (:class:`AgentContext`); each call may pass its own.
    - ``checkpointer``: ``"memory"`` (default, an ``InMemorySaver``), ``"sqlite"`` (threads kept in
      ``threads_path``, default ``<data_dir>/threads.sqlite``: ``SqliteSaver`` for the sync calls,
      ``AsyncSqliteSaver`` for the async ones), or any LangGraph checkpointer.
    - ``chat_model`` / ``vision_model`` / ``search``: injected parts (default: the configured server and index).
    - ``thread_id``: the default thread of :meth:`invoke` and :meth:`stream` (a new random one if not given).

    Call :meth:`close` (or use ``with``) to close a SQLite file.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        graph: GraphName = "agent",
        context: AgentContext | None = None,
        checkpointer: BaseCheckpointSaver[Any] | Literal["memory", "sqlite"] | None = None,
        threads_path: str | Path | None = None,
        chat_model: BaseChatModel | None = None,
        vision_model: BaseChatModel | None = None,
        search: PageSearch | None = None,
        thread_id: str | None = None,
    ) -> None:
        if graph not in ("agent", "rag"):
            raise ValueError(f"graph must be 'agent' or 'rag', got {graph!r}")
        self.graph_name = graph
        self.context = context or AgentContext()
        self.thread_id = thread_id or uuid.uuid4().hex
        self.resources = AgentResources(settings, chat_model=chat_model, vision_model=vision_model, search=search)
        self._sqlite: sqlite3.Connection | None = None
        self.threads_path: Path | None = None
        if checkpointer is None or checkpointer == "memory":
            saver: BaseCheckpointSaver[Any] = InMemorySaver()
        elif checkpointer == "sqlite":
            from langgraph.checkpoint.sqlite import SqliteSaver

            self.threads_path = Path(threads_path or self.resources.settings.data_dir / THREADS_FILE)
            self.threads_path.parent.mkdir(parents=True, exist_ok=True)
            self._sqlite = sqlite3.connect(self.threads_path, check_same_thread=False)
            saver = SqliteSaver(self._sqlite)
        elif isinstance(checkpointer, BaseCheckpointSaver):
            saver = checkpointer
        else:
            raise TypeError(f"checkpointer must be 'memory', 'sqlite' or a checkpointer, got {checkpointer!r}")
        self.checkpointer = saver
        self.graph = self._compile(saver)

    def _compile(self, saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
        build = compile_agent_graph if self.graph_name == "agent" else compile_rag_graph
        return build(self.resources, saver)

    def _run_args(self, question: str, thread_id: str | None, context: AgentContext | None) -> tuple[Any, ...]:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        tid = thread_id or self.thread_id
        config = {"configurable": {"thread_id": tid}}
        return {"messages": [HumanMessage(question)]}, config, context or self.context, tid

    # --- sync ----------------------------------------------------------------------------------------

    def invoke(self, question: str, *, thread_id: str | None = None, context: AgentContext | None = None) -> Answer:
        """Answer ``question`` in a thread (default: this chat's thread)."""
        inputs, config, ctx, tid = self._run_args(question, thread_id, context)
        state = self.graph.invoke(inputs, config, context=ctx)
        return Answer.from_state(state, tid)

    def stream(
        self, question: str, *, thread_id: str | None = None, context: AgentContext | None = None
    ) -> Iterator[ChatEvent]:
        """Answer ``question``, yielding :class:`StepEvent`s and :class:`TokenEvent`s as they happen and the
        :class:`Answer` last."""
        inputs, config, ctx, tid = self._run_args(question, thread_id, context)
        tracker = _TokenTracker()
        for mode, chunk in self.graph.stream(inputs, config, context=ctx, stream_mode=["updates", "messages"]):
            yield from _events(mode, chunk, tracker)
        yield Answer.from_state(self.graph.get_state(config).values, tid)

    def history(self, thread_id: str | None = None) -> list[BaseMessage]:
        """The messages of a thread so far."""
        state = self.graph.get_state({"configurable": {"thread_id": thread_id or self.thread_id}})
        return list(state.values.get("messages") or [])

    # --- async ---------------------------------------------------------------------------------------

    async def ainvoke(
        self, question: str, *, thread_id: str | None = None, context: AgentContext | None = None
    ) -> Answer:
        """The asynchronous :meth:`invoke`."""
        answer: Answer | None = None
        async for event in self.astream(question, thread_id=thread_id, context=context, tokens=False):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    async def astream(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        context: AgentContext | None = None,
        tokens: bool = True,
    ) -> AsyncIterator[ChatEvent]:
        """The asynchronous :meth:`stream` (``tokens=False``: steps and the answer only)."""
        inputs, config, ctx, tid = self._run_args(question, thread_id, context)
        modes: list[StreamMode] = ["updates", "messages"] if tokens else ["updates"]
        tracker = _TokenTracker()
        if self.threads_path is None:
            async for mode, chunk in self.graph.astream(inputs, config, context=ctx, stream_mode=modes):
                for event in _events(mode, chunk, tracker):
                    yield event
            yield Answer.from_state((await self.graph.aget_state(config)).values, tid)
            return
        # SqliteSaver is sync-only: async runs get an AsyncSqliteSaver on the same file, for this call's loop.
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        assert self.threads_path is not None
        async with aiosqlite.connect(self.threads_path) as conn:
            graph = self._compile(AsyncSqliteSaver(conn))
            async for mode, chunk in graph.astream(inputs, config, context=ctx, stream_mode=modes):
                for event in _events(mode, chunk, tracker):
                    yield event
            yield Answer.from_state((await graph.aget_state(config)).values, tid)

    # --- lifecycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the SQLite file of persistent threads and the model port the session built."""
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        self.resources.close()

    def __enter__(self) -> DocumentChat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _events(mode: str, chunk: Any, tracker: _TokenTracker) -> list[ChatEvent]:
    if mode == "messages":
        message, metadata = chunk
        return list(tracker.feed(message, metadata))
    if mode == "updates" and isinstance(chunk, dict):
        return [StepEvent(str(node), dict(update or {})) for node, update in chunk.items()]
    return []
