"""One set of search filters everywhere: SearchFilters, the agent's context (Studio), the CLI and the agent's tool.

A filter added to SearchFilters but missing in any of the others fails here, by name, type or option.
"""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

import pytest
import typer
from langchain_core.utils.function_calling import convert_to_openai_tool

from qwenvl_agents.agent import AgentContext
from qwenvl_agents.agent.tools import LookupFieldsArgs
from qwenvl_agents.cli import app
from qwenvl_agents.filter_fields import FILTER_FIELDS, FILTER_FIELDS_BY_NAME
from qwenvl_agents.retrieval import SearchFilters

SEARCH_FIELDS = [f.name for f in dataclasses.fields(SearchFilters)]
"""What the search takes: the reference every other place is held to."""


def test_search_filters_are_the_declared_fields_with_their_types_and_help() -> None:
    hints = get_type_hints(SearchFilters)
    assert [f.name for f in FILTER_FIELDS] == SEARCH_FIELDS
    for field in dataclasses.fields(SearchFilters):
        spec = FILTER_FIELDS_BY_NAME[field.name]
        assert hints[field.name] == spec.annotation(tuple), field.name
        assert field.metadata["description"] == spec.help


def test_the_agent_context_has_every_filter_flat_with_the_same_type_and_help() -> None:
    hints = get_type_hints(AgentContext)
    fields = {f.name: f for f in dataclasses.fields(AgentContext)}
    assert set(SEARCH_FIELDS) <= set(fields), sorted(set(SEARCH_FIELDS) - set(fields))
    for name in SEARCH_FIELDS:
        spec = FILTER_FIELDS_BY_NAME[name]
        assert hints[name] == spec.annotation(list), name
        assert fields[name].metadata["description"] == spec.help
    # Every filter the context holds reaches the search, and back.
    every = SearchFilters(
        documents=("a.pdf",), page_kinds=("invoice",), languages=("zh",), date_from="2026-01", date_to="2026-12",
        vendor="acme", min_total=1.5, max_total=99.0, currency="EUR", pages=(2, 3),
    )  # fmt: skip
    assert sorted(every.as_dict()) == sorted(SEARCH_FIELDS), "the example must set every filter"
    assert AgentContext(**every.as_dict()).filters() == every
    assert AgentContext.coerce(every.as_dict()).filters() == every  # as Studio sends it


@pytest.mark.parametrize("command", ["search", "ask", "chat"])
def test_every_filter_is_an_option_of_the_commands(command) -> None:
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    options = {p.name: p for p in click_command.params}
    assert set(SEARCH_FIELDS) <= set(options), sorted(set(SEARCH_FIELDS) - set(options))
    for name in SEARCH_FIELDS:
        spec = FILTER_FIELDS_BY_NAME[name]
        assert spec.option in options[name].opts
        assert options[name].multiple is spec.many, name


def test_the_lookup_fields_tool_takes_every_filter() -> None:
    schema = convert_to_openai_tool(LookupFieldsArgs, strict=True)["function"]["parameters"]
    assert [p for p in schema["properties"] if p not in ("operation", "field")] == SEARCH_FIELDS
    every = {name: [] if FILTER_FIELDS_BY_NAME[name].many else None for name in SEARCH_FIELDS}
    assert LookupFieldsArgs(operation="sum", field="total", **every)  # accepts exactly these, all required
    with pytest.raises(ValueError, match="pages"):
        LookupFieldsArgs(operation="sum", field="total", **{k: v for k, v in every.items() if k != "pages"})
