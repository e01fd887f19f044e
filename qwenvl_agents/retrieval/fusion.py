"""Fusing ranked lists: weighted reciprocal rank fusion, with identifiers and page references on top.

Plain equal-weight RRF lets a weak leg drag exact hits down: on the corpus, a page holding the asked-for
invoice number sat at lexical rank 1 and fell to 15-19 after fusing with an English MiniLM leg. So:

- **Weights.** Each leg's reciprocal ranks are weighted (lexical above dense by default: on documents full of
  numbers, names and labels in several languages, exact words are the stronger signal), and ``rrf_k`` is
  small, so a leg's first places weigh much more than its tail. The defaults (lexical 1, dense 0.25,
  ``rrf_k`` 5) were chosen on the corpus questions with both the hashing and the MiniLM embedder
  (``bench/retrieval.py``): dense mostly breaks ties and rescues pages the words miss.
- **Identifiers win.** A query token that looks like an identifier (has a digit, or is an identifier joined
  with ``-./`` ...) and occurs on few pages pins the pages containing it above all others, ordered among
  themselves by how many such tokens they hold, then by fused score.
- **Page references.** "page 3", "slide 2", "第3页" in the query lift the pages with that number, as a third
  leg.

Example:
    >>> fused = fuse({"lexical": ["a", "b", "c"], "dense": ["c", "d"]}, {"lexical": 1.0, "dense": 0.5}, rrf_k=10)
    >>> [rid for rid, _ in fused]
    ['c', 'a', 'b', 'd']
    >>> [rid for rid, _ in pin(fused, {"b": 1})]
    ['b', 'c', 'a', 'd']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from qwenvl_agents.store.text import normalize, scan

_PAGE_REF = re.compile(
    r"\b(?:pages?|p\.|pp\.|slides?|sheet|pagina|seite|blatt|folie|diapositive)\s*(?:no\.?|nr\.?|#)?\s*(\d{1,5})\b"
    r"|第\s*(\d{1,5})\s*[页頁张張]"
    r"|\b(\d{1,5}|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)(?:st|nd|rd|th)?\s+(?:page|slide)\b",
    re.IGNORECASE,
)
_ORDINALS = {
    word: n
    for n, word in enumerate(
        ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"), start=1
    )
}


@dataclass(frozen=True)
class FusionWeights:
    """How hybrid search weighs its legs. ``rrf_k`` damps ranks: score = weight / (rrf_k + rank).

    ``identifier_max_pages`` is how many pages (at most, or that fraction of the index when larger) may
    contain a query token for it to count as an identifier that pins its pages first.
    """

    lexical: float = 1.0
    dense: float = 0.25
    page_reference: float = 0.5
    rrf_k: int = 5
    identifier_max_pages: int = 5
    identifier_max_fraction: float = 0.002

    def __post_init__(self) -> None:
        if min(self.lexical, self.dense, self.page_reference) < 0 or self.lexical + self.dense <= 0:
            raise ValueError(f"weights must be >= 0 and not all zero, got {self}")
        if self.rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {self.rrf_k}")


def fuse(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], *, rrf_k: int = 10
) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion of several best-first id lists; ties keep first-seen order."""
    scores: dict[str, float] = {}
    for leg, ranking in rankings.items():
        weight = float(weights.get(leg, 1.0))
        if weight == 0:
            continue
        for rank, rid in enumerate(ranking, start=1):
            scores[rid] = scores.get(rid, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def pin(fused: Sequence[tuple[str, float]], pinned: Mapping[str, int]) -> list[tuple[str, float]]:
    """Move the ids in ``pinned`` (id → how many identifiers it matched) to the front, most matches first."""
    if not pinned:
        return list(fused)
    order = {rid: n for n, (rid, _) in enumerate(fused)}
    front = sorted((item for item in fused if item[0] in pinned), key=lambda it: (-pinned[it[0]], order[it[0]]))
    return front + [item for item in fused if item[0] not in pinned]


def identifier_tokens(query: str) -> list[str]:
    """Query tokens that look like identifiers: codes with joiners (``INV-2026-0042``), or runs with a
    digit and at least four characters (``42183017``, ``OD3041…``). Plain words and short numbers are not.

    Example:
        >>> identifier_tokens("Total of invoice INV/2023/03/0008 on page 1, order OD304175096047380001?")
        ['inv/2023/03/0008', 'od304175096047380001']
    """
    out: list[str] = []
    for kind, token in scan(query):
        if kind == "cjk" or token in out:
            continue
        if kind in ("code", "word") and len(token) >= 4 and any(c.isdigit() for c in token):
            out.append(token)
    return out


def page_references(query: str) -> list[int]:
    """Page or slide numbers the query names.

    Example:
        >>> page_references("What does slide 3 say? And page no. 12, 第5页, the 2nd page, the first slide")
        [3, 12, 5, 2, 1]
    """
    refs: list[int] = []
    for match in _PAGE_REF.finditer(normalize(query)):
        found = next(g for g in match.groups() if g)
        number = _ORDINALS[found] if found in _ORDINALS else int(found)
        if number >= 1 and number not in refs:
            refs.append(number)
    return refs
