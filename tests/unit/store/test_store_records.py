"""Pages to Chroma records: ids, text, chunks, flat metadata, and back."""

from __future__ import annotations

import itertools

import pytest

from qwenvl_agents.store import PageEntry, StoredPage, chunk_id, content_key, page_id
from qwenvl_agents.store.chunks import split_chunks
from qwenvl_agents.store.records import parse_record_id
from qwenvl_agents.types import StoredImage, Table
from tests.unit.store.helpers import invoice_fields, make_doc, make_page


def test_ids_are_deterministic_and_parse_back() -> None:
    doc = make_doc()
    assert page_id(doc.document_id, 7) == f"{doc.document_id[:24]}:p00007"
    assert chunk_id(doc.document_id, 7, 3) == f"{doc.document_id[:24]}:p00007:c003"
    assert parse_record_id(chunk_id(doc.document_id, 7, 3)) == (doc.document_id[:24], 7, 3)
    assert parse_record_id(page_id(doc.document_id, 7)) == (doc.document_id[:24], 7, None)
    with pytest.raises(ValueError):
        page_id(doc.document_id, 0)
    with pytest.raises(ValueError, match="SHA-256"):
        page_id("my-document", 1)


def test_content_key_changes_with_each_input() -> None:
    base = content_key("a" * 64, "vlm", "Qwen/Qwen2.5-VL-7B-Instruct", "v1")
    assert base == content_key("a" * 64, "vlm", "Qwen/Qwen2.5-VL-7B-Instruct", "v1")
    others = {
        content_key("b" * 64, "vlm", "Qwen/Qwen2.5-VL-7B-Instruct", "v1"),
        content_key("a" * 64, "ocr", "Qwen/Qwen2.5-VL-7B-Instruct", "v1"),
        content_key("a" * 64, "vlm", "Qwen/Qwen2.5-VL-3B-Instruct", "v1"),
        content_key("a" * 64, "vlm", "Qwen/Qwen2.5-VL-7B-Instruct", "v2"),
        content_key(("a" * 64, 1), "vlm", "Qwen/Qwen2.5-VL-7B-Instruct", "v1"),
    }
    assert base not in others and len(others) == 5


def test_page_key_defaults_to_the_image_hash() -> None:
    doc = make_doc()
    image = StoredImage("/x.png", "c" * 64, "png", 10, 10)
    ext = make_page(doc, 1, "x", model="m", prompt_version="p")
    assert PageEntry(doc, ext, image).key == content_key("c" * 64, "vlm", "m", "p")
    assert PageEntry(doc, ext).key == content_key((doc.document_id, 1), "vlm", "m", "p")


def test_metadata_is_flat_scalars_without_none() -> None:
    doc = make_doc(title="Title")
    ext = make_page(doc, 1, "body", fields=invoice_fields("ACME", 10, "2026-01-02"), tables=(Table((("a",),)),))
    records = PageEntry(doc, ext, timestamp=65.0).records(chunk_chars=2000)
    assert [r.metadata["record_type"] for r in records] == ["page"]  # a short page: its page record only
    for record in records:
        for key, value in record.metadata.items():
            assert isinstance(value, str | int | float | bool), key
        assert record.metadata["total"] == 10.0 and isinstance(record.metadata["total"], float)
        assert record.text.splitlines()[0] == "invoice.pdf — Title — page 1 of 3 — at 1:05"


def test_tables_already_in_the_markdown_are_not_repeated() -> None:
    doc = make_doc()
    table = Table((("1", "2"),), ("a", "b"))
    inside = make_page(doc, 1, "Intro\n\n" + table.to_markdown(), tables=(table,))
    [record] = PageEntry(doc, inside).records(2000)
    assert record.text.count("| 1 | 2 |") == 1


def test_long_page_chunks_cover_the_text_and_page_vector_is_bounded() -> None:
    doc = make_doc()
    body = "\n\n".join(f"Section {i}. " + "lorem ipsum dolor " * 20 for i in range(20))
    records = PageEntry(doc, make_page(doc, 2, body)).records(chunk_chars=500)
    page, chunks = records[0], records[1:]
    assert page.metadata["chunk_count"] == len(chunks) > 5
    assert len(page.embed_text) <= 500 + len(page.text.splitlines()[0]) + 2
    assert all(len(c.text) <= 500 + 40 for c in chunks)
    assert all(f"Section {i}." in "".join(c.text for c in chunks) for i in range(20))
    assert "fields_json" in page.metadata and "fields_json" not in chunks[0].metadata
    stored = StoredPage.from_record(chunks[0].id, chunks[0].text, chunks[0].metadata)
    assert stored.record_type == "chunk" and stored.chunk == 0 and stored.page_record_id == page.id


def test_split_chunks_overlaps_and_respects_size() -> None:
    text = "\n\n".join(f"Paragraph number {i} " + "words " * 30 for i in range(10))
    chunks = split_chunks(text, 400, overlap=40)
    assert len(chunks) >= 5
    assert all(any(f"Paragraph number {i} " in c for c in chunks) for i in range(10))  # no text is lost
    assert all(len(c) <= 400 for c in chunks)
    assert all(a[-20:].split()[-1] in b[:60] for a, b in itertools.pairwise(chunks))
    cjk = "这是一个很长的中文句子。" * 200
    cjk_chunks = split_chunks(cjk, 300)
    assert len(cjk_chunks) >= len(cjk) // 300 and all(len(c) <= 300 for c in cjk_chunks)
    assert split_chunks("x" * 1000, 300) and all(len(c) <= 300 for c in split_chunks("x" * 1000, 300))
