"""``qwenvl search``, ``ask`` and ``chat``: questions to the knowledge base.

``search`` needs no VLM: ranked pages with snippets and citations. ``ask`` and ``chat`` run the agent
(or the fixed ``rag`` pipeline with ``--graph rag``) against the configured VLM server.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qwenvl_agents.cli.common import JsonFlag, KnowledgeBase, app, emit_json, print_error
from qwenvl_agents.cli.filters import filter_options
from qwenvl_agents.settings import Settings

if TYPE_CHECKING:
    from qwenvl_agents.retrieval import PageSearch, SearchFilters
    from qwenvl_agents.types import RetrievedPage

KOpt = Annotated[int, typer.Option("--k", "-k", min=1, help="How many pages come back.")]
ModeOpt = Annotated[str, typer.Option(help="hybrid, dense or lexical.")]


def open_search(settings: Settings, kb: str | None) -> PageSearch:
    """The page search over ``kb``; exits with a hint when the knowledge base is empty or unusable."""
    from qwenvl_agents.errors import QwenVLError
    from qwenvl_agents.retrieval import PageSearch

    try:
        search = PageSearch.open(settings, kb)
    except (QwenVLError, ValueError) as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    if search.index.count() == 0:
        print_error(f"knowledge base {search.index.knowledge_base!r} is empty: run `qwenvl ingest PATH` first")
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
@filter_options
def search(
    query: Annotated[str, typer.Argument(help="What to look for: words, numbers, names, a question.")],
    k: KOpt = 5,
    mode: ModeOpt = "hybrid",
    *,
    filters: SearchFilters,
    kb: KnowledgeBase = None,
    as_json: JsonFlag = False,
) -> None:
    """Ranked pages for QUERY with snippets and citations (no VLM needed). Exit status 1 when nothing matches."""
    from qwenvl_agents.retrieval import SEARCH_MODES, UnknownDocumentError

    if mode not in SEARCH_MODES:
        print_error(f"error: --mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
        raise typer.Exit(2)
    engine = open_search(Settings(), kb)
    try:
        hits = engine.search(query, k, filters=filters, mode=mode)
    except (UnknownDocumentError, ValueError) as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    for hit in hits:
        if as_json:
            emit_json(page_record(hit))
        else:
            print_hit(hit)
    if not hits:
        if as_json:
            emit_json({"type": "summary", "pages": 0})
        else:
            print_error("no pages match (try fewer filters or other words)")
        raise typer.Exit(1)


GraphOpt = Annotated[str, typer.Option("--graph", help="agent (tool calling) or rag (retrieve, look, answer).")]
ThreadOpt = Annotated[
    str | None,
    typer.Option("--thread", help="Keep the conversation in this named thread (saved in the data folder)."),
]


def answer_record(answer: Any) -> dict[str, Any]:
    """An :class:`~qwenvl_agents.agent.Answer` as one JSON object (``type: answer``)."""

    def cites(items: Any) -> list[dict[str, Any]]:
        return [{"document": c.document, "page": c.page, "document_id": c.document_id} for c in items]

    return {
        "type": "answer",
        "text": answer.text,
        "found": answer.found,
        "citations": cites(answer.citations),
        "pages_looked_at": cites(answer.pages_looked_at),
        "unverified_citations": cites(answer.unverified_citations),
        "thread_id": answer.thread_id,
        "input_tokens": answer.input_tokens,
        "output_tokens": answer.output_tokens,
    }


def _open_chat(
    settings: Settings, kb: str | None, graph: str, thread: str | None, k: int, mode: str, filters: SearchFilters
) -> Any:
    """A DocumentChat for the CLI; checks the VLM configuration, the mode and the filters before any work."""
    from qwenvl_agents.agent import AgentContext, DocumentChat
    from qwenvl_agents.retrieval import SEARCH_MODES, UnknownDocumentError

    if settings.vlm_backend == "openai" and not settings.vlm_base_urls:
        print_error(
            "error: answering needs a VLM server: set QWENVL_VLM_BASE_URL (e.g. http://127.0.0.1:8000/v1), "
            "or QWENVL_VLM_BACKEND=transformers|vllm with --graph rag; `qwenvl search` finds pages without one"
        )
        raise typer.Exit(2)
    if graph not in ("agent", "rag") or mode not in SEARCH_MODES:
        print_error(
            f"error: --graph is agent or rag (got {graph!r}); --mode one of {', '.join(SEARCH_MODES)} (got {mode!r})"
        )
        raise typer.Exit(2)
    if graph == "agent" and settings.vlm_backend != "openai":
        # The in-process backends have no tool-call parser; the rag graph needs none.
        print_error(
            f"error: QWENVL_VLM_BACKEND={settings.vlm_backend} runs the model in this process and cannot call "
            "tools, which the agent graph needs: use --graph rag (retrieve, look, answer), or the OpenAI "
            "server backend for the agent"
        )
        raise typer.Exit(2)
    search = open_search(settings, kb)
    try:
        filters.resolve(search.catalog)
    except UnknownDocumentError as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    context = AgentContext(
        knowledge_base=kb,
        k=k,
        search_mode=mode,
        **filters.as_dict(),
    )
    return DocumentChat(
        settings,
        graph=graph,  # type: ignore[arg-type]
        context=context,
        search=search,
        checkpointer="sqlite" if thread else "memory",
        thread_id=thread,
    )


def _stream_answer(chat: Any, question: str, *, show_steps: bool) -> Any:
    """Stream one answer to the terminal (steps dimmed on stderr, answer tokens on stdout); return it."""
    from qwenvl_agents.agent import Answer, StepEvent, TokenEvent

    answer, streamed = None, False
    for event in chat.stream(question):
        if isinstance(event, TokenEvent) and event.source == "answer":
            typer.echo(event.text, nl=False)
            streamed = True
        elif isinstance(event, StepEvent) and show_steps:
            for call in event.tool_calls:
                if call["name"] != "answer":
                    args = ", ".join(f"{k}={v!r}" for k, v in call["args"].items())
                    typer.secho(f"  → {call['name']}({args})"[:200], dim=True, err=True)
        elif isinstance(event, Answer):
            answer = event
    if answer is not None and not streamed:
        typer.echo(answer.text, nl=False)
    typer.echo()
    return answer


def _print_sources(answer: Any) -> None:
    if answer.citations:
        typer.secho("Sources: " + ", ".join(str(c) for c in answer.citations), dim=True)
    elif not answer.found:
        typer.secho("(the documents do not hold the answer)", dim=True)


def _failure(exc: Exception, settings: Settings) -> str | None:
    """What to tell the user about an error from a run (``None``: not ours to explain, let it raise)."""
    import openai

    from qwenvl_agents.errors import QwenVLError
    from qwenvl_agents.vlm.client import explain_error

    if isinstance(exc, QwenVLError):
        return str(exc)
    if isinstance(exc, openai.OpenAIError | OSError):
        return str(explain_error(exc, settings.vlm_base_urls))
    return None


@app.command()
@filter_options
def ask(
    question: Annotated[str, typer.Argument(help="The question about your documents.")],
    graph: GraphOpt = "agent",
    k: KOpt = 5,
    mode: ModeOpt = "hybrid",
    *,
    filters: SearchFilters,
    thread: ThreadOpt = None,
    kb: KnowledgeBase = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer QUESTION from the knowledge base with the VLM, citing document and page."""
    with _open_chat(Settings(), kb, graph, thread, k, mode, filters) as session:
        try:
            if as_json:
                emit_json(answer_record(session.invoke(question)))
                return
            answer = _stream_answer(session, question, show_steps=True)
        except Exception as exc:
            message = _failure(exc, session.resources.settings)
            if message is None:
                raise
            print_error(f"error: {message}")
            raise typer.Exit(2) from exc
    _print_sources(answer)


@app.command()
@filter_options
def chat(
    graph: GraphOpt = "agent",
    k: KOpt = 5,
    mode: ModeOpt = "hybrid",
    *,
    filters: SearchFilters,
    thread: ThreadOpt = None,
    kb: KnowledgeBase = None,
) -> None:
    """Chat with your documents: answers stream as they are written; the conversation is remembered
    (``--thread NAME`` keeps it across sessions). Type /new for a fresh conversation, /quit to leave."""
    import uuid

    with _open_chat(Settings(), kb, graph, thread, k, mode, filters) as session:
        n = len(session.history())
        typer.secho(
            f"Chatting with knowledge base {session.resources.settings.knowledge_base!r}"
            if not kb
            else f"Chatting with knowledge base {kb!r}",
            bold=True,
            err=True,
        )
        if n:
            typer.echo(f"(thread {session.thread_id!r} resumed: {n} earlier messages)", err=True)
        while True:
            try:
                question = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                typer.echo(err=True)
                break
            if question in ("/quit", "/exit"):
                break
            if question == "/new":
                session.thread_id = uuid.uuid4().hex
                typer.echo("(new conversation)", err=True)
                continue
            if not question:
                continue
            typer.secho("qwenvl> ", bold=True, nl=False)
            try:
                answer = _stream_answer(session, question, show_steps=True)
            except Exception as exc:  # one failed question does not end the chat
                message = _failure(exc, session.resources.settings)
                if message is None:
                    raise
                print_error(f"error: {message}")
                continue
            if answer is not None:
                _print_sources(answer)
