"""The tool-calling agent over a real index of the samples, with scripted fake models for the reasoning."""

from __future__ import annotations

import base64
import io
from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from PIL import Image

from qwenvl_agents.agent import AgentContext, build_agent_graph
from qwenvl_agents.agent.fields import format_amount
from qwenvl_agents.agent.prompts import FORCE_ANSWER, NOT_FOUND_TEXT
from qwenvl_agents.store import PageIndex
from tests.support.fakes import ScriptedChatModel, connection_error, fake_vision, image_parts, text_of, tool_call
from tests.unit.agent.helpers import answer

TOOLS = ["search_pages", "look_at_pages", "lookup_fields", "list_documents", "answer"]


def run(samples_index, model, vision=None, question="What is the total of invoice INV-2026-0042?", **ctx):
    graph = build_agent_graph(
        samples_index.settings,
        chat_model=model,
        vision_model=vision or fake_vision(),
        search=samples_index.search(),
    )
    return graph.invoke({"messages": [HumanMessage(question)]}, context=AgentContext(**ctx))


def tool_messages(state) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


def document_id(samples_index, name: str) -> str:
    docs = {d.name: d.document_id for d in PageIndex.open(samples_index.settings).documents()}
    return docs[name]


def test_search_then_look_then_answer_cites_the_page_it_looked_at(samples_index) -> None:
    model = ScriptedChatModel.of(
        tool_call("search_pages", query="INV-2026-0042 total", document=None),
        tool_call(
            "look_at_pages", question="What is the invoice total?", pages=[{"document": "invoice-en.pdf", "page": 1}]
        ),
        answer(
            "The total is USD 2,587.72 [invoice-en.pdf, p. 1].",
            [("invoice-en.pdf", 1), ("made-up.pdf", 4)],
        ),
    )
    vision = fake_vision("[invoice-en.pdf, p. 1]: TOTAL USD 2,587.72")
    budget = 64 * 28 * 28
    state = run(samples_index, model, vision, max_pixels=budget, min_pixels=16 * 28 * 28)

    # The search ran over the real index and found the invoice first.
    search_result, look_result = tool_messages(state)[:2]
    assert search_result.content.splitlines()[1].startswith("1. [invoice-en.pdf, p. 1]")

    # The page image went to the vision model as an image part of a user message, with the question.
    [[shown]] = vision.prompts
    assert isinstance(shown, HumanMessage)
    [part] = image_parts(shown)
    data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as image:
        assert image.width % 28 == 0 and image.height % 28 == 0
        assert image.width * image.height <= budget
    assert "What is the invoice total?" in text_of(shown) and "[invoice-en.pdf, p. 1]" in text_of(shown)
    # ... and its reading came back as text in the tool result; no tool message carries an image.
    assert "TOTAL USD 2,587.72" in look_result.content
    assert all(isinstance(m.content, str) for m in tool_messages(state))

    # The answer keeps the page it saw, canonical with its document id, and sets the invented one apart.
    doc_id = document_id(samples_index, "invoice-en.pdf")
    assert state["citations"] == [{"document": "invoice-en.pdf", "page": 1, "document_id": doc_id}]
    assert [(c["document"], c["page"]) for c in state["unverified_citations"]] == [("made-up.pdf", 4)]
    assert state["pages_looked_at"] == state["citations"]
    assert state["found"] is True and state["answer"].startswith("The total is USD 2,587.72")
    assert isinstance(state["messages"][-1], AIMessage) and state["messages"][-1].content == state["answer"]

    # Every model turn offered the five strict tools and required a tool call.
    assert len(model.bound) == 3
    for bound in model.bound:
        assert [t["function"]["name"] for t in bound["tools"]] == TOOLS
        assert bound["tool_choice"] == "required" and bound["strict"] is True
        assert bound["parallel_tool_calls"] is False  # one call per step unless the context allows more


def test_every_tool_call_gets_exactly_one_reply_so_the_history_stays_valid(samples_index) -> None:
    model = ScriptedChatModel.of(
        AIMessage(
            content="",
            tool_calls=[
                {"name": "list_documents", "args": {}, "id": "c1"},
                {"name": "no_such_tool", "args": {}, "id": "c2"},
                {"name": "look_at_pages", "args": {"question": "x", "pages": "oops"}, "id": "c3"},
            ],
        ),
        answer("Eight documents.", found=True),
    )
    state = run(samples_index, model, question="Which documents are there?")
    replies = {m.tool_call_id: m for m in tool_messages(state)}
    assert set(replies) == {"c1", "c2", "c3"} | {state["messages"][-3].tool_calls[0]["id"]}
    assert "invoice-en.pdf" in replies["c1"].content and "8 documents" in replies["c1"].content
    assert replies["c2"].status == "error" and "Unknown tool" in replies["c2"].content
    assert replies["c3"].status == "error" and "Invalid arguments for look_at_pages" in replies["c3"].content


def test_the_model_says_so_when_the_documents_do_not_hold_the_answer(samples_index) -> None:
    model = ScriptedChatModel.of(
        tool_call("search_pages", query="CEO shoe size", document=None),
        answer(NOT_FOUND_TEXT, found=False),
    )
    state = run(samples_index, model, question="What is the CEO's shoe size?")
    assert state["found"] is False and state["answer"] == NOT_FOUND_TEXT and state["citations"] == []


def test_at_the_step_limit_only_the_answer_tool_is_offered(samples_index) -> None:
    model = ScriptedChatModel.of(
        tool_call("search_pages", query="shoe size", document=None),
        tool_call("search_pages", query="shoes", document=None),
        answer(NOT_FOUND_TEXT, found=False),
    )
    state = run(samples_index, model, question="What is the CEO's shoe size?", max_steps=3)
    assert [len(b["tools"]) for b in model.bound] == [5, 5, 1]
    assert model.bound[-1]["tool_choice"] == "answer"
    assert FORCE_ANSWER in text_of(model.prompts[-1][0])
    assert state["found"] is False


def test_a_model_that_never_answers_is_stopped_with_a_not_found_answer(samples_index) -> None:
    model = ScriptedChatModel.of(*(tool_call("search_pages", query=f"q{n}", document=None) for n in range(2)))
    state = run(samples_index, model, question="Anything?", max_steps=2)
    assert len(model.prompts) == 2
    assert state["found"] is False and "could not finish within 2 steps" in state["answer"]
    calls = [c["id"] for m in state["messages"] if isinstance(m, AIMessage) for c in m.tool_calls]
    assert sorted(calls) == sorted(m.tool_call_id for m in tool_messages(state))


def test_a_plain_reply_with_tool_choice_auto_is_the_answer(samples_index) -> None:
    model = ScriptedChatModel.of(
        tool_call("search_pages", query="INV-2026-0042", document=None),
        AIMessage("The total is USD 2,587.72 [invoice-en.pdf, p. 1]."),
    )
    state = run(samples_index, model, tool_choice="auto")
    assert model.bound[0]["tool_choice"] == "auto"
    assert state["found"] is True and [(c["document"], c["page"]) for c in state["citations"]] == [
        ("invoice-en.pdf", 1)
    ]


def test_sum_over_invoices_and_receipts_is_exact_and_per_currency(samples_index) -> None:
    sum_args = dict(
        operation="sum", field="total", vendor=None, date_from=None, date_to=None,
        page_kinds=["invoice", "receipt"], documents=[], currency=None,
        languages=[], min_total=None, max_total=None, pages=[],
    )  # fmt: skip
    model = ScriptedChatModel.of(
        tool_call("lookup_fields", **sum_args),
        answer("USD 2,664.07 [invoice-en.pdf, p. 1] [receipt-en.jpg, p. 1]", [("invoice-en.pdf", 1)]),
    )
    state = run(samples_index, model, question="What do all invoices and receipts add up to?")
    [result] = tool_messages(state)[:1]

    # The expected sums come from the printed totals in samples.json, grouped by the currency the index holds.
    index = PageIndex.open(samples_index.settings)
    currency = {md["name"]: md.get("currency") for _, _, metas in index.iter_batches(
        {"record_type": "page"}, include_metadata=True) for md in metas if md}  # fmt: skip
    expected: dict[str | None, Decimal] = {}
    names = [n for n, f in samples_index.facts.items() if n.startswith(("invoice", "receipt"))]
    assert len(names) == 4
    for name in names:
        expected[currency[name]] = expected.get(currency[name], Decimal(0)) + samples_index.total(name)
    assert len([c for c in expected if c == "USD"]) == 1 and expected["USD"] != samples_index.total("invoice-en.pdf")
    for cur, value in expected.items():
        assert f"{cur or 'unknown currency'}: {format_amount(value)} from " in result.content
    assert "not added together" in result.content
    # Every page used is one the answer may cite: both USD pages verify.
    seen = {(p["document"], p["page"]) for p in state["pages_seen"]}
    assert seen == {(n, 1) for n in names}
    assert {(c["document"], c["page"]) for c in state["citations"]} == {("invoice-en.pdf", 1), ("receipt-en.jpg", 1)}


def test_lookup_fields_stays_within_the_runs_documents(samples_index) -> None:
    args = dict(
        operation="sum", field="total", vendor=None, date_from=None, date_to=None,
        page_kinds=[], documents=[], currency=None, languages=[], min_total=None, max_total=None, pages=[],
    )  # fmt: skip
    model = ScriptedChatModel.of(tool_call("lookup_fields", **args), answer("ok", found=True))
    state = run(samples_index, model, documents=["receipt-en.jpg"])
    [result] = tool_messages(state)[:1]
    assert result.content.splitlines()[1] == (
        f"USD: {format_amount(samples_index.total('receipt-en.jpg'))} from 1 page: "
        f"[receipt-en.jpg, p. 1] {format_amount(samples_index.total('receipt-en.jpg'))}"
    )
    assert "receipt-en.jpg" in text_of(model.prompts[0][0])  # the scope is in the system prompt


@pytest.mark.parametrize("kb", ["other-kb"])
def test_a_graph_with_an_injected_search_refuses_another_knowledge_base(samples_index, kb) -> None:
    model = ScriptedChatModel.of(tool_call("list_documents"), answer("x"))
    state = run(samples_index, model, knowledge_base=kb)
    [reply] = tool_messages(state)[:1]
    assert reply.status == "error" and "not 'other-kb'" in reply.content


def test_the_context_chooses_the_tools_offered(samples_index) -> None:
    model = ScriptedChatModel.of(answer(NOT_FOUND_TEXT, found=False))
    run(samples_index, model, tools=["search_pages", "lookup_fields"])
    assert [t["function"]["name"] for t in model.bound[0]["tools"]] == ["search_pages", "lookup_fields", "answer"]
    system = text_of(model.prompts[0][0])
    assert "lookup_fields" in system and "look_at_pages" not in system
    with pytest.raises(ValueError, match="unknown tools"):
        AgentContext(tools=["rm_rf"])


def test_a_tool_left_out_cannot_be_called(samples_index) -> None:
    model = ScriptedChatModel.of(tool_call("list_documents"), answer("x"))
    state = run(samples_index, model, tools=["search_pages"])
    [reply] = tool_messages(state)[:1]
    assert reply.status == "error" and "Unknown tool 'list_documents'" in reply.content


def test_model_server_errors_are_explained(samples_index) -> None:
    from qwenvl_agents.errors import VLMConnectionError

    with pytest.raises(VLMConnectionError, match="cannot reach"):
        run(samples_index, ScriptedChatModel.failing(connection_error()))


class _SmallContextModel(ScriptedChatModel):
    """Refuses prompts longer than ``limit`` characters, as vLLM refuses prompts over --max-model-len."""

    limit: int = 0

    def respond(self, messages):  # type: ignore[no-untyped-def]
        from qwenvl_agents.errors import VLMRequestError

        size = sum(len(text_of(m)) for m in messages)
        if size > self.limit:  # the refused prompt is recorded too
            raise VLMRequestError(f"the prompt is too long for the server ({size} > {self.limit})")
        return super().respond(messages)


def test_a_prompt_over_the_servers_context_is_retried_with_shorter_tool_results(samples_index) -> None:
    model = _SmallContextModel(
        messages=iter(
            [
                tool_call("search_pages", query="invoice total", document=None),
                answer("The total is 2,587.72.", found=True),
            ]
        )
    )
    model.limit = 10**9  # first, measure the prompt with the whole search result
    run(samples_index, model, fake_vision("-"))
    full_prompt = model.prompts[-1]
    tool_chars = sum(len(text_of(m)) for m in full_prompt if isinstance(m, ToolMessage))
    assert tool_chars > 600  # the search result is long enough to shorten

    small = _SmallContextModel(
        messages=iter(
            [
                tool_call("search_pages", query="invoice total", document=None),
                answer("The total is 2,587.72.", found=True),
            ]
        )
    )
    # Room for the system prompt and question, not for the whole search result.
    small.limit = sum(len(text_of(m)) for m in full_prompt) - tool_chars + 600
    state = run(samples_index, small, fake_vision("-"))
    assert state["answer"] == "The total is 2,587.72."
    refused, accepted = small.prompts[-2], small.prompts[-1]
    assert sum(len(text_of(m)) for m in refused) > small.limit
    shortened = [m for m in accepted if isinstance(m, ToolMessage)]
    assert shortened and all("shortened to fit" in text_of(m) for m in shortened)
    # The thread keeps the full results; only what was sent was shortened.
    assert all("shortened" not in text_of(m) for m in state["messages"] if isinstance(m, ToolMessage))


def test_a_prompt_that_never_fits_fails_with_the_servers_reason(samples_index) -> None:
    from qwenvl_agents.errors import VLMRequestError

    model = _SmallContextModel(messages=iter([answer("never")]))
    model.limit = 10
    with pytest.raises(VLMRequestError, match="too long"):
        run(samples_index, model, fake_vision("-"))
