"""Scoring answers against gold values: numbers, dates and text read the way documents and models write them.

Numbers and dates are read by :mod:`qwenvl_agents.parsing`, the rules extraction uses too (separators in both
conventions, currency marks, ``(12.00)`` as -12.00, day-first/month-first readings, two-digit years by the
``strptime`` pivot: 69-99 are 19xx, 00-68 20xx). On top of them:

- :func:`parse_number` gives the first number of a text, :func:`number_candidates` every reading of every number
  (``1,250`` and ``1.250`` are ambiguous: both readings are candidates; a single ``.`` is read as a decimal
  point first, since answers are prose: ``3.049`` is a ratio). Citations ``[doc, p. N]`` and dates are removed
  first. A ``number`` answer is correct when any candidate equals the expected value at the expected value's
  precision (rounded half-up to its decimals): ``279.84`` accepts ``279.840`` but not ``279.83``, and
  ``4904.94`` never accepts ``4904.49``. An answer that lists many numbers can therefore pass by luck.
- :func:`date_readings` gives every reading of every date (an answer matches when any reading does);
  :func:`normalize_date` the one ISO date a text states (:func:`~qwenvl_agents.parsing.parse_date`).

Answers (:func:`score_answer`): an answer that declines (:func:`declined`) is wrong for an answerable case.
``exact``: equal after :func:`normalize_text`, or the same date when the gold value is a date, or the same
number when the gold value is a formatted number (``17,758,000``), or (the agent answers in sentences) the gold
value appears in the answer as a whole phrase (not inside a longer word or number); ``strict=True`` accepts
only the first three. ``contains``: the normalised gold value is part of the normalised answer.

Example:
    >>> parse_number("The total is RM 152.00 [sroie_350.jpg, p. 1]"), parse_number("4.904,94 €")
    (Decimal('152.00'), Decimal('4904.94'))
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from qwenvl_agents.agent.prompts import NOT_FOUND_TEXT
from qwenvl_agents.parsing import date_readings, find_date_spans, number_readings, parse_date, to_decimal

if TYPE_CHECKING:
    from qwenvl_agents.evaluation.cases import EvalCase

ScoreMethod = Literal["text", "date", "number", "phrase", "contains", "declined", "answered", "no_answer", "mismatch"]

# --- numbers -------------------------------------------------------------------------------------------------

_CITATION = re.compile(r"\[[^\[\]]*?(?:\b(?:p|pp|page|pages|slide)\.?\s*\d+|第\s*\d+\s*[页頁])[^\[\]]*\]", re.I)


def _tokens(text: str) -> list[tuple[Decimal, ...]]:
    """Each number in ``text`` (citations and dates removed) as its readings, most likely first."""
    return number_readings(strip_citations(unicodedata.normalize("NFKC", text)))


def parse_number(value: object) -> Decimal | None:
    """The first number in ``value`` (a string as printed, or a number), ``None`` when there is none.

    Example:
        >>> [str(parse_number(t)) for t in ["USD 2,587.72", "1.250,00 EUR", "1 234,56", "(12.00)", "1.250"]]
        ['2587.72', '1250.00', '1234.56', '-12.00', '1.250']
        >>> parse_number("Invoice INV2023 of 2014-08-03: ¥19,652.96"), parse_number("none")
        (Decimal('19652.96'), None)
    """
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str):
        return to_decimal(value)
    tokens = _tokens(value)
    return tokens[0][0] if tokens else None


def number_candidates(text: str) -> list[Decimal]:
    """Every reading of every number in ``text``, in order, without repeats (what a ``number`` answer may mean).

    Example:
        >>> [str(n) for n in number_candidates("Invoice 992288600 [coolblue2.pdf, p. 1]: € 1.250 (12.00)")]
        ['992288600', '1.250', '1250', '-12.00', '12.00']
    """
    return list(dict.fromkeys(r for token in _tokens(text) for r in token))


def same_number(value: Decimal, expected: Decimal) -> bool:
    """Whether ``value`` equals ``expected`` at the precision ``expected`` is given in (rounded half-up).

    Example:
        >>> same_number(Decimal("4904.940"), Decimal("4904.94")), same_number(Decimal("4904.49"), Decimal("4904.94"))
        (True, False)
    """
    places = max(0, -int(expected.as_tuple().exponent))
    step = Decimal(1).scaleb(-places)
    return value.quantize(step, rounding=ROUND_HALF_UP) == expected.quantize(step, rounding=ROUND_HALF_UP)


# --- dates ---------------------------------------------------------------------------------------------------


def normalize_date(text: str) -> str | None:
    """The ISO date ``text`` states, ``None`` when it states none, several, or an ambiguous one.

    Example:
        >>> [normalize_date(t) for t in ["August 3 , 2014", "2014年8月3日", "03.08.2014", "03/04/2023", "n/a"]]
        ['2014-08-03', '2014-08-03', '2014-08-03', None, None]
    """
    return parse_date(text)


def _whole_date(text: str) -> frozenset[date]:
    """The readings of ``text`` when all of it is one date (punctuation around it aside), else none."""
    text = unicodedata.normalize("NFKC", text).strip()
    spans = find_date_spans(text)
    if len(spans) == 1 and not _strip_ends(text[: spans[0].start] + text[spans[0].end :]):
        return spans[0].readings
    return frozenset()


# --- text ----------------------------------------------------------------------------------------------------


def _strip_ends(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]).startswith("P")):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]).startswith("P")):
        end -= 1
    return text[start:end]


def normalize_text(text: str) -> str:
    """NFKC, case folded, whitespace collapsed, punctuation at both ends removed.

    Example:
        >>> normalize_text("  Quarterly\\n Duck   SURVEY. "), normalize_text("VARCHAR(7)")
        ('quarterly duck survey', 'varchar(7')
    """
    return _strip_ends(" ".join(unicodedata.normalize("NFKC", text).casefold().split()))


def strip_citations(text: str) -> str:
    """``text`` without its citations ``[document, p. N]``.

    Example:
        >>> strip_citations("Total 4.11 [AmazonWebServices.pdf, p. 1].")
        'Total 4.11  .'
    """
    return _CITATION.sub(" ", text)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _phrase_in(phrase: str, text: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` not glued to letters or digits on either side (CJK needs no spaces)."""
    start = text.find(phrase)
    while phrase and start >= 0:
        before, after = text[start - 1 : start], text[start + len(phrase) : start + len(phrase) + 1]
        glued_before = before.isalnum() and phrase[0].isalnum() and not (_wide(before) or _wide(phrase[0]))
        glued_after = after.isalnum() and phrase[-1].isalnum() and not (_wide(after) or _wide(phrase[-1]))
        if not glued_before and not glued_after:
            return True
        start = text.find(phrase, start + 1)
    return False


# --- declining -----------------------------------------------------------------------------------------------

_SUBJECT = (
    r"(?:documents?|pages?|files?|sources?|context|text|images?|receipts?|invoices?|slides?|reports?"
    r"|it|they|this|these)"
)
_DECLINE = re.compile(
    rf"\b{_SUBJECT}\s+(?:do|does|did)\s*(?:not|n't)\s+"
    r"(?:say|state|mention|contain|include|show|specify|provide|list|give|indicate|hold|have)\b"
    r"|\bnot\s+(?:found|mentioned|stated|specified|available|provided|listed|shown|given|indicated)\b"
    r"|\b(?:cannot|can't|can\s+not|could\s*(?:not|n't)|unable\s+to)\s+(?:find|locate|determine|answer|tell|identify|see)\b"
    r"|\bno\s+(?:information|mention|record|answer|data|such)\b|\bi\s+(?:do\s*not|don't)\s+know\b"
    r"|\b(?:not\s+enough|insufficient)\s+information\b"
    r"|未找到|没有找到|找不到|无法找到|未能找到|没有相关|无相关|无法回答|无法确定|不知道"
    r"|(?:没有|未)(?:提到|提及|说明|包含|显示|记载|给出|列出|写明|注明)"
    r"|没有(?:这|此|该|相关)?(?:方面的|个|些)?(?:信息|资料|答案)"
)


def declined(text: str | None) -> bool:
    """Whether an answer says the documents do not hold the answer (or says nothing at all).

    Recognised: :data:`~qwenvl_agents.agent.prompts.NOT_FOUND_TEXT` and wording like "the invoice does not
    show", "not found", "I could not find", "no information", and Chinese 未找到, 没有找到, 找不到, 没有提到,
    没有相关信息, 无法回答. "There is no tax" or 没有税 is an answer, not a decline.

    Example:
        >>> declined("The documents do not say. [x.pdf, p. 1]"), declined("文档中没有提到到期日。")
        (True, True)
        >>> declined("The total is 4.11 USD [AmazonWebServices.pdf, p. 1]")
        False
    """
    squashed = " ".join(unicodedata.normalize("NFKC", text or "").replace("’", "'").split()).casefold()
    return not squashed or NOT_FOUND_TEXT.casefold().rstrip(".") in squashed or bool(_DECLINE.search(squashed))


# --- answers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerScore:
    """Whether an answer is right, how that was decided (``method``), why (``detail``) and the value compared."""

    correct: bool
    method: ScoreMethod
    detail: str
    predicted_value: str | None = None


def _formatted_number(text: str) -> Decimal | None:
    """The value of ``text`` when it is one number written with separators (``17,758,000``, ``2 246 496``)."""
    text = text.strip()
    if not re.fullmatch(r"[-−]?\d+(?:[., '’\u00a0\u202f]\d+)+", text):
        return None
    tokens = _tokens(text)
    return tokens[0][0] if len(tokens) == 1 else None


def score_answer(
    predicted: str | None, case: EvalCase, *, found: bool | None = None, strict: bool = False
) -> AnswerScore:
    """Score an answer against ``case`` by its ``answer_type`` (rules in the module docstring).

    ``found`` is the agent's own flag when known: it then decides whether the agent declined; otherwise the
    wording does (:func:`declined`). An unanswerable case is right exactly when the agent declined.

    Example:
        >>> from pathlib import Path
        >>> from qwenvl_agents.evaluation.cases import EvalCase
        >>> case = EvalCase("c1", "inv", "c2.pdf", Path("/c/c2.pdf"), (1,), "Total?", "4904.94", "number")
        >>> score_answer("The total is € 4.904,94 [c2.pdf, p. 1].", case)  # doctest: +NORMALIZE_WHITESPACE
        AnswerScore(correct=True, method='number', detail='4904.94 equals the expected 4904.94',
                    predicted_value='4904.94')
        >>> score_answer("The documents do not say.", case).method
        'declined'
    """
    said_no = declined(predicted) if found is None else not found
    if not case.answerable:
        if said_no:
            return AnswerScore(True, "declined", "declined an unanswerable question")
        return AnswerScore(False, "answered", "answered an unanswerable question", predicted)
    if not predicted or not predicted.strip():
        return AnswerScore(False, "no_answer", "no answer")
    if said_no:
        return AnswerScore(False, "declined", f"declined; expected {case.answer!r}")
    expected = case.answer or ""
    body = strip_citations(predicted)
    if case.answer_type == "number":
        gold = parse_number(expected)
        if gold is None:
            return AnswerScore(False, "mismatch", f"expected value {expected!r} is not a number")
        candidates = number_candidates(body)
        hit = next((c for c in candidates if same_number(c, gold)), None)
        if hit is not None:
            return AnswerScore(True, "number", f"{hit} equals the expected {gold}", str(hit))
        seen = ", ".join(str(c) for c in candidates[:8]) or "none"
        first = str(candidates[0]) if candidates else None
        return AnswerScore(False, "mismatch", f"expected {gold}; numbers in the answer: {seen}", first)
    text, gold_text = normalize_text(body), normalize_text(expected)
    if case.answer_type == "contains":
        ok = bool(gold_text) and gold_text in text
        detail = f"{'contains' if ok else 'does not contain'} {expected!r}"
        return AnswerScore(ok, "contains" if ok else "mismatch", detail, expected if ok else None)
    if text == gold_text:
        return AnswerScore(True, "text", "same text", expected)
    gold_dates = _whole_date(expected)
    if gold_dates:
        shared = gold_dates & date_readings(body)
        if shared:
            iso = min(shared).isoformat()
            return AnswerScore(True, "date", f"states the date {iso}, as expected {expected!r}", iso)
    gold_number = _formatted_number(expected)
    if gold_number is not None:
        hit = next((c for c in number_candidates(body) if c == gold_number), None)
        if hit is not None:
            return AnswerScore(True, "number", f"{hit} equals the expected {expected!r}", str(hit))
    if not strict and _phrase_in(gold_text, text):
        return AnswerScore(True, "phrase", f"states {expected!r}", expected)
    found_dates = ", ".join(sorted(d.isoformat() for d in date_readings(body)))
    extra = f"; dates in the answer: {found_dates}" if gold_dates and found_dates else ""
    return AnswerScore(False, "mismatch", f"expected {expected!r}{extra}")
