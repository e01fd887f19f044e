"""Hybrid search over a real index: identifiers, Chinese, file names, page references, filters, freshness."""

from __future__ import annotations

import pytest

from qwenvl_agents.retrieval import PageRetriever, SearchFilters
from qwenvl_agents.types import KeyFields
from tests.unit.retrieval.helpers import DOCS, doc, entry


def names(hits):
    return [(h.name, h.page) for h in hits]


def test_an_identifier_in_the_question_puts_its_page_first(search):
    # The filler page repeats every other word of the question; only the invoice number singles out ACME.
    query = "What is the total amount of the invoice INV-2026-0042 due on receipt?"
    hits = search.search(query, 3)
    assert names(hits)[0] == ("acme-2026-03.pdf", 1)
    legs = search.rank(query, 3)
    assert legs.pinned == (hits[0].record_id,)


def test_amounts_match_whatever_the_separators(search):
    assert names(search.search("4,904.94", 1)) == [("zeta-invoice.pdf", 1)]


def test_chinese_text_is_found_without_spaces(search):
    for mode in ("lexical", "hybrid"):
        assert names(search.search("发票金额", 2, mode=mode))[0] == ("报告.pdf", 1)


def test_file_names_and_titles_are_searchable(search):
    assert {h.name for h in search.search("deck.pptx", 3)} == {"deck.pptx"}
    assert search.search("Quarterly review", 1)[0].name == "deck.pptx"


def test_a_page_reference_lifts_that_page(search):
    assert names(search.search("slide 2 of the deck", 1)) == [("deck.pptx", 2)]
    assert names(search.search("deck page 3", 1)) == [("deck.pptx", 3)]


def test_a_long_page_found_by_its_tail_comes_back_once_as_a_page(search):
    hits = search.search("heliostat calibration drifted", 5, mode="dense")
    assert names(hits)[0] == ("long-report.pdf", 1)
    assert all(":c" not in h.record_id for h in hits)
    assert len({h.record_id for h in hits}) == len(hits)
    assert "heliostat" in search.search("heliostat calibration", 1)[0].snippet


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(documents=["deck.pptx"]), {("deck.pptx", 1), ("deck.pptx", 2), ("deck.pptx", 3)}),
        (SearchFilters(vendor="acme"), {("acme-2026-03.pdf", 1)}),
        (SearchFilters(page_kinds=["invoice"], date_from="2026-01-01"), {("acme-2026-03.pdf", 1), ("supplies.pdf", 1)}),
        (SearchFilters(min_total=1000), {("zeta-invoice.pdf", 1)}),
        (SearchFilters(currency="USD"), {("supplies.pdf", 1)}),
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("dense_path", ["score here", "over-fetch", "chroma where"])
def test_filters_hold_in_every_mode(search, filters, expected, mode, dense_path, monkeypatch):
    # The dense leg filters three ways depending on how many pages the filter allows; force each.
    limits = {"score here": (10_000, 0), "over-fetch": (0, 10_000), "chroma where": (0, 0)}[dense_path]
    monkeypatch.setattr("qwenvl_agents.retrieval.search._SCORE_HERE_MAX_PAGES", limits[0])
    monkeypatch.setattr("qwenvl_agents.retrieval.search._OVERFETCH_MAX", limits[1])
    # A broad query that matches every page somewhere (file names, "page 1 of"): only the filter decides.
    hits = search.search("invoice total page slide report", 10, filters=filters, mode=mode)
    assert set(names(hits)) <= expected
    if mode != "lexical":
        assert set(names(hits)) == expected


def test_results_carry_what_an_answer_needs(search):
    hit = search.search("ACME factuur", 1)[0]
    assert (hit.rank, hit.page, hit.page_kind, hit.language) == (1, 1, "invoice", "nl")
    assert isinstance(hit.fields, KeyFields)
    assert hit.fields == KeyFields(
        seller="ACME B.V.", total=120.0, issue_date="2026-03-01", currency="EUR", document_number="INV-2026-0042"
    )
    assert hit.document_id == DOCS["acme"].document_id
    assert str(hit.citation) == "[acme-2026-03.pdf, p. 1]"
    assert hit.dense_rank is not None and hit.lexical_rank is not None
    assert "ACME" in hit.snippet and hit.text.startswith("acme-2026-03.pdf")


def test_bad_arguments_are_refused(search):
    with pytest.raises(ValueError, match="non-empty"):
        search.search("  ")
    with pytest.raises(ValueError, match="positive integer"):
        search.search("x", 0)
    with pytest.raises(ValueError, match="mode must be one of"):
        search.search("x", mode="sparse")  # type: ignore[arg-type]


def test_a_page_written_after_opening_is_found(search):
    new = doc("late-arrival.pdf")
    search.index.upsert_page(new, entry(new, 1, "Kestrel Aviation invoice 9981").extraction)
    try:
        assert names(search.search("Kestrel Aviation", 1, mode="lexical")) == [("late-arrival.pdf", 1)]
        assert "late-arrival.pdf" in {n for n, _ in search.catalog.documents().values()}
    finally:
        search.index.delete_document(new.document_id)
    assert search.search("Kestrel Aviation", 1, mode="lexical") == []


def test_retriever_returns_documents_with_citations(search):
    retriever = PageRetriever(search=search, k=2)
    docs = retriever.invoke("ACME factuur")
    assert len(docs) == 2
    assert docs[0].metadata["citation"] == "[acme-2026-03.pdf, p. 1]"
    assert docs[0].page_content.startswith("acme-2026-03.pdf")
    only_slides = retriever.invoke("text", k=3, filters=SearchFilters(page_kinds=["slide"]))
    assert [d.metadata["page_kind"] for d in only_slides] == ["slide"] * 3


def test_writes_by_another_writer_show_within_the_freshness_interval(search):
    from qwenvl_agents.retrieval import PageSearch
    from qwenvl_agents.store import PageIndex

    watcher = PageSearch(search.index, freshness_seconds=0.0)
    other = PageIndex.open(search.index.settings, search.index.knowledge_base, search.index.embeddings)
    new = doc("from-elsewhere.pdf")
    assert watcher.search("Umbra Trading", 1, mode="lexical") == []
    other.upsert_page(new, entry(new, 1, "Umbra Trading invoice 5521").extraction)
    try:
        assert names(watcher.search("Umbra Trading", 1, mode="lexical")) == [("from-elsewhere.pdf", 1)]
    finally:
        other.delete_document(new.document_id)
