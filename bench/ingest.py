"""Extraction throughput against the real vLLM test server: ours vs a sequential loop vs the server's best.

All three send the same chat requests (page image + prompt + JSON schema), captured from our own
extractor through a real HTTP proxy, so only the way they are sent differs:

* ours: render the pages, then our VLM extractor (bounded concurrency spread over the endpoints,
  validation, retries), and separately the whole ingest pipeline (plus hashing embeddings and Chroma);
* sequential: one request at a time, then parse and validate, like the blog recipes;
* load generator: every prepared request at once (``--concurrency``), parse and validate — the best
  this server can do with these requests.

Then the offline extractors' pages/s on the corpus (text layer for PDFs, OCR for the receipts).

Run: ``make bench`` or ``.venv/bin/python bench/ingest.py [--pages 40] [--concurrency 64]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.* tooling

import openai

from qwenvl_agents.documents import RenderOptions, iter_pages
from qwenvl_agents.extract import make_extractor
from qwenvl_agents.extract.validate import BadOutput, validate_answer
from qwenvl_agents.ingest import Ingestor
from qwenvl_agents.samples import write_samples
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import PageImage
from qwenvl_agents.vlm import VLMClient
from tests.support.fault_proxy import FaultProxy
from tests.vllm_server import ensure_server, stop_server
from tests.vllm_server.server import start_server

CORPUS = Path(os.environ.get("QWENVL_CORPUS", Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"))


def documents(folder: Path, limit: int) -> list[Path]:
    """The project's samples, then corpus invoices and receipts, up to about ``limit`` pages."""
    write_samples(folder)
    docs = sorted(p for p in folder.iterdir() if p.suffix in (".pdf", ".jpg", ".pptx"))
    patterns = ("invoices_invoice2data/*.pdf", "receipts_sroie/*.jpg", "docs_markitdown/*.pdf", "reports_docling/*.pdf")
    for pattern in (*patterns, "tables_icdar2013/*.pdf", "tables_tabula/*.pdf"):
        docs += sorted(CORPUS.glob(pattern))
    pages = list(iter_pages(docs, RenderOptions(dpi=100)))
    chosen, count = [], 0
    for doc in docs:
        if count >= limit:
            break
        chosen.append(doc)
        count += sum(1 for p in pages if isinstance(p, PageImage) and p.document.source == str(doc.resolve()))
    return chosen


def settings_for(data_dir: Path, base_url: str, model: str, concurrency: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        vlm_base_url=base_url,
        vlm_model=model,
        min_pixels=32 * 784,
        max_pixels=256 * 784,
        vlm_max_concurrency=concurrency,
        extract_max_tokens=512,
        render_dpi=100,
    )


async def run_ours(settings: Settings, docs: list[Path]) -> tuple[float, int, int]:
    """Render + extract every page; returns seconds, pages, pages read by the VLM (not fallen back)."""
    client = VLMClient.from_settings(settings)
    extractor = make_extractor(settings, client, "vlm")
    # As ingest does for a VLM: render no more pixels than the model will see.
    options = RenderOptions.from_settings(settings, cache_dir=settings.cache_dir, max_render_pixels=settings.max_pixels)
    start = time.perf_counter()
    pages = (p for p in iter_pages(docs, options) if isinstance(p, PageImage))
    results = [e async for _, e in extractor.aextract_many(pages)]
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed, len(results), sum(1 for e in results if e.status == "ok")


def run_pipeline(settings: Settings, docs: list[Path], cache: Path) -> tuple[float, int]:
    options = RenderOptions.from_settings(settings, cache_dir=cache)
    start = time.perf_counter()
    summary = Ingestor(settings, extractor="vlm", render_options=options).run(docs)
    return time.perf_counter() - start, summary.pages_extracted


def _valid(response: Any) -> bool:
    choice = response.choices[0]
    try:
        validate_answer(choice.message.content or "", choice.finish_reason)
    except BadOutput:
        return False
    return True


def run_sequential(base_url: str, bodies: list[dict[str, Any]]) -> tuple[float, int]:
    client = openai.OpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    start = time.perf_counter()
    valid = sum(_valid(client.chat.completions.create(**body)) for body in bodies)
    return time.perf_counter() - start, valid


async def run_load(base_url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[float, int]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def send(body: dict[str, Any]) -> bool:
        async with gate:
            return _valid(await client.chat.completions.create(**body))

    start = time.perf_counter()
    valid = sum(await asyncio.gather(*(send(b) for b in bodies)))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed, valid


def offline_rates(tmp: Path) -> list[tuple[str, int, float]]:
    """Pages/s of the text-layer extractor (corpus PDFs) and of OCR (corpus receipts), render included."""
    rows = []
    for name, pattern in (("text layer", "**/*.pdf"), ("ocr", "receipts_sroie/*.jpg")):
        docs = sorted(CORPUS.glob(pattern))
        extractor = make_extractor(Settings(_env_file=None, data_dir=tmp), None, "text" if name != "ocr" else "ocr")  # type: ignore[call-arg]

        async def run(docs: list[Path] = docs, extractor: Any = extractor) -> int:
            pages = (p for p in iter_pages(docs, RenderOptions(dpi=150)) if isinstance(p, PageImage))
            return len([1 async for _ in extractor.aextract_many(pages)])

        start = time.perf_counter()
        n = asyncio.run(run())
        rows.append((name, n, n / (time.perf_counter() - start)))
    return rows


def pinned_server() -> tuple[Any, str]:
    """Our own server on cores 1..n-1 and this client on core 0, so neither steals the other's CPU.

    With a GPU, the model does not run on the client's cores; on a small CPU-only machine, pinning is
    the closest stand-in. Both contenders share the same client core, so the comparison stays fair.
    """
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return ensure_server(), "unpinned (one core)"
    os.sched_setaffinity(0, cores[1:])  # the server inherits this
    try:
        server = start_server()
    finally:
        os.sched_setaffinity(0, cores[:1])
    return server, f"server on cores {cores[1:]}, client on core {cores[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-pin", action="store_true", help="share every core between server and client")
    args = parser.parse_args()
    server, placement = (ensure_server(), "unpinned") if args.no_pin else pinned_server()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            docs = documents(tmp / "docs", args.pages)
            # 1. Capture the exact requests our extractor sends (this also warms the server up).
            with FaultProxy(server.root_url) as proxy:
                # Every run shares tmp/run's cache: office files are converted once, as ingest does (steady state).
                asyncio.run(run_ours(settings_for(tmp / "run", proxy.base_url, server.model, args.concurrency), docs))
                every = [b for b in proxy.bodies if b.get("response_format")]
            # The recipes send each page once; our extractor also retries answers that fail validation.
            first: dict[str, dict[str, Any]] = {}
            for body in every:
                first.setdefault(json.dumps(body["messages"], sort_keys=True), body)
            per_page = list(first.values())
            settings = settings_for(tmp / "run", server.base_url, server.model, args.concurrency)
            contenders = {
                "ours": lambda: asyncio.run(run_ours(settings, docs)),
                "sequential": lambda: run_sequential(server.base_url, per_page),
                "load": lambda: asyncio.run(run_load(server.base_url, every, args.concurrency)),
            }
            # 2. Interleave the contenders twice and keep each one's best, because this machine is noisy
            #    (the sequential loop once: it is several times slower, noise cannot change its rank).
            results: dict[str, Any] = {}
            for round_ in range(2):
                for name, run in contenders.items():
                    if name == "sequential" and round_:
                        continue
                    got = run()
                    if name not in results or got[0] < results[name][0]:
                        results[name] = got
            ours_s, pages, ours_ok = results["ours"]
            seq_s, seq_ok = results["sequential"]
            load_s, load_ok = results["load"]
            pipe_settings = settings_for(tmp / "pipe", server.base_url, server.model, args.concurrency)
            pipe_s, pipe_pages = run_pipeline(pipe_settings, docs, settings.cache_dir)

            print(
                f"extraction stage: {pages} pages from {len(docs)} documents; our extractor sent {len(every)} "
                f"requests (retries of invalid answers included); concurrency {args.concurrency}; "
                f"{server.model} on the CPU ({placement})"
            )
            print(f"{'contender':<46}{'seconds':>9}{'pages/s':>9}{'valid':>7}{'requests':>10}")
            rows = [
                ("ours: render + VLM extractor", ours_s, pages, ours_ok, len(every)),
                ("ours: whole ingest (+ embed + Chroma)", pipe_s, pipe_pages, None, None),
                ("sequential, one request per page", seq_s, len(per_page), seq_ok, len(per_page)),
                ("load generator, our requests (server best)", load_s, len(per_page), load_ok, len(every)),
            ]
            for label, secs, n, ok, reqs in rows:
                print(f"{label:<46}{secs:>9.2f}{n / secs:>9.2f}{'' if ok is None else ok:>7}{reqs or '':>10}")
            print(f"ours / server best (same requests, by time): {load_s / ours_s:.2f}")
            print(
                f"ours / sequential: pages/s {(pages / ours_s) / (len(per_page) / seq_s):.2f}, "
                f"valid pages/s {(ours_ok / ours_s) / max(seq_ok / seq_s, 1e-9):.2f}"
            )
            for name, n, rate in offline_rates(tmp / "offline"):
                print(f"offline {name:<11}: {n:>4} corpus pages at {rate:6.2f} pages/s (render included)")
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
