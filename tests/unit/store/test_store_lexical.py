"""The bm25s lexical index: kept in step with Chroma, rebuilt only when Chroma changed."""

from __future__ import annotations

import json

from qwenvl_agents.store import LexicalIndex, PageEntry, page_id
from qwenvl_agents.store.lexical import collection_fingerprint
from tests.unit.store.helpers import make_doc, make_page

ZH = (
    "增值税专用发票\n\n购买方：北京星辰科技有限公司\n\n"
    "销售方：上海云图信息技术有限公司\n\n价税合计：人民币 12,345.60 元"
)


def fill(index) -> dict[str, str]:
    docs = {
        "en": (make_doc("acme.pdf", 1), "Invoice INV-2026-0042 from ACME GmbH. Total 4.904,94 EUR. Customer 42183017."),
        "nl": (make_doc("factuur.pdf", 1), "Factuur van Bakkerij de Vries. Totaalbedrag 87,50 euro, betaald per pin."),
        "zh": (make_doc("发票.pdf", 1), ZH),
        "de": (make_doc("rechnung.pdf", 1), "Rechnung der Müller GmbH über Büromöbel, Rechnungsbetrag 1.250,00 EUR."),
    }
    index.upsert_pages(PageEntry(d, make_page(d, 1, text)) for d, text in docs.values())
    return {key: page_id(d.document_id, 1) for key, (d, _) in docs.items()}


def test_chinese_query_finds_the_chinese_page(index) -> None:
    ids = fill(index)
    lexical = LexicalIndex.load_or_build(index)
    assert lexical.search("发票的购买方是谁？", k=2)[0][0] == ids["zh"]
    assert lexical.search("上海云图", k=1)[0][0] == ids["zh"]
    assert lexical.search("12345.60", k=1)[0][0] == ids["zh"]  # 12,345.60 written without the separator


def test_identifiers_numbers_and_european_languages(index) -> None:
    ids = fill(index)
    lexical = LexicalIndex.load_or_build(index)
    assert lexical.search("INV-2026-0042", k=1)[0][0] == ids["en"]
    assert lexical.search("0042", k=1)[0][0] == ids["en"]
    assert lexical.search("4904,94", k=1)[0][0] == ids["en"]
    assert lexical.search("customer 42183017", k=1)[0][0] == ids["en"]
    assert lexical.search("totaalbedrag factuur", k=1)[0][0] == ids["nl"]
    assert lexical.search("Rechnungsbetrag Büromöbel", k=1)[0][0] == ids["de"]
    assert lexical.search("invoices", k=1)[0][0] == ids["en"]  # stemmed: invoices ~ invoice
    assert lexical.search("rechnung.pdf", k=1)[0][0] == ids["de"]  # file names are searchable
    assert lexical.search("zebra quantum", k=3) == []  # nothing shared: nothing returned


def test_ids_filter_restricts_the_search(index) -> None:
    ids = fill(index)
    lexical = LexicalIndex.load_or_build(index)
    assert [rid for rid, _ in lexical.search("GmbH", k=5)] and len(lexical.search("GmbH", k=5)) == 2
    only = lexical.search("GmbH", k=5, ids_filter=[ids["de"], "unknown:id"])
    assert [rid for rid, _ in only] == [ids["de"]]
    assert lexical.search("GmbH", k=5, ids_filter=[]) == []


def test_rebuilt_after_chroma_changes_and_not_otherwise(index) -> None:
    fill(index)
    first = LexicalIndex.load_or_build(index)
    assert first.rebuilt and first.builds == 1 and len(first) == 4

    again = LexicalIndex.load_or_build(index)  # nothing changed: loaded from disk
    assert not again.rebuilt and again.builds == 1 and again.fingerprint == first.fingerprint
    assert again.search("ACME", k=1) == first.search("ACME", k=1)
    assert first.refresh(index) is first

    doc = make_doc("new.pdf", 1)
    index.upsert_page(doc, make_page(doc, 1, "A brand new zeppelin page"))
    assert not first.is_current(index)
    fresh = first.refresh(index)
    assert fresh.rebuilt and fresh.builds == 2 and fresh.search("zeppelin", k=1)[0][0] == page_id(doc.document_id, 1)

    index.upsert_page(doc, make_page(doc, 1, "A brand new zeppelin page"))  # same content again: no change
    assert not LexicalIndex.load_or_build(index).rebuilt

    index.upsert_page(doc, make_page(doc, 1, "Now about airships"))  # same ids, other text: rebuilt
    changed = LexicalIndex.load_or_build(index)
    assert changed.rebuilt and changed.search("zeppelin", k=1) == []

    index.delete_document(doc.document_id)
    assert LexicalIndex.load_or_build(index).builds == 4
    assert len(list(LexicalIndex.default_directory(index).glob("*/ids.json"))) >= 1


def test_damaged_or_outdated_folder_is_rebuilt(index) -> None:
    fill(index)
    lexical = LexicalIndex.load_or_build(index)
    manifest_path = lexical.directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    (lexical.directory / manifest["dir"] / "ids.json").write_text("not json")
    assert LexicalIndex.load_or_build(index).rebuilt

    manifest = json.loads(manifest_path.read_text())
    manifest["tokenizer"] = "older-tokenizer"
    manifest_path.write_text(json.dumps(manifest))
    assert LexicalIndex.load_or_build(index).rebuilt


def test_empty_knowledge_base(index) -> None:
    lexical = LexicalIndex.load_or_build(index)
    assert len(lexical) == 0 and lexical.search("anything") == []
    assert not LexicalIndex.load_or_build(index).rebuilt
    assert collection_fingerprint(index) == lexical.fingerprint


def test_unchanged_collection_is_checked_without_a_scan(index, monkeypatch) -> None:
    fill(index)
    built = LexicalIndex.load_or_build(index)

    def no_scan(*args, **kwargs):
        raise AssertionError("scanned the collection although its revision did not change")

    monkeypatch.setattr("qwenvl_agents.store.lexical.page_rows", no_scan)
    loaded = LexicalIndex.load_or_build(index)
    assert not loaded.rebuilt and loaded.builds == built.builds
    assert built.is_current(index) and built.refresh(index) is built


def test_a_write_that_bypassed_the_page_index_is_still_noticed(index) -> None:
    ids = fill(index)
    LexicalIndex.load_or_build(index)
    index.collection.delete(ids=[ids["nl"]])  # raw Chroma call: no revision bump, but the count changed
    again = LexicalIndex.load_or_build(index)
    assert again.rebuilt and ids["nl"] not in again.ids


def test_only_changed_pages_are_tokenized_again(index) -> None:
    fill(index)
    assert LexicalIndex.load_or_build(index).tokenized == 4
    doc = make_doc("extra.pdf", 2)
    index.upsert_pages(PageEntry(doc, make_page(doc, p, f"extra page {p}")) for p in (1, 2))
    again = LexicalIndex.load_or_build(index)
    assert again.rebuilt and again.tokenized == 2 and len(again) == 6
    assert again.search("INV-2026-0042", k=1)[0][0] in again.ids  # reused tokens still match


def test_long_pages_are_found_as_pages_not_chunks(index) -> None:
    doc = make_doc("long.pdf", 1)
    body = (
        "\n\n".join(f"Paragraph {i}: " + "filler words here " * 15 for i in range(12)) + "\n\nThe secret is zanzibar."
    )
    index.upsert_page(doc, make_page(doc, 1, body))
    assert index.count() > 1  # the page has chunk records in Chroma
    lexical = LexicalIndex.load_or_build(index)
    assert len(lexical) == 1
    assert [rid for rid, _ in lexical.search("zanzibar")] == [page_id(doc.document_id, 1)]


def test_the_catalog_of_page_metadata_is_persisted_and_filters_like_a_mask(index) -> None:
    ids = fill(index)
    built = LexicalIndex.load_or_build(index)
    loaded = LexicalIndex.load_or_build(index)
    assert built.rebuilt and not loaded.rebuilt
    assert loaded.catalog.ids == tuple(loaded.ids) == built.catalog.ids
    names = dict(zip(loaded.catalog.ids, loaded.catalog.column("name").tolist(), strict=True))
    assert names[ids["zh"]] == "发票.pdf" and names[ids["de"]] == "rechnung.pdf"
    mask = loaded.catalog.mask([("name", "in", ("rechnung.pdf", "acme.pdf"))])
    assert [rid for rid, _ in loaded.search("GmbH", k=5, mask=mask)] == [
        rid for rid, _ in loaded.search("GmbH", k=5) if rid in (ids["de"], ids["en"])
    ]
    assert loaded.search("GmbH", k=5, mask=loaded.catalog.mask([("page", "gte", 2)])) == []
