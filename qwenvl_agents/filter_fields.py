"""The search filters' fields, declared once: name, type, help text, command-line option, tool hint.

Four places take search filters: :class:`~qwenvl_agents.retrieval.SearchFilters` (what the search applies),
:class:`~qwenvl_agents.agent.AgentContext` (flat fields, the form LangGraph Studio shows), the ``qwenvl
search`` / ``ask`` / ``chat`` options and the agent's ``lookup_fields`` tool. The CLI options and the tool's
arguments are built from :data:`FILTER_FIELDS`; the two dataclasses declare their fields with
:func:`filter_field` (so type checkers see them) and a test holds all four to the same fields.

This module imports nothing heavy: the CLI builds its options from it at import time without loading
the search.

Example:
    >>> [f.option for f in FILTER_FIELDS if f.many]
    ['--document', '--kind', '--language', '--page']
    >>> FILTER_FIELDS_BY_NAME["pages"].annotation(list)
    list[int]
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FilterField:
    """One search filter: a list of values (``many``: any of them matches) or one value (``None``: unset)."""

    name: str
    """Field of SearchFilters and AgentContext, argument of the lookup_fields tool."""
    option: str
    """Command-line option, repeatable when ``many``."""
    value_type: type
    """Type of one value: ``str``, ``int`` or ``float``."""
    many: bool
    help: str
    """Help of the option and description in LangGraph Studio."""
    hint: str | None = None
    """Short description in the tool's schema (every word is a token the model reads on each call)."""
    short: str | None = None
    """Short command-line option, e.g. ``-d``."""

    def annotation(self, sequence: Any = tuple) -> Any:
        """The field's type: ``sequence[value_type]`` when ``many`` (tuple in SearchFilters, list elsewhere),
        else ``value_type | None``."""
        item: Any = self.value_type
        if self.many:
            return types.GenericAlias(sequence, (item, ...) if sequence is tuple else (item,))
        return item | None


FILTER_FIELDS: tuple[FilterField, ...] = (
    FilterField("documents", "--document", str, True, "Only these documents: file names, paths or ids.", short="-d"),
    FilterField(
        "page_kinds",
        "--kind",
        str,
        True,
        "Only pages of these kinds: invoice, receipt, slide, report, table...",
        hint="e.g. invoice, receipt",
    ),
    FilterField("languages", "--language", str, True, "Only pages in these languages: en, zh...", hint="e.g. en, zh"),
    FilterField(
        "date_from", "--date-from", str, False, "Issue date on or after (YYYY-MM-DD, YYYY-MM or YYYY).", "YYYY-MM-DD"
    ),
    FilterField(
        "date_to", "--date-to", str, False, "Issue date on or before (YYYY-MM-DD, YYYY-MM or YYYY).", "YYYY-MM-DD"
    ),
    FilterField("vendor", "--vendor", str, False, "Only pages whose seller name contains this (any case)."),
    FilterField("min_total", "--min-total", float, False, "Only pages with a total of at least this."),
    FilterField("max_total", "--max-total", float, False, "Only pages with a total of at most this."),
    FilterField("currency", "--currency", str, False, "Only pages in this currency (ISO code, e.g. EUR)."),
    FilterField("pages", "--page", int, True, "Only these page numbers (from 1).", hint="page numbers from 1"),
)
"""Every search filter, in the order forms, options and tool arguments show them."""

FILTER_FIELDS_BY_NAME: dict[str, FilterField] = {f.name: f for f in FILTER_FIELDS}


def filter_field(name: str, *, sequence: type = tuple) -> Any:
    """The ``dataclasses.field`` of filter ``name``: unset by default, its help as ``description`` metadata
    (LangGraph Studio shows it). ``sequence`` is the container of a many-valued filter.

    Example:
        >>> @dataclasses.dataclass
        ... class Form:
        ...     vendor: str | None = filter_field("vendor")
        ...     pages: list[int] = filter_field("pages", sequence=list)
        >>> Form(), dataclasses.fields(Form)[0].metadata["description"]
        (Form(vendor=None, pages=[]), 'Only pages whose seller name contains this (any case).')
    """
    spec = FILTER_FIELDS_BY_NAME[name]
    metadata = {"description": spec.help}
    if not spec.many:
        return dataclasses.field(default=None, metadata=metadata)
    if sequence is tuple:
        return dataclasses.field(default=(), metadata=metadata)
    return dataclasses.field(default_factory=sequence, metadata=metadata)
