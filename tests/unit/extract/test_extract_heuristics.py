"""Rule-based key fields on the values real invoices and receipts print."""

from __future__ import annotations

import pytest

from qwenvl_agents.extract.heuristics import (
    find_amounts,
    guess_fields,
    guess_page_kind,
)
from qwenvl_agents.extract.lang import guess_language


def test_find_amounts_skips_dates_percentages_and_ids() -> None:
    assert find_amounts("GST 6% on 03/04/2023 INV-0042 amount RM152.00 and 4.904,94") == [152.0, 4904.94]


SROIE_LIKE = """\
SYARIKAT PERNIAGAAN GIN KEE
(81109-A)
NO 290, JALAN AIR PANAS,
GST ID: 000750673920
TAX INVOICE
DOC NO: CS00012345 DATE: 05/04/2018
DESCRIPTION QTY PRICE AMOUNT
WOOD 4 X 3 2 15.00 30.00
TOTAL QTY: 2
TOTAL SALES (EXCLUDING GST): 28.30
TOTAL GST: 1.70
TOTAL (INCLUSIVE OF GST): 30.00
CASH 50.00
CHANGE 20.00
THANK YOU"""


def test_receipt_fields() -> None:
    assert guess_page_kind(SROIE_LIKE) == "receipt"
    fields = guess_fields(SROIE_LIKE)
    assert fields.total == 30.0
    assert fields.subtotal == 28.3
    assert fields.tax == 1.7
    assert fields.document_number == "CS00012345"
    assert fields.issue_date is None  # 05/04/2018 without a currency hint: ambiguous, left out


def test_receipt_with_currency_resolves_day_first() -> None:
    fields = guess_fields(SROIE_LIKE.replace("TOTAL (INCLUSIVE OF GST): 30.00", "TOTAL (INCLUSIVE OF GST): RM30.00"))
    assert fields.currency == "MYR"
    assert fields.issue_date == "2018-04-05"


def test_european_invoice_fields() -> None:
    text = (
        "Rechnung\nRechnungsnummer: 2020-1234\nRechnungsdatum: 05.10.2020\nFällig am 19.10.2020\n"
        "Zwischensumme 4.121,80 €\nMwSt 19% 783,14 €\nGesamtbetrag 4.904,94 €"
    )
    fields = guess_fields(text, page_kind="invoice")
    assert (fields.subtotal, fields.tax, fields.total) == (4121.8, 783.14, 4904.94)
    assert fields.currency == "EUR"
    assert fields.document_number == "2020-1234"
    assert fields.issue_date == "2020-10-05"


def test_equally_strong_totals_that_disagree_give_none() -> None:
    assert guess_fields("Invoice 1\nTotal 10.00\nTotal 12.00", page_kind="invoice").total is None
    assert guess_fields("Invoice 1\nTotal 10.00\nGrand Total 12.00", page_kind="invoice").total == 12.0


def test_amount_on_the_next_line() -> None:
    assert guess_fields("INVOICE\nTotal Amount:\n1,007.50\nThank you", page_kind="invoice").total == 1007.5


def test_non_commercial_pages_get_only_a_title() -> None:
    fields = guess_fields("Quarterly report\nRevenue grew 12% to 4,500.00", page_kind="report")
    assert fields.title == "Quarterly report" and fields.total is None


def test_language_guess() -> None:
    assert guess_language("Invoice total") == "en"
    assert guess_language("增值税专用发票 合计 ¥100") == "zh"
    assert guess_language("請求書 ありがとうございます 合計") == "ja"
    assert guess_language("영수증 합계") == "ko"
    assert guess_language("12 34") is None
    assert guess_language(None) is None


@pytest.mark.parametrize(
    ("text", "total"),
    [
        ("TOTAL INCL. GST RM 8.11\nROUNDING ADJUSTMENT -RM 0.01\nTOTAL ROUNDED RM 8.10\nCASH RM 50.00", 8.10),
        ("TOTAL AMOUNT : 49.60\nROUNDING ADJ : -0.03\nTOTAL AMOUNT: 57.80\nTOTAL: RM 57.80", 57.80),
        ("ITEM: 2 TOTAL WITH GST @ 6% 6.83\nQTY: 3 ROUNDING 0.02\nTOTAL SAVING: 0.00 TOTAL 6.85", 6.85),
        ("TOTAL AMT INCL. GST @ 6%: 79.50\nTOTAL AMT PAYABLE: 79.50\nTOTAL QTY TENDER: 101", 79.50),
        ("SUB TOTAL 13.10\nTOTAL 13.10\nCASH 20.10", 13.10),
    ],
)
def test_receipt_totals_after_rounding_and_merged_rows(text: str, total: float) -> None:
    assert guess_fields("RECEIPT\nCASHIER 1\n" + text, page_kind="receipt").total == pytest.approx(total)
