"""``qwenvl demo``: the main job on embedded defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from qwenvl_agents.cli.common import app, print_error
from qwenvl_agents.cli.documents import list_pages, print_summary
from qwenvl_agents.settings import Settings


@app.command()
def demo(
    data_dir: Annotated[Path | None, typer.Option(help="Where to keep state (default: QWENVL_DATA_DIR).")] = None,
) -> None:
    """The main job on embedded defaults: make the sample documents, list their pages, ingest them, and ask
    them questions (with the VLM at QWENVL_VLM_BASE_URL when one is set; else the evidence is shown)."""
    from qwenvl_agents.ingest import Ingestor
    from qwenvl_agents.samples import write_samples

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    folder = settings.data_dir / "samples"
    typer.echo(f"Writing sample documents to {folder}", err=True)
    write_samples(folder, overwrite=True)
    failures = list_pages([str(folder)], settings, store=True)
    urls = ", ".join(settings.vlm_base_urls)
    mode = f"with the VLM at {urls}" if urls else "offline (text layer + OCR)"
    typer.echo(f"\nIngesting them {mode} into {settings.data_dir}", err=True)
    ingestor = Ingestor(settings)
    summary = ingestor.run([str(folder)])
    print_summary(summary, as_json=False)
    typer.echo("\nWhat was indexed (page, kind, key fields):")
    for doc in ingestor.index.documents():
        for page in ingestor.index.pages_of(doc.document_id):
            f = page.fields
            facts = {
                "title": f.title,
                "number": f.document_number,
                "date": f.issue_date,
                "seller": f.seller,
                "total": f"{f.total:,.2f} {f.currency or ''}".strip() if f.total is not None else None,
            }
            shown = ", ".join(f"{k}={v}" for k, v in facts.items() if v)
            kind = page.metadata.get("page_kind")
            via = page.metadata.get("extractor")
            typer.echo(f"  {doc.name} p{page.page}  [{kind}, {via}]  {shown}"[:160])
    questions = demo_questions(json.loads((folder / "samples.json").read_text(encoding="utf-8")))
    ask_ok = answer_questions(settings, questions) if settings.vlm_base_urls else show_evidence(settings, questions)
    typer.echo(f"\nPage images are in {settings.page_image_dir}; the index is in {settings.chroma_dir}", err=True)
    raise typer.Exit(1 if failures or not summary.ok or not ask_ok else 0)


SUM_QUESTION = "What is the sum of the totals of all invoices and receipts?"


def demo_questions(samples: dict[str, Any]) -> list[str]:
    """The first question about each kind of sample document, then a sum over the invoices and receipts."""
    seen: set[str] = set()
    questions: list[str] = []
    for doc in samples["documents"]:
        key = f"{doc['kind']}-{doc['language']}"
        if doc.get("questions") and key not in seen and len(questions) < 4:
            seen.add(key)
            questions.append(doc["questions"][0]["question"])
    return [*questions, SUM_QUESTION]


def show_evidence(settings: Settings, questions: list[str]) -> bool:
    """No VLM: for each question the pages that hold the answer, with snippets and stored fields."""
    from qwenvl_agents.agent import compute, read_rows
    from qwenvl_agents.cli.ask import print_hit
    from qwenvl_agents.retrieval import PageSearch

    search = PageSearch.open(settings)
    typer.echo("\nQuestions (no VLM configured: showing the evidence a VLM would read)")
    found_all = True
    for question in questions:
        typer.secho(f"\nQ: {question}", bold=True)
        if question == SUM_QUESTION:
            # Arithmetic comes from the stored fields, in code: the same tool the agent uses.
            result = compute(
                "sum", "total", read_rows(search.index, "total", {"page_kind": {"$in": ["invoice", "receipt"]}})
            )
            typer.echo("   " + result.to_text().replace("\n", "\n   "))
            found_all &= bool(result.groups)
            continue
        hits = search.search(question, 2)
        found_all &= bool(hits)
        for hit in hits:
            print_hit(hit)
    typer.secho(
        "\nSet QWENVL_VLM_BASE_URL to a vLLM server with Qwen2.5-VL for full answers with citations "
        "(`qwenvl ask`, `qwenvl chat`); `qwenvl search` works without one.",
        fg=typer.colors.CYAN,
        err=True,
    )
    return found_all


def answer_questions(settings: Settings, questions: list[str]) -> bool:
    """With a VLM: the agent answers each question, citing document and page."""
    from qwenvl_agents.agent import DocumentChat
    from qwenvl_agents.errors import QwenVLError

    typer.echo(f"\nQuestions, answered by the agent with {settings.vlm_model} at {', '.join(settings.vlm_base_urls)}")
    with DocumentChat(settings) as chat:
        for question in questions:
            typer.secho(f"\nQ: {question}", bold=True)
            try:
                answer = chat.invoke(question, thread_id=f"demo-{hash(question)}")
            except QwenVLError as exc:
                print_error(f"error: {exc}")
                return False
            typer.echo(f"A: {answer.text}")
            if answer.citations:
                typer.secho("   Sources: " + ", ".join(str(c) for c in answer.citations), dim=True)
    return True
