"""Hybrid page search: dense (Chroma) and lexical (bm25s) legs, filtered alike, fused, returned as pages.

Example:
    >>> import tempfile
    >>> from qwenvl_agents.samples import write_samples
    >>> from qwenvl_agents.ingest import ingest
    >>> from qwenvl_agents.settings import Settings
    >>> settings = Settings(data_dir=tempfile.mkdtemp(), _env_file=None)
    >>> _ = write_samples(f"{settings.data_dir}/samples")
    >>> _ = ingest([f"{settings.data_dir}/samples"], settings, extractor="text")
    >>> search = PageSearch.open(settings)
    >>> hit = search.search("invoice total of Northwind", k=3)[0]
    >>> hit.name, hit.page, hit.image_path is not None
    ('invoice-en.pdf', 1, True)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from qwenvl_agents.retrieval.filters import ResolvedFilters, SearchFilters
from qwenvl_agents.retrieval.fusion import FusionWeights, fuse, identifier_tokens, page_references, pin
from qwenvl_agents.retrieval.snippets import best_snippet
from qwenvl_agents.store.index import PageIndex
from qwenvl_agents.store.lexical import LexicalIndex
from qwenvl_agents.types import RetrievedPage

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from qwenvl_agents.settings import Settings
    from qwenvl_agents.store.catalog import PageCatalog
    from qwenvl_agents.store.stored import StoredPage

SearchMode = Literal["hybrid", "dense", "lexical"]
_SCORE_HERE_MAX_PAGES = 300
_OVERFETCH_MAX = 4000
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class LegHits:
    """Each leg's ranked page ids for one query (before fusion), for evaluation and debugging."""

    dense: tuple[str, ...] = ()
    lexical: tuple[str, ...] = ()
    pinned: tuple[str, ...] = ()
    fused: tuple[tuple[str, float], ...] = field(default=())


class PageSearch:
    """Search the pages of a knowledge base: ``search(query, k, filters=..., mode=...)`` → ranked pages.

    ``mode`` is ``hybrid`` (default: both legs fused, see :mod:`qwenvl_agents.retrieval.fusion`), ``dense``
    (Chroma vectors only) or ``lexical`` (BM25 only). Each result is a :class:`RetrievedPage` with its rank,
    fused score, the best-matching snippet, the whole page text, stored fields and the page image path.
    A long page found through one of its chunks comes back once, as its page.

    The lexical index follows the knowledge base: writes through ``index`` show at once; writes by other
    processes within ``freshness_seconds`` (checking costs two Chroma calls, ~10 ms at 100,000 pages, so it
    is not done on every query). Safe to share between threads.
    """

    def __init__(
        self, index: PageIndex, *, weights: FusionWeights | None = None, freshness_seconds: float = 1.0
    ) -> None:
        self.index = index
        self.weights = weights or FusionWeights()
        self.freshness_seconds = freshness_seconds
        self._lexical: LexicalIndex | None = None
        self._checked = (-1, 0.0)  # (index.writes, monotonic time) at the last check
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        knowledge_base: str | None = None,
        *,
        embeddings: Embeddings | None = None,
        weights: FusionWeights | None = None,
    ) -> PageSearch:
        """Search over the knowledge base named by ``knowledge_base`` (default: ``QWENVL_KNOWLEDGE_BASE``)."""
        return cls(PageIndex.open(settings, knowledge_base, embeddings), weights=weights)

    def __repr__(self) -> str:
        return f"PageSearch({self.index!r})"

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index, loaded or rebuilt if the knowledge base changed since it was last used."""
        with self._lock:
            now, writes = time.monotonic(), self.index.writes
            if self._lexical is None:
                self._lexical = LexicalIndex.load_or_build(self.index)
            elif writes != self._checked[0] or now - self._checked[1] >= self.freshness_seconds:
                self._lexical = self._lexical.refresh(self.index)
            else:
                return self._lexical
            self._checked = (writes, now)
            return self._lexical

    @property
    def catalog(self) -> PageCatalog:
        """Metadata of every page as columns (for filters and document lookups)."""
        return self.lexical.catalog

    def resolve(self, filters: SearchFilters | None) -> ResolvedFilters:
        """Exact clauses for ``filters`` (raises :class:`UnknownDocumentError` for an unknown document)."""
        return (filters or SearchFilters()).resolve(self.catalog)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        filters: SearchFilters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[RetrievedPage]:
        """The ``k`` best pages for ``query``, best first."""
        legs = self.rank(query, k, filters=filters, mode=mode)
        ranked = list(legs.fused[:k])
        pages = {p.id: p for p in self.index.get([rid for rid, _ in ranked])}
        dense_rank = {rid: n for n, rid in enumerate(legs.dense, start=1)}
        lexical_rank = {rid: n for n, rid in enumerate(legs.lexical, start=1)}
        out: list[RetrievedPage] = []
        for rid, score in ranked:
            page = pages.get(rid)
            if page is None:  # deleted between ranking and reading
                continue
            out.append(_retrieved(page, query, len(out) + 1, score, dense_rank.get(rid), lexical_rank.get(rid)))
        return out

    def rank(
        self, query: str, k: int = 5, *, filters: SearchFilters | None = None, mode: SearchMode = "hybrid"
    ) -> LegHits:
        """Ranked page ids of each leg and the fused order (no page texts read)."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
        lexical = self.lexical
        resolved = (filters or SearchFilters()).resolve(lexical.catalog)
        if resolved.empty or not len(lexical):
            return LegHits()
        depth = max(4 * k, 40)
        mask = lexical.catalog.mask(resolved.clauses) if resolved.clauses else None
        lexical_ids: tuple[str, ...] = ()
        dense_ids: tuple[str, ...] = ()
        if mode != "dense":
            lexical_ids = tuple(rid for rid, _ in lexical.search(query, depth, mask=mask))
        if mode != "lexical":
            dense_ids = self._dense(query, depth, resolved, mask, need=k)
        if mode == "lexical":
            return LegHits(dense_ids, lexical_ids, (), tuple((rid, 1.0 / n) for n, rid in enumerate(lexical_ids, 1)))
        if mode == "dense":
            return LegHits(dense_ids, lexical_ids, (), tuple((rid, 1.0 / n) for n, rid in enumerate(dense_ids, 1)))
        w = self.weights
        rankings: dict[str, tuple[str, ...]] = {"lexical": lexical_ids, "dense": dense_ids}
        refs = page_references(query)
        if refs:
            candidates = dict.fromkeys(lexical_ids + dense_ids)
            rankings["page_reference"] = tuple(rid for rid in candidates if PageIndex.parse_id(rid).page in refs)
        fused = fuse(
            rankings, {"lexical": w.lexical, "dense": w.dense, "page_reference": w.page_reference}, rrf_k=w.rrf_k
        )
        pinned = self._identifier_pages(lexical, query, mask)
        if pinned:
            known = {rid for rid, _ in fused}
            # A pinned page outside both legs' depth still goes first: it holds the identifier asked for.
            fused += [(rid, 0.0) for rid in pinned if rid not in known]
        return LegHits(dense_ids, lexical_ids, tuple(pinned), tuple(pin(fused, pinned)))

    def _dense(
        self, query: str, depth: int, resolved: ResolvedFilters, mask: np.ndarray | None, *, need: int
    ) -> tuple[str, ...]:
        """Page ids nearest to ``query`` among the pages ``mask`` allows (chunks compete too; a page found
        through several chunks counts once, at its best rank).

        Chroma filters by scanning its metadata (0.1-0.6 s at 100,000 pages), so a filter is applied the
        cheapest exact-enough way: a few hundred pages are scored here from their stored vectors; a broad
        filter over-fetches unfiltered neighbours and keeps the allowed ones; only a narrow-but-large one
        goes to Chroma's ``where``: when the over-fetch kept fewer than ``need`` pages (the ``k`` asked for).
        """
        catalog = self.lexical.catalog
        if mask is None:
            return _pages(self.index.dense_ids(query, k=depth * 2), depth)
        rows = np.flatnonzero(mask)
        if len(rows) <= _SCORE_HERE_MAX_PAGES:
            return _pages(self._score_here(query, catalog.record_ids(rows)), depth)
        share = len(rows) / max(1, len(catalog))
        fetch = int(depth * 2 / share * 1.5)
        if fetch <= _OVERFETCH_MAX:
            position = catalog.position
            # A record whose page the catalog does not know yet (written since it was built) is left out.
            kept = [
                (rid, score)
                for rid, score in self.index.dense_ids(query, k=fetch)
                if (row := position.get(PageIndex.page_record_id(rid))) is not None and mask[row]
            ]
            pages = _pages(kept, depth)
            if len(pages) >= min(need, len(rows)):
                return pages
        return _pages(self.index.dense_ids(query, k=depth * 2, where=resolved.where), depth)

    def _score_here(self, query: str, record_ids: list[str]) -> list[tuple[str, float]]:
        got = self.index.collection.get(ids=record_ids, include=["embeddings"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        if not len(vectors):
            return []
        q = np.asarray(self.index.embeddings.embed_query(query), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(q) or 1.0)
        scores = vectors @ q / np.where(norms == 0, 1.0, norms)
        order = np.argsort(-scores, kind="stable")
        return [(got["ids"][i], float(scores[i])) for i in order]

    def _identifier_pages(self, lexical: LexicalIndex, query: str, mask: np.ndarray | None) -> dict[str, int]:
        tokens = identifier_tokens(query)
        if not tokens:
            return {}
        limit = max(self.weights.identifier_max_pages, int(self.weights.identifier_max_fraction * len(lexical)))
        counts = np.zeros(len(lexical), dtype=np.int32)
        for token in tokens:
            holders = lexical.containing(token)
            if 0 < int(holders.sum()) <= limit:
                counts += holders
        if mask is not None:
            counts = np.where(mask, counts, 0)
        return {lexical.ids[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def _pages(hits: list[tuple[str, float]], depth: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(PageIndex.page_record_id(rid) for rid, _ in hits))[:depth]


def _retrieved(
    page: StoredPage, query: str, rank: int, score: float, dense_rank: int | None, lexical_rank: int | None
) -> RetrievedPage:
    md = page.metadata
    image = page.image
    title = md.get("title")
    timestamp = md.get("timestamp")
    return RetrievedPage(
        record_id=page.id,
        document_id=page.document_id,
        name=page.name,
        source=page.source,
        page=page.page,
        page_count=int(md.get("page_count", 0) or 0),
        rank=rank,
        score=float(score),
        snippet=best_snippet(page.body or page.text, query),
        text=page.text,
        image_path=image.path if image else None,
        title=None if title is None else str(title),
        page_kind=str(md.get("page_kind", "other")),
        language=None if md.get("language") is None else str(md.get("language")),
        status=page.status,
        timestamp=None if timestamp is None else float(timestamp),
        fields=page.fields,
        tables=page.tables,
        dense_rank=dense_rank,
        lexical_rank=lexical_rank,
    )
