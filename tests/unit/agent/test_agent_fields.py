"""Field arithmetic: exact decimals, currencies kept apart, every page cited; reading rows from a real index."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qwenvl_agents.agent.fields import (
    FieldRow,
    compute,
    format_amount,
    read_rows,
    row_from_metadata,
)
from qwenvl_agents.parsing import to_decimal
from qwenvl_agents.store import PageIndex


def rows(*items) -> list[FieldRow]:
    return [
        FieldRow(f"doc{n}.pdf", f"{n:064x}", 1, to_decimal(value), currency, date=date[0] if date else None)
        for n, (value, currency, *date) in enumerate(items, start=1)
    ]


def test_sums_are_exact_where_floats_are_not() -> None:
    values = [0.1, 0.2, 19652.96, 2587.72, 76.35]
    assert sum(values) != 22317.33  # binary floats drift
    result = compute("sum", "total", rows(*[(v, "EUR", None) for v in values]))
    [group] = result.groups
    assert group.value == Decimal("22317.33") and format_amount(group.value) == "22,317.33"


def test_currencies_are_never_added_together_and_unknown_currency_is_its_own_group() -> None:
    result = compute("sum", "tax", rows((10, "usd"), (5.5, "EUR"), (1.25, " USD "), (3, None), (None, "USD")))
    assert [(g.label, g.value) for g in result.groups] == [
        ("USD", Decimal("11.25")),
        ("EUR", Decimal("5.5")),
        ("unknown currency", Decimal(3)),
    ]
    assert [r.document for r in result.missing] == ["doc5.pdf"]
    text = result.to_text()
    assert "not added together" in text and "without a tax: [doc5.pdf, p. 1]" in text
    assert [str(c) for c in result.citations] == [f"[doc{n}.pdf, p. 1]" for n in (1, 3, 2, 4)]


def test_average_rounds_half_up_at_the_inputs_precision() -> None:
    assert compute("average", "total", rows((0.01, "EUR", None), (0.02, "EUR", None))).groups[0].value == Decimal(
        "0.02"
    )
    three = compute("average", "total", rows((0.125, "EUR", None), (0.126, "EUR", None))).groups[0]
    assert three.value == Decimal("0.126") and format_amount(three.value) == "0.126"
    assert compute("average", "total", rows((10, "EUR", None), (20, "EUR", None), (20, "EUR", None))).groups[
        0
    ].value == Decimal("16.67")


def test_min_and_max_name_every_page_holding_the_extreme() -> None:
    result = compute("max", "total", rows((5, "EUR", None), (9.5, "EUR", None), (9.50, "EUR", None), (1, "EUR", None)))
    [group] = result.groups
    assert group.value == Decimal("9.5") and [r.document for r in group.extreme] == ["doc2.pdf", "doc3.pdf"]
    assert "9.50 on [doc2.pdf, p. 1], [doc3.pdf, p. 1] from 4 pages" in result.to_text()
    assert compute("min", "total", rows((-3, "EUR", None), (1, "EUR", None))).groups[0].value == Decimal(-3)


def test_count_and_list() -> None:
    data = rows((5, "EUR", "2026-03-01"), (7, "EUR", "2025-12-31"), (None, "EUR", None))
    count = compute("count", "total", data)
    assert count.groups[0].value == 2 and len(count.missing) == 1
    listed = compute("list", "total", data)
    assert [r.document for r in listed.groups[0].rows] == ["doc2.pdf", "doc1.pdf"]  # by date
    assert listed.to_text().splitlines()[1] == "EUR: [doc2.pdf, p. 1] 7.00; [doc1.pdf, p. 1] 5.00"


def test_no_rows_and_bad_arguments() -> None:
    assert compute("sum", "total", []).to_text() == "sum of total over 0 pages with a total: no page matched."
    with pytest.raises(ValueError, match="operation"):
        compute("median", "total", [])
    with pytest.raises(ValueError, match="field"):
        compute("sum", "amount", [])


def test_rows_read_from_the_real_index_match_the_printed_totals(samples_index) -> None:
    index = PageIndex.open(samples_index.settings)
    found = {r.document: r for r in read_rows(index, "total") if r.value is not None}
    assert set(found) == {"invoice-en.pdf", "invoice-zh.pdf", "receipt-en.jpg", "receipt-zh.jpg"}
    for name, row in found.items():
        assert row.value == samples_index.total(name), name
    only = read_rows(index, "total", {"page_kind": "receipt"})
    assert {r.document for r in only} == {"receipt-en.jpg", "receipt-zh.jpg"}
    assert all(r.page_kind == "receipt" for r in only)


def test_row_from_metadata_reads_the_flattened_fields() -> None:
    row = row_from_metadata("subtotal", {"name": "a.pdf", "document_id": "ab", "page": 2, "subtotal": 17392.0,
                                         "currency": "cny", "date": "2026-02-27"})  # fmt: skip
    assert (row.value, row.currency, row.date, str(row.citation)) == (
        Decimal("17392.0"), "CNY", "2026-02-27", "[a.pdf, p. 2]",
    )  # fmt: skip
