"""Documents and extractions made up on the spot for the index tests."""

from __future__ import annotations

import hashlib

from qwenvl_agents.types import DocumentInfo, KeyFields, PageExtraction


def make_doc(name: str = "invoice.pdf", pages: int = 3, *, content: bytes | None = None, **kw: object) -> DocumentInfo:
    """A DocumentInfo whose id is the SHA-256 of ``content`` (default: the name), like the real one."""
    digest = hashlib.sha256(content if content is not None else name.encode()).hexdigest()
    suffix = name.rsplit(".", 1)[-1].lower()
    defaults: dict[str, object] = {"media_type": "pdf", "size_bytes": 1234, "title": None}
    defaults.update(kw)
    return DocumentInfo(
        digest,
        f"/data/in/{name}",
        name,
        defaults["media_type"],  # type: ignore[arg-type]
        suffix,
        int(defaults["size_bytes"]),  # type: ignore[call-overload]
        pages,
        defaults["title"],  # type: ignore[arg-type]
    )


def make_page(doc: DocumentInfo, page: int, markdown: str, **kw: object) -> PageExtraction:
    kw.setdefault("extractor", "vlm")
    return PageExtraction(doc.document_id, page, markdown, **kw)  # type: ignore[arg-type]


def invoice_fields(seller: str, total: float, date: str, **kw: object) -> KeyFields:
    return KeyFields(seller=seller, total=total, issue_date=date, currency="EUR", **kw)  # type: ignore[arg-type]
