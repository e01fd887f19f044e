"""Retrieval quality on the corpus questions, and hybrid search latency on a 100,000-page index.

1. Quality: ``../shared/corpus`` is ingested with the offline extractor (text layer, OCR for scans), then every
   question of ``qa-dev.jsonl`` is searched (the whole corpus, or only the question's document where its
   ``scope`` is ``document``) in three modes side by side: dense only, lexical only, hybrid. Prints recall@1,
   recall@5 and MRR@10 of the gold page, the hybrid/lexical ratios, and the questions hybrid misses at 5.
   With ``--minilm`` the same pages are also embedded with all-MiniLM-L6-v2 (a second knowledge base made
   from the first one's records) and searched the same way.
2. Scale: a generated index of ``--pages`` pages (invoice-like and report-like text, hashing embeddings) is
   searched with 200 queries (identifiers, vendor names, words); prints p50/p95 of the whole hybrid search
   (both legs, fusion, reading the pages and snippets) and of each leg.

Indexes are kept under ``--cache`` (default ``~/.cache/qwenvl-agents-bench/retrieval``), so a rerun
only searches. Run: ``make bench`` or ``.venv/bin/python bench/retrieval.py [--pages 100000] [--minilm]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qwenvl_agents.ingest import ingest
from qwenvl_agents.retrieval import SEARCH_MODES, PageSearch, SearchFilters, resolve_documents
from qwenvl_agents.settings import Settings
from qwenvl_agents.store.index import PageIndex
from qwenvl_agents.store.records import PageEntry, page_id
from qwenvl_agents.types import DocumentInfo, KeyFields, PageExtraction

CORPUS = Path(os.environ.get("QWENVL_CORPUS", Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"))
CACHE = Path.home() / ".cache" / "qwenvl-agents-bench" / "retrieval"


def load_questions(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["pages"] = row.get("pages") or [row["page"]]
    return rows


def evaluate(search: PageSearch, questions: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """Recall@1/@5 and MRR@10 of the gold page, with each question's rank (None: not in the top 10)."""
    documents = search.catalog.documents()
    ranks: list[int | None] = []
    for q in questions:
        doc_id = resolve_documents([str((CORPUS / q["file"]).resolve())], documents)[0]
        gold = {page_id(doc_id, p) for p in q["pages"]}
        filters = SearchFilters(documents=(doc_id,)) if q.get("scope") == "document" else None
        fused = [rid for rid, _ in search.rank(q["question"], 10, filters=filters, mode=mode).fused[:10]]  # type: ignore[arg-type]
        ranks.append(next((n for n, rid in enumerate(fused, 1) if rid in gold), None))
    n = len(ranks)
    return {
        "recall@1": sum(r == 1 for r in ranks) / n,
        "recall@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r) / n,
        "ranks": ranks,
    }


def quality(settings: Settings, questions: list[dict[str, Any]], minilm: bool) -> None:
    started = time.perf_counter()
    summary = ingest([CORPUS], settings, extractor="auto")
    print(
        f"corpus: {summary.documents_seen} documents, {summary.pages_extracted} pages extracted now, "
        f"{summary.pages_skipped} unchanged, {summary.records} records, in {time.perf_counter() - started:.0f} s"
    )
    searches = {"hashing": PageSearch.open(settings)}
    if minilm:
        searches["minilm"] = minilm_copy(settings, searches["hashing"].index)
    print(f"\n{len(questions)} questions ({sum(q.get('scope') == 'document' for q in questions)} document-scoped)")
    print(f"{'embedder':<9} {'mode':<8} {'recall@1':>9} {'recall@5':>9} {'MRR@10':>7}")
    for name, search in searches.items():
        results = {mode: evaluate(search, questions, mode) for mode in SEARCH_MODES}
        for mode in ("dense", "lexical", "hybrid"):
            r = results[mode]
            print(f"{name:<9} {mode:<8} {r['recall@1']:>9.3f} {r['recall@5']:>9.3f} {r['mrr@10']:>7.3f}")
        hyb, lex = results["hybrid"], results["lexical"]
        print(
            f"{name:<9} hybrid/lexical: recall@1 {ratio(hyb['recall@1'], lex['recall@1'])}, "
            f"recall@5 {ratio(hyb['recall@5'], lex['recall@5'])}, MRR {ratio(hyb['mrr@10'], lex['mrr@10'])}"
        )
        for q, rank, lrank, drank in zip(questions, hyb["ranks"], lex["ranks"], results["dense"]["ranks"], strict=True):
            if rank is None or rank > 5 or (lrank is not None and (rank or 99) > lrank):
                print(f"  {q['id']}: hybrid {rank}, lexical {lrank}, dense {drank} — {q['question'][:70]}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def minilm_copy(settings: Settings, source: PageIndex) -> PageSearch:
    """The same records embedded with all-MiniLM-L6-v2, in a knowledge base of their own."""
    from qwenvl_agents.store.embeddings import SentenceTransformerEmbeddings

    target = PageIndex.open(settings, f"{source.knowledge_base}-minilm", SentenceTransformerEmbeddings())
    if target.count() != source.count():
        started = time.perf_counter()
        for ids, texts, metas in source.iter_batches(include_text=True, include_metadata=True):
            vectors = target.embeddings.embed_documents([t or "" for t in texts])
            target.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metas)  # type: ignore[arg-type]
        target._bump_revision()
        print(f"minilm copy: {target.count()} records embedded in {time.perf_counter() - started:.0f} s")
    return PageSearch(target)


# --- scale ------------------------------------------------------------------------------------------------

VENDORS = [
    f"{a} {b}"
    for a in ("Acme", "Northwind", "Brightwater", "Kestrel", "Umbra", "Vega", "Orchid", "Basalt")
    for b in ("B.V.", "GmbH", "Ltd", "Inc", "SARL", "Labs", "Trading", "Supplies")
]
WORDS = str.split(
    "invoice total amount due payment terms delivery order quantity price tax subtotal customer account bank "
    "transfer reference shipping address contract service maintenance license hardware software consulting "
    "report revenue growth quarter annual summary region sales margin forecast energy solar capacity members "
    "factuur bedrag betaling rechnung betrag zahlung facture montant paiement 发票 金额 合计 税额 日期"
)


def generate(settings: Settings, pages: int, seed: int = 7) -> tuple[PageIndex, list[str]]:
    """An index of ``pages`` generated pages (100 per document); returns it and queries with known hits."""
    rng = random.Random(seed)
    index = PageIndex.open(settings, f"scale-{pages}")
    queries: list[str] = []
    per_doc = 100
    docs = pages // per_doc
    have = index.count()
    for d in range(docs):
        vendor = rng.choice(VENDORS)
        numbers = [f"INV-{2020 + d % 7}-{d:05d}{p:03d}" for p in range(per_doc)]
        if len(queries) < 200 and d % max(1, docs // 70) == 0:
            p = rng.randrange(per_doc)
            queries += [f"total of invoice {numbers[p]}", f"{vendor} {rng.choice(WORDS)} {rng.choice(WORDS)}"]
            queries.append(" ".join(rng.sample(WORDS, 4)))
        if have >= pages:
            continue
        doc_id = hashlib.sha256(f"generated-{d}".encode()).hexdigest()
        info = DocumentInfo(doc_id, f"/gen/doc-{d:05d}.pdf", f"doc-{d:05d}.pdf", "pdf", "pdf", 0, per_doc)
        entries = []
        for p in range(per_doc):
            total = round(rng.uniform(10, 20000), 2)
            body = " ".join(rng.choices(WORDS, k=180))
            text = f"# Invoice {numbers[p]}\n\n{vendor}\n\nTotal: {total:,.2f} EUR\n\n{body}"
            fields = KeyFields(
                seller=vendor,
                document_number=numbers[p],
                total=total,
                currency="EUR",
                issue_date=f"{2020 + d % 7}-{1 + p % 12:02d}-{1 + p % 28:02d}",
            )
            entries.append(
                PageEntry(
                    info, PageExtraction(doc_id, p + 1, text, "text", fields=fields, page_kind="invoice", language="en")
                )
            )
        index.upsert_pages(entries)
        if d % 50 == 0:
            print(f"  generated {index.count()} / {pages} pages", file=sys.stderr)
    return index, queries[:200]


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat * 1000


def scale(settings: Settings, pages: int) -> None:
    started = time.perf_counter()
    index, queries = generate(settings, pages)
    print(f"\nscale index: {index.count()} pages ready in {time.perf_counter() - started:.0f} s")
    search = PageSearch(index)
    started = time.perf_counter()
    lexical = search.lexical
    print(f"lexical index: {len(lexical)} pages loaded/built in {time.perf_counter() - started:.1f} s")
    for q in queries[:5]:  # warm caches (HNSW segments, stemmer)
        search.search(q, 5)
    filtered = {
        "vendor contains 'acme'": SearchFilters(vendor="acme"),
        "one document (100 pages)": SearchFilters(documents=["doc-00042.pdf"]),
        "issue date in 2023": SearchFilters(date_from="2023", date_to="2023"),
        "total >= 19,000": SearchFilters(min_total=19000),
    }
    rows = {
        "hybrid search (k=5, pages read)": [timed(lambda q=q: search.search(q, 5)) for q in queries],
        "  lexical leg": [timed(lambda q=q: lexical.search(q, 40)) for q in queries],
        "  dense leg": [timed(lambda q=q: index.dense_ids(q, 80)) for q in queries],
    }
    for name, filters in filtered.items():
        share = search.catalog.mask(search.resolve(filters).clauses).mean()
        rows[f"hybrid, {name} ({share:.1%})"] = [
            timed(lambda q=q, f=filters: search.search(q, 5, filters=f)) for q in queries
        ]
    print(f"{len(queries)} queries on {len(lexical)} pages:")
    for name, ms in rows.items():
        ms.sort()
        p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
        print(f"  {name:<48} p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the indexes are kept between runs")
    parser.add_argument("--qa", type=Path, default=CORPUS / "qa-dev.jsonl")
    parser.add_argument("--pages", type=int, default=100_000, help="size of the generated index (0: skip)")
    parser.add_argument("--knowledge-base", default="corpus", help="knowledge base of the corpus pages")
    parser.add_argument("--only", choices=("quality", "scale"), help="run one part only")
    parser.add_argument("--minilm", action="store_true", help="also search with all-MiniLM-L6-v2 vectors")
    args = parser.parse_args()
    if not args.qa.exists() and args.only != "scale":
        sys.exit(f"no question file at {args.qa}; set QWENVL_CORPUS to the corpus folder")
    settings = Settings(data_dir=args.cache, knowledge_base=args.knowledge_base, _env_file=None)
    if args.only != "scale":
        quality(settings, load_questions(args.qa), args.minilm)
    if args.pages and args.only != "quality":
        scale(settings, args.pages)


if __name__ == "__main__":
    main()
