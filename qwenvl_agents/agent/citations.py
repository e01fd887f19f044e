"""Checking an answer's citations against the pages the run actually showed the model.

A citation is kept when it names a page a tool returned (by file name, or a document-id prefix); anything
else is an invented page and is set apart as unverified. Inline citations ``[name, p. N]`` in the answer's
text count too, so a page cited only in the text still reaches the structured list.

Example:
    >>> from qwenvl_agents.agent.state import page_ref
    >>> seen = [page_ref("invoice-en.pdf", 1, "ab" * 32)]
    >>> ok, bad = check_citations("Total 2,587.72 [invoice-en.pdf, p. 1] [made-up.pdf, p. 3]",
    ...                           [{"document": "Invoice-EN.pdf", "page": 1}], seen)
    >>> [(c["document"], c["page"]) for c in ok], [(c["document"], c["page"]) for c in bad]
    ([('invoice-en.pdf', 1)], [('made-up.pdf', 3)])
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from qwenvl_agents.agent.state import PageRef, merge_pages, page_ref

INLINE_CITATION = re.compile(r"\[([^\[\]\n]{1,300}?),\s*(?:p\.|pp\.|page)\s*(\d{1,5})\s*\]", re.IGNORECASE)


def inline_citations(text: str) -> list[dict[str, Any]]:
    """``[name, p. N]`` citations written in ``text``, in order."""
    return [{"document": m.group(1).strip(), "page": int(m.group(2))} for m in INLINE_CITATION.finditer(text or "")]


def document_matches(ref: PageRef, document: str) -> bool:
    """Whether ``document`` (a file name, path or document-id prefix of 8+ hex digits) names ``ref``'s document."""
    given = document.strip()
    if not given:
        return False
    name = ref["document"]
    if given.casefold() == name.casefold() or PurePath(given).name.casefold() == name.casefold():
        return True
    doc_id = ref.get("document_id") or ""
    return len(given) >= 8 and bool(doc_id) and doc_id.startswith(given.lower())


def find_seen(document: str, page: int, seen: Sequence[PageRef]) -> PageRef | None:
    """The seen page ``page`` of ``document``, or ``None``."""
    for ref in seen:
        if int(ref["page"]) == page and document_matches(ref, document):
            return ref
    return None


def _page_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 1 else None


def check_citations(
    text: str, cited: Sequence[Mapping[str, Any]], seen: Sequence[PageRef]
) -> tuple[list[PageRef], list[PageRef]]:
    """``(verified, unverified)`` citations of an answer: the structured ones first, then inline ones.

    Verified citations are the seen pages themselves (canonical file name and document id), each once.
    """
    verified: list[PageRef] = []
    unverified: list[PageRef] = []
    for item in [*cited, *inline_citations(text)]:
        document = str(item.get("document") or "").strip()
        page = _page_number(item.get("page"))
        if page is None or not document:
            unverified = merge_pages(unverified, [page_ref(document or "?", page or 0)])
            continue
        found = find_seen(document, page, seen)
        if found is not None:
            verified = merge_pages(verified, [found])
        else:
            unverified = merge_pages(unverified, [page_ref(document, page)])
    return verified, unverified
