"""The agent and RAG graphs end to end against the real vLLM test server (tiny random Qwen2.5-VL).

The model's words mean nothing; what is asserted is the plumbing: strict tool calls with
``tool_choice="required"`` follow the tools' schemas, the graph always ends with an answer record whose
citations are real pages the run showed, page images reach the server within its limits, usage and
streamed tokens arrive, and a thread's second question carries the first.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

from qwenvl_agents.agent import AgentContext, AgentResources, AgentTools, Answer, DocumentChat, TokenEvent
from qwenvl_agents.agent import build_agent_graph as build_agent
from qwenvl_agents.agent.tools import TOOL_SCHEMAS
from qwenvl_agents.ingest import ingest
from qwenvl_agents.samples import write_samples
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import PageIndex

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

# The test server's context is 2,048 tokens and its tokenizer spends about two characters per token, so the
# runs offer a few tools at a time, retrieve few pages and cap the output.
SMALL = {"k": 2, "look_pages": 2, "max_tokens": 96}


@pytest.fixture(scope="module")
def settings(vllm_server, tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("agent-vllm")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=root / "data",
        vlm_base_url=vllm_server.base_url,
        vlm_model=vllm_server.model,
        vlm_max_images_per_prompt=4,
        min_pixels=16 * 784,
        max_pixels=96 * 784,
        vlm_timeout=60.0,
        vlm_max_retries=1,
    )
    write_samples(root / "samples")
    summary = ingest([root / "samples"], settings, extractor="text")
    assert summary.documents_new == 8
    return settings


def real_page(settings: Settings, ref: dict) -> bool:
    return PageIndex.open(settings).get_page(ref["document_id"], ref["page"]) is not None


@pytest.mark.parametrize(
    ("tools", "steps"), [(["search_pages", "look_at_pages"], 4), (["lookup_fields"], 3), (["list_documents"], 3)]
)
def test_agent_graph_ends_with_schema_valid_tool_calls_and_a_checked_answer(settings, tools, steps) -> None:
    graph = build_agent(settings)
    # Enough output for a whole call (a call cut at max_tokens would be parsed from partial JSON); lookup_fields
    # takes every search filter (12 arguments), which the random model fills with long strings.
    context = AgentContext(**{**SMALL, "max_tokens": 512}, max_steps=steps, tools=tools)
    chunks: list[AIMessageChunk] = []
    state: dict = {}
    question = {"messages": [HumanMessage("What is the total of invoice INV-2026-0042?")]}
    for mode, data in graph.stream(question, context=context, stream_mode=["updates", "messages", "values"]):
        if mode == "messages" and data[1].get("langgraph_node") == "agent":
            chunks.append(data[0])
        elif mode == "values":
            state = data

    model_turns = [m for m in state["messages"] if isinstance(m, AIMessage) and m.name != "answer"]
    assert 1 <= len(model_turns) <= steps
    offered = {*tools, "answer"}
    for turn in model_turns:
        assert turn.response_metadata.get("finish_reason") != "length", turn.usage_metadata
        assert turn.tool_calls and not turn.invalid_tool_calls  # required + strict: always a valid call
        for call in turn.tool_calls:
            assert call["name"] in offered
            TOOL_SCHEMAS[call["name"]].model_validate(call["args"])  # the arguments follow the schema
        assert turn.usage_metadata and turn.usage_metadata["input_tokens"] > 0
    assert model_turns[-1].tool_calls[-1]["name"] == "answer" or any(
        c["name"] == "answer" for c in model_turns[-1].tool_calls
    )
    # Every tool call got its reply, so the conversation can go on.
    calls = {c["id"] for m in model_turns for c in m.tool_calls}
    assert calls == {m.tool_call_id for m in state["messages"] if isinstance(m, ToolMessage)}
    # The answer record: text, found, and citations that are real pages the run showed.
    assert isinstance(state["answer"], str) and state["answer"] and isinstance(state["found"], bool)
    seen = {(p["document_id"], p["page"]) for p in state.get("pages_seen") or []}
    for ref in state["citations"]:
        assert (ref["document_id"], ref["page"]) in seen and real_page(settings, ref)
    # The model's tokens streamed: tool-call arguments arrived in pieces.
    assert sum(1 for c in chunks if c.tool_call_chunks) >= len(model_turns)


def tools_for(settings: Settings, **ctx: object) -> AgentTools:
    return AgentTools(AgentResources(settings), AgentContext(**ctx))  # type: ignore[arg-type]


SLIDES = [{"document": "slides-en.pptx", "page": n} for n in (1, 2, 3)]


def test_look_at_pages_sends_the_images_to_the_server_in_requests_within_its_limit(settings) -> None:
    result = tools_for(settings, look_pages=2, max_tokens=32).look_at_pages("What is on these slides?", SLIDES)
    assert "Could not look" not in result.content, result.content
    assert [(r["document"], r["page"]) for r in result.looked] == [("slides-en.pptx", n) for n in (1, 2, 3)]
    assert result.content.count("--- [slides-en.pptx") == 2  # two requests: 2 images, then 1
    assert result.usage["input_tokens"] > 3 * 16 and result.usage["output_tokens"] > 0  # >= 16 tokens per image


def test_more_images_than_the_server_takes_is_a_tool_result_not_a_crash(settings) -> None:
    unknown_limit = settings.model_copy(update={"vlm_max_images_per_prompt": None})
    pages = [*SLIDES, {"document": "slides-en.pptx", "page": 4}, {"document": "slides-en.pptx", "page": 5}]
    result = tools_for(unknown_limit, look_pages=5, k=5, max_tokens=16).look_at_pages("What is on them?", pages)
    assert "Could not look at these pages" in result.content
    assert "number of images" in result.content  # the server's refusal, explained


def test_rag_chat_streams_tokens_and_cites_the_pages_it_looked_at(settings) -> None:
    chat = DocumentChat(settings, graph="rag", context=AgentContext(k=3, look_pages=2, max_tokens=48))
    events = list(chat.stream("What is the total of invoice INV-2026-0042?"))
    tokens = [e for e in events if isinstance(e, TokenEvent) and e.source == "answer"]
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert tokens and "".join(t.text for t in tokens).strip() == answer.text
    assert len(answer.pages_looked_at) == 2
    index = PageIndex.open(settings)
    assert all(index.get_page(c.document_id, c.page) is not None for c in answer.pages_looked_at)
    if answer.found:
        assert answer.citations and set(answer.citations) <= set(answer.pages_looked_at)
    assert answer.input_tokens > 2 * 16 and answer.output_tokens > 0


def test_agent_chat_thread_carries_the_first_question_into_the_second(settings, tmp_path: Path) -> None:
    context = AgentContext(**SMALL, max_steps=2, tools=["search_pages"])
    with DocumentChat(settings, context=context, checkpointer="sqlite", threads_path=tmp_path / "t.sqlite") as chat:
        first = chat.invoke("What is the total of invoice INV-2026-0042?")
        second = asyncio.run(chat.ainvoke("And who issued it?"))
        history = chat.history()
    assert isinstance(first, Answer) and isinstance(second, Answer)
    assert [m.content for m in history if isinstance(m, HumanMessage)] == [
        "What is the total of invoice INV-2026-0042?",
        "And who issued it?",
    ]
    first_calls = [m for m in history if isinstance(m, AIMessage) and m.usage_metadata]
    # The second question's first model call was sent the whole first turn as well.
    turn_two = next(i for i, m in enumerate(history) if m.content == "And who issued it?")
    before = [m for m in first_calls if history.index(m) < turn_two]
    after = [m for m in first_calls if history.index(m) > turn_two]
    assert before and after
    assert after[0].usage_metadata["input_tokens"] > before[0].usage_metadata["input_tokens"] + 20  # type: ignore[index]
    assert first.input_tokens > 0 and second.input_tokens > 0
