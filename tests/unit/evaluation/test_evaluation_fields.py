"""Key fields against the corpus ground truth (invoice2data expected JSON, SROIE key labels)."""

from __future__ import annotations

import json

import pytest

from qwenvl_agents.evaluation import (
    FieldScore,
    GroundTruthError,
    compare_fields,
    expected_fields,
    field_accuracy,
    fields_agree,
)
from qwenvl_agents.types import KeyFields
from tests.support.corpus import require_corpus


@pytest.fixture(scope="module")
def corpus():
    return require_corpus()


def test_invoice2data_ground_truth_under_key_field_names(corpus) -> None:
    azure = expected_fields(corpus / "invoices_invoice2data" / "AzureInterior.pdf")
    azure_order = ("seller", "document_number", "issue_date", "due_date", "currency", "subtotal", "tax", "total")
    assert azure == {
        "seller": "Azure Interior",
        "document_number": "INV/2023/03/0008",
        "issue_date": "2023-03-20",
        "due_date": "2023-04-04",
        "currency": "USD",
        "subtotal": 262.9,
        "tax": 16.94,
        "total": 279.84,
    }
    assert list(azure) == [*azure_order]
    # no buyer: invoice2data's partner_name repeats the issuer ("Amazon Web Services, Inc.")
    aws = expected_fields(corpus / "invoices_invoice2data" / "AmazonWebServices.pdf")
    assert aws is not None and "buyer" not in aws and aws["seller"] == "Amazon Web Services"
    # fields a file lacks are left out (Sammy Maystone has no amount)
    sammy = expected_fields(corpus / "invoices_invoice2data" / "SammyMaystoneLinesTest.pdf")
    assert sammy is not None and "total" not in sammy and sammy["document_number"] == "invoice_number_1"


def test_sroie_ground_truth_under_key_field_names(corpus) -> None:
    assert expected_fields(corpus / "receipts_sroie" / "sroie_414.jpg") == {
        "seller": "KEDAI UHAT DAN RUNCIT CHONG HWA",
        "issue_date": "OCT 3, 2016",
        "total": "RM33.90",
    }


def test_every_invoice_and_receipt_has_ground_truth_and_nothing_else_does(corpus) -> None:
    documents = [p for p in corpus.rglob("*") if p.suffix.lower() in (".pdf", ".jpg", ".pptx")]
    with_truth = {p.name for p in documents if expected_fields(p)}
    invoices = {p.name for p in (corpus / "invoices_invoice2data").glob("*.pdf")}
    receipts = {p.name for p in (corpus / "receipts_sroie").glob("*.jpg")}
    assert len(invoices) == 11 and len(receipts) == 12
    assert with_truth == invoices | receipts
    for name in invoices | receipts:
        folder = "invoices_invoice2data" if name in invoices else "receipts_sroie"
        fields = expected_fields(corpus / folder / name)
        assert fields and {"seller", "issue_date"} <= set(fields)


def _score(scores: list[FieldScore]) -> dict[str, bool]:
    return {s.field: s.correct for s in scores}


def test_a_right_and_a_wrong_value_for_every_invoice_field(corpus) -> None:
    expected = expected_fields(corpus / "invoices_invoice2data" / "AzureInterior.pdf")
    assert expected is not None
    right = KeyFields(
        seller="Azure Interior",
        document_number="inv/2023/03/0008",
        issue_date="03/20/2023",  # month first: only one reading is a valid day
        due_date="2023-04-04",
        currency="usd",
        subtotal=262.90,
        tax=16.94,
        total=279.84,
    )
    wrong = KeyFields(
        seller="Deco Addict",
        document_number="INV/2023/03/0009",
        issue_date="2023-03-21",
        due_date="2023-04-05",
        currency="EUR",
        subtotal=262.09,
        tax=16.49,  # transposed digits
        total=279.85,  # one cent off
    )
    assert _score(compare_fields(expected, right)) == dict.fromkeys(expected, True)
    assert _score(compare_fields(expected, wrong)) == dict.fromkeys(expected, False)
    scores = compare_fields(expected, wrong)
    assert scores[-1] == FieldScore("total", 279.84, 279.85, False)  # values as given, for the report


def test_a_right_and_a_wrong_value_for_every_receipt_field(corpus) -> None:
    expected = expected_fields(corpus / "receipts_sroie" / "sroie_350.jpg")
    assert expected == {"seller": "PINGHWAI TRADING SDN BHD", "issue_date": "23/09/2017", "total": "1,007.50"}
    right = KeyFields(seller="Pinghwai Trading Sdn. Bhd.", issue_date="2017-09-23", total=1007.5)
    wrong = KeyFields(seller="MR. D.I.Y. (M) SDN BHD", issue_date="2017-09-22", total=1007.05)
    assert _score(compare_fields(expected, right)) == {"seller": True, "issue_date": True, "total": True}
    assert _score(compare_fields(expected, wrong)) == {"seller": False, "issue_date": False, "total": False}


def test_receipt_dates_and_totals_in_their_printed_forms(corpus) -> None:
    oct3 = expected_fields(corpus / "receipts_sroie" / "sroie_414.jpg")
    assert oct3 is not None
    assert _score(compare_fields(oct3, KeyFields(issue_date="2016-10-03", total=33.9)))["issue_date"]
    assert _score(compare_fields(oct3, KeyFields(issue_date="2016-10-03", total=33.9)))["total"]
    assert not _score(compare_fields(oct3, KeyFields(issue_date="2016-03-10", total=33.09)))["total"]
    assert not _score(compare_fields(oct3, KeyFields(issue_date="2016-03-10")))["issue_date"]
    ambiguous = expected_fields(corpus / "receipts_sroie" / "sroie_037.jpg")  # "10/03/2018"
    assert ambiguous is not None and ambiguous["issue_date"] == "10/03/2018"
    assert fields_agree("issue_date", ambiguous["issue_date"], "2018-03-10")
    assert fields_agree("issue_date", ambiguous["issue_date"], "2018-10-03")  # either reading counts
    assert not fields_agree("issue_date", ambiguous["issue_date"], "2018-03-11")
    two_digit_year = expected_fields(corpus / "receipts_sroie" / "sroie_588.jpg")  # "17-06-18"
    assert two_digit_year is not None and fields_agree("issue_date", two_digit_year["issue_date"], "2018-06-17")


def test_empty_extraction_is_wrong_for_every_field(corpus) -> None:
    expected = expected_fields(corpus / "invoices_invoice2data" / "coolblue2.pdf")
    assert expected is not None
    assert not any(s.correct for s in compare_fields(expected, KeyFields()))
    assert not any(s.correct for s in compare_fields(expected, None))
    assert [s.got for s in compare_fields(expected, None)] == [None] * len(expected)


@pytest.mark.parametrize(
    ("field", "expected", "got", "agree"),
    [
        ("seller", "Coolblue B.V.", "Coolblue", True),
        ("seller", "Coolblue B.V.", "COOLBLUE BV", True),
        ("seller", "e-Luscious Nederland B.V.", "e-Luscious Nederland", True),
        ("seller", "e-Luscious Nederland B.V.", "Saeco", False),
        ("seller", "B & BEST RESTAURANT", "B", False),  # too short to count as contained
        ("seller", "OYO", "OYO Rooms", True),
        ("seller", "Free", "OYO", False),
        ("seller", "Azure Interior", "", False),
        ("document_number", "#BLR_WFLD20151000982590", "BLR_WFLD20151000982590", True),
        ("document_number", "#BLR_WFLD20151000982590", "blr-wfld20151000982590", True),
        ("document_number", "#BLR_WFLD20151000982590", "BLR_WFLD2015100098259", False),
        ("document_number", "42183017", "42183017 ", True),
        ("currency", "EUR", "€", True),
        ("currency", "EUR", "eur", True),
        ("currency", "MYR", "RM", True),
        ("currency", "INR", "₹", True),
        ("currency", "EUR", "USD", False),
        ("total", "RM8.35", 8.35, True),
        ("total", "RM8.35", "8,35", True),
        ("total", "1,007.50", 1007.5, True),
        ("total", 4904.94, "4.904,94", True),
        ("total", 4904.94, 4904.49, False),
        ("total", 279.84, 279.844, True),  # equal to the cent
        ("total", 279.84, 279.83, False),
        ("total", 279.84, "n/a", False),
        ("tax", 0.0, 0, True),
        ("issue_date", "2014-08-03", "August 3, 2014", True),
        ("issue_date", "2014-08-03", "03.08.2014", True),
        ("issue_date", "2014-08-03", "2014-08-04", False),
        ("due_date", "2023-04-04", None, False),
    ],
)
def test_field_rules(field, expected, got, agree) -> None:
    assert fields_agree(field, expected, got) is agree


def test_field_accuracy_counts_per_field_in_order() -> None:
    scores = [
        FieldScore("total", 1, 1, True),
        FieldScore("seller", "a", "b", False),
        FieldScore("total", 2, 3, False),
        FieldScore("total", 4, 4, True),
    ]
    assert field_accuracy(scores) == {"total": (2, 3), "seller": (0, 1)}
    assert list(field_accuracy(scores)) == ["total", "seller"]
    assert field_accuracy([]) == {}


def test_unreadable_or_unfamiliar_ground_truth(tmp_path) -> None:
    (tmp_path / "broken.expected.json").write_text("{not json")
    with pytest.raises(GroundTruthError, match=r"broken\.expected\.json"):
        expected_fields(tmp_path / "broken.pdf")
    (tmp_path / "other.expected.json").write_text(json.dumps({"title": "a deck"}))
    assert expected_fields(tmp_path / "other.pdf") is None  # no key field in it
    (tmp_path / "many.expected.json").write_text(json.dumps([{"amount": 1}, {"amount": 2}]))
    assert expected_fields(tmp_path / "many.pdf") is None  # which invoice would it be?
    assert expected_fields(tmp_path / "absent.pdf") is None
