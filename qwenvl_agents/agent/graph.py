"""The tool-calling agent as a LangGraph graph: the model searches, looks at page images, computes over
stored fields, and ends by calling the ``answer`` tool with its citations.

``agent`` (the model picks tools) → ``tools`` (runs them) → ``agent`` ... → ``finalize`` (checks the
answer's citations against the pages the tools showed, writes ``answer``/``found``/``citations`` to the
state and the answer as the last AI message). The answer is a tool so that it carries a structured
citation list on every server, including those where ``tool_choice`` must be ``required``; at the last
allowed step only the answer tool is offered and the model is told to answer.

Stream with ``stream_mode=["updates", "messages"]``: ``updates`` gives each step (tool calls, tool results,
the answer), ``messages`` the model's tokens (node ``agent``; the vision model's reading has node ``tools``).

Example (needs a vLLM server with Qwen2.5-VL and an ingested knowledge base):
    >>> from langchain_core.messages import HumanMessage
    >>> graph = build_agent_graph()
    >>> out = graph.invoke({"messages": [HumanMessage("What is the total of invoice INV-2026-0042?")]},
    ...                    context=AgentContext(k=4))  # doctest: +SKIP
    >>> out["answer"], out["citations"]  # doctest: +SKIP
    ('The total is USD 2,587.72 [invoice-en.pdf, p. 1].', [{'document': 'invoice-en.pdf', 'page': 1, ...}])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.runnables.config import ContextThreadPoolExecutor
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import ValidationError

from qwenvl_agents.agent.citations import check_citations
from qwenvl_agents.agent.context import AgentContext
from qwenvl_agents.agent.prompts import FORCE_ANSWER, NOT_FOUND_TEXT, agent_system
from qwenvl_agents.agent.resources import AgentResources
from qwenvl_agents.agent.state import AgentState, InputState, artifact_pages, compact_history, turn_messages
from qwenvl_agents.agent.tools import ANSWER_TOOL, AgentTools
from qwenvl_agents.errors import QwenVLError, VLMRequestError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from qwenvl_agents.retrieval import PageSearch
    from qwenvl_agents.settings import Settings


def scope_lines(ctx: AgentContext) -> list[str]:
    """The run's filters in words, for the system prompt."""
    out = []
    if ctx.documents:
        out.append("documents " + ", ".join(ctx.documents))
    if ctx.page_kinds:
        out.append("pages of kind " + ", ".join(ctx.page_kinds))
    if ctx.languages:
        out.append("pages in language " + ", ".join(ctx.languages))
    if ctx.pages:
        out.append("page numbers " + ", ".join(map(str, ctx.pages)))
    if ctx.date_from or ctx.date_to:
        out.append(f"dates {ctx.date_from or '...'} to {ctx.date_to or '...'}")
    if ctx.vendor:
        out.append(f"vendor {ctx.vendor}")
    if ctx.min_total is not None or ctx.max_total is not None:
        out.append(f"totals {ctx.min_total if ctx.min_total is not None else '...'} to {ctx.max_total or '...'}")
    if ctx.currency:
        out.append(f"currency {ctx.currency}")
    return out


SHORTEN_TOOL_RESULTS = (1500, 500, 150)
"""Characters each tool result keeps on successive retries after the server says the prompt is too long."""


def shorten_tool_results(messages: Sequence[BaseMessage], keep: int) -> list[BaseMessage]:
    """``messages`` with every tool result cut to ``keep`` characters (marked as shortened).

    Example:
        >>> print(shorten_tool_results([ToolMessage("x" * 10, tool_call_id="1")], 4)[0].content)
        xxxx… [shortened to fit the model's context]
    """
    out: list[BaseMessage] = []
    for m in messages:
        if isinstance(m, ToolMessage) and isinstance(m.content, str) and len(m.content) > keep:
            m = m.model_copy(update={"content": m.content[:keep] + "… [shortened to fit the model's context]"})
        out.append(m)
    return out


def steps_taken(messages: Sequence[BaseMessage]) -> int:
    """Model calls made for the current question."""
    return sum(isinstance(m, AIMessage) for m in turn_messages(messages)[1:])


def _answer_call(message: BaseMessage) -> dict[str, Any] | None:
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            if call["name"] == ANSWER_TOOL:
                return dict(call)
    return None


def _run_call(tools: dict[str, BaseTool], call: dict[str, Any]) -> ToolMessage:
    name, call_id = call["name"], call["id"] or ""
    tool = tools.get(name)
    if tool is None:
        known = ", ".join(tools)
        return ToolMessage(f"Unknown tool {name!r}; the tools are {known}.", tool_call_id=call_id, status="error")
    try:
        result = tool.invoke({**call, "type": "tool_call"})
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return ToolMessage(f"Invalid arguments for {name}: {errors}", tool_call_id=call_id, name=name, status="error")
    except Exception as exc:  # a failing tool is reported to the model, which may try otherwise
        return ToolMessage(f"{name} failed: {exc}", tool_call_id=call_id, name=name, status="error")
    assert isinstance(result, ToolMessage)
    return result


def build_agent_graph(
    settings: Settings | None = None,
    *,
    chat_model: BaseChatModel | None = None,
    vision_model: BaseChatModel | None = None,
    search: PageSearch | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the agent graph (``name="agent"``, ``context_schema=AgentContext``).

    ``chat_model`` picks tools and answers, ``vision_model`` reads page images (default: ``chat_model``);
    both default to the configured Qwen2.5-VL server. ``search`` defaults to the context's knowledge base.
    Pass a ``checkpointer`` for conversations with memory (the Studio graph is compiled without one).
    """
    resources = AgentResources(settings, chat_model=chat_model, vision_model=vision_model, search=search)
    return compile_agent_graph(resources, checkpointer)


def compile_agent_graph(
    resources: AgentResources, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The agent graph over shared :class:`AgentResources` (several compiled graphs can share one)."""

    def agent(state: AgentState, runtime: Runtime[AgentContext]) -> Command[Literal["tools", "finalize"]]:
        ctx = AgentContext.coerce(runtime.context)
        messages = state.get("messages") or []
        if not messages:
            raise ValueError('the agent graph needs input {"messages": [{"role": "user", "content": "..."}]}')
        steps = steps_taken(messages)
        offered = ctx.tool_names
        tools = [t for t in AgentTools(resources, ctx, state.get("pages_seen") or []).as_tools() if t.name in offered]
        model = resources.chat_model(ctx)
        system = agent_system(scope_lines(ctx), offered)
        try:
            if steps >= ctx.max_steps - 1:
                answer_tool = [t for t in tools if t.name == ANSWER_TOOL]
                bound = model.bind_tools(answer_tool, strict=True, tool_choice=ANSWER_TOOL, parallel_tool_calls=False)
                system = f"{system}\n\n{FORCE_ANSWER}"
            else:
                bound = model.bind_tools(
                    tools, strict=True, tool_choice=ctx.tool_choice, parallel_tool_calls=ctx.parallel_tool_calls
                )
        except NotImplementedError as exc:
            # An in-process backend has no tool-call parser: say so, and name the graph that needs none.
            why = str(exc) or f"{type(model).__name__} cannot call tools"
            if "--graph rag" not in why:
                why += "; use `qwenvl ask --graph rag` (build_rag_graph), which needs no tool calls"
            raise VLMRequestError(f"the agent graph calls tools: {why}") from exc
        conversation = [SystemMessage(system), *compact_history(messages, ctx.history_turns)]
        for keep in (*SHORTEN_TOOL_RESULTS, None):
            try:
                response = bound.invoke(conversation, config={"tags": ["agent"]})
                break
            except Exception as exc:
                error = exc if isinstance(exc, QwenVLError) else resources.explain(exc)
                if keep is None or "too long" not in str(error):
                    raise error from exc
                # The server's context is full: the tool results read so far are the bulk, so shorten them
                # (more each time) rather than fail the question.
                conversation = shorten_tool_results(conversation, keep)
        pending = isinstance(response, AIMessage) and bool(response.tool_calls or response.invalid_tool_calls)
        done = _answer_call(response) is not None or not pending or steps + 1 >= ctx.max_steps
        return Command(update={"messages": [response]}, goto="finalize" if done else "tools")

    def run_tools(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = AgentContext.coerce(runtime.context)
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        offered = ctx.tool_names
        tools = {
            t.name: t for t in AgentTools(resources, ctx, state.get("pages_seen") or []).as_tools() if t.name in offered
        }
        calls = [dict(c) for c in last.tool_calls]
        if len(calls) > 1:
            with ContextThreadPoolExecutor(max_workers=min(len(calls), 4)) as pool:
                results = list(pool.map(lambda c: _run_call(tools, c), calls))
        else:
            results = [_run_call(tools, c) for c in calls]
        for bad in last.invalid_tool_calls:
            results.append(
                ToolMessage(
                    f"The arguments of {bad.get('name')} could not be read ({bad.get('error') or 'not JSON'}); "
                    "call it again with arguments that follow its schema.",
                    tool_call_id=bad.get("id") or "",
                    status="error",
                )
            )
        return {"messages": results, "pages_seen": artifact_pages(results, "seen")}

    def finalize(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = AgentContext.coerce(runtime.context)
        messages = state["messages"]
        last = messages[-1]
        replies: list[BaseMessage] = []
        call = _answer_call(last)
        found: bool | None
        if call is not None:
            args = call.get("args") or {}
            text = str(args.get("text") or "").strip()
            cited = [c for c in args.get("citations") or [] if isinstance(c, dict)]
            found = args["found"] if isinstance(args.get("found"), bool) else None
        elif isinstance(last, AIMessage) and not (last.tool_calls or last.invalid_tool_calls):
            text, cited, found = last.text.strip(), [], None  # a plain reply (tool_choice="auto")
        else:
            text, cited, found = f"I could not finish within {ctx.max_steps} steps. {NOT_FOUND_TEXT}", [], False
        if isinstance(last, AIMessage):
            ids = [(c["id"] or "", c["name"]) for c in last.tool_calls] + [
                (c.get("id") or "", c.get("name") or "") for c in last.invalid_tool_calls
            ]
            for call_id, name in ids:
                done = call is not None and call_id == call["id"]
                reply = (
                    "Answer recorded." if done else "Not run: the answer was already given or the step limit reached."
                )
                replies.append(
                    ToolMessage(reply, tool_call_id=call_id, name=name or None, status="success" if done else "error")
                )
        verified, unverified = check_citations(text, cited, state.get("pages_seen") or [])
        if found is None:
            found = bool(verified)
        if not text:
            text, found = NOT_FOUND_TEXT, False
        if call is not None or replies:
            replies.append(AIMessage(content=text, name=ANSWER_TOOL))
        return {
            "messages": replies,
            "answer": text,
            "found": found,
            "citations": verified,
            "unverified_citations": unverified,
            "pages_looked_at": artifact_pages(turn_messages(messages), "looked"),
        }

    builder = StateGraph(AgentState, context_schema=AgentContext, input_schema=InputState)
    builder.add_node("agent", agent, destinations=("tools", "finalize"))
    builder.add_node("tools", run_tools)
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "agent")
    builder.add_edge("tools", "agent")
    builder.add_edge("finalize", END)
    return builder.compile(checkpointer=checkpointer, name="agent")
