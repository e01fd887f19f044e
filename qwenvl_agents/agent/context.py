"""Per-run knobs of the agent and RAG graphs (LangGraph ``context_schema``, shown in LangGraph Studio).

Infrastructure (server, data folder) stays in :class:`~qwenvl_agents.settings.Settings`; what may change
from one question to the next lives here: which model, how many pages to retrieve and look at, the pixel
budget of a look, which documents to search, how many steps the agent may take.

Example:
    >>> ctx = AgentContext(k=8, vendor="acme", documents=["invoice-en.pdf"], languages=["en"], pages=[1])
    >>> ctx.filters().vendor, ctx.filters().documents, ctx.filters().languages, ctx.filters().pages
    ('acme', ('invoice-en.pdf',), ('en',), (1,))
    >>> AgentContext(k=8, **SearchFilters(languages="zh", pages=[2]).as_dict()).filters() == SearchFilters(
    ...     languages=("zh",), pages=(2,))
    True
    >>> AgentContext(look_pages=6).images_per_look(server_limit=4)
    4
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from qwenvl_agents.filter_fields import FILTER_FIELDS, filter_field
from qwenvl_agents.retrieval import SearchFilters

AGENT_TOOLS = ("search_pages", "look_at_pages", "lookup_fields", "list_documents")
"""The tools a run may choose from (the answer tool is always offered)."""
SearchModeName = Literal["hybrid", "dense", "lexical"]
ToolChoice = Literal["required", "auto"]


def _d(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(kw_only=True)
class AgentContext:
    """What one run of the agent (or the RAG pipeline) may use. ``None`` means: the value from settings."""

    model: str | None = field(default=None, metadata=_d("Served model name; empty uses QWENVL_VLM_MODEL."))
    knowledge_base: str | None = field(
        default=None, metadata=_d("Chroma collection to search; empty uses QWENVL_KNOWLEDGE_BASE.")
    )
    k: int = field(default=5, metadata=_d("Pages returned by one search."))
    search_mode: SearchModeName = field(
        default="hybrid", metadata=_d("hybrid (dense + lexical, fused), dense or lexical.")
    )
    look_pages: int = field(
        default=3, metadata=_d("Page images sent to the VLM per request (clamped to the server's image limit).")
    )
    min_pixels: int | None = field(
        default=None, metadata=_d("Smallest pixel count of a page image in a look; empty uses QWENVL_MIN_PIXELS.")
    )
    max_pixels: int | None = field(
        default=None, metadata=_d("Largest pixel count of a page image in a look; empty uses QWENVL_MAX_PIXELS.")
    )
    # The search filters, flat for Studio's form; declared once in qwenvl_agents.filter_fields.
    documents: list[str] = filter_field("documents", sequence=list)
    page_kinds: list[str] = filter_field("page_kinds", sequence=list)
    languages: list[str] = filter_field("languages", sequence=list)
    date_from: str | None = filter_field("date_from")
    date_to: str | None = filter_field("date_to")
    vendor: str | None = filter_field("vendor")
    min_total: float | None = filter_field("min_total")
    max_total: float | None = filter_field("max_total")
    currency: str | None = filter_field("currency")
    pages: list[int] = filter_field("pages", sequence=list)
    tools: list[str] = field(
        default_factory=list,
        metadata=_d(
            "Tools the agent may use besides answer (search_pages, look_at_pages, lookup_fields, list_documents); "
            "empty: all. Leave out look_at_pages for a model without vision."
        ),
    )
    max_steps: int = field(default=6, metadata=_d("Model calls per question; the last one must give the answer."))
    tool_choice: ToolChoice = field(
        default="required",
        metadata=_d("required: every model turn is a tool call (the answer is a tool); auto: the model may reply."),
    )
    parallel_tool_calls: bool = field(
        default=False,
        metadata=_d("Let the model make several tool calls per step (off: one call per step, which weak models need)."),
    )
    history_turns: int = field(
        default=8,
        metadata=_d("Earlier questions of the thread the model sees, each as question and answer; 0: none."),
    )
    temperature: float = field(default=0.0, metadata=_d("Sampling temperature of the model."))
    max_tokens: int | None = field(
        default=None, metadata=_d("Output token cap per model call; empty uses the server's limit.")
    )

    def __post_init__(self) -> None:
        for name in ("k", "look_pages", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.search_mode not in ("hybrid", "dense", "lexical"):
            raise ValueError(f"search_mode must be hybrid, dense or lexical, got {self.search_mode!r}")
        if self.tool_choice not in ("required", "auto"):
            raise ValueError(f"tool_choice must be required or auto, got {self.tool_choice!r}")
        if isinstance(self.history_turns, bool) or not isinstance(self.history_turns, int) or self.history_turns < 0:
            raise ValueError(f"history_turns must be 0 or more, got {self.history_turns!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {self.max_tokens!r}")
        for name in (*(f.name for f in FILTER_FIELDS if f.many), "tools"):
            value = getattr(self, name)
            setattr(self, name, [value] if isinstance(value, str) else list(value or []))
        unknown = sorted(set(self.tools) - set(AGENT_TOOLS))
        if unknown:
            raise ValueError(f"unknown tools {unknown}; the agent's tools are {', '.join(AGENT_TOOLS)}")
        self.filters()  # bad dates or bounds fail here, before a run starts

    @classmethod
    def coerce(cls, value: AgentContext | dict[str, Any] | None) -> AgentContext:
        """The context of a run: as given, built from a dict (Studio), or the defaults."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"unknown context keys {unknown}; known: {sorted(known)}")
            return cls(**value)
        raise TypeError(f"context must be an AgentContext or a dict, got {type(value).__name__}")

    def filters(self, **overrides: Any) -> SearchFilters:
        """The run's search filters (every filter field of the context); keyword arguments replace fields."""
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in FILTER_FIELDS}
        values.update(overrides)
        return SearchFilters(**values)

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The tools offered in this run, in their fixed order, ``answer`` last."""
        chosen = set(self.tools) or set(AGENT_TOOLS)
        return (*(t for t in AGENT_TOOLS if t in chosen), "answer")

    def images_per_look(self, server_limit: int | None) -> int:
        """Page images per VLM request: ``look_pages``, at most what the server accepts."""
        return max(1, min(self.look_pages, server_limit or self.look_pages))
