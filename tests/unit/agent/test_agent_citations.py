"""Citations are checked against the pages the run showed; invented ones are set apart."""

from __future__ import annotations

import pytest

from qwenvl_agents.agent import AgentContext
from qwenvl_agents.agent.citations import check_citations, inline_citations
from qwenvl_agents.agent.state import merge_pages, page_ref

A = "a" * 64
SEEN = [page_ref("invoice-en.pdf", 1, A), page_ref("报告.pdf", 2, "b" * 64), page_ref("invoice-en.pdf", 3, A)]


def pairs(refs):
    return [(r["document"], r["page"]) for r in refs]


def test_inline_citations_in_several_spellings() -> None:
    text = "Total [invoice-en.pdf, p. 1]; see [报告.pdf, page 2] and [Deck, P.10] but not [note] or [a, p. x]."
    assert pairs(inline_citations(text)) == [("invoice-en.pdf", 1), ("报告.pdf", 2), ("Deck", 10)]


@pytest.mark.parametrize(
    ("cited", "verified", "unverified"),
    [
        ([{"document": "invoice-en.pdf", "page": 1}], [("invoice-en.pdf", 1)], []),
        ([{"document": "INVOICE-EN.PDF", "page": 3}], [("invoice-en.pdf", 3)], []),
        ([{"document": "/data/in/invoice-en.pdf", "page": 1}], [("invoice-en.pdf", 1)], []),
        ([{"document": "aaaaaaaa", "page": 1}], [("invoice-en.pdf", 1)], []),
        ([{"document": "aaaa", "page": 1}], [], [("aaaa", 1)]),  # too short for an id prefix
        ([{"document": "invoice-en.pdf", "page": 2}], [], [("invoice-en.pdf", 2)]),  # a page never shown
        ([{"document": "ghost.pdf", "page": 1}], [], [("ghost.pdf", 1)]),
        ([{"document": "invoice-en.pdf", "page": "x"}], [], [("invoice-en.pdf", 0)]),
        ([{"document": "invoice-en.pdf", "page": 0}], [], [("invoice-en.pdf", 0)]),
        ([{"document": "", "page": 1}], [], [("?", 1)]),
        ([{"document": "invoice-en.pdf", "page": 1}] * 3, [("invoice-en.pdf", 1)], []),
    ],
)
def test_structured_citations(cited, verified, unverified) -> None:
    ok, bad = check_citations("", cited, SEEN)
    assert (pairs(ok), pairs(bad)) == (verified, unverified)
    assert all(r["document_id"] for r in ok)


def test_inline_citations_join_the_structured_list_after_it() -> None:
    ok, bad = check_citations(
        "A [报告.pdf, p. 2], B [invoice-en.pdf, p. 1], C [other.pdf, p. 1]",
        [{"document": "invoice-en.pdf", "page": 3}],
        SEEN,
    )
    assert pairs(ok) == [("invoice-en.pdf", 3), ("报告.pdf", 2), ("invoice-en.pdf", 1)]
    assert pairs(bad) == [("other.pdf", 1)]


def test_nothing_seen_means_nothing_verifies() -> None:
    ok, bad = check_citations("[invoice-en.pdf, p. 1]", [], [])
    assert ok == [] and pairs(bad) == [("invoice-en.pdf", 1)]


def test_merge_pages_keeps_order_and_tells_documents_apart_by_id() -> None:
    twin = page_ref("invoice-en.pdf", 1, "c" * 64)  # same name, other content
    assert len(merge_pages(SEEN, [SEEN[0], twin])) == 4


def test_context_validation_and_coercion() -> None:
    assert AgentContext.coerce({"k": 3, "documents": "a.pdf"}).documents == ["a.pdf"]
    assert AgentContext.coerce(None) == AgentContext()
    with pytest.raises(ValueError, match="unknown context keys"):
        AgentContext.coerce({"kk": 3})
    with pytest.raises(ValueError, match="date_from"):
        AgentContext(date_from="2026-13-01")
    with pytest.raises(ValueError, match="look_pages"):
        AgentContext(look_pages=0)
    assert AgentContext(look_pages=3).images_per_look(None) == 3
    assert AgentContext(look_pages=3).images_per_look(2) == 2
