"""Amounts, currencies and dates as documents and models print them: one set of rules for the whole package.

Extraction (:mod:`qwenvl_agents.extract.heuristics`), the agent's field arithmetic
(:mod:`qwenvl_agents.agent.fields`) and evaluation (:mod:`qwenvl_agents.evaluation`) all read values here, so
the harness judges a field by the rules the extractor used. The module is top-level because those three layers
use it and none of them owns it. The rules are our own regular expressions: the forms below (grouping spaces,
Malay and Dutch month names, CJK dates, an ambiguous day/month kept as two readings) are not what
``dateutil`` or ``strptime`` read, and ``dateutil`` pivots two-digit years on today's date.

Currencies (:func:`normalize_currency`, :func:`guess_currency`): one table maps symbols and names to ISO 4217
codes (``RM`` → ``MYR``, ``€`` → ``EUR``, ``$`` and ``US$`` → ``USD``, ``RMB``/``元``/``人民币`` → ``CNY``,
``Rs.``/``₹`` → ``INR``); any other three letters are taken as a code; ``¥`` alone (CNY or JPY) is unknown.

Amounts (:func:`parse_amount`, :func:`to_decimal`, :func:`number_readings`), as :class:`~decimal.Decimal`
keeping the printed precision (callers that store floats convert):

- A currency symbol or code before or after the number is ignored (``RM152.00``, ``1.250,00 EUR``).
- With both ``.`` and ``,`` the last one is the decimal separator (``4.904,94`` and ``4,904.94``); thousands may
  also be grouped by ``'`` or a (no-break) space when every later group has three digits (``1 234,56``).
- A single ``.`` or ``,`` before exactly three digits groups thousands in an amount (``1,007`` and
  ``€ 1.234`` are 1007 and 1234: money rarely has three decimals), unless the part before it is ``0``; the
  other reading is kept too (:func:`number_readings`). For a bare number in prose a single ``.`` is read as a
  decimal point first (``3.049`` is a ratio), ``,`` as thousands first. Otherwise the separator is decimal.
- ``-12.00`` and ``−12.00`` are negative; accounting ``(12.00)`` is -12.00 (``(EUR 12.00)`` is an aside: 12.00).

Dates (:func:`find_date_spans`, :func:`parse_date`, :func:`find_dates`, :func:`date_readings`) in ISO form:
``2014-08-03``, ``2014/08/03``, ``2014年8月3日``, ``2014년 8월 3일``, ``03.08.2014`` (dots: day first),
``03/08/2014`` and ``03-08-14`` (day or month first: both readings are kept; a ``dayfirst`` hint picks one,
:func:`dayfirst_for` gives it from the currency or language), ``3 Aug 2014``, ``August 3, 2014``,
``05 Juillet 2015`` (month names in English, German, Dutch, French, Spanish, Italian and Malay). A date needs a
year; ``12/03`` is none.

**Two-digit years** follow the POSIX/Python ``strptime`` ``%y`` pivot: 69-99 are 1969-1999 and 00-68 are
2000-2068 (``12/03/69`` is in 1969, ``1/1/68`` in 2068).

Example:
    >>> parse_amount("1.234,56 €"), parse_amount("(12.50)"), to_decimal(0.1), normalize_currency("RM")
    (Decimal('1234.56'), Decimal('-12.50'), Decimal('0.1'), 'MYR')
    >>> parse_date("12 Mar 69"), parse_date("03/12/2026"), parse_date("03/12/2026", dayfirst=True)
    ('1969-03-12', None, '2026-12-03')
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

# --- currencies ----------------------------------------------------------------------------------------------

# ISO codes looked for on a page to guess its currency (others would match words: "CAD drawing", "PHP").
_PAGE_CODES = ("EUR", "USD", "GBP", "MYR", "SGD", "CNY", "INR", "CHF", "JPY", "AUD", "CAD", "HKD", "NZD", "SEK", "NOK")
_MORE_CODES = ("KRW", "TWD", "THB", "IDR", "PHP", "VND", "DKK", "PLN", "CZK", "ZAR", "BRL", "MXN", "AED")
CURRENCY_ALIASES: dict[str, str] = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "RS": "INR",
    "RS.": "INR",
    "RM": "MYR",
    "S$": "SGD",
    "HK$": "HKD",
    "A$": "AUD",
    "C$": "CAD",
    "NZ$": "NZD",
    "NT$": "TWD",
    "RMB": "CNY",
    "元": "CNY",
    "人民币": "CNY",
}
"""The one table of symbols and names → ISO 4217 codes (keys upper-case)."""

# A currency mark next to a number: a symbol (with its country prefix) or a code; what amounts ignore.
_SYMBOL = r"(?:US|HK|NZ|NT|S|A|C)?[$€£¥₹]"
_WORD_CODES = "|".join((*_PAGE_CODES, *_MORE_CODES, "RMB", "RM", "Rs", "Rp"))
CURRENCY_MARK = rf"(?:{_SYMBOL}|(?<![A-Za-z])(?:{_WORD_CODES})\.?)"
"""Regular expression (case-insensitive use) for a currency symbol or code written next to an amount."""


def normalize_currency(value: Any) -> str | None:
    """An ISO 4217 code from a code, symbol or name (``RM`` → ``MYR``, ``eur`` → ``EUR``); ``None`` when unknown.

    Example:
        >>> [normalize_currency(v) for v in ("RMB", "€", "eur", "$", "Rs.", "¥", "", None)]
        ['CNY', 'EUR', 'EUR', 'USD', 'INR', None, None, None]
    """
    if value is None:
        return None
    text = str(value).strip()
    upper = text.upper()
    if upper in CURRENCY_ALIASES:
        return CURRENCY_ALIASES[upper]
    return upper if re.fullmatch(r"[A-Z]{3}", upper) else None


def guess_currency(text: str) -> str | None:
    """The one currency a page prints, or ``None`` when it prints none or several.

    Example:
        >>> guess_currency("TOTAL RM 9.00"), guess_currency("Total 5.00 EUR, paid in USD")
        ('MYR', None)
    """
    found: set[str] = set()
    for code in _PAGE_CODES:
        if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", text):
            found.add(code)
    if re.search(r"(?<![A-Za-z])RMB(?![A-Za-z])|人民币|元", text):
        found.add("CNY")
    if re.search(r"(?<![A-Za-z])RM\s?\d|\(RM\)|\bRM\b", text):
        found.add("MYR")
    for symbol in ("€", "£", "₹"):
        if symbol in text:
            found.add(CURRENCY_ALIASES[symbol])
    if re.search(r"(?<![A-Z])\$", text) and not found & {"AUD", "CAD", "HKD", "NZD", "SGD"}:
        found.add("USD")
    return found.pop() if len(found) == 1 else None


# --- amounts -------------------------------------------------------------------------------------------------

_SPACE = "[ \u00a0\u202f\u2009]"
_NUMBER = re.compile(rf"\d+(?:(?:[.,'’]|{_SPACE}(?=\d{{3}}(?!\d)))\d+)*")
_BEFORE = re.compile(rf"(?P<open>\()?(?P<minus>[-−])?\s?(?P<cur>{CURRENCY_MARK})?\s?(?P<minus2>[-−])?$", re.I)
_CLOSE = re.compile(rf"\s?(?:[$€£¥₹]|(?:{_WORD_CODES})(?![A-Za-z]))?\s?\)", re.I)
_WHOLE = re.compile(
    rf"(?P<open>\()?\s?(?P<minus>[-−+])?\s?(?P<cur>{CURRENCY_MARK}(?:\s?{CURRENCY_MARK})?)?\s?(?P<minus2>[-−])?\s?(?P<num>{_NUMBER.pattern})"
    rf"\s?(?P<cur2>(?:{_SYMBOL}|(?:{_WORD_CODES})\.?|元))?\s?(?P<close>\))?",
    re.I,
)
_GLUED = frozenset("_/\\#@.,'’")


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
    """Readings of one printed number (prose order: a single ``.`` before three digits is decimal first)."""
    parts = re.split(_SPACE, body)
    if len(parts) > 1:
        last = re.fullmatch(r"(\d{3})(?:[.,](\d+))?", parts[-1])
        if last and _grouped(parts[0], parts[1:-1]):
            return [(Decimal("".join(parts[:-1]) + last[1] + ("." + last[2] if last[2] else "")),)]
        return [r for p in parts for r in _plain(p)]
    return _plain(body)


def number_readings(text: str) -> list[tuple[Decimal, ...]]:
    """Each number in a sentence (dates removed) as its readings, most likely first.

    Digits glued to letters or to an identifier (``INV2023``, ``coolblue2.pdf``, ``INV-0042``) are no number.

    Example:
        >>> number_readings("On 3 Aug 2014 pay € 1.250 or (12.00), not INV-7")
        [(Decimal('1.250'), Decimal('1250')), (Decimal('-12.00'), Decimal('12.00'))]
    """
    text = unicodedata.normalize("NFKC", text)
    for span in reversed(find_date_spans(text)):
        text = text[: span.start] + " " + text[span.end :]
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


def parse_amount(text: str | None) -> Decimal | None:
    """``text`` as one amount (a currency mark, sign or accounting parentheses allowed), else ``None``.

    Example:
        >>> [str(parse_amount(t)) for t in ["4.904,94", "RM152.00", "€ 1.234", "-12.50 EUR", "CNY ¥ 1 234,5"]]
        ['4904.94', '152.00', '1234', '-12.50', '1234.5']
        >>> parse_amount("12/04"), parse_amount("1,2,3"), parse_amount("n/a")
        (None, None, None)
    """
    if not text:
        return None
    m = _WHOLE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if m is None or bool(m["open"]) != bool(m["close"]):
        return None
    readings = _body(m["num"])
    if len(readings) != 1:
        return None
    # An amount: a single separator before three digits groups thousands (the largest reading).
    value = max(readings[0]) if len(readings[0]) > 1 else readings[0][0]
    code = (m["cur"] or "").strip(".").isalpha()
    if m["minus"] == "+":
        return value
    if m["minus"] or m["minus2"] or (m["open"] and not code):
        return -value
    return value


def to_decimal(value: Any) -> Decimal | None:
    """An amount as a Decimal, or ``None`` when it is missing or not a finite number.

    Floats go through their shortest repr (``0.1`` → ``Decimal('0.1')``); strings are read by
    :func:`parse_amount` (``"¥19,652.96"``, ``"-12.50 EUR"``).

    Example:
        >>> to_decimal(2587.72), to_decimal("$ 76.35"), to_decimal(float("nan")), to_decimal(True)
        (Decimal('2587.72'), Decimal('76.35'), None, None)
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        return parse_amount(value)
    return None


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
    """The year printed as ``text``; two digits by the ``strptime`` ``%y`` pivot (69-99 → 19xx, 00-68 → 20xx)."""
    n = int(text)
    return n if len(text) == 4 else n + (2000 if n < 69 else 1900)


def _day(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DateSpan:
    """A date printed at ``text[start:end]``: its day-first and month-first readings (equal unless ambiguous)."""

    start: int
    end: int
    day_first: date | None
    month_first: date | None

    @property
    def readings(self) -> frozenset[date]:
        """Every valid reading (two for an ambiguous ``03/04/2023``)."""
        return frozenset(d for d in (self.day_first, self.month_first) if d is not None)

    def resolve(self, dayfirst: bool | None = None) -> date | None:
        """The one reading, the hinted one when ambiguous, ``None`` when ambiguous without a hint."""
        if len(self.readings) == 1:
            return self.day_first or self.month_first
        if dayfirst is None:
            return None
        return self.day_first if dayfirst else self.month_first


def _span(kind: str, m: re.Match[str]) -> DateSpan:
    g = m.groups()
    if kind == "ymd":
        d = _day(int(g[0]), int(g[-2]), int(g[-1]))
        return DateSpan(m.start(), m.end(), d, d)
    if kind == "dmy":
        y, a, b = _year(g[3]), int(g[0]), int(g[2])
        day_first = _day(y, b, a)
        return DateSpan(m.start(), m.end(), day_first, day_first if g[1] == "." else _day(y, a, b))
    if kind == "d_month_y":
        d = _day(_year(g[2]), _MONTHS[g[1].casefold()], int(g[0]))
    else:
        d = _day(int(g[2]), _MONTHS[g[0].casefold()], int(g[1]))
    return DateSpan(m.start(), m.end(), d, d)


def find_date_spans(text: str) -> list[DateSpan]:
    """Non-overlapping valid dates in ``text`` (as given: callers normalise), leftmost and longest first."""
    found = [
        span for kind, pattern in _DATE_PATTERNS for m in pattern.finditer(text) if (span := _span(kind, m)).readings
    ]
    kept: list[DateSpan] = []
    for span in sorted(found, key=lambda s: (s.start, s.start - s.end)):
        if not kept or span.start >= kept[-1].end:
            kept.append(span)
    return kept


def date_readings(text: str) -> frozenset[date]:
    """Every reading of every date in ``text`` (both readings of an ambiguous ``03/04/2023``).

    Example:
        >>> sorted(d.isoformat() for d in date_readings("due 03/04/2023, issued 3 Aug 2014"))
        ['2014-08-03', '2023-03-04', '2023-04-03']
    """
    return frozenset(d for span in find_date_spans(unicodedata.normalize("NFKC", text)) for d in span.readings)


def find_dates(text: str, *, dayfirst: bool | None = None) -> list[str]:
    """ISO dates in ``text``, in order, without repeats; an ambiguous date needs ``dayfirst`` or is left out.

    Example:
        >>> find_dates("from 2023-01-01 to 03/04/2023"), find_dates("03/04/2023", dayfirst=False)
        (['2023-01-01'], ['2023-03-04'])
    """
    days = (span.resolve(dayfirst) for span in find_date_spans(unicodedata.normalize("NFKC", text)))
    return list(dict.fromkeys(d.isoformat() for d in days if d is not None))


def parse_date(text: str | None, *, dayfirst: bool | None = None) -> str | None:
    """The one date ``text`` states as ``YYYY-MM-DD``; ``None`` when it states none, several, or an ambiguous one.

    Example:
        >>> [parse_date(t) for t in ["August 3 , 2014", "2014年8月3日", "03.08.2014", "03/04/2023", "n/a"]]
        ['2014-08-03', '2014-08-03', '2014-08-03', None, None]
        >>> parse_date("03/04/2023", dayfirst=True), parse_date("31/12/99"), parse_date("1/1/68")
        ('2023-04-03', '1999-12-31', '2068-01-01')
    """
    if not text:
        return None
    days = {span.resolve(dayfirst) for span in find_date_spans(unicodedata.normalize("NFKC", text))}
    if len(days) != 1:
        return None
    (day,) = days
    return day.isoformat() if day else None


_DAYFIRST_CURRENCIES = {"EUR", "GBP", "MYR", "SGD", "INR", "AUD", "NZD", "CHF"}


def dayfirst_for(currency: str | None, language: str | None = None) -> bool | None:
    """Whether ``03/04/2023`` means 3 April where this currency or language is used (``None``: unknown).

    Example:
        >>> dayfirst_for("MYR"), dayfirst_for("USD"), dayfirst_for(None, "de"), dayfirst_for(None)
        (True, False, True, None)
    """
    if currency in _DAYFIRST_CURRENCIES or language in ("de", "fr", "nl", "es", "it", "ms"):
        return True
    if currency == "USD":
        return False
    return None
