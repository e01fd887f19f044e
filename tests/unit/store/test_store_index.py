"""PageIndex against a real embedded Chroma in tmp_path."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from qwenvl_agents.store import (
    EmbedderMismatchError,
    HashingEmbeddings,
    KnowledgeBaseNameError,
    PageEntry,
    PageImageStore,
    PageIndex,
    page_id,
)
from qwenvl_agents.types import LineItem, PageImage, Table
from tests.unit.store.helpers import invoice_fields, make_doc, make_page


def long_text(paragraphs: int, word: str = "alpha") -> str:
    return "\n\n".join(f"Paragraph {i} about {word} " + f"{word} beta gamma " * 12 for i in range(paragraphs))


def test_upsert_twice_keeps_one_record_per_page(index) -> None:
    doc = make_doc(pages=2)
    entries = [PageEntry(doc, make_page(doc, p, f"Page {p} text")) for p in (1, 2)]
    assert index.upsert_pages(entries) == 2
    assert index.upsert_pages(entries) == 2
    assert index.count() == 2
    assert [p.id for p in index.pages_of(doc.document_id)] == [page_id(doc.document_id, 1), page_id(doc.document_id, 2)]


def test_long_page_gets_chunks_and_a_shorter_version_drops_stale_ones(index) -> None:
    doc = make_doc(pages=1)
    index.upsert_page(doc, make_page(doc, 1, long_text(12)))
    records = index.pages_of(doc.document_id, include_chunks=True)
    chunks = [r for r in records if r.record_type == "chunk"]
    assert len(chunks) >= 4 and records[0].record_type == "page"
    assert all(c.text.startswith("invoice.pdf — page 1 of 1") for c in chunks)  # each chunk says where it is from
    assert all(c.metadata["page_id"] == records[0].id for c in chunks)
    assert index.count() == 1 + len(chunks)

    index.upsert_page(doc, make_page(doc, 1, long_text(5)))
    shorter = index.pages_of(doc.document_id, include_chunks=True)
    n = int(shorter[0].metadata["chunk_count"])
    assert 1 <= n < len(chunks)
    assert [r.chunk for r in shorter[1:]] == list(range(n))
    assert index.count() == 1 + n

    index.upsert_page(doc, make_page(doc, 1, "now short"))
    assert index.count() == 1


def test_metadata_round_trip_with_fields_tables_and_image(index, tmp_path) -> None:
    doc = make_doc("acme-2026.pdf", pages=4, title="ACME invoice March")
    image = PageImageStore(tmp_path / "images").put(Image.new("RGB", (56, 84), "white"))
    fields = invoice_fields(
        "ACME B.V.",
        4904.94,
        "2026-03-15",
        buyer="Globex",
        document_number="INV-2026-0042",
        due_date="2026-04-14",
        subtotal=4053.67,
        tax=851.27,
        line_items=(LineItem("Widget", 3, 1351.22, 4053.66),),
        entities=("ACME", "Globex"),
    )
    table = Table(rows=(("Widget", "3", "4053.66"),), header=("Item", "Qty", "Amount"))
    extraction = make_page(
        doc, 2, "# Invoice INV-2026-0042", fields=fields, tables=(table,), language="en", page_kind="invoice"
    )
    page = PageImage(doc, 2, Image.new("RGB", (56, 84)), dpi=150.0, stored=image)
    index.upsert_page(page, extraction)

    stored = index.get_page(doc.document_id, 2)
    assert stored is not None and index.get_page(doc.document_id, 3) is None
    assert stored.fields == fields
    assert stored.tables == (table,)
    assert stored.image == image
    md = stored.metadata
    assert md["vendor"] == "ACME B.V." and md["buyer"] == "Globex" and md["document_number"] == "INV-2026-0042"
    assert md["total"] == pytest.approx(4904.94) and isinstance(md["total"], float)
    assert md["date"] == "2026-03-15" and md["date_int"] == 20260315 and md["due_date_int"] == 20260414
    assert md["page"] == 2 and md["page_count"] == 4 and md["dpi"] == 150.0 and md["status"] == "ok"
    assert md["language"] == "en" and md["page_kind"] == "invoice" and md["extractor"] == "vlm"
    assert json.loads(str(md["fields_json"]))["line_items"][0]["description"] == "Widget"
    assert "timestamp" not in md and "reason" not in md  # None values are left out, not stored
    first = stored.text.splitlines()[0]
    assert "acme-2026.pdf" in first and "ACME invoice March" in first and "page 2 of 4" in first
    assert "| Widget | 3 | 4053.66 |" in stored.text  # the table was not in the Markdown: appended
    view = stored.to_extraction()
    assert view.fields == fields and view.page == 2 and view.markdown.startswith("# Invoice")


def test_filters_on_vendor_total_and_date(index) -> None:
    rows = [
        ("a.pdf", "ACME", 120.0, "2026-01-10"),
        ("b.pdf", "ACME", 980.5, "2026-03-02"),
        ("c.pdf", "Globex", 45.0, "2026-03-20"),
    ]
    for name, vendor, total, date in rows:
        doc = make_doc(name, pages=1)
        index.upsert_page(doc, make_page(doc, 1, f"Invoice from {vendor}", fields=invoice_fields(vendor, total, date)))

    def names(where: dict) -> list[str]:
        return sorted(hit.name for hit, _ in index.dense_search("invoice", k=10, where=where))

    assert names({"vendor": "ACME"}) == ["a.pdf", "b.pdf"]
    assert names({"total": {"$gt": 100}}) == ["a.pdf", "b.pdf"]
    assert names({"vendor": "ACME", "total": {"$gte": 500}}) == ["b.pdf"]  # two keys: combined with $and
    assert names({"date_int": {"$gte": 20260301}}) == ["b.pdf", "c.pdf"]
    assert names({"date": "2026-03-20"}) == ["c.pdf"]
    assert sorted(index.ids_where({"vendor": {"$in": ["Globex"]}})) == [page_id(make_doc("c.pdf").document_id, 1)]


def test_dense_search_ranks_the_matching_page_first(index) -> None:
    doc = make_doc("mixed.pdf", pages=3)
    texts = ["Quarterly revenue grew in Europe", "Invoice total amount due 42 EUR", "Holiday photos from the beach"]
    index.upsert_pages(PageEntry(doc, make_page(doc, i + 1, t)) for i, t in enumerate(texts))
    hits = index.dense_search("what is the total amount due on the invoice", k=3)
    assert hits[0][0].page == 2 and hits[0][1] > hits[1][1]
    assert index.dense_search("anything", k=5, where={"page": 3}, record_type="page")[0][0].page == 3


def test_delete_document_removes_every_record(index) -> None:
    keep, gone = make_doc("keep.pdf", 1), make_doc("gone.pdf", 2)
    index.upsert_page(keep, make_page(keep, 1, "keep me"))
    index.upsert_pages([PageEntry(gone, make_page(gone, 1, long_text(10))), PageEntry(gone, make_page(gone, 2, "x"))])
    assert index.count() > 3
    removed = index.delete_document(gone.document_id)
    assert removed > 3 and index.count() == 1
    assert index.pages_of(gone.document_id, include_chunks=True) == []
    assert [d.name for d in index.documents()] == ["keep.pdf"]


def test_documents_summary_and_content_keys(index) -> None:
    doc = make_doc("scan.pdf", pages=3)
    index.upsert_pages(
        [
            PageEntry(doc, make_page(doc, 1, "ok page")),
            PageEntry(doc, make_page(doc, 2, "ocr text", extractor="ocr", status="fallback", reason="bad JSON")),
            PageEntry(doc, make_page(doc, 3, "", extractor="ocr", status="failed", reason="unreadable")),
        ]
    )
    [summary] = index.documents()
    assert (summary.name, summary.page_count, summary.pages_indexed) == ("scan.pdf", 3, 3)
    assert (summary.fallback_pages, summary.failed_pages) == (1, 1)
    keys = index.content_keys(doc.document_id)
    assert sorted(keys) == [1, 2, 3] and keys[1] != keys[2]  # the fallback's key names another extractor
    assert index.get_page(doc.document_id, 3).text == "scan.pdf — page 3 of 3"  # type: ignore[union-attr]


def test_explicit_content_key_is_stored(index) -> None:
    doc = make_doc(pages=1)
    index.upsert_page(doc, make_page(doc, 1, "text"), content_key="k-123")
    assert index.content_keys(doc.document_id) == {1: "k-123"}


def test_reopening_finds_persisted_pages(settings, open_index) -> None:
    doc = make_doc(pages=1)
    open_index(knowledge_base="persist").upsert_page(doc, make_page(doc, 1, "persisted"))
    again = open_index(knowledge_base="persist")
    assert again.count() == 1 and again.get_page(doc.document_id, 1) is not None
    assert "persist" in PageIndex.knowledge_bases(settings)
    assert PageIndex.drop(settings, "persist") is True
    assert "persist" not in PageIndex.knowledge_bases(settings)


def test_other_embedder_is_refused_with_a_way_out(open_index) -> None:
    open_index(knowledge_base="kb-one", embeddings=HashingEmbeddings(256))
    with pytest.raises(EmbedderMismatchError) as raised:
        open_index(knowledge_base="kb-one", embeddings=HashingEmbeddings(512))
    message = str(raised.value)
    assert "hashing-256-v1" in message and "hashing-512-v1" in message
    assert "QWENVL_KNOWLEDGE_BASE" in message and "drop" in message


@pytest.mark.parametrize("name", ["ab", "has space", "-leading", "trailing.", "a..b", "10.0.0.1", "x" * 513, "日本語"])
def test_bad_knowledge_base_names_are_refused(open_index, name) -> None:
    with pytest.raises(KnowledgeBaseNameError, match="knowledge base name"):
        open_index(knowledge_base=name)


def test_ambiguous_or_wrong_input_fails_loudly(index, tmp_path) -> None:
    doc, other = make_doc("a.pdf", 2), make_doc("b.pdf", 2)
    with pytest.raises(ValueError, match="given for document"):
        index.upsert_page(doc, make_page(other, 1, "x"))
    with pytest.raises(ValueError, match="twice"):
        index.upsert_pages([PageEntry(doc, make_page(doc, 1, "x")), PageEntry(doc, make_page(doc, 1, "y"))])
    page = PageImage(doc, 1, Image.new("RGB", (10, 10)), dpi=72.0)
    with pytest.raises(ValueError, match="come from the PageImage"):
        index.upsert_page(page, make_page(doc, 1, "x"), dpi=150.0)
    with pytest.raises(ValueError, match="extraction is of page 2"):
        index.upsert_page(page, make_page(doc, 2, "x"))
    with pytest.raises(ValueError, match="SHA-256"):
        index.get_page("invoice-42", 1)
    with pytest.raises(ValueError, match="non-empty"):
        index.dense_search("  ")
    with pytest.raises(TypeError, match="list of ids"):
        index.get("abc")
    with pytest.raises(TypeError, match="Embeddings"):
        PageIndex(index.client, knowledge_base="x-kb", embeddings=object(), settings=index.settings)  # type: ignore[arg-type]
    assert index.count() == 0


def test_chroma_default_embedding_function_is_never_attached(index) -> None:
    # The collection has no embedding function of its own: a query without our vector must not embed.
    config = index.collection.configuration_json
    assert config["embedding_function"] in (None, {"type": "legacy"})
    assert index.collection.metadata["qwenvl_embedder"] == "hashing-256-v1"
