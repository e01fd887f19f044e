"""Dates in the forms invoices, receipts and models write them, and the day/month ambiguity."""

from __future__ import annotations

from datetime import date

import pytest

from qwenvl_agents.evaluation import date_readings, normalize_date


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
    assert normalize_date(text) == "2014-08-03"


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
    assert normalize_date(text) == iso


def test_day_and_month_both_read_when_both_can_be_months() -> None:
    assert date_readings("03/04/2023") == {date(2023, 4, 3), date(2023, 3, 4)}
    assert date_readings("03-04-2023") == {date(2023, 4, 3), date(2023, 3, 4)}
    assert normalize_date("03/04/2023") is None  # ambiguous: no single ISO date
    assert normalize_date("04/04/2023") == "2023-04-04"  # both readings are the same day
    assert date_readings("03.04.2023") == {date(2023, 4, 3)}  # dotted dates are day first


@pytest.mark.parametrize(
    "text", ["", "12/03", "August 2014", "1868", "45/67/2014", "31/02/2014", "30 Febuary 2014", "version 1.2.3"]
)
def test_no_date_without_a_full_valid_day(text) -> None:
    assert date_readings(text) == frozenset()
    assert normalize_date(text) is None


def test_several_dates_are_all_read_and_normalize_date_declines_to_choose() -> None:
    text = "Issued 2023-03-20, due 2023-04-04."
    assert date_readings(text) == {date(2023, 3, 20), date(2023, 4, 4)}
    assert normalize_date(text) is None


def test_numbers_next_to_dates_are_not_dates() -> None:
    assert date_readings("Total 4.904,94 and 1.234.567") == frozenset()
    assert date_readings("INV/2023/03/0008") == frozenset()
