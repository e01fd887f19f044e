"""Arithmetic over the key fields stored with pages (totals, subtotals, taxes): exact, in code, never by a model.

Amounts become :class:`~decimal.Decimal` from their shortest decimal form (``2587.72`` stays ``2587.72``,
not the binary float beneath it); sums are exact, averages are rounded half-up to the inputs' precision
(at least cents). Values and currency codes are read by :mod:`qwenvl_agents.parsing` (:func:`to_decimal`,
:func:`~qwenvl_agents.parsing.normalize_currency`), the rules extraction and evaluation use too. Amounts in
different currencies are never added together: every result is grouped by currency, and every page used is cited.

Example:
    >>> rows = [FieldRow("a.pdf", "a" * 64, 1, to_decimal(0.1), "EUR"),
    ...         FieldRow("b.pdf", "b" * 64, 1, to_decimal("0.2"), "eur"),
    ...         FieldRow("c.pdf", "c" * 64, 1, to_decimal("1,000.05"), "USD")]
    >>> result = compute("sum", "total", rows)
    >>> [(g.currency, format_amount(g.value)) for g in result.groups]
    [('EUR', '0.30'), ('USD', '1,000.05')]
    >>> print(result.to_text().splitlines()[1])
    EUR: 0.30 from 2 pages: [a.pdf, p. 1] 0.10; [b.pdf, p. 1] 0.20
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

from qwenvl_agents.parsing import normalize_currency, to_decimal
from qwenvl_agents.types import Citation

if TYPE_CHECKING:
    from qwenvl_agents.store.index import PageIndex

Operation = Literal["sum", "count", "min", "max", "average", "list"]
FieldName = Literal["total", "subtotal", "tax"]
OPERATIONS: tuple[str, ...] = get_args(Operation)
FIELD_NAMES: tuple[str, ...] = get_args(FieldName)


def format_amount(value: Decimal) -> str:
    """``1234.5`` → ``1,234.50``: thousands separators, at least two decimals, none dropped."""
    places = max(2, -int(value.as_tuple().exponent)) if value.is_finite() else 2
    return f"{value:,.{places}f}"


@dataclass(frozen=True, slots=True)
class FieldRow:
    """One page's value of a field (``None`` when the page has no such value)."""

    document: str
    document_id: str
    page: int
    value: Decimal | None
    currency: str | None = None
    vendor: str | None = None
    date: str | None = None
    page_kind: str | None = None

    @property
    def citation(self) -> Citation:
        return Citation(self.document, self.page, self.document_id)


@dataclass(frozen=True, slots=True)
class CurrencyGroup:
    """The result for one currency (``None``: pages whose currency was not read)."""

    currency: str | None
    value: Decimal | None
    rows: tuple[FieldRow, ...]
    """Pages used, in the order they were given."""
    extreme: tuple[FieldRow, ...] = ()
    """For min/max: the page(s) holding the extreme value."""

    @property
    def label(self) -> str:
        return self.currency or "unknown currency"


@dataclass(frozen=True, slots=True)
class FieldResult:
    """``operation`` of ``field`` over pages, per currency, with the pages used and those lacking the field."""

    operation: Operation
    field: FieldName
    groups: tuple[CurrencyGroup, ...]
    missing: tuple[FieldRow, ...] = ()

    @property
    def rows(self) -> tuple[FieldRow, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    @property
    def citations(self) -> tuple[Citation, ...]:
        """Every page whose value was used."""
        return tuple(r.citation for r in self.rows)

    def to_text(self) -> str:
        """The result as the agent's tool reports it: one line per currency, each page cited with its value."""
        used = len(self.rows)
        head = f"{self.operation} of {self.field} over {used} page{'s' if used != 1 else ''} with a {self.field}"
        lines = [head + ("." if self.groups else ": no page matched.")]
        for group in self.groups:
            pages = "; ".join(f"{r.citation} {format_amount(r.value)}" for r in group.rows if r.value is not None)
            n = len(group.rows)
            prefix = f"{group.label}: "
            if self.operation == "count":
                lines.append(f"{prefix}{n} page{'s' if n != 1 else ''}: {pages}")
            elif self.operation == "list":
                lines.append(f"{prefix}{pages}")
            else:
                value = format_amount(group.value) if group.value is not None else "-"
                where = ""
                if group.extreme:
                    where = " on " + ", ".join(str(r.citation) for r in group.extreme)
                lines.append(f"{prefix}{value}{where} from {n} page{'s' if n != 1 else ''}: {pages}")
        if self.missing:
            listed = ", ".join(str(r.citation) for r in self.missing[:20])
            more = f" and {len(self.missing) - 20} more" if len(self.missing) > 20 else ""
            lines.append(f"Pages matching the filters without a {self.field}: {listed}{more}.")
        if len(self.groups) > 1:
            lines.append("Amounts in different currencies are not added together.")
        return "\n".join(lines)


def _places(values: Iterable[Decimal]) -> int:
    return max([2, *(-int(v.as_tuple().exponent) for v in values)])


def compute(operation: Operation | str, field: FieldName | str, rows: Sequence[FieldRow]) -> FieldResult:
    """Apply ``operation`` to the rows' values, per currency (groups in order of first appearance)."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    if field not in FIELD_NAMES:
        raise ValueError(f"field must be one of {', '.join(FIELD_NAMES)}, got {field!r}")
    by_currency: dict[str | None, list[FieldRow]] = {}
    missing: list[FieldRow] = []
    for row in rows:
        if row.value is None:
            missing.append(row)
        else:
            by_currency.setdefault(normalize_currency(row.currency), []).append(row)
    groups = []
    for currency, group in by_currency.items():
        values = [r.value for r in group if r.value is not None]
        value: Decimal | None = None
        extreme: tuple[FieldRow, ...] = ()
        if operation == "sum":
            value = sum(values, Decimal(0))
        elif operation == "count":
            value = Decimal(len(values))
        elif operation == "average":
            exact = sum(values, Decimal(0)) / Decimal(len(values))
            value = exact.quantize(Decimal(1).scaleb(-_places(values)), rounding=ROUND_HALF_UP)
        elif operation in ("min", "max"):
            value = min(values) if operation == "min" else max(values)
            extreme = tuple(r for r in group if r.value == value)
        elif operation == "list":
            group = sorted(group, key=lambda r: (r.date or "", r.document, r.page))
        groups.append(CurrencyGroup(currency, value, tuple(group), extreme))
    return FieldResult(operation, field, tuple(groups), tuple(missing))  # type: ignore[arg-type]


def row_from_metadata(field: FieldName | str, metadata: Mapping[str, Any]) -> FieldRow:
    """A page record's value of ``field`` (the flattened key fields the index stores on each page)."""
    return FieldRow(
        document=str(metadata.get("name", "")),
        document_id=str(metadata.get("document_id", "")),
        page=int(metadata.get("page", 0)),
        value=to_decimal(metadata.get(field)),
        currency=normalize_currency(metadata.get("currency")),
        vendor=None if metadata.get("vendor") is None else str(metadata["vendor"]),
        date=None if metadata.get("date") is None else str(metadata["date"]),
        page_kind=None if metadata.get("page_kind") is None else str(metadata["page_kind"]),
    )


def read_rows(index: PageIndex, field: FieldName | str, where: dict[str, Any] | None = None) -> list[FieldRow]:
    """Every page record matching ``where`` (a Chroma filter) with its value of ``field``, by document and page.

    Chunk records are left out (each page counts once); pages whose extraction failed are left out too.
    """
    if field not in FIELD_NAMES:
        raise ValueError(f"field must be one of {', '.join(FIELD_NAMES)}, got {field!r}")
    rows = [
        row_from_metadata(field, md)
        for _, _, metas in index.iter_batches(index.where_all({"record_type": "page"}, where), include_metadata=True)
        for md in metas
        if md and md.get("status") != "failed"
    ]
    return sorted(rows, key=lambda r: (r.document, r.document_id, r.page))
