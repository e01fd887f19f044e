"""Scoring answers against gold values: numbers, dates and text read the way documents and models write them.

Numbers (:func:`parse_number`, :func:`number_candidates`):

- Currency symbols and codes next to a number are ignored (``$``, ``€``, ``£``, ``¥``, ``₹``, ``RM``, ``USD``,
  ``EUR``, ``CNY``, ``Rs.`` ...). Digits glued to other letters (``INV2023``, ``coolblue2.pdf``) are no number.
- With both ``.`` and ``,``, the last one is the decimal separator: ``4.904,94`` and ``4,904.94`` are 4904.94.
  Thousands may also be grouped by ``'`` or a (no-break) space when each later group has three digits
  (``1 234,56``, ``1'234.50``, ``2 246 496``).
- A single separator: ``,`` before exactly three digits groups thousands (``2,517`` is 2517), otherwise it is
  a decimal comma (``717,97``); ``.`` is a decimal point (``1.250`` is 1.25). ``1,250`` and ``1.250`` are
  ambiguous: the other reading is a candidate too when answers are scored.
- ``-12.00`` and ``−12.00`` are negative; accounting ``(12.00)`` reads as -12.00 first, 12.00 second.
- In a sentence, citations ``[doc, p. N]`` and dates are removed first, then every number left is a candidate.
  A ``number`` answer is correct when any candidate equals the expected value at the expected value's
  precision (rounded half-up to its decimals): ``279.84`` accepts ``279.840`` but not ``279.83``, and
  ``4904.94`` never accepts ``4904.49``. An answer that lists many numbers can therefore pass by luck.

Dates (:func:`date_readings`, :func:`normalize_date`): ``2014-08-03``, ``2014/08/03``, ``2014年8月3日``,
``03.08.2014`` (day first), ``03/08/2014`` and ``03-08-14`` (day or month first: both readings are kept,
an answer matches when any reading does), ``3 Aug 2014``, ``August 3, 2014``, ``05 Juillet 2015``
(month names in English, German, Dutch, French, Spanish, Italian and Malay). Two-digit years: 00-68 are
20xx, 69-99 19xx. A date needs a year; ``12/03`` is no date.

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

from qwenvl_agents.agent.fields import to_decimal
from qwenvl_agents.agent.prompts import NOT_FOUND_TEXT

if TYPE_CHECKING:
    from qwenvl_agents.evaluation.cases import EvalCase

ScoreMethod = Literal["text", "date", "number", "phrase", "contains", "declined", "answered", "no_answer", "mismatch"]

# --- numbers -------------------------------------------------------------------------------------------------

_CODES = (
    "RM|MYR|USD|EUR|GBP|CNY|RMB|JPY|INR|Rs|Rp|HKD|SGD|CHF|AUD|CAD|NZD|KRW|TWD|THB|IDR|PHP|VND|SEK|NOK|DKK|PLN|"
    "CZK|ZAR|BRL|MXN|AED"
)
_NUMBER = re.compile(r"\d+(?:(?:[.,'’]|[ \u00a0\u202f\u2009](?=\d{3}(?!\d)))\d+)*")
_BEFORE = re.compile(
    rf"(?P<open>\()?(?P<minus>[-−])?\s?(?P<cur>(?:US|HK|NZ|NT|S|A|C)?[$€£¥₹]|(?<![A-Za-z])(?:{_CODES})\.?)?"
    r"\s?(?P<minus2>[-−])?$",
    re.I,
)
_CLOSE = re.compile(rf"\s?(?:[$€£¥₹]|(?:{_CODES})(?![A-Za-z]))?\s?\)", re.I)
_GLUED = frozenset("_/\\#@.,'’")
_CITATION = re.compile(r"\[[^\[\]]*?(?:\b(?:p|pp|page|pages|slide)\.?\s*\d+|第\s*\d+\s*[页頁])[^\[\]]*\]", re.I)


def _grouped(head: str, groups: list[str]) -> bool:
    return bool(re.fullmatch(r"[1-9]\d{0,2}", head)) and all(re.fullmatch(r"\d{3}", g) for g in groups)


def _plain(s: str) -> list[tuple[Decimal, ...]]:
    """Readings of a number without spaces; a comma list ``1,2,3`` gives one token per item."""
    s = s.replace("’", "'")
    if "'" in s:
        m = re.fullmatch(r"([\d']+)(?:[.,](\d+))?", s)
        head, *groups = m[1].split("'") if m else ("",)
        if not m or not _grouped(head, groups):
            return []
        return [(Decimal(m[1].replace("'", "") + ("." + m[2] if m[2] else "")),)]
    dots, commas = s.count("."), s.count(",")
    if not dots and not commas:
        return [(Decimal(s),)]
    if dots and commas:
        point = "." if s.rfind(".") > s.rfind(",") else ","
        whole, frac = s.rsplit(point, 1)
        head, *groups = whole.split("," if point == "." else ".")
        if point in whole or not _grouped(head, groups):
            return []
        return [(Decimal(head + "".join(groups) + "." + frac),)]
    sep = "." if dots else ","
    head, *groups = s.split(sep)
    if len(groups) > 1:
        if _grouped(head, groups):
            return [(Decimal(head + "".join(groups)),)]
        return [(Decimal(p),) for p in (head, *groups)] if sep == "," else []
    right = groups[0]
    as_thousands, as_decimal = Decimal(head + right), Decimal(head + "." + right)
    if not _grouped(head, groups):
        return [(as_decimal,)]
    return [(as_thousands, as_decimal)] if sep == "," else [(as_decimal, as_thousands)]


def _body(body: str) -> list[tuple[Decimal, ...]]:
    parts = re.split(r"[ \u00a0\u202f\u2009]", body)
    if len(parts) > 1:
        last = re.fullmatch(r"(\d{3})(?:[.,](\d+))?", parts[-1])
        if last and _grouped(parts[0], parts[1:-1]):
            return [(Decimal("".join(parts[:-1]) + last[1] + ("." + last[2] if last[2] else "")),)]
        return [r for p in parts for r in _plain(p)]
    return _plain(body)


def _tokens(text: str) -> list[tuple[Decimal, ...]]:
    """Each number in ``text`` (citations and dates removed) as its readings, most likely first."""
    text = _remove_dates(strip_citations(unicodedata.normalize("NFKC", text)))
    tokens: list[tuple[Decimal, ...]] = []
    for m in _NUMBER.finditer(text):
        before = text[max(0, m.start() - 24) : m.start()]  # enough for "(-US$ " and a glued character
        lead = _BEFORE.search(before)
        assert lead is not None  # every part of the pattern is optional
        prev = before[lead.start() - 1 : lead.start()]
        if not before[lead.start() : lead.start() + 1].isspace() and (
            (prev.isascii() and prev.isalnum()) or prev in _GLUED
        ):
            continue  # part of a word, a file name or an identifier
        negative = bool(lead["minus"] or lead["minus2"])
        code = (lead["cur"] or "").strip(".").isalpha()
        paren = bool(lead["open"]) and not negative and not code and _CLOSE.match(text, m.end()) is not None
        for readings in _body(m.group()):
            if negative:
                readings = tuple(-r for r in readings)
            elif paren:
                readings = (*(-r for r in readings), *readings)
            tokens.append(readings)
    return tokens


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

_MONTH_NAMES = (
    "january jan januar januari janvier janv enero ene gennaio gen",
    "february feb februar februari février fevrier févr fevr febrero febbraio",
    "march mar märz marz maerz mrz maart mrt mars marzo mac",
    "april apr avril avr abril abr aprile",
    "may mai mei mayo maggio mag",
    "june jun juni juin junio giugno giu",
    "july jul juli juillet juil julio luglio lug julai",
    "august aug augustus août aout agosto ogos",
    "september sep sept septembre septiembre settembre",
    "october oct oktober okt octobre octubre ottobre ott",
    "november nov novembre noviembre",
    "december dec dezember dez décembre decembre diciembre dic dicembre disember dis",
)
_MONTHS = {name: n for n, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()}
_MONTH = r"(?<![^\W\d_])(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?![^\W\d_])\.?"
_YEAR, _DAY = r"(\d{4}|\d{2})(?!\d)", r"(?<!\d)(\d{1,2})"
_DATE_PATTERNS = (
    ("ymd", re.compile(r"(?<![\d.,/-])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")),
    ("ymd", re.compile(r"(?<!\d)(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日号일]?")),
    ("dmy", re.compile(r"(?<![\d.,/-])(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?![\d]|[.,]\d)")),
    ("d_month_y", re.compile(rf"{_DAY}(?:st|nd|rd|th|er)?\.?(?:\s+of)?[\s,/-]*{_MONTH}[\s,/-]*{_YEAR}", re.I)),
    ("month_d_y", re.compile(rf"{_MONTH}[\s/-]*(\d{{1,2}})(?:st|nd|rd|th)?(?!\d)\s*,?\s*(\d{{4}})(?!\d)", re.I)),
)


def _year(text: str) -> int:
    n = int(text)
    return n if len(text) == 4 else n + (2000 if n < 69 else 1900)


def _day(y: int, m: int, d: int) -> set[date]:
    try:
        return {date(y, m, d)}
    except ValueError:
        return set()


def _readings(kind: str, g: tuple[str, ...]) -> set[date]:
    if kind == "ymd":
        return _day(int(g[0]), int(g[-2]), int(g[-1]))
    if kind == "dmy":
        day_first = _day(_year(g[3]), int(g[2]), int(g[0]))
        return day_first if g[1] == "." else day_first | _day(_year(g[3]), int(g[0]), int(g[2]))
    if kind == "d_month_y":
        return _day(_year(g[2]), _MONTHS[g[1].casefold()], int(g[0]))
    return _day(int(g[2]), _MONTHS[g[0].casefold()], int(g[1]))


def _dates(text: str) -> list[tuple[int, int, frozenset[date]]]:
    """Non-overlapping dates in ``text``: (start, end, readings), leftmost and longest first."""
    found = [
        (m.start(), m.end(), frozenset(days))
        for kind, pattern in _DATE_PATTERNS
        for m in pattern.finditer(text)
        if (days := _readings(kind, m.groups()))
    ]
    kept: list[tuple[int, int, frozenset[date]]] = []
    for item in sorted(found, key=lambda f: (f[0], f[0] - f[1])):
        if not kept or item[0] >= kept[-1][1]:
            kept.append(item)
    return kept


def _remove_dates(text: str) -> str:
    for start, end, _ in reversed(_dates(text)):
        text = text[:start] + " " + text[end:]
    return text


def date_readings(text: str) -> frozenset[date]:
    """Every reading of every date in ``text`` (both readings of an ambiguous ``03/04/2023``).

    Example:
        >>> sorted(d.isoformat() for d in date_readings("due 03/04/2023, issued 3 Aug 2014"))
        ['2014-08-03', '2023-03-04', '2023-04-03']
    """
    text = unicodedata.normalize("NFKC", text)
    return frozenset(d for _, _, readings in _dates(text) for d in readings)


def normalize_date(text: str) -> str | None:
    """The ISO date ``text`` states, ``None`` when it states none, several, or an ambiguous one.

    Example:
        >>> [normalize_date(t) for t in ["August 3 , 2014", "2014年8月3日", "03.08.2014", "03/04/2023", "n/a"]]
        ['2014-08-03', '2014-08-03', '2014-08-03', None, None]
    """
    readings = date_readings(text)
    return next(iter(readings)).isoformat() if len(readings) == 1 else None


def _whole_date(text: str) -> frozenset[date]:
    """The readings of ``text`` when all of it is one date (punctuation around it aside), else none."""
    text = unicodedata.normalize("NFKC", text).strip()
    dates = _dates(text)
    if len(dates) == 1 and not _strip_ends(text[: dates[0][0]] + text[dates[0][1] :]):
        return dates[0][2]
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
