"""``qwenvl pages``, ``ingest``, ``documents``, ``delete`` and ``samples``: documents in, knowledge base out."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qwenvl_agents.cli.common import JsonFlag, KnowledgeBase, app, emit_json, print_error
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import PageImage, SourceFailure

if TYPE_CHECKING:
    from qwenvl_agents.ingest import IngestSummary


def _page_record(page: PageImage, settings: Settings) -> dict[str, Any]:
    rules = settings.media_rules
    h, w = rules.resize(page.height, page.width, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels)
    doc = page.document
    return {
        "type": "page",
        "document_id": doc.document_id,
        "source": doc.source,
        "name": doc.name,
        "media_type": doc.media_type,
        "title": doc.title,
        "page": page.page,
        "page_count": doc.page_count,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "timestamp": page.timestamp,
        "visual_tokens": rules.tokens(h, w),
        "text_chars": len(page.text_layer.text) if page.text_layer else 0,
        "image_path": page.stored.path if page.stored else None,
    }


def list_pages(
    paths: list[str],
    settings: Settings,
    *,
    as_json: bool = False,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    store: bool = False,
    **render_overrides: Any,
) -> int:
    """Render ``paths`` and print a line per page and per failure; return the number of failures."""
    from qwenvl_agents.documents import RenderOptions, find_sources, iter_pages
    from qwenvl_agents.store import PageImageStore

    options = RenderOptions.from_settings(settings, **render_overrides)
    listing = find_sources(paths, include=include or (), exclude=exclude or ())
    failures = 0
    page_store = PageImageStore.from_settings(settings) if store else None
    documents: set[str] = set()
    pages = 0
    if not as_json:
        typer.echo(f"{'document':<48} {'page':>5} {'pixels':>11} {'tokens':>6} {'text':>6}")
    # Missing paths go through iter_pages too, so they are reported like every other failure.
    for item in iter_pages([*listing.sources, *listing.missing], options, store=page_store):
        if isinstance(item, SourceFailure):
            failures += 1
            if as_json:
                emit_json({"type": "error", **_failure_record(item)})
            else:
                print_error(f"error: {item.message} [{item.error_type}]")
            continue
        pages += 1
        documents.add(item.document.document_id)
        rec = _page_record(item, settings)
        if as_json:
            emit_json(rec)
        else:
            where = f"t={item.timestamp:.1f}s" if item.timestamp is not None else ""
            name = rec["name"] if len(rec["name"]) <= 48 else "…" + rec["name"][-47:]
            typer.echo(
                f"{name:<48} {rec['page']:>5} {rec['width']:>5}x{rec['height']:<5} "
                f"{rec['visual_tokens']:>6} {rec['text_chars']:>6} {where}".rstrip()
            )
    summary = {
        "type": "summary",
        "documents": len(documents),
        "pages": pages,
        "errors": failures,
        "skipped": len(listing.skipped),
    }
    if as_json:
        emit_json(summary)
    else:
        skipped = f", {len(listing.skipped)} other files skipped" if listing.skipped else ""
        typer.echo(f"{len(documents)} documents, {pages} pages, {failures} errors{skipped}", err=True)
    return failures


def _failure_record(failure: SourceFailure) -> dict[str, Any]:
    return {
        "source": failure.source,
        "error_type": failure.error_type,
        "message": failure.message,
        "pages_done": failure.pages_done,
    }


@app.command()
def pages(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (searched recursively) or http(s) URLs.")],
    as_json: JsonFlag = False,
    dpi: Annotated[float | None, typer.Option(help="Resolution for PDFs and office files.")] = None,
    password: Annotated[str | None, typer.Option(help="Password for encrypted PDFs.")] = None,
    include: Annotated[list[str] | None, typer.Option(help="Glob of files to take from folders.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of files to leave out.")] = None,
    workers: Annotated[int | None, typer.Option(help="Rendering processes (0 = every core).")] = None,
    store: Annotated[bool, typer.Option(help="Also write page images to the data directory.")] = False,
) -> None:
    """List every page of PATHS: document, page, pixel size, visual tokens, text-layer characters."""
    settings = Settings()
    overrides: dict[str, Any] = {"password": password}
    if dpi is not None:
        overrides["dpi"] = dpi
    if workers is not None:
        overrides["workers"] = workers
    failures = list_pages(paths, settings, as_json=as_json, include=include, exclude=exclude, store=store, **overrides)
    raise typer.Exit(1 if failures else 0)


def print_summary(summary: IngestSummary, as_json: bool) -> None:
    if as_json:
        emit_json({"type": "summary", **summary.to_dict()})
        return
    s = summary
    typer.echo(
        f"{s.documents_seen} documents: {s.documents_new} new, {s.documents_updated} updated, "
        f"{s.documents_unchanged} unchanged, {s.documents_failed} failed, {s.documents_deleted} replaced",
        err=True,
    )
    typer.echo(
        f"{s.pages_extracted + s.pages_skipped + s.pages_failed} pages: {s.pages_new} new, {s.pages_updated} updated, "
        f"{s.pages_skipped} skipped (unchanged), {s.pages_fallback} fallback, {s.pages_failed} failed; "
        f"{s.pages_per_second:.2f} pages/s; {s.records} records in knowledge base {s.knowledge_base!r}",
        err=True,
    )
    for error in s.errors:
        where = f" page {error.page}" if error.page else ""
        print_error(f"error: {error.source}{where}: {error.message}")


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (searched recursively) or http(s) URLs.")],
    extractor: Annotated[
        str | None, typer.Option(help="auto, vlm, ocr or text (default: QWENVL_EXTRACTOR, auto).")
    ] = None,
    kb: KnowledgeBase = None,
    as_json: JsonFlag = False,
    dpi: Annotated[float | None, typer.Option(help="Resolution for PDFs and office files.")] = None,
    password: Annotated[str | None, typer.Option(help="Password for encrypted PDFs.")] = None,
    include: Annotated[list[str] | None, typer.Option(help="Glob of files to take from folders.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of files to leave out.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Extract pages that fell back or failed last time again.")] = True,
    prune: Annotated[bool, typer.Option(help="Also delete indexed documents whose file is gone.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Read PATHS into the knowledge base: render, extract, embed and index; unchanged pages are skipped."""
    from qwenvl_agents.documents import RenderOptions
    from qwenvl_agents.errors import QwenVLError
    from qwenvl_agents.ingest import Ingestor
    from qwenvl_agents.ingest.progress import IngestProgressBar

    settings = Settings()
    overrides: dict[str, Any] = {"password": password, "cache_dir": settings.cache_dir}
    if dpi is not None:
        overrides["dpi"] = dpi
    try:
        ingestor = Ingestor(
            settings,
            extractor=extractor,
            knowledge_base=kb,
            render_options=RenderOptions.from_settings(settings, **overrides),
        )
    except (QwenVLError, ValueError) as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    bar = IngestProgressBar(enabled=progress and not as_json and sys.stderr.isatty())
    try:
        with bar:
            summary = ingestor.run(
                paths, include=include or (), exclude=exclude or (), retry_failed=retry_failed, on_progress=bar
            )
    except KeyboardInterrupt:
        print_error("interrupted: what was written is kept; run the same command again to resume")
        raise typer.Exit(130) from None
    if prune:
        for source in ingestor.prune():
            typer.echo(f"deleted {source} (file is gone)", err=True)
    print_summary(summary, as_json)
    raise typer.Exit(0 if summary.ok else 1)


@app.command()
def documents(kb: KnowledgeBase = None, as_json: JsonFlag = False) -> None:
    """List the documents in the knowledge base, with pages indexed, fallbacks and failures."""
    from qwenvl_agents.store import PageIndex

    index = PageIndex.open(Settings(), kb)
    docs = index.documents()
    for d in docs:
        if as_json:
            emit_json({"type": "document", **dataclasses.asdict(d)})
        else:
            typer.echo(f"{d.document_id[:12]}  {d.pages_indexed:>4}/{d.page_count:<4} {d.name}  ({d.source})")
    if not as_json:
        typer.echo(f"{len(docs)} documents, {index.count()} records in {index.knowledge_base!r}", err=True)


@app.command()
def delete(
    documents: Annotated[list[str], typer.Argument(help="Document ids (or a prefix) or source paths/URLs.")],
    kb: KnowledgeBase = None,
) -> None:
    """Delete documents from the knowledge base, with their pages and page images."""
    from qwenvl_agents.ingest import Ingestor

    ingestor = Ingestor(Settings(), extractor="text", knowledge_base=kb)
    indexed = ingestor.index.documents()
    missing = 0
    for wanted in documents:
        path = str(Path(wanted).expanduser().absolute()) if "://" not in wanted else wanted
        matches = [d for d in indexed if d.source in (wanted, path) or d.document_id.startswith(wanted.lower())]
        if not matches:
            print_error(f"error: {wanted}: not in knowledge base {ingestor.knowledge_base!r} (see `qwenvl documents`)")
            missing += 1
        for d in matches:
            removed = ingestor.delete_document(d.document_id)
            typer.echo(f"deleted {d.name} ({d.document_id[:12]}): {removed} records")
    raise typer.Exit(1 if missing else 0)


@app.command()
def samples(
    dest: Annotated[Path, typer.Argument(help="Folder to write the sample documents to.")],
    overwrite: Annotated[bool, typer.Option(help="Replace files that already exist.")] = False,
) -> None:
    """Write the project's sample documents (invoices, receipts, slides, reports; English and Chinese)."""
    from qwenvl_agents.samples import write_samples

    for doc in write_samples(dest, overwrite=overwrite):
        typer.echo(f"{doc.path}  ({doc.kind}, {doc.language}, {doc.page_count} pages)")
