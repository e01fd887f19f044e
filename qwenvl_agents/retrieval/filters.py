"""Metadata filters of a search: which documents, kinds of page, languages, dates, vendors and amounts.

A :class:`SearchFilters` is what callers write (file names or paths, a vendor spelled any way, ISO dates);
:meth:`SearchFilters.resolve` turns it against the page catalog into exact clauses that both legs of the
search apply the same way: the dense leg as a Chroma ``where``, the lexical leg as a numpy mask.

Example:
    >>> from qwenvl_agents.store.catalog import PageCatalog
    >>> catalog = PageCatalog.from_rows([
    ...     (PageIndex.page_id("a" * 64, 1), {"document_id": "a" * 64, "name": "acme.pdf", "page": 1,
    ...      "source": "/in/acme.pdf", "vendor": "ACME B.V.", "date_int": 20260301, "total": 120.0}),
    ...     (PageIndex.page_id("b" * 64, 1), {"document_id": "b" * 64, "name": "zeta.pdf", "page": 1,
    ...      "source": "/in/zeta.pdf", "vendor": "Zeta Ltd", "date_int": 20250101, "total": 80.0}),
    ... ])
    >>> resolved = SearchFilters(vendor="acme", date_from="2026-01").resolve(catalog)
    >>> resolved.where
    {'$and': [{'date_int': {'$gte': 20260101}}, {'vendor': {'$in': ['ACME B.V.']}}]}
    >>> catalog.mask(resolved.clauses).tolist()
    [True, False]
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwenvl_agents.errors import UnknownDocumentError
from qwenvl_agents.filter_fields import FILTER_FIELDS, filter_field
from qwenvl_agents.store.catalog import Clause, PageCatalog
from qwenvl_agents.store.index import PageIndex

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _tuple(value: str | Iterable[Any] | None, name: str) -> tuple[Any, ...]:
    # One string is one value, not a sequence of characters.
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} takes a value or a list of values, got {type(value).__name__}") from None


def _date_bound(value: str | None, end: bool, name: str) -> int | None:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as ``YYYYMMDD``: the first day of it, or the last when ``end``."""
    if value is None:
        return None
    match = _DATE.match(str(value).strip())
    if not match:
        raise ValueError(f"{name} must be a date like 2026-03-31, 2026-03 or 2026, got {value!r}")
    year, month, day = int(match[1]), int(match[2] or (12 if end else 1)), match[3]
    if not 1 <= month <= 12:
        raise ValueError(f"{name}: no month {month} in {value!r}")
    last = calendar.monthrange(year, month)[1]
    day_n = int(day) if day else (last if end else 1)
    if not 1 <= day_n <= last:
        raise ValueError(f"{name}: no day {day_n} in {year}-{month:02d}")
    return year * 10000 + month * 100 + day_n


@dataclass(frozen=True)
class ResolvedFilters:
    """Exact clauses over the page catalog (``where`` is the same as a Chroma filter, ``None`` for none)."""

    clauses: tuple[Clause, ...] = ()
    document_ids: tuple[str, ...] = ()

    @property
    def where(self) -> dict[str, Any] | None:
        ops = {"in": "$in", "gte": "$gte", "lte": "$lte"}
        return PageIndex.where_all(
            *({col: {ops[op]: list(value) if op == "in" else value}} for col, op, value in self.clauses)
        )

    @property
    def empty(self) -> bool:
        """True when a clause can match nothing (e.g. a vendor no page has): the search returns no pages."""
        return any(op == "in" and not value for _, op, value in self.clauses)


@dataclass(frozen=True)
class SearchFilters:
    """What to search in. Every field is optional; given fields must all hold.

    - ``documents``: document ids (or a unique prefix of 8+ hex digits), file paths, or file names.
      A name that several indexed documents share raises :class:`UnknownDocumentError` listing them.
    - ``page_kinds``: ``invoice``, ``receipt``, ``slide``, ``report``, ``table``, ...; ``languages``: ``en``, ``zh``...
    - ``date_from`` / ``date_to``: inclusive, ``YYYY-MM-DD`` (or ``YYYY-MM``, ``YYYY``), on the issue date.
    - ``vendor``: case-insensitive part of the seller's name (``acme`` matches ``ACME B.V.``).
    - ``min_total`` / ``max_total``: inclusive bounds on the total; ``currency``: ISO code such as ``EUR``.
    - ``pages``: page numbers (from 1).

    Pages without the filtered value (an invoice whose date could not be read) do not match a filter on it.
    """

    # Declared once in qwenvl_agents.filter_fields: AgentContext, the CLI and the agent's tool take the same.
    documents: tuple[str, ...] = filter_field("documents")
    page_kinds: tuple[str, ...] = filter_field("page_kinds")
    languages: tuple[str, ...] = filter_field("languages")
    date_from: str | None = filter_field("date_from")
    date_to: str | None = filter_field("date_to")
    vendor: str | None = filter_field("vendor")
    min_total: float | None = filter_field("min_total")
    max_total: float | None = filter_field("max_total")
    currency: str | None = filter_field("currency")
    pages: tuple[int, ...] = filter_field("pages")

    def __post_init__(self) -> None:
        for spec in FILTER_FIELDS:
            if spec.many:
                object.__setattr__(self, spec.name, _tuple(getattr(self, spec.name), spec.name))
        if any(not isinstance(p, int) or isinstance(p, bool) or p < 1 for p in self.pages):
            raise ValueError(f"pages are page numbers from 1, got {self.pages!r}")
        start = _date_bound(self.date_from, False, "date_from")
        end = _date_bound(self.date_to, True, "date_to")
        if start is not None and end is not None and start > end:
            raise ValueError(f"date_from {self.date_from} is after date_to {self.date_to}")
        for name in ("min_total", "max_total"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
        if self.min_total is not None and self.max_total is not None and self.min_total > self.max_total:
            raise ValueError(f"min_total {self.min_total} is above max_total {self.max_total}")
        if self.vendor is not None and not str(self.vendor).strip():
            raise ValueError("vendor must not be empty")

    @property
    def is_empty(self) -> bool:
        return self == SearchFilters()

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, by field name, lists for the many-valued ones: JSON-ready, and the
        keyword arguments of :class:`~qwenvl_agents.agent.AgentContext` (``AgentContext(**f.as_dict())``).

        Example:
            >>> SearchFilters(languages="zh", pages=[2], vendor="acme").as_dict()
            {'languages': ['zh'], 'vendor': 'acme', 'pages': [2]}
        """
        out: dict[str, Any] = {}
        for spec in FILTER_FIELDS:
            value = getattr(self, spec.name)
            if spec.many and value:
                out[spec.name] = list(value)
            elif not spec.many and value is not None:
                out[spec.name] = value
        return out

    def resolve(self, catalog: PageCatalog) -> ResolvedFilters:
        """Exact clauses for ``catalog``; raises :class:`UnknownDocumentError` for an unknown document."""
        clauses: list[Clause] = []
        doc_ids: tuple[str, ...] = ()
        if self.documents:
            doc_ids = resolve_documents(self.documents, catalog.documents())
            clauses.append(("document_id", "in", doc_ids))
        if self.page_kinds:
            clauses.append(("page_kind", "in", tuple(k.strip().lower() for k in self.page_kinds)))
        if self.languages:
            clauses.append(("language", "in", tuple(lang.strip().lower() for lang in self.languages)))
        start, end = _date_bound(self.date_from, False, "date_from"), _date_bound(self.date_to, True, "date_to")
        if start is not None:
            clauses.append(("date_int", "gte", start))
        if end is not None:
            clauses.append(("date_int", "lte", end))
        if self.vendor is not None:
            wanted = " ".join(str(self.vendor).casefold().split())
            values = tuple(v for v in catalog.distinct("vendor") if wanted in " ".join(v.casefold().split()))
            clauses.append(("vendor", "in", values))
        if self.min_total is not None:
            clauses.append(("total", "gte", float(self.min_total)))
        if self.max_total is not None:
            clauses.append(("total", "lte", float(self.max_total)))
        if self.currency:
            clauses.append(("currency", "in", (self.currency.strip().upper(),)))
        if self.pages:
            clauses.append(("page", "in", tuple(sorted(set(self.pages)))))
        return ResolvedFilters(tuple(clauses), doc_ids)


def resolve_documents(specs: Sequence[str], documents: dict[str, tuple[str, str]]) -> tuple[str, ...]:
    """Document ids for ids, id prefixes, paths or file names (``documents``: ``{id: (name, source)}``).

    Example:
        >>> docs = {"ab" * 32: ("a.pdf", "/x/a.pdf"), "cd" * 32: ("b.pdf", "/x/b.pdf")}
        >>> resolve_documents(["b.pdf", "abababab"], docs) == ("cd" * 32, "ab" * 32)
        True
    """
    out: list[str] = []
    for spec in specs:
        spec = str(spec).strip()
        if not spec:
            raise UnknownDocumentError("an empty document name was given")
        matches = _match_document(spec, documents)
        if not matches:
            known = ", ".join(sorted({n for n, _ in documents.values()})[:10]) or "none"
            raise UnknownDocumentError(
                f"no indexed document matches {spec!r} (give a file name, path or document id; "
                f"indexed: {known}{', ...' if len(documents) > 10 else ''}). Ingest it first: qwenvl ingest PATH"
            )
        if len(matches) > 1:
            listing = "; ".join(f"{documents[d][1]} ({d[:12]})" for d in sorted(matches))
            raise UnknownDocumentError(
                f"{spec!r} matches {len(matches)} documents: {listing}. Give the path or the document id."
            )
        if matches[0] not in out:
            out.append(matches[0])
    return tuple(out)


def _match_document(spec: str, documents: dict[str, tuple[str, str]]) -> list[str]:
    lowered = spec.lower()
    if re.fullmatch(r"[0-9a-f]{8,64}", lowered):
        by_id = [d for d in documents if d.startswith(lowered)]
        if by_id:
            return by_id
    resolved = str(Path(spec).expanduser().resolve()) if ("/" in spec or "\\" in spec) else None
    by_source = [d for d, (_, src) in documents.items() if src == spec or (resolved and src == resolved)]
    if by_source:
        return by_source
    # A path whose file is gone or moved still names the document by its file name.
    return [d for d, (name, _) in documents.items() if name == Path(spec).name]
