"""Amounts, currencies and dates as documents and models print them, read by one set of rules for every layer."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from qwenvl_agents.agent.fields import row_from_metadata
from qwenvl_agents.evaluation import date_readings as eval_date_readings
from qwenvl_agents.evaluation import fields_agree, normalize_date
from qwenvl_agents.extract.heuristics import guess_fields
from qwenvl_agents.extract.schemas import InvoiceFields, PageKind, PageReading
from qwenvl_agents.parsing import (
    date_readings,
    find_dates,
    guess_currency,
    normalize_currency,
    parse_amount,
    parse_date,
    to_decimal,
)

# --- amounts -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("4.904,94", "4904.94"),
        ("1,007.50", "1007.50"),
        ("RM152.00", "152.00"),
        ("RM 152.00", "152.00"),
        ("€ 717,97", "717.97"),
        ("$1,234,567.89", "1234567.89"),
        ("1.234.567,89", "1234567.89"),
        ("12,5", "12.5"),
        ("1,007", "1007"),
        ("€ 1.234", "1234"),  # an amount: a single separator before three digits groups thousands
        ("0.500", "0.500"),  # ... unless the part before it is 0
        ("-3.00", "-3.00"),
        ("1'234.50", "1234.50"),
        ("USD 99", "99"),
        ("1 234,56", "1234.56"),
        ("(12.50)", "-12.50"),  # accounting negative
        ("($12.00)", "-12.00"),
        ("(EUR 12.00)", "12.00"),  # a code in parentheses is an aside
        ("−12.00", "-12.00"),  # U+2212
        ("CNY ¥ 1 234,5", "1234.5"),
        ("￥19,652.96", "19652.96"),  # full width (NFKC)
    ],
)
def test_parse_amount(printed: str, value: str) -> None:
    assert parse_amount(printed) == Decimal(value)
    assert str(parse_amount(printed)) == value  # the printed precision is kept


@pytest.mark.parametrize("printed", ["12/04", "1,2,3", "1.23.45", "abc", "", "1,00,000.00", "12.34.567", "6%"])
def test_parse_amount_refuses_what_is_not_clearly_one_number(printed: str) -> None:
    assert parse_amount(printed) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, Decimal("0.1")),
        (2587.72, Decimal("2587.72")),
        (19652.96, Decimal("19652.96")),
        (1e16, Decimal("1E+16")),
        (-12.5, Decimal("-12.5")),
        (7, Decimal(7)),
        ("2,587.72", Decimal("2587.72")),
        ("¥19,652.96", Decimal("19652.96")),
        ("-12.50 EUR", Decimal("-12.50")),
        ("$ 76.35", Decimal("76.35")),
        (Decimal("1.005"), Decimal("1.005")),
        # was None while the agent read English separators only; the one rule reads a decimal comma
        ("12,34", Decimal("12.34")),
    ],
)
def test_amounts_become_exact_decimals(value, expected) -> None:
    assert to_decimal(value) == expected


@pytest.mark.parametrize(
    "value",
    [None, True, False, math.nan, math.inf, -math.inf, "", "n/a", "1.2.3", "1,2345.00", [], Decimal("NaN")],
)
def test_what_is_not_an_amount_is_none(value) -> None:
    assert to_decimal(value) is None


# --- currencies ----------------------------------------------------------------------------------------------


def test_currency_aliases() -> None:
    # "$" is USD, as the extractor has always read it (the agent used to keep "$" as its own currency)
    assert [normalize_currency(v) for v in ("RMB", "人民币", "€", "eur", "", None, "$")] == [
        "CNY", "CNY", "EUR", "EUR", None, None, "USD",
    ]  # fmt: skip
    assert [normalize_currency(v) for v in ("RM", "₹", "Rs.", "US$", " usd ", "THB", "¥", "euro")] == [
        "MYR", "INR", "INR", "USD", "USD", "THB", None, None,
    ]  # fmt: skip


def test_currency() -> None:
    assert guess_currency("TOTAL RM 9.00") == "MYR"
    assert guess_currency("Totaal € 12,00") == "EUR"
    assert guess_currency("Total $5.00") == "USD"
    assert guess_currency("Total 5.00 EUR, paid in USD") is None  # two currencies: do not pick
    assert guess_currency("价税合计 ¥100 元") == "CNY"


# --- dates ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "iso"),
    [
        ("August 3 , 2014", "2014-08-03"),
        ("Date: 3 Aug 2014", "2014-08-03"),
        ("25/12/2023", "2023-12-25"),
        ("12/25/2023", "2023-12-25"),
        ("2023-04-03", "2023-04-03"),
        ("2023年4月3日", "2023-04-03"),
        ("03.04.2023", "2023-04-03"),
        ("15 mars 2021", "2021-03-15"),
        ("5. Oktober 2020", "2020-10-05"),
        ("07/07/17", "2017-07-07"),
    ],
)
def test_parse_date(printed: str, iso: str) -> None:
    assert parse_date(printed) == iso


def test_ambiguous_date_needs_a_hint() -> None:
    assert parse_date("03/04/2023") is None
    assert parse_date("03/04/2023", dayfirst=True) == "2023-04-03"
    assert parse_date("03/04/2023", dayfirst=False) == "2023-03-04"
    assert parse_date("31/02/2023") is None  # no such day
    assert find_dates("from 2023-01-01 to 2023-01-31") == ["2023-01-01", "2023-01-31"]


@pytest.mark.parametrize(
    "text",
    [
        "2014-08-03",
        "2014/08/03",
        "2014.08.03",
        "2014-8-3",
        "2014年8月3日",
        "2014年08月03日",
        "２０１４年８月３日",  # full-width digits
        "2014년 8월 3일",
        "03.08.2014",  # dots: always day first
        "3.8.2014",
        "August 3, 2014",
        "August 3 , 2014",  # as pdftotext prints the AWS invoice
        "AUGUST 3 2014",
        "Aug 3, 2014",
        "Aug. 3rd, 2014",
        "3 Aug 2014",
        "3rd of August 2014",
        "03-Aug-2014",
        "3 August 14",
        "3. August 2014",  # German
        "3 août 2014",  # French
        "3 augustus 2014",  # Dutch
        "3 Ogos 2014",  # Malay
        "The invoice is dated 3 Aug 2014 [AmazonWebServices.pdf, p. 1].",
    ],
)
def test_one_day_in_many_forms(text) -> None:
    assert date_readings(text) == {date(2014, 8, 3)}
    assert parse_date(text) == "2014-08-03"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("05 Juillet 2015", "2015-07-05"),  # the Free invoice
        ("18 april 2014", "2014-04-18"),
        ("29 maart 2014", "2014-03-29"),
        ("3. März 2014", "2014-03-03"),
        ("OCT 3, 2016", "2016-10-03"),  # SROIE labels
        ("17-06-18", "2018-06-17"),  # 17 cannot be a month: one reading
        ("21/02/18", "2018-02-21"),
        ("28/06/2018", "2018-06-28"),
        ("31/12/99", "1999-12-31"),  # two-digit years: 69-99 are 19xx
        ("1/1/68", "2068-01-01"),  # 00-68 are 20xx
        ("29/02/2024", "2024-02-29"),
    ],
)
def test_dates_of_the_corpus_and_two_digit_years(text, iso) -> None:
    assert parse_date(text) == iso


def test_day_and_month_both_read_when_both_can_be_months() -> None:
    assert date_readings("03/04/2023") == {date(2023, 4, 3), date(2023, 3, 4)}
    assert date_readings("03-04-2023") == {date(2023, 4, 3), date(2023, 3, 4)}
    assert parse_date("03/04/2023") is None  # ambiguous: no single ISO date
    assert parse_date("04/04/2023") == "2023-04-04"  # both readings are the same day
    assert date_readings("03.04.2023") == {date(2023, 4, 3)}  # dotted dates are day first


@pytest.mark.parametrize(
    "text", ["", "12/03", "August 2014", "1868", "45/67/2014", "31/02/2014", "30 Febuary 2014", "version 1.2.3"]
)
def test_no_date_without_a_full_valid_day(text) -> None:
    assert date_readings(text) == frozenset()
    assert parse_date(text) is None


def test_several_dates_are_all_read_and_normalize_date_declines_to_choose() -> None:
    text = "Issued 2023-03-20, due 2023-04-04."
    assert date_readings(text) == {date(2023, 3, 20), date(2023, 4, 4)}
    assert parse_date(text) is None


def test_numbers_next_to_dates_are_not_dates() -> None:
    assert date_readings("Total 4.904,94 and 1.234.567") == frozenset()
    assert date_readings("INV/2023/03/0008") == frozenset()


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("12 Mar 69", "1969-03-12"),  # strptime's %y pivot: 69-99 are 19xx (extraction used to say 2069)
        ("31.12.68", "2068-12-31"),  # 00-68 are 20xx
        ("1/1/00", "2000-01-01"),
    ],
)
def test_two_digit_years_follow_the_strptime_pivot(text, iso) -> None:
    assert parse_date(text) == iso


# --- one answer in every layer -------------------------------------------------------------------------------

AMOUNTS = [
    # printed, value, currency printed, its code, whether the extractor's line scanner reads it as one amount
    ("1.234,56 €", "1234.56", "€", "EUR", True),
    ("$1,234.56", "1234.56", "$", "USD", True),
    ("(12.50)", "-12.50", "EUR", "EUR", True),
    ("RM7.50", "7.50", "RM", "MYR", True),
    ("€ 1.234", "1234", "€", "EUR", True),
    ("-3.00 EUR", "-3.00", "eur", "EUR", True),
    ("1'234.50", "1234.50", "CHF", "CHF", True),
    ("CNY ¥ 1 234,5", "1234.5", "RMB", "CNY", False),  # the line scanner does not join space-grouped digits
    ("1 234,56", "1234.56", "人民币", "CNY", False),
]


@pytest.mark.parametrize(("printed", "value", "currency", "code", "on_a_line"), AMOUNTS)
def test_extraction_agent_and_evaluation_read_an_amount_alike(printed, value, currency, code, on_a_line) -> None:
    from qwenvl_agents.evaluation import number_candidates
    from qwenvl_agents.extract.heuristics import find_amounts

    expected = Decimal(value)
    assert parse_amount(printed) == expected  # what the extractor reads a located amount with
    if on_a_line:
        assert find_amounts(f"Amount {printed}") == [float(expected)]
    row = row_from_metadata("total", {"total": printed, "currency": currency})
    assert (row.value, row.currency) == (expected, code)  # the agent's arithmetic
    # evaluation of an answer: a number answer is right when any reading matches (prose reads a single "." before
    # three digits as a decimal point first, so "€ 1.234" offers 1.234 and then 1234)
    assert expected in number_candidates(printed)
    assert fields_agree("total", printed, float(expected))  # evaluation of an extracted field
    assert fields_agree("currency", currency, code)


DATES = [
    # printed, every reading (day first first), a currency hinting day first
    ("12/03/69", ("1969-03-12", "1969-12-03")),
    ("03/12/2026", ("2026-12-03", "2026-03-12")),
    ("2026-03-12", ("2026-03-12",)),
    ("12 Mar 69", ("1969-03-12",)),
    ("12.03.26", ("2026-03-12",)),
    ("March 12, 2026", ("2026-03-12",)),
    ("2026年3月12日", ("2026-03-12",)),
    ("25/12/68", ("2068-12-25",)),
]


def _vlm_reading(printed: str, currency: str | None) -> PageReading:
    invoice = InvoiceFields(
        document_number=None,
        issue_date=printed,
        due_date=None,
        seller=None,
        buyer=None,
        currency=currency,
        subtotal=None,
        tax=None,
        total=None,
        line_items=[],
    )
    return PageReading(
        page_kind=PageKind.invoice, language=None, markdown="", tables=[], invoice=invoice, slide=None, other=None
    )


@pytest.mark.parametrize(("printed", "readings"), DATES)
def test_extraction_and_evaluation_read_a_date_alike(printed, readings) -> None:
    every = {date.fromisoformat(r) for r in readings}
    one = readings[0] if len(readings) == 1 else None
    assert eval_date_readings(printed) == every  # evaluation: an answer may mean any reading
    assert normalize_date(printed) == one
    text = f"INVOICE\nInvoice date: {printed}\nTotal 5.00"
    assert guess_fields(text, page_kind="invoice").issue_date == one  # extraction, no hint: only a sure date
    assert _vlm_reading(printed, None).to_fields().issue_date == one
    assert _vlm_reading(printed, "EUR").to_fields().issue_date == readings[0]  # day first where EUR is used
    assert _vlm_reading(printed, "USD").to_fields().issue_date == readings[-1]  # month first where USD is used
    assert fields_agree("issue_date", printed, readings[0]) and fields_agree("issue_date", printed, readings[-1])
