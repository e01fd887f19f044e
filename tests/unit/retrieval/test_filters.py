"""SearchFilters: validation, document resolution, and the same pages through Chroma's where and the catalog."""

from __future__ import annotations

import pytest

from qwenvl_agents.retrieval import SearchFilters, UnknownDocumentError, resolve_documents
from tests.unit.retrieval.helpers import DOCS


def test_one_string_is_one_value_not_characters():
    assert SearchFilters(documents="deck.pptx").documents == ("deck.pptx",)
    assert SearchFilters(page_kinds=["slide", "invoice"]).page_kinds == ("slide", "invoice")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"date_from": "03/01/2026"}, "date like"),
        ({"date_to": "2026-13"}, "no month 13"),
        ({"date_to": "2026-02-30"}, "no day 30"),
        ({"date_from": "2026-03", "date_to": "2026-02"}, "after date_to"),
        ({"min_total": 10, "max_total": 5}, "above max_total"),
        ({"vendor": "  "}, "vendor must not be empty"),
        ({"pages": [0]}, "page numbers from 1"),
    ],
)
def test_bad_filters_fail_loudly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SearchFilters(**kwargs)


def test_a_month_runs_to_its_last_day(search):
    resolved = SearchFilters(date_from="2026-02", date_to="2026-02").resolve(search.catalog)
    assert ("date_int", "gte", 20260201) in resolved.clauses
    assert ("date_int", "lte", 20260228) in resolved.clauses


def test_documents_by_name_path_and_id_prefix(search):
    docs = search.catalog.documents()
    deck, acme = DOCS["deck"].document_id, DOCS["acme"].document_id
    assert resolve_documents(["deck.pptx"], docs) == (deck,)
    assert resolve_documents(["/data/in/deck.pptx", acme[:10], "deck.pptx"], docs) == (deck, acme)
    with pytest.raises(UnknownDocumentError, match=r"no indexed document matches 'nope\.pdf'.*deck\.pptx"):
        resolve_documents(["nope.pdf"], docs)


def test_a_name_two_documents_share_is_refused_with_both_paths():
    docs = {"a" * 64: ("x.pdf", "/one/x.pdf"), "b" * 64: ("x.pdf", "/two/x.pdf")}
    with pytest.raises(UnknownDocumentError, match=r"matches 2 documents: /one/x\.pdf.*/two/x\.pdf"):
        resolve_documents(["x.pdf"], docs)
    assert resolve_documents(["/two/x.pdf"], docs) == ("b" * 64,)


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(vendor="acme"),
        SearchFilters(vendor="GMBH"),
        SearchFilters(date_from="2026-01-01"),
        SearchFilters(date_from="2025", date_to="2025"),
        SearchFilters(min_total=100),
        SearchFilters(max_total=120.0, currency="eur"),
        SearchFilters(page_kinds=["slide"], pages=[2, 3]),
        SearchFilters(languages=["zh", "nl"]),
        SearchFilters(documents=["deck.pptx", "long-report.pdf"]),
        SearchFilters(page_kinds=["invoice"], date_to="2026-02-28", min_total=50),
    ],
)
def test_catalog_mask_and_chroma_where_select_the_same_pages(search, filters):
    resolved = filters.resolve(search.catalog)
    by_mask = {rid for rid, keep in zip(search.catalog.ids, search.catalog.mask(resolved.clauses), strict=True) if keep}
    by_chroma = set(search.index.ids_where(resolved.where or {}, record_type="page"))
    assert by_mask == by_chroma
    assert by_mask, "each case should select something, or it proves nothing"
    assert len(by_mask) < len(search.catalog)


def test_a_vendor_nobody_has_selects_nothing(search):
    assert SearchFilters(vendor="Initech").resolve(search.catalog).empty
    assert search.search("invoice", 5, filters=SearchFilters(vendor="Initech")) == []
