"""DocumentChat: answers as records, memory per thread (in memory and in SQLite), streaming, async."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from qwenvl_agents.agent import AgentContext, Answer, DocumentChat, StepEvent, TokenEvent
from qwenvl_agents.types import Citation
from tests.support.fakes import ScriptedChatModel, fake_vision, text_of, tool_call
from tests.unit.agent.helpers import answer

Q1 = "What is the total of invoice INV-2026-0042?"
Q2 = "And in words?"
A1 = "The total is USD 2,587.72 [invoice-en.pdf, p. 1]."


def two_turns() -> ScriptedChatModel:
    return ScriptedChatModel.of(
        tool_call("search_pages", query="INV-2026-0042", document=None),
        answer(A1, [("invoice-en.pdf", 1)]),
        # The second turn cites the page seen in the first one without searching again.
        answer("Two thousand five hundred eighty-seven dollars [invoice-en.pdf, p. 1].", [("invoice-en.pdf", 1)]),
    )


def chat(samples_index, model, **kw) -> DocumentChat:
    return DocumentChat(
        samples_index.settings, chat_model=model, vision_model=fake_vision(), search=samples_index.search(), **kw
    )


def test_the_second_turn_of_a_thread_sees_the_first(samples_index) -> None:
    model = two_turns()
    c = chat(samples_index, model)
    first = c.invoke(Q1)
    assert isinstance(first, Answer) and first.text == A1 and first.found
    assert [(x.document, x.page) for x in first.citations] == [("invoice-en.pdf", 1)]
    assert first.citations[0].document_id and first.thread_id == c.thread_id
    second = c.invoke(Q2)
    prompt = model.prompts[-1]
    texts = [text_of(m) for m in prompt]
    assert Q1 in texts and A1 in texts and texts[-1] == Q2
    # Earlier turns reach the model as question and answer; their tool traffic stays in the thread only.
    assert [type(m).__name__ for m in prompt] == ["SystemMessage", "HumanMessage", "AIMessage", "HumanMessage"]
    assert any(isinstance(m, ToolMessage) for m in c.history())
    assert second.citations == first.citations  # a page seen in the thread's first turn verifies
    assert [m.content for m in c.history() if isinstance(m, HumanMessage)] == [Q1, Q2]


def test_history_turns_bounds_what_the_model_sees_of_the_thread(samples_index) -> None:
    model = ScriptedChatModel.of(answer("one"), answer("two"), answer("three"), answer("four"))
    c = chat(samples_index, model, context=AgentContext(history_turns=1))
    for question in ("Q-a", "Q-b", "Q-c"):
        c.invoke(question)
    assert [text_of(m) for m in model.prompts[-1][1:]] == ["Q-b", "two", "Q-c"]
    c.invoke("Q-d", context=AgentContext(history_turns=0))
    assert [text_of(m) for m in model.prompts[-1][1:]] == ["Q-d"]


def test_threads_are_kept_apart(samples_index) -> None:
    model = ScriptedChatModel.of(answer("a"), answer("b", [("invoice-en.pdf", 1)]))
    c = chat(samples_index, model)
    c.invoke(Q1, thread_id="one")
    other = c.invoke(Q2, thread_id="two")
    assert Q1 not in [text_of(m) for m in model.prompts[-1]]
    assert other.citations == () and [str(x) for x in other.unverified_citations] == ["[invoice-en.pdf, p. 1]"]


def test_sqlite_threads_survive_a_new_chat_object(samples_index, tmp_path) -> None:
    path = tmp_path / "threads.sqlite"
    model = two_turns()
    with chat(samples_index, model, checkpointer="sqlite", threads_path=path, thread_id="t1") as c:
        c.invoke(Q1)
    assert path.is_file()
    with chat(samples_index, model, checkpointer="sqlite", threads_path=path, thread_id="t1") as c:
        assert [m.content for m in c.history() if isinstance(m, HumanMessage)] == [Q1]
        c.invoke(Q2)
    assert Q1 in [text_of(m) for m in model.prompts[-1]]


def test_sqlite_threads_default_to_the_data_dir_and_work_async(samples_index, tmp_path) -> None:
    settings = samples_index.settings.model_copy(update={"data_dir": tmp_path / "data"})
    model = two_turns()
    c = DocumentChat(
        settings, chat_model=model, vision_model=fake_vision(), search=samples_index.search(), checkpointer="sqlite"
    )
    assert c.threads_path == tmp_path / "data" / "threads.sqlite"
    first = asyncio.run(c.ainvoke(Q1))
    second = asyncio.run(c.ainvoke(Q2))  # another event loop, the same file
    assert first.text == A1 and second.citations == first.citations
    assert Q1 in [text_of(m) for m in model.prompts[-1]]
    assert [m.content for m in c.history() if isinstance(m, HumanMessage)] == [Q1, Q2]  # the sync view agrees
    c.close()


def test_stream_gives_steps_answer_tokens_and_the_answer_last(samples_index) -> None:
    model = ScriptedChatModel.of(
        tool_call("look_at_pages", question="total?", pages=[{"document": "invoice-en.pdf", "page": 1}]),
        answer(A1, [("invoice-en.pdf", 1)]),
    )
    events = list(chat(samples_index, model).stream(Q1))
    steps = [e.node for e in events if isinstance(e, StepEvent)]
    assert steps == ["agent", "tools", "agent", "finalize"]
    first_step = next(e for e in events if isinstance(e, StepEvent))
    assert [c["name"] for c in first_step.tool_calls] == ["look_at_pages"]
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert "".join(t.text for t in tokens if t.source == "answer") == A1
    assert len([t for t in tokens if t.source == "answer"]) > 3  # it arrived in pieces
    assert any(t.source == "look" for t in tokens)  # the vision model's reading streams too
    final = events[-1]
    assert isinstance(final, Answer) and final.text == A1
    assert final.pages_looked_at == (Citation("invoice-en.pdf", 1, final.citations[0].document_id),)
    assert final.input_tokens == 100 and final.output_tokens == 10  # the look's usage


def test_astream_and_rag_chat(samples_index) -> None:
    vision = fake_vision(A1)
    c = DocumentChat(samples_index.settings, graph="rag", chat_model=vision, search=samples_index.search())

    async def go() -> list:
        return [e async for e in c.astream(Q1, context=AgentContext(look_pages=1))]

    events = asyncio.run(go())
    assert [e.node for e in events if isinstance(e, StepEvent)] == ["retrieve", "look", "finish"]
    assert "".join(e.text for e in events if isinstance(e, TokenEvent) and e.source == "answer") == A1
    final = events[-1]
    assert isinstance(final, Answer) and [str(x) for x in final.citations] == ["[invoice-en.pdf, p. 1]"]
    assert final.input_tokens == 100


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="graph"):
        DocumentChat(graph="react")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="checkpointer"):
        DocumentChat(checkpointer="redis")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="question"):
        DocumentChat(chat_model=ScriptedChatModel.of(AIMessage("x"))).invoke("  ")
