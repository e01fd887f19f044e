"""The RAG graph (no tool calling) over the real sample index, with a recording fake vision model."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from qwenvl_agents.agent import AgentContext, build_rag_graph
from qwenvl_agents.agent.prompts import NOT_FOUND_TEXT
from tests.support.fakes import fake_vision, image_parts, text_of


def rag(samples_index, vision, question, **ctx):
    graph = build_rag_graph(samples_index.settings, chat_model=vision, search=samples_index.search())
    return graph.invoke({"messages": [HumanMessage(question)]}, context=AgentContext(**ctx))


def test_rag_shows_the_best_pages_and_cites_what_the_answer_names(samples_index) -> None:
    said = "USD 2,587.72 [invoice-en.pdf, p. 1] and [ghost.pdf, p. 2]"
    vision = fake_vision(said)
    state = rag(samples_index, vision, "What is the total of invoice INV-2026-0042?", k=4, look_pages=2)
    [[system, shown]] = vision.prompts
    assert isinstance(system, SystemMessage) and isinstance(shown, HumanMessage)
    assert len(image_parts(shown)) == 2 and "INV-2026-0042" in text_of(shown)
    assert state["retrieved"][0]["document"] == "invoice-en.pdf" and len(state["retrieved"]) == 4
    assert len(state["pages_looked_at"]) == 2 and state["pages_looked_at"][0]["document"] == "invoice-en.pdf"
    assert [(c["document"], c["page"]) for c in state["citations"]] == [("invoice-en.pdf", 1)]
    assert [(c["document"], c["page"]) for c in state["unverified_citations"]] == [("ghost.pdf", 2)]
    assert state["found"] is True and state["answer"] == said


def test_rag_cites_every_page_shown_when_the_answer_names_none(samples_index) -> None:
    vision = fake_vision("It is USD 2,587.72.")
    state = rag(samples_index, vision, "What is the total of invoice INV-2026-0042?", look_pages=3)
    assert state["citations"] == state["pages_looked_at"] and len(state["citations"]) == 3


def test_rag_without_matching_pages_says_not_found_without_asking_the_model(samples_index) -> None:
    vision = fake_vision()
    state = rag(samples_index, vision, "What is the total?", vendor="no such vendor")
    assert vision.prompts == []
    assert state["found"] is False and state["answer"] == NOT_FOUND_TEXT and state["citations"] == []


def test_rag_passes_on_the_models_not_found(samples_index) -> None:
    vision = fake_vision(NOT_FOUND_TEXT)
    state = rag(samples_index, vision, "What is the CEO's shoe size?")
    assert vision.prompts and state["found"] is False and state["citations"] == []
    assert state["pages_looked_at"]  # it did look


def test_rag_thread_sends_earlier_turns_as_text_and_only_the_new_pages(samples_index) -> None:
    from qwenvl_agents.agent import DocumentChat

    said = "USD 2,587.72 [invoice-en.pdf, p. 1]"
    vision = fake_vision(said)
    chat = DocumentChat(samples_index.settings, graph="rag", chat_model=vision, search=samples_index.search())
    chat.invoke("What is the total of invoice INV-2026-0042?", context=AgentContext(look_pages=1))
    chat.invoke("Who issued it?", context=AgentContext(look_pages=1))
    _system, q1, a1, q2 = vision.prompts[-1]
    assert text_of(q1) == "What is the total of invoice INV-2026-0042?" and text_of(a1) == said
    assert image_parts(q1) == [] and len(image_parts(q2)) == 1 and "Who issued it?" in text_of(q2)
