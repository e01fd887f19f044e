"""The JSON answer the VLM is asked for (:class:`PageReading`), and its conversion to ``PageExtraction``.

The schema is sent to vLLM as ``response_format`` ``json_schema``, so it is kept to what every
structured-output backend (xgrammar, guidance) compiles: objects with every property required and no
additional properties, arrays, strings, numbers, one enum, and "nullable" as ``anyOf`` with ``null``.
No ``format``, ``pattern``, ``oneOf``, ``$ref``, defaults or length limits.

Key fields are grouped by kind of page (``invoice`` for invoices and receipts, ``slide``, ``other``);
the model fills the group that fits and sets the others to ``null``, which keeps one schema without
``oneOf``.

Example:
    >>> reading = PageReading.model_validate_json(
    ...     '{"page_kind": "receipt", "language": "en", "markdown": "# Shop\\\\nTotal 9.00", "tables": [],'
    ...     ' "invoice": {"document_number": null, "issue_date": "03/08/2014", "due_date": null,'
    ...     ' "seller": "Shop", "buyer": null, "currency": "myr", "subtotal": null, "tax": null,'
    ...     ' "total": 9.0, "line_items": []}, "slide": null, "other": null}'
    ... )
    >>> fields = reading.to_fields()
    >>> (fields.total, fields.currency, fields.issue_date)
    (9.0, 'MYR', '2014-08-03')
"""

from __future__ import annotations

import copy
import hashlib
import json
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from qwenvl_agents.extract import prompts
from qwenvl_agents.parsing import dayfirst_for, normalize_currency, parse_date
from qwenvl_agents.types import KeyFields, LineItem, Table

SCHEMA_REVISION = "1"
"""Bump by hand for a change in meaning that the fingerprint below cannot see (e.g. conversion rules)."""


class PageKind(str, Enum):
    invoice = "invoice"
    receipt = "receipt"
    slide = "slide"
    report = "report"
    form = "form"
    letter = "letter"
    table = "table"
    figure = "figure"
    blank = "blank"
    other = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableReading(_Strict):
    caption: str | None
    header: list[str]
    rows: list[list[str]]


class LineItemReading(_Strict):
    description: str
    quantity: float | None
    unit_price: float | None
    amount: float | None


class InvoiceFields(_Strict):
    """Invoices and receipts. Dates ``YYYY-MM-DD``; amounts plain numbers; currency ISO 4217."""

    document_number: str | None
    issue_date: str | None
    due_date: str | None
    seller: str | None
    buyer: str | None
    currency: str | None
    subtotal: float | None
    tax: float | None
    total: float | None
    line_items: list[LineItemReading]


class SlideFields(_Strict):
    title: str | None
    bullets: list[str]


class OtherFields(_Strict):
    title: str | None
    summary: str | None
    entities: list[str]


class PageReading(_Strict):
    """What the VLM returns for one page."""

    page_kind: PageKind
    language: str | None
    markdown: str
    tables: list[TableReading]
    invoice: InvoiceFields | None
    slide: SlideFields | None
    other: OtherFields | None

    def to_tables(self) -> tuple[Table, ...]:
        out = []
        for t in self.tables:
            rows = tuple(tuple(_clean(c) for c in row) for row in t.rows if any(c.strip() for c in row))
            header = tuple(_clean(c) for c in t.header)
            if rows or any(header):
                out.append(Table(rows=rows, header=header, caption=_none_if_blank(t.caption)))
        return tuple(out)

    def to_fields(self) -> KeyFields:
        """The key fields as the frozen record; dates made ISO where unambiguous, else dropped."""
        kw: dict[str, Any] = {}
        if self.invoice is not None:
            inv = self.invoice
            currency = normalize_currency(inv.currency)
            dayfirst = dayfirst_for(currency, self.language)
            kw.update(
                document_number=_none_if_blank(inv.document_number),
                issue_date=_iso_date(inv.issue_date, dayfirst),
                due_date=_iso_date(inv.due_date, dayfirst),
                seller=_none_if_blank(inv.seller),
                buyer=_none_if_blank(inv.buyer),
                currency=currency,
                subtotal=inv.subtotal,
                tax=inv.tax,
                total=inv.total,
                line_items=tuple(
                    LineItem(_clean(li.description), li.quantity, li.unit_price, li.amount)
                    for li in inv.line_items
                    if li.description.strip() or li.amount is not None
                ),
            )
        if self.slide is not None:
            kw["title"] = _none_if_blank(self.slide.title)
            kw["bullets"] = tuple(b.strip() for b in self.slide.bullets if b.strip())
        if self.other is not None:
            kw.setdefault("title", None)
            kw["title"] = kw["title"] or _none_if_blank(self.other.title)
            kw["summary"] = _none_if_blank(self.other.summary)
            kw["entities"] = tuple(dict.fromkeys(e.strip() for e in self.other.entities if e.strip()))
        return KeyFields(**kw)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _none_if_blank(text: str | None) -> str | None:
    if text is None:
        return None
    text = _clean(text)
    return text or None


def _iso_date(text: str | None, dayfirst: bool | None) -> str | None:
    return parse_date(text, dayfirst=dayfirst) if text else None


def _strictify(node: Any, defs: dict[str, Any]) -> Any:
    """Inline ``$ref``s, drop titles/defaults, require every property: the plainest schema dialect."""
    if isinstance(node, list):
        return [_strictify(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _strictify(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]), defs)
    drop = ("title", "default", "$defs", "description")
    out = {k: _strictify(v, defs) for k, v in node.items() if k not in drop and k != "properties"}
    if "properties" in node:  # property names are data, not keywords: keep a property called "title"
        out["properties"] = {name: _strictify(sub, defs) for name, sub in node["properties"].items()}
    if out.get("type") == "object" and "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def page_reading_schema() -> dict[str, Any]:
    """The JSON schema of :class:`PageReading` in the plain dialect described above."""
    raw = PageReading.model_json_schema()
    return dict(_strictify(raw, raw.get("$defs", {})))


def response_format() -> dict[str, Any]:
    """The OpenAI ``response_format`` asking vLLM for a schema-constrained :class:`PageReading`."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "page_reading", "schema": page_reading_schema(), "strict": True},
    }


def _fingerprint() -> str:
    blob = json.dumps(
        {"schema": page_reading_schema(), "prompts": prompts.prompt_texts(), "revision": SCHEMA_REVISION},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


PROMPT_VERSION = f"page-reading-{SCHEMA_REVISION}.{_fingerprint()}"
"""Changes by itself whenever a prompt or the schema changes, so the index re-reads affected pages."""
