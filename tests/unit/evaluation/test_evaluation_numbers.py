"""Numbers as documents and models print them: separators, currencies, signs, and which number a sentence gives."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qwenvl_agents.evaluation import number_candidates, parse_number, same_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4.904,94", "4904.94"),  # Dutch: dot groups thousands, comma is the decimal separator
        ("4,904.94", "4904.94"),
        ("4904.94", "4904.94"),
        ("RM152.00", "152.00"),  # currency code glued to the number
        ("RM 152.00", "152.00"),
        ("$ 279.84", "279.84"),
        ("1.250,00 EUR", "1250.00"),
        ("717,97 €", "717.97"),
        ("€717,97", "717.97"),
        ("USD 2,587.72", "2587.72"),
        ("USD2,587.72", "2587.72"),
        ("¥19,652.96", "19652.96"),
        ("￥19,652.96", "19652.96"),  # full-width yen (NFKC)
        ("1 234,56", "1234.56"),  # French: space groups thousands
        ("1\u00a0234,56", "1234.56"),  # no-break space
        ("1\u202f234,56", "1234.56"),  # narrow no-break space
        ("2 246 496", "2246496"),
        ("1'234.50", "1234.50"),  # Swiss apostrophe
        ("1’234.50", "1234.50"),
        ("1.234.567,89", "1234567.89"),
        ("1,234,567", "1234567"),
        ("1.234.567", "1234567"),
        ("2,517", "2517"),  # single comma before three digits: thousands
        ("1,007.50", "1007.50"),
        ("34,73", "34.73"),  # single comma before two digits: decimal comma
        ("3,1415", "3.1415"),
        ("0,125", "0.125"),  # a leading zero is never a thousands group
        ("1.250", "1.250"),  # single dot: decimal point first (1250 is the other reading)
        ("Rs.500", "500"),
        ("共计人民币100元", "100"),
        ("-12.00", "-12.00"),
        ("−12.00", "-12.00"),  # U+2212 minus sign
        ("Total: -12.00", "-12.00"),
        ("-$12.00", "-12.00"),
        ("RM -12.00", "-12.00"),
        ("(12.00)", "-12.00"),  # accounting negative
        ("($12.00)", "-12.00"),
        ("(EUR 12.00)", "12.00"),  # a code in parentheses is an aside, not a negative amount
        ("The total is RM 152.00 [sroie_350.jpg, p. 1]", "152.00"),
        ("Total 4.11.", "4.11"),  # the full stop ends the sentence, not the number
    ],
)
def test_parse_number_reads_printed_amounts(text, value) -> None:
    assert parse_number(text) == Decimal(value)
    assert str(parse_number(text)) == value  # the printed precision is kept


def test_the_tricky_pairs_of_the_issue_compare_equal() -> None:
    assert parse_number("4.904,94") == parse_number("4904.94") == Decimal("4904.94")
    assert parse_number("RM152.00") == parse_number("152.00")
    assert parse_number("4904.94") != parse_number("4904.49")


@pytest.mark.parametrize(
    "text",
    ["", "none", "n/a", "NL50INGB0683251309", "TOTALRM8.35", "INV2023", "1.2.3", "12.03.2018", "2014-08-03"],
)
def test_no_number_where_digits_belong_to_a_word_a_version_or_a_date(text) -> None:
    assert parse_number(text) is None


def test_non_strings_go_through_their_shortest_decimal_form() -> None:
    assert parse_number(4904.94) == Decimal("4904.94")
    assert parse_number(7) == Decimal(7)
    assert parse_number(Decimal("1.005")) == Decimal("1.005")
    assert parse_number(None) is None and parse_number(True) is None and parse_number(float("nan")) is None


def test_a_sentence_gives_every_number_in_order_without_citations_and_dates() -> None:
    text = "On 2014-08-03 invoice 42183017 [AmazonWebServices.pdf, p. 1] totals USD 4.11 (see page 2)."
    assert number_candidates(text) == [Decimal("42183017"), Decimal("4.11"), Decimal("2")]
    # the date's 2014, 08 and 03 and the citation's page number are not candidates
    assert Decimal("2014") not in number_candidates("Issued 03/08/2014, total 7.40 [x.pdf, p. 1]")
    assert number_candidates("Issued 3 Aug 2014, total 7.40 [x.pdf, p. 1]") == [Decimal("7.40")]
    # the first number of a sentence is what parse_number returns
    assert parse_number(text) == Decimal("42183017")


def test_ambiguous_separators_offer_both_readings_most_likely_first() -> None:
    assert number_candidates("1,250") == [Decimal("1250"), Decimal("1.250")]
    assert number_candidates("1.250") == [Decimal("1.250"), Decimal("1250")]
    assert number_candidates("(12.00)") == [Decimal("-12.00"), Decimal("12.00")]
    assert number_candidates("-12.00") == [Decimal("-12.00")]  # an explicit minus has one reading
    assert number_candidates("0.250") == [Decimal("0.250")]  # no thousands reading with a leading zero


def test_identifiers_file_names_and_ranges_give_no_stray_numbers() -> None:
    assert number_candidates("IBAN NL50INGB0683251309, file coolblue2.pdf, sroie_350.jpg") == []
    assert number_candidates("INV-2023 and INV/2023/03/0008") == []
    assert number_candidates("pages 10-12") == [Decimal("10")]  # 12 is glued to 10 by the dash, not negative
    assert number_candidates("in 2021 150 ducks") == [Decimal("2021"), Decimal("150")]  # 2021 is no thousands group
    assert number_candidates("items 1,2,3") == [Decimal(1), Decimal(2), Decimal(3)]


@pytest.mark.parametrize(
    ("value", "expected", "same"),
    [
        ("4904.94", "4904.94", True),
        ("4904.940", "4904.94", True),
        ("4904.49", "4904.94", False),  # transposed digits
        ("4904.95", "4904.94", False),  # one cent off
        ("4904.93", "4904.94", False),
        ("279.835", "279.84", True),  # rounds half up to the expected's cents
        ("279.8349", "279.84", False),
        ("37", "37.0", True),
        ("89.0", "89", True),
        ("89.5", "89", False),
        ("-12.00", "12.00", False),
        ("2246496", "2246496", True),
    ],
)
def test_numbers_are_equal_at_the_expected_values_precision(value, expected, same) -> None:
    assert same_number(Decimal(value), Decimal(expected)) is same
