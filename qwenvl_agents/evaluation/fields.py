"""Key fields against the corpus ground truth: invoice2data's expected JSON and SROIE's key labels.

:func:`expected_fields` reads the ground truth next to a document and names it like
:class:`~qwenvl_agents.types.KeyFields`:

- invoice2data ``X.pdf`` → ``X.expected.json`` (a list holding one object): ``issuer`` → seller,
  ``invoice_number`` → document_number, ``date`` → issue_date, ``date_due`` → due_date, ``amount`` → total,
  ``amount_untaxed`` → subtotal, ``amount_tax`` → tax, ``currency`` → currency. ``partner_name`` is not the
  buyer there (it repeats the issuer), so no buyer is expected; ``lines`` are not scored.
- SROIE ``sroie_NNN.jpg`` → ``sroie_NNN.key.json``: ``company`` → seller, ``date`` → issue_date, ``total`` → total
  (``address`` has no key field).

:func:`compare_fields` decides per field:

- total, subtotal, tax: amounts read as the extractor reads them (:func:`~qwenvl_agents.parsing.to_decimal`:
  ``RM8.35``, ``1,007.50``) equal to the cent (both rounded half-up to 0.01).
- issue_date, due_date: the same day, any reading of an ambiguous date counting
  (:func:`~qwenvl_agents.parsing.date_readings`: ``10/03/2018`` matches ``2018-03-10``).
- seller, buyer: lenient: case, accents, punctuation and spaces dropped, then one must contain the other and the
  shorter must have at least 3 characters (``Coolblue`` matches ``Coolblue B.V.``; ``B`` matches nothing).
- document_number: the same letters and digits, case and separators ignored (``#BLR_WFLD2015`` = ``BLR WFLD2015``).
- currency: the same code after :func:`~qwenvl_agents.parsing.normalize_currency`
  (``€`` = ``EUR``, ``RM`` = ``MYR``).
- anything else: equal after :func:`~qwenvl_agents.evaluation.scoring.normalize_text`.

A field the extraction left empty is wrong.

Example:
    >>> from qwenvl_agents.types import KeyFields
    >>> got = KeyFields(seller="Coolblue", total=717.97, issue_date="2014-04-19")
    >>> truth = {"seller": "Coolblue B.V.", "total": 717.97, "issue_date": "19/04/2014", "tax": 8.5}
    >>> scores = compare_fields(truth, got)
    >>> [(s.field, s.correct) for s in scores]
    [('seller', True), ('issue_date', True), ('tax', False), ('total', True)]
    >>> field_accuracy(scores)
    {'seller': (1, 1), 'issue_date': (1, 1), 'tax': (0, 1), 'total': (1, 1)}
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from qwenvl_agents.errors import GroundTruthError
from qwenvl_agents.evaluation.scoring import normalize_text
from qwenvl_agents.parsing import date_readings, normalize_currency, to_decimal
from qwenvl_agents.types import KeyFields

INVOICE2DATA_KEYS = {
    "issuer": "seller",
    "invoice_number": "document_number",
    "date": "issue_date",
    "date_due": "due_date",
    "amount": "total",
    "amount_untaxed": "subtotal",
    "amount_tax": "tax",
    "currency": "currency",
}
SROIE_KEYS = {"company": "seller", "date": "issue_date", "total": "total"}
FIELD_ORDER = ("seller", "buyer", "document_number", "issue_date", "due_date", "currency", "subtotal", "tax", "total")
AMOUNT_FIELDS = frozenset({"subtotal", "tax", "total"})
DATE_FIELDS = frozenset({"issue_date", "due_date"})
NAME_FIELDS = frozenset({"seller", "buyer"})
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class FieldScore:
    """One ground-truth field: the expected value (as in the file), what was extracted, and whether they agree."""

    field: str
    expected: Any
    got: Any
    correct: bool


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GroundTruthError(f"{path}: cannot read ground truth: {exc}") from exc


def _mapped(data: Any, keys: Mapping[str, str]) -> dict[str, Any] | None:
    if isinstance(data, list):
        data = data[0] if len(data) == 1 else None
    if not isinstance(data, dict):
        return None
    out = {keys[k]: v for k, v in data.items() if k in keys and v not in (None, "")}
    return {f: out[f] for f in FIELD_ORDER if f in out} or None


def expected_fields(document: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ground-truth key fields of ``document`` under KeyFields names, ``None`` when it has none.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> key = '{"company": "YAM FRESH", "total": "RM8.35", "address": "KL"}'
        >>> _ = (folder / "sroie_001.key.json").write_text(key)
        >>> expected_fields(folder / "sroie_001.jpg"), expected_fields(folder / "other.pdf")
        ({'seller': 'YAM FRESH', 'total': 'RM8.35'}, None)
    """
    path = Path(document)
    stem = path.with_suffix("")
    invoice2data, sroie = Path(f"{stem}.expected.json"), Path(f"{stem}.key.json")
    if invoice2data.is_file():
        return _mapped(_read_json(invoice2data), INVOICE2DATA_KEYS)
    if sroie.is_file():
        return _mapped(_read_json(sroie), SROIE_KEYS)
    return None


def _cents(value: Any) -> Decimal | None:
    number = to_decimal(value)
    return None if number is None else number.quantize(_CENT, rounding=ROUND_HALF_UP)


def _squash(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value)).casefold()
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


def fields_agree(name: str, expected: Any, got: Any) -> bool:
    """Whether ``got`` is the ground truth's ``expected`` value of field ``name`` (rules in the module docstring).

    Example:
        >>> fields_agree("total", "1,007.50", 1007.5), fields_agree("total", 4904.94, 4904.49)
        (True, False)
        >>> fields_agree("issue_date", "OCT 3, 2016", "2016-10-03"), fields_agree("seller", "Free", "OYO")
        (True, False)
    """
    if got is None or got == "" or expected is None or expected == "":
        return False
    if name in AMOUNT_FIELDS:
        a, b = _cents(expected), _cents(got)
        return a is not None and a == b
    if name in DATE_FIELDS:
        gold = date_readings(str(expected))
        if gold:
            return bool(gold & date_readings(str(got)))
    if name in NAME_FIELDS:
        short, long = sorted((_squash(expected), _squash(got)), key=len)
        return short == long or (len(short) >= 3 and short in long)
    if name == "document_number":
        return _squash(expected) == _squash(got) != ""
    if name == "currency":
        return normalize_currency(expected) is not None and normalize_currency(expected) == normalize_currency(got)
    return normalize_text(str(expected)) == normalize_text(str(got))


def compare_fields(expected: Mapping[str, Any], got: KeyFields | None) -> list[FieldScore]:
    """One :class:`FieldScore` per ground-truth field (KeyFields order), against the extracted ``got``."""
    names = [f for f in FIELD_ORDER if f in expected] + [f for f in expected if f not in FIELD_ORDER]
    scores = []
    for name in names:
        value = getattr(got, name, None) if got is not None else None
        scores.append(FieldScore(name, expected[name], value, fields_agree(name, expected[name], value)))
    return scores


def field_accuracy(scores: Iterable[FieldScore]) -> dict[str, tuple[int, int]]:
    """``{field: (correct, total)}``, fields in the order they first appear."""
    out: dict[str, tuple[int, int]] = {}
    for score in scores:
        correct, total = out.get(score.field, (0, 0))
        out[score.field] = (correct + score.correct, total + 1)
    return out
