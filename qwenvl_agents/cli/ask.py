"""``qwenvl search``, ``ask`` and ``chat``: questions to the knowledge base.

``search`` needs no VLM: ranked pages with snippets and citations. ``ask`` and ``chat`` run the agent
(or the fixed ``rag`` pipeline with ``--graph rag``) against the configured VLM server.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qwenvl_agents.cli.common import JsonFlag, KnowledgeBase, _emit, _err, app
from qwenvl_agents.settings import Settings

if TYPE_CHECKING:
    from qwenvl_agents.retrieval import PageSearch, SearchFilters
    from qwenvl_agents.types import RetrievedPage

DocumentOpt = Annotated[
    list[str] | None,
    typer.Option("--document", "-d", help="Only this document: file name, path or id (repeatable)."),
]
KindOpt = Annotated[
    list[str] | None, typer.Option("--kind", help="Only pages of this kind: invoice, receipt, slide...")
]
LanguageOpt = Annotated[list[str] | None, typer.Option("--language", help="Only pages in this language (en, zh, ...).")]
VendorOpt = Annotated[str | None, typer.Option(help="Only pages whose seller name contains this (any case).")]
DateFromOpt = Annotated[str | None, typer.Option(help="Issue date on or after (YYYY-MM-DD, YYYY-MM or YYYY).")]
DateToOpt = Annotated[str | None, typer.Option(help="Issue date on or before (YYYY-MM-DD, YYYY-MM or YYYY).")]
MinTotalOpt = Annotated[float | None, typer.Option(help="Total at least this.")]
MaxTotalOpt = Annotated[float | None, typer.Option(help="Total at most this.")]
CurrencyOpt = Annotated[str | None, typer.Option(help="Only this currency (ISO code, e.g. EUR).")]
KOpt = Annotated[int, typer.Option("--k", "-k", min=1, help="How many pages come back.")]
ModeOpt = Annotated[str, typer.Option(help="hybrid, dense or lexical.")]


def make_filters(
    documents: list[str] | None = None,
    kind: list[str] | None = None,
    language: list[str] | None = None,
    vendor: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    min_total: float | None = None,
    max_total: float | None = None,
    currency: str | None = None,
) -> SearchFilters:
    """SearchFilters from the command-line options (exits with status 2 and a message when they are bad)."""
    from qwenvl_agents.retrieval import SearchFilters

    try:
        return SearchFilters(
            documents=tuple(documents or ()),
            page_kinds=tuple(kind or ()),
            languages=tuple(language or ()),
            vendor=vendor,
            date_from=date_from,
            date_to=date_to,
            min_total=min_total,
            max_total=max_total,
            currency=currency,
        )
    except (TypeError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc


def open_search(settings: Settings, kb: str | None) -> PageSearch:
    """The page search over ``kb``; exits with a hint when the knowledge base is empty or unusable."""
    from qwenvl_agents.errors import QwenVLError
    from qwenvl_agents.retrieval import PageSearch

    try:
        search = PageSearch.open(settings, kb)
    except (QwenVLError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc
    if search.index.count() == 0:
        _err(f"knowledge base {search.index.knowledge_base!r} is empty: run `qwenvl ingest PATH` first")
        raise typer.Exit(1)
    return search


def page_record(hit: RetrievedPage) -> dict[str, Any]:
    """A search hit as one JSON object (``type: page``); stored fields only where they have values."""
    fields = {k: v for k, v in dataclasses.asdict(hit.fields).items() if v not in (None, (), [], "")}
    return {
        "type": "page",
        "rank": hit.rank,
        "citation": str(hit.citation),
        "document": hit.name,
        "page": hit.page,
        "page_count": hit.page_count,
        "document_id": hit.document_id,
        "source": hit.source,
        "score": round(hit.score, 6),
        "snippet": hit.snippet,
        "page_kind": hit.page_kind,
        "language": hit.language,
        "status": hit.status,
        "image_path": hit.image_path,
        "fields": fields,
    }


def print_hit(hit: RetrievedPage) -> None:
    typer.secho(f"{hit.rank}. {hit.citation}", bold=True, nl=False)
    typer.echo(f"  {hit.page_kind}  score {hit.score:.4f}")
    if hit.snippet:
        typer.echo(f"   {hit.snippet}")
    f = hit.fields
    facts = {"seller": f.seller, "number": f.document_number, "date": f.issue_date}
    if f.total is not None:
        facts["total"] = f"{f.total:,.2f} {f.currency or ''}".strip()
    shown = ", ".join(f"{k}={v}" for k, v in facts.items() if v)
    if shown:
        typer.echo(f"   fields: {shown}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for: words, numbers, names, a question.")],
    k: KOpt = 5,
    mode: ModeOpt = "hybrid",
    document: DocumentOpt = None,
    kind: KindOpt = None,
    language: LanguageOpt = None,
    vendor: VendorOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    min_total: MinTotalOpt = None,
    max_total: MaxTotalOpt = None,
    currency: CurrencyOpt = None,
    kb: KnowledgeBase = None,
    as_json: JsonFlag = False,
) -> None:
    """Ranked pages for QUERY with snippets and citations (no VLM needed). Exit status 1 when nothing matches."""
    from qwenvl_agents.retrieval import SEARCH_MODES, DocumentNotFoundError

    if mode not in SEARCH_MODES:
        _err(f"error: --mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
        raise typer.Exit(2)
    filters = make_filters(document, kind, language, vendor, date_from, date_to, min_total, max_total, currency)
    engine = open_search(Settings(), kb)
    try:
        hits = engine.search(query, k, filters=filters, mode=mode)
    except (DocumentNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc
    for hit in hits:
        if as_json:
            _emit(page_record(hit))
        else:
            print_hit(hit)
    if not hits:
        if as_json:
            _emit({"type": "summary", "pages": 0})
        else:
            _err("no pages match (try fewer filters or other words)")
        raise typer.Exit(1)
