"""Answers scored by answer type, and declines recognised in English and Chinese."""

from __future__ import annotations

import pytest

from qwenvl_agents.agent.prompts import NOT_FOUND_TEXT
from qwenvl_agents.evaluation import declined, normalize_text, score_answer, strip_citations
from tests.unit.evaluation.helpers import case

# --- number ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("The total is € 4.904,94 [coolblue2.pdf, p. 1].", "4904.94"),
        ("Totaal € 717,97", "717.97"),
        ("The total is RM152.00 [sroie_350.jpg, p. 1]", "152.00"),
        ("RM 1,007.50", "1007.50"),
        ("$ 279.84", "279.84"),
        ("1.250,00 EUR", "1250.00"),
        ("USD 2,587.72", "2587.72"),
        ("¥19,652.96", "19652.96"),
        ("Total EUR 34,73 [QualityHosting.pdf, p. 2]", "34.73"),
        ("The ratio is 89.", "89"),
        ("2,517 [us-014.pdf, p. 3]", "2,517"),  # expected value written with a thousands comma
        ("42,000.00", "42,000.00"),
        ("The invoice 992288600 totals 4904.94", "4904.94"),  # any number of the answer may be the one
        ("Refund: (12.00)", "-12.00"),
        ("Refund: -12.00", "-12.00"),
        ("It is 1.250 kg", "1250"),  # the ambiguous single dot, read as thousands
    ],
)
def test_number_answers_that_are_right(answer, expected) -> None:
    score = score_answer(answer, case(expected, "number"))
    assert score.correct, score
    assert score.method == "number"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("The total is 4904.49", "4904.94"),  # transposed cents must not pass
        ("The total is 4,904.95", "4904.94"),
        ("RM152.01", "152.00"),
        ("-12.00", "12.00"),  # a sign is part of the value
        ("The invoice is dated 2014-08-03", "2014"),  # the date's year is no number of the answer
        ("See [report.pdf, p. 11]", "11"),  # a page number in a citation is not an answer
        ("coolblue2.pdf", "2"),
    ],
)
def test_number_answers_that_are_wrong(answer, expected) -> None:
    score = score_answer(answer, case(expected, "number"))
    assert not score.correct, score
    assert score.method == "mismatch"


def test_a_wrong_number_says_what_was_found() -> None:
    score = score_answer("The total is 4904.49 [c.pdf, p. 1]", case("4904.94", "number"))
    assert "4904.49" in score.detail and "4904.94" in score.detail
    assert score.predicted_value == "4904.49"


def test_a_sentence_with_a_date_and_an_amount_compares_the_amount() -> None:
    answer = "On 03/08/2014 the receipt total was RM 8.35 [sroie_395.jpg, p. 1]."
    assert score_answer(answer, case("8.35", "number")).correct
    assert not score_answer(answer, case("3", "number")).correct  # the day is not taken as a number
    assert not score_answer(answer, case("2014", "number")).correct
    assert score_answer(answer, case("2014-08-03")).method == "date"  # and the date is still an exact answer
    assert not score_answer(answer, case("2014-08-04")).correct


# --- exact ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected", "method"),
    [
        ("quarterly   duck survey", "Quarterly Duck Survey", "text"),  # case and whitespace
        ("Quarterly\nDuck Survey.", "Quarterly Duck Survey", "text"),
        (" NL50INGB0683251309 ", "NL50INGB0683251309", "text"),
        ("The IBAN is NL50INGB0683251309 [coolblue2.pdf, p. 1].", "NL50INGB0683251309", "phrase"),
        ("The column is VARCHAR(7) [redp5110_sampled.pdf, p. 8]", "VARCHAR(7)", "phrase"),
        ("The due date is April 4, 2023 [AzureInterior.pdf, p. 1].", "2023-04-04", "date"),
        ("Due 04/04/2023", "2023-04-04", "date"),
        ("Date limite de paiement le 05 Juillet 2015", "2015-07-05", "date"),
        ("2015年7月5日", "2015-07-05", "date"),
        ("The receipt is dated 23 September 2017.", "23/09/2017", "date"),  # gold value in the receipt's form
        ("17 June 2018", "17-06-18", "date"),
        ("It is 2,246,496.", "2 246 496", "number"),  # a formatted number in another format
        ("17758000", "17,758,000", "number"),
        ("会社名は株式会社極洋です", "株式会社極洋", "phrase"),  # CJK: no spaces around words
    ],
)
def test_exact_answers_that_are_right(answer, expected, method) -> None:
    score = score_answer(answer, case(expected))
    assert score.correct, score
    assert score.method == method


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("42183018", "42183017"),
        ("The invoice number is 421830170", "42183017"),  # the gold value inside a longer number
        ("Invoice INV42183017", "42183017"),  # ... or glued to letters
        ("The due date is 2023-04-05", "2023-04-04"),
        ("The due date is 05/04/2023", "2023-04-04"),  # neither reading is 4 April
        ("VARCHAR(8)", "VARCHAR(7)"),
        ("Quarterly Goose Survey", "Quarterly Duck Survey"),
        ("2,246,497", "2 246 496"),
    ],
)
def test_exact_answers_that_are_wrong(answer, expected) -> None:
    assert not score_answer(answer, case(expected)).correct


def test_ambiguous_dates_match_when_either_reading_does() -> None:
    assert score_answer("03/04/2023", case("2023-04-03")).correct
    assert score_answer("03/04/2023", case("2023-03-04")).correct
    assert not score_answer("03/04/2023", case("2023-05-03")).correct
    assert not score_answer("03.04.2023", case("2023-03-04")).correct  # dotted: day first only


def test_strict_exact_needs_the_whole_answer() -> None:
    answer = "The IBAN is NL50INGB0683251309."
    assert score_answer(answer, case("NL50INGB0683251309")).correct
    assert not score_answer(answer, case("NL50INGB0683251309"), strict=True).correct
    assert score_answer("nl50ingb0683251309", case("NL50INGB0683251309"), strict=True).correct


# --- contains -------------------------------------------------------------------------------------------------


def test_contains_ignores_case_and_whitespace_but_needs_the_whole_value() -> None:
    assert score_answer("The shop is Three  Stooges, Damansara.", case("THREE STOOGES", "contains")).correct
    assert score_answer("Dienst: OUDJQ_office", case("OUDJQ_office", "contains")).method == "contains"
    assert not score_answer("The shop is Three Stooge.", case("THREE STOOGES", "contains")).correct
    assert not score_answer("Stooges", case("THREE STOOGES", "contains")).correct


# --- declining ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        NOT_FOUND_TEXT,
        "the documents   do NOT say.",
        "The documents don't say who the buyer is.",
        "The receipt does not show a due date [sroie_350.jpg, p. 1].",
        "The invoice doesn’t mention a VAT number.",
        "The VAT number was not found in the documents.",
        "I could not find the captain's cat in any document.",
        "I cannot determine this from the pages.",
        "There is no information about the captain's cat.",
        "I don't know.",
        "",
        "   ",
        "未找到相关信息。",
        "文档中没有提到到期日。",
        "没有找到该发票。",
        "文件中没有相关信息",
        "无法回答这个问题。",
    ],
)
def test_declines_are_recognised(text) -> None:
    assert declined(text)


@pytest.mark.parametrize(
    "text",
    [
        "The total is 4.11 USD [AmazonWebServices.pdf, p. 1].",
        "There is no tax on this invoice; the total is 4.11.",
        "The notes say: Due to global inflation our payment term has changed to 15 days.",
        "总金额是 RM152.00 [sroie_350.jpg, p. 1]。",
        "这张发票没有税，总额是 4.11。",  # "has no tax" is an answer
        "Nothing else is noted; the seller is Coolblue B.V.",
    ],
)
def test_real_answers_are_not_declines(text) -> None:
    assert not declined(text)


def test_unanswerable_cases_are_right_only_when_declined() -> None:
    unanswerable = case(None, answerable=False)
    assert score_answer("The documents do not say.", unanswerable).correct
    assert score_answer("文档中没有提到。", unanswerable).method == "declined"
    wrong = score_answer("The captain's cat is called Tom [x.pdf, p. 1].", unanswerable)
    assert not wrong.correct and wrong.method == "answered"


def test_a_decline_is_wrong_for_an_answerable_case_even_when_it_repeats_the_value() -> None:
    score = score_answer("I could not find the total of invoice 42183017.", case("42183017"))
    assert not score.correct and score.method == "declined"
    assert not score_answer("", case("42183017")).correct
    assert score_answer(None, case("42183017")).method == "no_answer"


def test_the_agents_found_flag_decides_when_given() -> None:
    # wording that looks like a decline, but the agent reported it found the answer
    answer = "The invoice does not include tax; the total is 4.11 [a.pdf, p. 1]."
    assert declined(answer)
    assert not score_answer(answer, case("4.11", "number")).correct
    assert score_answer(answer, case("4.11", "number"), found=True).correct
    assert not score_answer("The total is 4.11.", case("4.11", "number"), found=False).correct
    assert score_answer("Tom.", case(None, answerable=False), found=False).correct


# --- text helpers ---------------------------------------------------------------------------------------------


def test_normalize_text() -> None:
    assert normalize_text("  Quarterly\n\tDuck   SURVEY. ") == "quarterly duck survey"
    assert normalize_text("«Straße»") == "strasse"  # case folding, quotes at the ends dropped
    assert normalize_text("ＡＢＣ　１２３") == "abc 123"  # NFKC: full-width letters and space
    assert normalize_text("INV/2023/03/0008.") == "inv/2023/03/0008"  # inner punctuation kept


def test_strip_citations_keeps_everything_else() -> None:
    assert strip_citations("RM 8.35 [sroie_395.jpg, p. 1] and [b.pdf, p. 12]") == "RM 8.35   and  "
    assert strip_citations("the list [1, 2, 3] stays") == "the list [1, 2, 3] stays"
    assert strip_citations("总额 [发票.pdf, 第2页]") == "总额  "
