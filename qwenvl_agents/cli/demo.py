"""``qwenvl demo``: the main job on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qwenvl_agents.cli.common import app
from qwenvl_agents.cli.documents import _print_summary, list_pages
from qwenvl_agents.settings import Settings


@app.command()
def demo(
    data_dir: Annotated[Path | None, typer.Option(help="Where to keep state (default: QWENVL_DATA_DIR).")] = None,
) -> None:
    """The main job on embedded defaults: make the sample documents, list their pages, ingest them."""
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
    _print_summary(summary, as_json=False)
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
    typer.echo(f"\nPage images are in {settings.page_image_dir}; the index is in {settings.chroma_dir}", err=True)
    raise typer.Exit(1 if failures or not summary.ok else 0)
