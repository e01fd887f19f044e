"""The agent's tools: search pages, look at page images, compute over stored fields, list documents, answer.

Argument schemas are valid *strict* OpenAI function schemas (every property required, nullable ones as
``anyOf [..., null]``, no extra properties): vLLM then constrains the model's arguments to them, which is
what makes even small models call tools correctly. Each tool returns text for the model and an artifact
``{"seen": [...], "looked": [...]}`` naming the pages it showed, from which answers' citations are checked.

Page images go to the vision model in a *user* message together with the question, never inside a tool
message; the tool result is the vision model's reading, page by page.

Example:
    >>> from langchain_core.utils.function_calling import convert_to_openai_tool
    >>> schema = convert_to_openai_tool(AnswerArgs, strict=True)["function"]["parameters"]
    >>> schema["required"], schema["additionalProperties"]
    (['text', 'citations', 'found'], False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables.config import ContextThreadPoolExecutor
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field, create_model

from qwenvl_agents.agent.citations import document_matches
from qwenvl_agents.agent.fields import FieldName, Operation, compute, read_rows
from qwenvl_agents.agent.prompts import look_prompt
from qwenvl_agents.agent.state import PageRef, page_ref
from qwenvl_agents.errors import QwenVLError
from qwenvl_agents.filter_fields import FILTER_FIELDS
from qwenvl_agents.retrieval import SearchFilters

if TYPE_CHECKING:
    from qwenvl_agents.agent.context import AgentContext
    from qwenvl_agents.agent.resources import AgentResources
    from qwenvl_agents.store.stored import StoredPage

ANSWER_TOOL = "answer"
MAX_PAGES = 8
"""Pages one look_at_pages call may name (arrays are bounded so that constrained decoding always ends)."""
MAX_LIST = 16
SNIPPET_CHARS = 300
TEXT_FALLBACK_CHARS = 600


class PageArg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: str = Field(description="File name, e.g. invoice-en.pdf")
    page: int


class SearchPagesArgs(BaseModel):
    """Find pages matching a query; returns them ranked, with snippets."""

    model_config = ConfigDict(extra="forbid")
    query: str
    document: str | None = Field(description="Only this file, or null")


class LookAtPagesArgs(BaseModel):
    """Show page images to the vision model with a question; returns what it reads on each page."""

    model_config = ConfigDict(extra="forbid")
    question: str
    pages: list[PageArg] = Field(max_length=MAX_PAGES)


def _filter_args() -> dict[str, Any]:
    """lookup_fields' filter arguments: every search filter, under its own name, lists bounded."""
    args: dict[str, Any] = {}
    for spec in FILTER_FIELDS:
        if spec.many:
            args[spec.name] = (spec.annotation(list), Field(description=spec.hint, max_length=MAX_LIST))
        else:
            args[spec.name] = (spec.annotation(), Field(description=spec.hint))
    return args


LookupFieldsArgs: type[BaseModel] = create_model(
    "LookupFieldsArgs",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Exact arithmetic over stored invoice/receipt amounts, per currency, citing every page used.\n"
    "Filters: null or [] for none.",
    operation=(Operation, ...),
    field=(FieldName, ...),
    **_filter_args(),
)


class ListDocumentsArgs(BaseModel):
    """List the documents with their page counts."""

    model_config = ConfigDict(extra="forbid")


class AnswerArgs(BaseModel):
    """The final answer; call it once, last."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="Answer citing claims inline as [document, p. N]")
    citations: list[PageArg] = Field(max_length=MAX_LIST)
    found: bool = Field(description="false if the documents do not say")


@dataclass
class ToolResult:
    """What a tool returns: ``content`` for the model, and the pages it showed (``seen``) or looked at."""

    content: str
    seen: list[PageRef] = field(default_factory=list)
    looked: list[PageRef] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def artifact(self) -> dict[str, Any]:
        return {"seen": self.seen, "looked": self.looked, "usage": self.usage}


def _ref(page: StoredPage) -> PageRef:
    return page_ref(page.name, page.page, page.document_id)


def _label(ref: PageRef) -> str:
    return f"[{ref['document']}, p. {ref['page']}]"


def _blank(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class AgentTools:
    """The tools of one run: bound to its context (filters, k, pixel budget) and the pages seen so far."""

    def __init__(self, resources: AgentResources, context: AgentContext, seen: Sequence[PageRef] = ()) -> None:
        self.resources = resources
        self.context = context
        self.seen = list(seen)

    # --- search_pages ------------------------------------------------------------------------------------

    def search_pages(self, query: str, document: str | None = None) -> ToolResult:
        ctx = self.context
        if not query or not query.strip():
            return ToolResult("search_pages needs a non-empty query.")
        search = self.resources.search(ctx)
        filters = ctx.filters()
        doc = _blank(document)
        if doc is not None:
            if ctx.documents:
                allowed = set(search.resolve(filters).document_ids)
                wanted = set(search.resolve(SearchFilters(documents=(doc,))).document_ids)
                if not wanted & allowed:
                    return ToolResult(
                        f"{doc} is outside the documents of this conversation: {', '.join(ctx.documents)}."
                    )
            filters = ctx.filters(documents=(doc,))
        hits = search.search(query, k=ctx.k, filters=filters, mode=ctx.search_mode)
        if not hits:
            return ToolResult(f"No pages match {query!r}" + (f" in {doc}." if doc else "."))
        lines = [f"{len(hits)} pages for {query!r}, best first:"]
        for hit in hits:
            facts = [hit.page_kind]
            f = hit.fields
            if f.total is not None:
                facts.append(f"total {f.total} {f.currency or ''}".rstrip())
            if f.issue_date:
                facts.append(f"date {f.issue_date}")
            if hit.image_path is None:
                facts.append("no page image")
            title = f" {hit.title}" if hit.title else ""
            lines.append(f"{hit.rank}. {hit.citation} score {hit.score:.3f} ({', '.join(facts)}){title}")
            lines.append(f'   "{_short(hit.snippet or hit.text, SNIPPET_CHARS)}"')
        seen = [page_ref(h.name, h.page, h.document_id) for h in hits]
        return ToolResult("\n".join(lines), seen=seen)

    # --- look_at_pages -----------------------------------------------------------------------------------

    def _resolve(self, document: str, page: int) -> tuple[StoredPage | None, str]:
        """The stored page a reference names, or ``None`` and why not."""
        if page < 1:
            return None, f"[{document}, p. {page}]: page numbers start at 1."
        search = self.resources.search(self.context)
        ids = list(dict.fromkeys(r["document_id"] for r in self.seen if document_matches(r, document)))
        if len(ids) != 1:
            try:
                ids = list(search.resolve(SearchFilters(documents=(document,))).document_ids)
            except QwenVLError as exc:
                return None, f"[{document}, p. {page}]: {exc}"
        stored = search.index.get_page(ids[0], page)
        if stored is None:
            return None, f"[{document}, p. {page}]: no such page in the index."
        return stored, ""

    def look_at_pages(self, question: str, pages: Sequence[PageArg | dict[str, Any]]) -> ToolResult:
        ctx = self.context
        refs = [p if isinstance(p, PageArg) else PageArg(**p) for p in pages]
        if not question or not question.strip():
            return ToolResult("look_at_pages needs a question.")
        if not refs:
            return ToolResult("look_at_pages needs at least one page, e.g. from search_pages.")
        limit = ctx.images_per_look(self.resources.image_limit)
        most = max(ctx.k, limit)
        notes: list[str] = []
        if len(refs) > most:
            skipped = ", ".join(f"[{r.document}, p. {r.page}]" for r in refs[most:])
            notes.append(f"Not looked at (at most {most} pages per call): {skipped}.")
            refs = refs[:most]
        with_image: list[tuple[PageRef, str]] = []
        seen: list[PageRef] = []
        for arg in refs:
            stored, problem = self._resolve(arg.document.strip(), arg.page)
            if stored is None:
                notes.append(problem)
                continue
            ref = _ref(stored)
            if any(r == ref for r, _ in with_image) or ref in seen:
                continue
            image = stored.image
            if image is None or not Path(image.path).is_file():
                text = _short(stored.body, TEXT_FALLBACK_CHARS)
                notes.append(f'{_label(ref)}: no stored page image to look at; its stored text: "{text}"')
                seen.append(ref)
                continue
            with_image.append((ref, image.path))
        batches = [with_image[i : i + limit] for i in range(0, len(with_image), limit)]
        if len(batches) > 1:
            with ContextThreadPoolExecutor(max_workers=min(len(batches), 4)) as pool:
                readings = list(pool.map(lambda b: self._look(question, b), batches))
        else:
            readings = [self._look(question, b) for b in batches]
        looked = [ref for batch in batches for ref, _ in batch]
        usage: dict[str, int] = {}
        parts = [f"Looked at {len(looked)} page{'s' if len(looked) != 1 else ''}: {', '.join(map(_label, looked))}."]
        if not looked:
            parts = ["No page images were looked at."]
        for batch, (text, batch_usage) in zip(batches, readings, strict=True):
            for key, value in batch_usage.items():
                usage[key] = usage.get(key, 0) + value
            parts.append(f"--- {', '.join(_label(r) for r, _ in batch)} ---\n{text}")
        parts.extend(notes)
        return ToolResult("\n".join(parts), seen=[*looked, *seen], looked=looked, usage=usage)

    def _look(self, question: str, batch: Sequence[tuple[PageRef, str]]) -> tuple[str, dict[str, int]]:
        """One vision request: the pages' images and the question in one user message."""
        from qwenvl_agents.vlm import prepare_image

        low, high = self.resources.pixels(self.context)
        aspect = self.resources.settings.max_aspect_ratio
        rules = self.resources.media_rules
        try:
            images = [
                prepare_image(
                    path, min_pixels=low, max_pixels=high, max_aspect_ratio=aspect, rules=rules
                ).content_part()
                for _, path in batch
            ]
            prompt = look_prompt(question, [_label(r) for r, _ in batch])
            message = HumanMessage(content=[*images, {"type": "text", "text": prompt}])
            model = self.resources.vision_model(self.context)
            reply = model.invoke([message], config={"tags": ["look_at_pages"], "run_name": "look_at_pages"})
        except Exception as exc:  # a vision failure is a tool result the agent can act on, not a crash
            error = exc if isinstance(exc, QwenVLError) else self.resources.explain(exc)
            return f"Could not look at these pages: {error}", {}
        text = reply.text if isinstance(reply, AIMessage) else str(reply.content)
        usage = reply.usage_metadata if isinstance(reply, AIMessage) else None
        counts: dict[str, int] = {}
        if usage:
            counts = {
                "input_tokens": int(usage["input_tokens"]),
                "output_tokens": int(usage["output_tokens"]),
                "total_tokens": int(usage["total_tokens"]),
            }
        return (text.strip() or "(the vision model returned no text)"), counts

    # --- lookup_fields -----------------------------------------------------------------------------------

    def lookup_fields(self, operation: Operation, field: FieldName, **filters: Any) -> ToolResult:
        """``operation`` over ``field`` on the pages within the run's filters and ``filters`` (the search
        filters' names; blank values are no filter)."""
        search = self.resources.search(self.context)
        asked: dict[str, Any] = {}
        for name, value in filters.items():
            if isinstance(value, list | tuple):
                asked[name] = tuple(v for v in value if not (isinstance(v, str) and not v.strip()))
            else:
                asked[name] = _blank(value) if isinstance(value, str) else value
        scope, narrowed = search.resolve(self.context.filters()), search.resolve(SearchFilters(**asked))
        if scope.empty or narrowed.empty:
            rows = []
        else:
            rows = read_rows(search.index, field, search.index.where_all(scope.where, narrowed.where))
        result = compute(operation, field, rows)
        seen = [page_ref(r.document, r.page, r.document_id) for r in rows]
        return ToolResult(result.to_text(), seen=seen)

    # --- list_documents ----------------------------------------------------------------------------------

    def list_documents(self) -> ToolResult:
        docs = self.resources.search(self.context).index.documents()
        if not docs:
            return ToolResult("The knowledge base holds no documents yet (ingest some with `qwenvl ingest`).")
        lines = [f"{len(docs)} documents:"]
        for d in docs:
            title = f" — {d.title}" if d.title and d.title != d.name else ""
            failed = f", {d.failed_pages} unreadable" if d.failed_pages else ""
            lines.append(f"- {d.name}: {d.page_count} page{'s' if d.page_count != 1 else ''}{failed}{title}")
        return ToolResult("\n".join(lines))

    # --- as LangChain tools ------------------------------------------------------------------------------

    def as_tools(self) -> list[BaseTool]:
        """The tools as LangChain ``StructuredTool`` objects (content and artifact), the answer tool last."""

        def wrap(fn: Any) -> Any:
            def run(**kwargs: Any) -> tuple[str, dict[str, Any]]:
                result: ToolResult = fn(**kwargs)
                return result.content, result.artifact

            return run

        def answer(text: str, citations: list[PageArg], found: bool) -> tuple[str, dict[str, Any]]:
            return "Answer recorded.", {"seen": [], "looked": []}

        specs: list[tuple[str, Any, type[BaseModel]]] = [
            ("search_pages", wrap(self.search_pages), SearchPagesArgs),
            ("look_at_pages", wrap(self.look_at_pages), LookAtPagesArgs),
            ("lookup_fields", wrap(self.lookup_fields), LookupFieldsArgs),
            ("list_documents", wrap(self.list_documents), ListDocumentsArgs),
            (ANSWER_TOOL, answer, AnswerArgs),
        ]
        return [
            StructuredTool.from_function(
                func=fn,
                name=name,
                description=(schema.__doc__ or name).strip(),
                args_schema=schema,
                response_format="content_and_artifact",
            )
            for name, fn, schema in specs
        ]


TOOL_SCHEMAS: dict[str, type[BaseModel]] = {
    "search_pages": SearchPagesArgs,
    "look_at_pages": LookAtPagesArgs,
    "lookup_fields": LookupFieldsArgs,
    "list_documents": ListDocumentsArgs,
    ANSWER_TOOL: AnswerArgs,
}
"""Argument schema of every tool, by name."""
