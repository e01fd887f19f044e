"""Key fields from plain text by rules, for the offline path (text layer or OCR, no VLM).

Conservative on purpose: a wrong total in the index is worse than a missing one (the agent can still
read the page image), so every function returns ``None`` when the text is ambiguous — a date like
``03/04/2023`` without a day-first hint, two different "total" lines of equal standing, a number that
could be read two ways. Amounts, currencies and dates are read by :mod:`qwenvl_agents.parsing`, the rules the
agent's arithmetic and evaluation use too; this module finds which values on a page are which fields.

Example:
    >>> find_amounts("GST 6% on 03/04/2023: 4.904,94, 1,007.50 and RM152.00")
    [4904.94, 1007.5, 152.0]
    >>> text = "TAX INVOICE\\nInvoice No: INV-0042\\nDate: 25/12/2023\\nSubtotal 100.00\\nGST 6% 6.00\\nTOTAL RM 106.00"
    >>> f = guess_fields(text)
    >>> (f.document_number, f.issue_date, f.subtotal, f.tax, f.total, f.currency)
    ('INV-0042', '2023-12-25', 100.0, 6.0, 106.0, 'MYR')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from qwenvl_agents.parsing import CURRENCY_MARK, dayfirst_for, find_dates, guess_currency, parse_amount
from qwenvl_agents.types import KeyFields

# --- amounts ----------------------------------------------------------------------------------------

_CURRENCY_PREFIX = rf"(?:{CURRENCY_MARK}\s?)"
# Where an amount is on a line: digits with optional thousands groups and an optional 1-2 digit decimal part.
# The look-arounds keep it from matching inside dates (03/04/2023), times, ids (INV-0042) and percents; the
# value is read by qwenvl_agents.parsing, the rules evaluation and the agent's arithmetic use too.
_MONEY = re.compile(
    r"(?<![\w.,/:\-])"
    rf"(?P<cur>{_CURRENCY_PREFIX})?\s?"
    r"(?P<num>-?\d+(?:[.,'’]\d{3})*(?:[.,]\d{1,2})?)"
    r"(?![\d]|[.,/:\-]\d|\s?%)"
)


def find_amounts(line: str) -> list[float]:
    """Every amount on a line, left to right (percentages, dates and ids are skipped).

    Example:
        >>> find_amounts("Discount (12.50) of 1.234,56 € on 03/04/2023")
        [-12.5, 1234.56]
    """
    out = []
    for m in _MONEY.finditer(line):
        value = parse_amount(m.group("num"))
        if value is None:
            continue
        # Accounting parentheses make it negative, as everywhere else: "(12.50)", "($12.50)"; "(EUR 12)" is an aside.
        code = (m.group("cur") or "").strip(" .").isalpha()
        if line[: m.start()].endswith("(") and line[m.end() :].startswith(")") and not code and value > 0:
            value = -value
        out.append(float(value))
    return out


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
