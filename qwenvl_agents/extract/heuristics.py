"""Key fields from plain text by rules, for the offline path (text layer or OCR, no VLM).

Conservative on purpose: a wrong total in the index is worse than a missing one (the agent can still
read the page image), so every function returns ``None`` when the text is ambiguous — a date like
``03/04/2023`` without a day-first hint, two different "total" lines of equal standing, a number that
could be read two ways.

Example:
    >>> parse_amount("4.904,94"), parse_amount("1,007.50"), parse_amount("RM152.00")
    (4904.94, 1007.5, 152.0)
    >>> parse_date("August 3 , 2014"), parse_date("03/04/2023"), parse_date("03/04/2023", dayfirst=True)
    ('2014-08-03', None, '2023-04-03')
    >>> text = "TAX INVOICE\\nInvoice No: INV-0042\\nDate: 25/12/2023\\nSubtotal 100.00\\nGST 6% 6.00\\nTOTAL RM 106.00"
    >>> f = guess_fields(text)
    >>> (f.document_number, f.issue_date, f.subtotal, f.tax, f.total, f.currency)
    ('INV-0042', '2023-12-25', 100.0, 6.0, 106.0, 'MYR')
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from qwenvl_agents.types import KeyFields

# --- amounts ----------------------------------------------------------------------------------------

_CURRENCY_PREFIX = r"(?:RM|US\$|S\$|HK\$|A\$|C\$|[$€£¥₹]|(?:USD|EUR|GBP|MYR|SGD|CNY|RMB|INR|CHF|JPY)\s?)"
# An amount token: digits with optional thousands groups and an optional 1-2 digit decimal part.
# The look-arounds keep it from matching inside dates (03/04/2023), times, ids (INV-0042) and percents.
_MONEY = re.compile(
    r"(?<![\w.,/:\-])"
    rf"(?P<cur>{_CURRENCY_PREFIX})?\s?"
    r"(?P<num>-?\d+(?:[.,'’]\d{3})*(?:[.,]\d{1,2})?)"
    r"(?![\d]|[.,/:\-]\d|\s?%)"
)

_SYMBOLS = {"€": "EUR", "£": "GBP", "₹": "INR", "RM": "MYR", "US$": "USD", "S$": "SGD", "HK$": "HKD", "A$": "AUD"}
_CODES = ("EUR", "USD", "GBP", "MYR", "SGD", "CNY", "INR", "CHF", "JPY", "AUD", "CAD", "HKD", "NZD", "SEK", "NOK")
_CODE_ALIASES = {"RMB": "CNY", "RM": "MYR", "€": "EUR", "$": "USD", "£": "GBP", "元": "CNY", "人民币": "CNY"}


def parse_amount(text: str | None) -> float | None:
    """A printed amount as a number: ``4.904,94`` → 4904.94, ``1,007.50`` → 1007.5, ``RM152.00`` → 152.0.

    The last ``.`` or ``,`` followed by one or two digits is the decimal separator; a single separator
    followed by exactly three digits is a thousands separator (money rarely has three decimals).
    Returns ``None`` for anything that is not clearly one number.

    >>> parse_amount("€ 1.234"), parse_amount("12,5"), parse_amount("-3.00"), parse_amount("12/04")
    (1234.0, 12.5, -3.0, None)
    """
    if not text:
        return None
    s = re.sub(_CURRENCY_PREFIX, "", text.strip(), count=1).strip()
    s = s.replace("\u00a0", "").replace(" ", "")
    if not re.fullmatch(r"-?\d[\d.,'’]*", s):
        return None
    negative = s.startswith("-")
    s = s.lstrip("-").replace("'", "").replace("’", "")
    seps = [(i, ch) for i, ch in enumerate(s) if ch in ".,"]
    if not seps:
        return -float(s) if negative else float(s)
    last_i, last_ch = seps[-1]
    tail = s[last_i + 1 :]
    if len({ch for _, ch in seps}) == 2 or len(tail) in (1, 2):
        # The last separator is the decimal one; every earlier one must group thousands.
        if len(tail) not in (1, 2) or any(ch == last_ch for _, ch in seps[:-1]):
            return None
        integer, decimals = s[:last_i], tail
    elif len(tail) == 3 and not (len(seps) == 1 and s[:last_i] == "0"):
        integer, decimals = s, ""  # thousands only: 1,007 / 1.234.567
    elif len(seps) == 1:
        integer, decimals = s[:last_i], tail  # 3.14159, 0.500
    else:
        return None
    groups = re.split(r"[.,]", integer)
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        return None
    value = float("".join(groups) + ("." + decimals if decimals else ""))
    return -value if negative else value


def find_amounts(line: str) -> list[float]:
    """Every amount on a line, left to right (percentages, dates and ids are skipped)."""
    out = []
    for m in _MONEY.finditer(line):
        value = parse_amount(m.group("num"))
        if value is not None:
            out.append(value)
    return out


def normalize_currency(text: str | None) -> str | None:
    """An ISO 4217 code from a code, an alias or a symbol (``RM`` → ``MYR``); ``None`` when unsure."""
    if not text:
        return None
    t = text.strip()
    upper = t.upper()
    if upper in _CODES:
        return upper
    return _CODE_ALIASES.get(upper, _CODE_ALIASES.get(t, _SYMBOLS.get(t)))


def guess_currency(text: str) -> str | None:
    """The one currency a page prints, or ``None`` when it prints none or several."""
    found: set[str] = set()
    for code in _CODES:
        if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", text):
            found.add(code)
    if re.search(r"(?<![A-Za-z])RMB(?![A-Za-z])|人民币|元", text):
        found.add("CNY")
    if re.search(r"(?<![A-Za-z])RM\s?\d|\(RM\)|\bRM\b", text):
        found.add("MYR")
    for symbol, code in (("€", "EUR"), ("£", "GBP"), ("₹", "INR")):
        if symbol in text:
            found.add(code)
    if re.search(r"(?<![A-Z])\$", text) and not found & {"AUD", "CAD", "HKD", "NZD", "SGD"}:
        found.add("USD")
    return found.pop() if len(found) == 1 else None


# --- dates ------------------------------------------------------------------------------------------

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("jan", "january", "januar", "janvier", "januari"),
            ("feb", "february", "februar", "février", "fevrier", "februari"),
            ("mar", "march", "märz", "maerz", "mars", "maart"),
            ("apr", "april", "avril"),
            ("may", "mai", "mei"),
            ("jun", "june", "juni", "juin"),
            ("jul", "july", "juli", "juillet"),
            ("aug", "august", "août", "aout", "augustus"),
            ("sep", "sept", "september", "septembre"),
            ("oct", "october", "oktober", "octobre", "okt"),
            ("nov", "november", "novembre"),
            ("dec", "december", "dezember", "décembre", "decembre", "dez"),
        ]
    )
    for name in names
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))

_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ymd", re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)")),
    ("cjk", re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")),
    (
        "mdy_text",
        re.compile(rf"(?i)\b(?P<mon>{_MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(?P<y>\d{{4}})\b"),
    ),
    (
        "dmy_text",
        re.compile(
            rf"(?i)(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\.?[\s\-]*(?P<mon>{_MONTH_RE})\.?[\s\-,]*(?P<y>\d{{2,4}})\b"
        ),
    ),
    ("dots", re.compile(r"(?<![\d.])(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4}|\d{2})(?![\d.])")),
    ("numeric", re.compile(r"(?<![\d/\-])(?P<a>\d{1,2})[/\-](?P<b>\d{1,2})[/\-](?P<y>\d{4}|\d{2})(?![\d/\-])")),
)


def _year(text: str) -> int:
    y = int(text)
    return y + 2000 if y < 100 and y < 70 else (y + 1900 if y < 100 else y)


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return dt.date(y, m, d).isoformat()
    except ValueError:
        return None


def _match_date(kind: str, m: re.Match[str], dayfirst: bool | None) -> str | None:
    g = m.groupdict()
    y = _year(g["y"])
    if kind in ("ymd", "cjk"):
        return _iso(y, int(g["m"]), int(g["d"]))
    if kind in ("mdy_text", "dmy_text"):
        return _iso(y, _MONTHS[g["mon"].lower()], int(g["d"]))
    if kind == "dots":  # day.month.year is the convention wherever dots are used
        return _iso(y, int(g["m"]), int(g["d"]))
    a, b = int(g["a"]), int(g["b"])
    if a > 12 and b <= 12:
        return _iso(y, b, a)
    if b > 12 and a <= 12:
        return _iso(y, a, b)
    if a == b:
        return _iso(y, a, b)
    if dayfirst is None:
        return None  # 03/04/2023: April 3rd or March 4th? Do not guess.
    return _iso(y, b, a) if dayfirst else _iso(y, a, b)


def find_dates(text: str, *, dayfirst: bool | None = None) -> list[str]:
    """ISO dates found in ``text``, in order of appearance, without duplicates."""
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            iso = _match_date(kind, m, dayfirst)
            taken.append((m.start(), m.end()))
            if iso:
                hits.append((m.start(), iso))
    return list(dict.fromkeys(iso for _, iso in sorted(hits)))


def parse_date(text: str | None, *, dayfirst: bool | None = None) -> str | None:
    """One printed date as ``YYYY-MM-DD``; ``None`` when absent, invalid or ambiguous.

    >>> parse_date("2023年4月3日"), parse_date("3 Aug 2014"), parse_date("25/12/2023"), parse_date("03.04.2023")
    ('2023-04-03', '2014-08-03', '2023-12-25', '2023-04-03')
    """
    if not text:
        return None
    dates = find_dates(text, dayfirst=dayfirst)
    return dates[0] if len(dates) == 1 else None


# --- labelled fields --------------------------------------------------------------------------------

_TOTAL_LABELS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (
        3,
        re.compile(
            r"(?i)grand\s*total|amount\s*due|balance\s*due|amount\s*payable|"
            r"total\s*(?:amt\.?|amount)?\s*(?:payable|due|\(?incl|inclusive)|rounded\s*total|total\s*rounded|"
            r"价税合计|应付金额|总计|gesamtbetrag|totaal\s*incl|total\s*ttc|montant\s*ttc"
        ),
    ),
    (
        2,
        re.compile(
            r"(?i)total\s*amount|invoice\s*total|nett?\s*total|total\s*\((?:rm|usd|eur|myr|\$|€)\)|total\s*sales"
        ),
    ),
    (1, re.compile(r"(?i)\btotal\b|\btotaal\b|\bsumme\b|合计")),
)
_NOT_TOTAL = re.compile(
    r"(?i)sub\s*-?\s*total|excl|exclusive|before\s*tax|\bqty\b|quantity|\bitems?\b|total\s*(?:tax|gst|vat|sst)|"
    r"(?:tax|gst|vat)\s*total|discount|saving|\bpoints?\b|weight|\bpages?\b|total\s*no\b|without"
)
_SUBTOTAL = re.compile(
    r"(?i)sub\s*-?\s*total|total\s*\(?excl|total\s*exclusive|total\s*before\s*tax|amount\s*before\s*tax|"
    r"total\s*sales\s*\(?excl|net\s*amount|nettobetrag|zwischensumme|total\s*ht\b|小计|不含税"
)
_TAX = re.compile(r"(?i)(?<![a-z])(?:vat|gst|sst|tax|mwst|ust|btw|iva|tva)(?![a-z])|税额|税金")
_NOT_TAX = re.compile(
    r"(?i)incl|excl|invoice|\bid\b|reg|\bno\b|number|#|code|summary|rate\b|payable|total\s*\(?incl|"
    r"tax\s*exempt|registration|税号"
)
_DOC_NUMBER = re.compile(
    r"(?i)(?:invoice|receipt|bill|inv|doc(?:ument)?|order|rechnung(?:s)?|factuur|facture|belege?|transaction|txn)"
    r"\s*(?:number|nummer|numéro|num|nr\.?|no\.?|n°|id|#)(?![a-z])\s*[:.#]?\s*(?P<v>[A-Z0-9][A-Z0-9\-/_.]{2,})"
    r"|(?:发票号码|票据号|单号|收据号)\s*[:：]?\s*(?P<zh>[A-Z0-9\-]{3,})"
)
_DUE = re.compile(r"(?i)due\s*date|payment\s*due|date\s*due|pay\s*by|fällig|vervaldatum|échéance|到期")
_ISSUE = re.compile(r"(?i)invoice\s*date|issue\s*date|date\s*of\s*issue|bill\s*date|\bdate\b|datum|开票日期|日期")


def _amount_after_label(lines: Sequence[str], i: int, label_end: int) -> float | None:
    """The last amount after the label on line ``i``, or a lone amount on the next line."""
    amounts = find_amounts(lines[i][label_end:])
    if amounts:
        return amounts[-1]
    if i + 1 < len(lines):
        nxt = lines[i + 1].strip()
        only = find_amounts(nxt)
        if len(only) == 1 and not re.search(r"[A-Za-z]{3,}", re.sub(_CURRENCY_PREFIX, "", nxt)):
            return only[0]
    return None


def _unique(values: Iterable[float]) -> float | None:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


_ROUNDING = re.compile(r"(?i)rounding|round(?:ing)?\s*(?:off|adj)|凑整")


def _total_candidates(lines: Sequence[str]) -> list[tuple[int, int, float]]:
    """``(line index, priority, amount)`` for every "total" label that is not excluded.

    Each label is judged on its own stretch of the line (up to the next label), because OCR rows merge
    neighbours: in "TOTAL SAVING: 0.00 TOTAL 6.85" the first label is a saving, the second the total.
    """
    out = []
    for i, line in enumerate(lines):
        for prio, pattern in _TOTAL_LABELS:
            matches = list(pattern.finditer(line))
            if not matches:
                continue
            for k, m in enumerate(matches):
                end = matches[k + 1].start() if k + 1 < len(matches) else len(line)
                if _NOT_TOTAL.search(line[max(0, m.start() - 4) : end]):
                    continue
                amounts = find_amounts(line[m.end() : end])
                if amounts:
                    out.append((i, prio, amounts[-1]))
                elif k + 1 == len(matches):
                    value = _amount_after_label(lines, i, len(line))
                    if value is not None:
                        out.append((i, prio, value))
            break
    return out


def find_total(lines: Sequence[str]) -> float | None:
    """The amount on the strongest "total" line; ``None`` when equally strong lines disagree.

    After a rounding adjustment only the totals below it count (the rounded amount is what was paid).
    """
    candidates = _total_candidates(lines)
    rounding = [i for i, line in enumerate(lines) if _ROUNDING.search(line)]
    if rounding:
        after = [c for c in candidates if c[0] > rounding[-1]]
        candidates = after or candidates
    if not candidates:
        return None
    top = max(prio for _, prio, _ in candidates)
    return _unique(value for _, prio, value in candidates if prio == top)


def find_subtotal(lines: Sequence[str]) -> float | None:
    values = []
    for i, line in enumerate(lines):
        m = _SUBTOTAL.search(line)
        if m:
            value = _amount_after_label(lines, i, m.end())
            if value is not None:
                values.append(value)
    return _unique(values)


def find_tax(lines: Sequence[str]) -> float | None:
    values = []
    for i, line in enumerate(lines):
        m = _TAX.search(line)
        if m and not _NOT_TAX.search(line):
            value = _amount_after_label(lines, i, m.end())
            if value is not None:
                values.append(value)
    return _unique(values)


def find_document_number(text: str) -> str | None:
    values = []
    for m in _DOC_NUMBER.finditer(text):
        value = (m.group("v") or m.group("zh") or "").rstrip(".-/")
        if any(ch.isdigit() for ch in value):
            values.append(value)
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else None


def _labelled_dates(lines: Sequence[str], label: re.Pattern[str], dayfirst: bool | None) -> list[str]:
    out: list[str] = []
    for i, line in enumerate(lines):
        m = label.search(line)
        if not m:
            continue
        dates = find_dates(line[m.start() :], dayfirst=dayfirst)
        if not dates and i + 1 < len(lines):
            dates = find_dates(lines[i + 1], dayfirst=dayfirst)
        if dates:
            out.append(dates[0])
    return list(dict.fromkeys(out))


_DAYFIRST_CURRENCIES = {"EUR", "GBP", "MYR", "SGD", "INR", "AUD", "NZD", "CHF"}


def dayfirst_for(currency: str | None, language: str | None = None) -> bool | None:
    """Whether ``03/04/2023`` means 3 April where this currency or language is used (``None``: unknown)."""
    if currency in _DAYFIRST_CURRENCIES or language in ("de", "fr", "nl", "es", "it", "ms"):
        return True
    if currency == "USD":
        return False
    return None


def guess_page_kind(text: str, *, source: str | None = None) -> str:
    """invoice, receipt, slide, report or other, from words on the page (``source`` pptx → slide)."""
    if source == "pptx":
        return "slide"
    low = text.lower()
    has_amounts = bool(re.search(r"(?i)\btotal\b|合计|amount|betrag|bedrag|montant", text))
    receipt_words = re.search(r"(?i)\breceipt\b|\bcashier\b|\bchange\b.*\d|\bcash\b|收据|小票", text)
    invoice_words = re.search(r"(?i)\binvoice\s*(?:no|number|date)|due\s*date|bill\s*to", text)
    if receipt_words and has_amounts and not invoice_words:
        return "receipt"
    if re.search(r"(?i)\binvoice\b|rechnung|factuur|facture|factura|发票", text) and has_amounts:
        return "invoice"
    words = len(low.split())
    if words > 250 and len(re.findall(r"(?m)^\s*(?:\d+(?:\.\d+)*\.?\s+[A-Z]|#+\s)", text)) >= 2:
        return "report"
    return "other"


def guess_fields(text: str, *, page_kind: str | None = None, language: str | None = None) -> KeyFields:
    """Key fields that plain rules can find in ``text``; anything unclear stays ``None``.

    Commercial fields are looked for on invoices and receipts (``page_kind`` guessed when not given);
    other pages get a title (the first short line) and nothing else.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kind = page_kind or guess_page_kind(text)
    if kind not in ("invoice", "receipt"):
        title = next((line.lstrip("# ").strip() for line in lines[:5] if 3 <= len(line) <= 120), None)
        return KeyFields(title=title)
    currency = guess_currency(text)
    dayfirst = dayfirst_for(currency, language)
    due = _labelled_dates(lines, _DUE, dayfirst)
    issue = [d for d in _labelled_dates(lines, _ISSUE, dayfirst) if d not in due]
    if not issue and not due:
        all_dates = find_dates(text, dayfirst=dayfirst)
        issue = all_dates if len(all_dates) == 1 else []
    return KeyFields(
        document_number=find_document_number(text),
        issue_date=issue[0] if len(issue) == 1 else None,
        due_date=due[0] if len(due) == 1 else None,
        currency=currency,
        subtotal=find_subtotal(lines),
        tax=find_tax(lines),
        total=find_total(lines),
    )
