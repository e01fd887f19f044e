"""Records read back from the index: :class:`StoredPage`, with key fields and tables parsed from JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qwenvl_agents.store.records import RecordType, Scalar, page_record_id
from qwenvl_agents.types import KeyFields, LineItem, PageExtraction, StoredImage, Table


def fields_from_json(text: str | None) -> KeyFields:
    """KeyFields from ``fields_json`` (unknown keys from newer versions are ignored)."""
    if not text:
        return KeyFields()
    data = json.loads(text)
    known = {f.name for f in dataclasses.fields(KeyFields)}
    data = {k: v for k, v in data.items() if k in known}
    for key in ("entities", "bullets"):
        data[key] = tuple(data.get(key) or ())
    items = data.get("line_items") or ()
    data["line_items"] = tuple(LineItem(**{k: v for k, v in i.items() if k in LineItem.__slots__}) for i in items)
    return KeyFields(**data)


def tables_from_json(text: str | None) -> tuple[Table, ...]:
    """Tables from ``tables_json``."""
    if not text:
        return ()
    return tuple(
        Table(tuple(tuple(r) for r in t.get("rows", ())), tuple(t.get("header", ())), t.get("caption"))
        for t in json.loads(text)
    )


def _fields_from_scalars(md: Mapping[str, Any]) -> KeyFields:
    return KeyFields(
        seller=md.get("vendor"),
        buyer=md.get("buyer"),
        document_number=md.get("document_number"),
        issue_date=md.get("date"),
        due_date=md.get("due_date"),
        currency=md.get("currency"),
        total=md.get("total"),
        subtotal=md.get("subtotal"),
        tax=md.get("tax"),
    )


@dataclass(frozen=True)
class StoredPage:
    """A record read back from the index: a page, or a chunk of one.

    ``text`` is what was stored (header line + body); ``fields`` and ``tables`` are parsed from the JSON
    metadata (a chunk has only the scalar key fields and no tables: read its page for the rest).
    """

    id: str
    text: str
    metadata: dict[str, Scalar]
    fields: KeyFields = field(default_factory=KeyFields)
    tables: tuple[Table, ...] = ()

    @classmethod
    def from_record(cls, record_id: str, text: str | None, metadata: Mapping[str, Any] | None) -> StoredPage:
        md = dict(metadata or {})
        fields = fields_from_json(str(md["fields_json"])) if "fields_json" in md else _fields_from_scalars(md)
        return cls(record_id, text or "", md, fields, tables_from_json(md.get("tables_json")))

    @property
    def record_type(self) -> RecordType:
        return "chunk" if self.metadata.get("record_type") == "chunk" else "page"

    @property
    def document_id(self) -> str:
        return str(self.metadata.get("document_id", ""))

    @property
    def page(self) -> int:
        return int(self.metadata.get("page", 0))

    @property
    def chunk(self) -> int | None:
        value = self.metadata.get("chunk")
        return None if value is None else int(value)

    @property
    def page_record_id(self) -> str:
        """Id of the page record (itself for a page; the page it belongs to for a chunk)."""
        return page_record_id(self.id)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def status(self) -> str:
        return str(self.metadata.get("status", "ok"))

    @property
    def content_key(self) -> str | None:
        value = self.metadata.get("content_key")
        return None if value is None else str(value)

    @property
    def body(self) -> str:
        """The text without its header line."""
        return self.text.split("\n\n", 1)[1] if "\n\n" in self.text else ""

    @property
    def image(self) -> StoredImage | None:
        """The page image in the page store, when one was stored."""
        md = self.metadata
        if "image_path" not in md or "image_sha256" not in md:
            return None
        return StoredImage(
            str(md["image_path"]),
            str(md["image_sha256"]),
            str(md.get("image_format", "")),
            int(md.get("image_width", 0)),
            int(md.get("image_height", 0)),
        )

    def to_extraction(self) -> PageExtraction:
        """A PageExtraction view of the stored page (``markdown`` is the stored body)."""
        md = self.metadata

        def opt(key: str) -> str | None:
            value = md.get(key)
            return None if value is None else str(value)

        return PageExtraction(
            document_id=self.document_id,
            page=self.page,
            markdown=self.body,
            extractor=opt("extractor") or "text",  # type: ignore[arg-type]
            status=self.status,  # type: ignore[arg-type]
            reason=opt("reason"),
            tables=self.tables,
            fields=self.fields,
            page_kind=opt("page_kind") or "other",
            language=opt("language"),
            blank=bool(md.get("blank", False)),
            model=opt("model"),
            prompt_version=opt("prompt_version"),
        )
