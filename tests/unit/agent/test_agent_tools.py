"""The agent's tools on their own: strict schemas, looking at pages within the image limit, failures as text."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from qwenvl_agents.agent import AgentContext, AgentResources, AgentTools
from qwenvl_agents.agent.tools import TOOL_SCHEMAS
from qwenvl_agents.retrieval import PageSearch
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import PageIndex
from qwenvl_agents.types import DocumentInfo, PageExtraction
from tests.support.fakes import connection_error, fake_vision, image_parts, text_of


def strict_problems(schema: dict[str, Any], path: str = "$") -> list[str]:
    """Why a JSON schema is not a valid strict OpenAI function schema (empty when it is)."""
    problems = []
    if "default" in schema:
        problems.append(f"{path}: has a default")
    if schema.get("type") == "object":
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            problems.append(f"{path}: additionalProperties is not false")
        if sorted(schema.get("required", [])) != sorted(props):
            problems.append(f"{path}: not every property is required")
        for name, sub in props.items():
            problems += strict_problems(sub, f"{path}.{name}")
    for key in ("anyOf", "allOf", "oneOf"):
        for n, sub in enumerate(schema.get(key, [])):
            problems += strict_problems(sub, f"{path}.{key}[{n}]")
    if "items" in schema:
        problems += strict_problems(schema["items"], f"{path}[]")
    if "$ref" in schema or "$defs" in schema:
        problems.append(f"{path}: uses $ref/$defs")
    return problems


def test_strict_problems_catches_what_strict_mode_refuses() -> None:
    assert strict_problems({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}})


@pytest.mark.parametrize("name", sorted(TOOL_SCHEMAS))
def test_tool_schemas_are_strict_openai_schemas(name) -> None:
    tool = convert_to_openai_tool(TOOL_SCHEMAS[name], strict=True)
    assert tool["function"]["strict"] is True
    assert strict_problems(tool["function"]["parameters"]) == []


def test_the_bound_tools_have_the_same_strict_schemas(samples_index) -> None:
    tools = AgentTools(AgentResources(samples_index.settings), AgentContext()).as_tools()
    for tool in tools:
        schema = convert_to_openai_tool(tool, strict=True)["function"]
        assert strict_problems(schema["parameters"]) == [], tool.name
        assert schema["description"]
    nullable = convert_to_openai_tool(tools[0], strict=True)["function"]["parameters"]["properties"]["document"]
    assert {"type": "null"} in nullable["anyOf"]


def test_every_array_is_bounded_so_constrained_decoding_ends() -> None:
    def arrays(schema: dict[str, Any]) -> list[dict[str, Any]]:
        found = [schema] if schema.get("type") == "array" else []
        items = [schema["items"]] if "items" in schema else []
        for sub in [*schema.get("properties", {}).values(), *schema.get("anyOf", []), *items]:
            found += arrays(sub)
        return found

    for name, model in TOOL_SCHEMAS.items():
        for array in arrays(convert_to_openai_tool(model, strict=True)["function"]["parameters"]):
            assert 1 <= array.get("maxItems", 0) <= 16, name


def tools_for(samples_index, vision, settings: Settings | None = None, search=None, **ctx) -> AgentTools:
    resources = AgentResources(
        settings or samples_index.settings, vision_model=vision, search=search or samples_index.search()
    )
    return AgentTools(resources, AgentContext(**ctx))


SLIDES = [{"document": "slides-en.pptx", "page": n} for n in (1, 2, 3)]


def test_pages_beyond_the_servers_image_limit_go_in_several_requests(samples_index) -> None:
    settings = samples_index.settings.model_copy(update={"vlm_max_images_per_prompt": 2})
    vision = fake_vision("slide text")
    result = tools_for(samples_index, vision, settings, look_pages=3).look_at_pages("What do they say?", SLIDES)
    counts = sorted(len(image_parts(m)) for [m] in vision.prompts)
    assert counts == [1, 2]
    assert [(r["document"], r["page"]) for r in result.looked] == [("slides-en.pptx", n) for n in (1, 2, 3)]
    assert result.content.count("slide text") == 2 and result.usage["input_tokens"] == 200
    labels = sorted([line for line in text_of(m).splitlines() if line.startswith("Image ")] for [m] in vision.prompts)
    # Each request names exactly the pages it shows, in the order of its images.
    assert labels == [["Image 1: [slides-en.pptx, p. 1]", "Image 2: [slides-en.pptx, p. 2]"],
                      ["Image 1: [slides-en.pptx, p. 3]"]]  # fmt: skip


def test_look_pages_sets_the_images_per_request(samples_index) -> None:
    vision = fake_vision()
    tools_for(samples_index, vision, look_pages=1).look_at_pages("What do they say?", SLIDES)
    assert [len(image_parts(m)) for [m] in vision.prompts] == [1, 1, 1]


def test_vision_errors_and_unknown_pages_become_tool_results(samples_index) -> None:
    vision = fake_vision(error=connection_error())
    tools = tools_for(samples_index, vision)
    result = tools.look_at_pages("total?", [{"document": "invoice-en.pdf", "page": 1}])
    assert "Could not look at these pages" in result.content and "cannot reach" in result.content
    result = tools.look_at_pages(
        "total?", [{"document": "invoice-en.pdf", "page": 7}, {"document": "nope.pdf", "page": 1}]
    )
    assert "[invoice-en.pdf, p. 7]: no such page" in result.content
    assert "no indexed document matches 'nope.pdf'" in result.content
    assert result.looked == [] and len(vision.prompts) == 1


def test_a_page_without_a_stored_image_is_reported_with_its_text(samples_index, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    index = PageIndex.open(settings)
    doc = DocumentInfo(hashlib.sha256(b"memo").hexdigest(), "/in/memo.pdf", "memo.pdf", "pdf", "pdf", 4, 1)
    index.upsert_page(doc, PageExtraction(doc.document_id, 1, "Memo: the budget is 12,000 EUR.", "text"))
    vision = fake_vision()
    result = tools_for(samples_index, vision, settings, search=PageSearch(index)).look_at_pages(
        "budget?", [{"document": "memo.pdf", "page": 1}]
    )
    assert vision.prompts == []
    assert "[memo.pdf, p. 1]: no stored page image" in result.content and "12,000 EUR" in result.content
    assert result.looked == [] and [r["document"] for r in result.seen] == ["memo.pdf"]


def test_search_pages_applies_the_document_argument_and_the_runs_scope(samples_index) -> None:
    tools = tools_for(samples_index, fake_vision(), documents=["invoice-en.pdf", "receipt-en.jpg"])
    result = tools.search_pages("total", "receipt-en.jpg")
    assert {r["document"] for r in result.seen} == {"receipt-en.jpg"}
    assert "outside the documents" in tools.search_pages("total", "report-en.pdf").content
    unscoped = tools_for(samples_index, fake_vision(), k=2).search_pages("total", None)
    assert len(unscoped.seen) == 2


def test_tools_run_as_langchain_tools_with_pages_as_artifacts(samples_index) -> None:
    tools = {t.name: t for t in tools_for(samples_index, fake_vision()).as_tools()}
    call = {
        "name": "search_pages",
        "args": {"query": "INV-2026-0042", "document": None},
        "id": "1",
        "type": "tool_call",
    }
    message = tools["search_pages"].invoke(call)
    assert message.artifact["seen"][0]["document"] == "invoice-en.pdf"
    assert isinstance(HumanMessage(message.content).content, str)


NO_FILTERS: dict[str, Any] = {
    "documents": [], "page_kinds": [], "languages": [], "date_from": None, "date_to": None, "vendor": None,
    "min_total": None, "max_total": None, "currency": None, "pages": [],
}  # fmt: skip
ZH = {"invoice-zh.pdf", "receipt-zh.jpg", "slides-zh.pptx", "report-zh.pdf"}


def test_the_contexts_languages_and_pages_reach_the_tools_searches(samples_index) -> None:
    vision = fake_vision("unused")
    found = tools_for(samples_index, vision, languages=["zh"], k=10).search_pages("total report slide invoice")
    assert found.seen and {r["document"] for r in found.seen} <= ZH
    second = tools_for(samples_index, vision, pages=[2], k=10).search_pages("report slide")
    assert second.seen and {r["page"] for r in second.seen} == {2}

    rows = tools_for(samples_index, vision, languages=["zh"]).lookup_fields("list", "total", **NO_FILTERS)
    assert {r["document"] for r in rows.seen} == ZH
    rows = tools_for(samples_index, vision, pages=[2]).lookup_fields("list", "total", **NO_FILTERS)
    assert {(r["document"], r["page"]) for r in rows.seen} == {
        (name, 2) for name in ("slides-en.pptx", "slides-zh.pptx", "report-en.pdf", "report-zh.pdf")
    }


def test_lookup_fields_narrows_by_every_filter_it_is_given(samples_index) -> None:
    tools = tools_for(samples_index, fake_vision("unused"))
    rows = tools.lookup_fields("list", "total", **{**NO_FILTERS, "languages": ["zh"], "pages": [1]})
    assert {(r["document"], r["page"]) for r in rows.seen} == {(name, 1) for name in ZH}
    big = tools.lookup_fields("list", "total", **{**NO_FILTERS, "min_total": 1000, "max_total": None})
    assert big.seen and all(samples_index.total(r["document"]) >= 1000 for r in big.seen)
