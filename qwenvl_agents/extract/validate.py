"""Checks on one model answer; each failure is a :class:`BadOutput` with a short ``reason``.

Schema-constrained decoding makes the JSON well-formed only when generation *ends*: a model that runs
into ``max_tokens`` stops mid-string (finish reason ``length``), and a model stuck in a loop can repeat a
row or a phrase until the limit while staying inside the grammar. So an answer is accepted only when it
finished (``stop``), parses, validates against :class:`~qwenvl_agents.extract.schemas.PageReading`, and
none of its texts is a degenerate repetition.

Example:
    >>> try:
    ...     validate_answer('{"page_kind": "blank"', "length")
    ... except BadOutput as bad:
    ...     print(bad.reason)
    truncated
    >>> find_repetition("Total 12.00 " + "la " * 200) is not None
    True
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from qwenvl_agents.extract.schemas import PageReading

M = TypeVar("M", bound=BaseModel)


class BadOutput(ValueError):
    """The model answered, but the answer cannot be used. ``reason`` is a short machine-readable word."""

    reason = "bad_output"

    def __init__(self, detail: str, raw: str = "") -> None:
        super().__init__(f"{self.reason}: {detail}")
        self.detail = detail
        self.raw = raw


class TruncatedOutput(BadOutput):
    reason = "truncated"


class EmptyOutput(BadOutput):
    reason = "empty"


class InvalidJson(BadOutput):
    reason = "invalid_json"


class SchemaViolation(BadOutput):
    reason = "schema"


class RepeatedText(BadOutput):
    reason = "repetition"


class RefusedOutput(BadOutput):
    """The server stopped for a reason other than the end of the answer (e.g. ``content_filter``)."""

    reason = "refused"


# A loop is a unit of up to this many characters repeated back to back...
MAX_UNIT = 120
# ...at least this many times, covering at least this many characters. Dot leaders, rules and
# underscores for form fields repeat too, but carry no letter or digit, so they are not counted.
MIN_REPEATS = 8
MIN_RUN_CHARS = 160
# Text longer than this must compress less than this ratio (plain prose ~3x, dense tables ~5x,
# a model looping on a paragraph 20x and more).
MIN_CHARS_FOR_RATIO = 1500
MAX_COMPRESSION_RATIO = 12.0


def find_repetition(
    text: str,
    *,
    max_unit: int = MAX_UNIT,
    min_repeats: int = MIN_REPEATS,
    min_run_chars: int = MIN_RUN_CHARS,
) -> str | None:
    """A description of the first degenerate loop in ``text``, or ``None``.

    For each period ``p`` the text is scanned once for runs where ``text[i] == text[i + p]``; a run of
    ``(k - 1) * p`` equal characters is a unit of ``p`` characters repeated ``k`` times.

    >>> find_repetition("| a | b |\\n|---|---|\\n" + "." * 300) is None
    True
    >>> find_repetition("ha" * 100)
    "'ha' repeated 100 times"
    """
    n = len(text)
    if n >= 2 * min_repeats:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        for p in range(1, min(max_unit, n // min_repeats) + 1):
            # equal[i] is True where text[i] == text[i + p]; a run of r Trues is (r // p + 1) units.
            equal = np.concatenate(([False], codes[:-p] == codes[p:], [False]))
            edges = np.flatnonzero(np.diff(equal.astype(np.int8)))
            starts, ends = edges[0::2], edges[1::2]
            need = max((min_repeats - 1) * p, min_run_chars - p)
            for start, end in zip(starts[ends - starts >= need], ends[ends - starts >= need], strict=True):
                unit = text[start : start + p]
                if any(ch.isalnum() for ch in unit):
                    return f"{unit!r} repeated {(end - start) // p + 1} times"
    ratio = compression_ratio(text)
    if len(text) >= MIN_CHARS_FOR_RATIO and ratio > MAX_COMPRESSION_RATIO:
        return f"text of {len(text)} characters compresses {ratio:.0f}x"
    return None


def compression_ratio(text: str) -> float:
    """Raw size over zlib-compressed size of the UTF-8 text (1.0 for empty text)."""
    raw = text.encode()
    if not raw:
        return 1.0
    return len(raw) / len(zlib.compress(raw, 6))


def _texts(reading: PageReading) -> Iterator[tuple[str, str]]:
    """The free texts of an answer, each checked on its own (a table repeated in markdown is fine)."""
    yield "markdown", reading.markdown
    for i, table in enumerate(reading.tables):
        yield f"table {i + 1}", "\n".join(" | ".join(row) for row in [table.header, *table.rows])
    if reading.invoice is not None:
        yield "line items", "\n".join(li.description for li in reading.invoice.line_items)
    if reading.slide is not None:
        yield "bullets", "\n".join(reading.slide.bullets)
    if reading.other is not None:
        yield "summary", reading.other.summary or ""
        yield "entities", "\n".join(reading.other.entities)


def check_repetition(reading: PageReading, raw: str = "") -> None:
    """Raise :class:`RepeatedText` when any text of the answer is a degenerate loop."""
    for where, text in _texts(reading):
        found = find_repetition(text)
        if found:
            raise RepeatedText(f"{where}: {found}", raw)


def parse_answer(content: str, finish_reason: str | None, schema: type[M]) -> M:
    """A model's JSON answer as a ``schema`` instance, or the :class:`BadOutput` that says why it is not.

    ``finish_reason`` ``None`` (a backend that does not report one) is accepted; anything but ``stop``
    is not: ``length`` means the answer was cut, others mean the server ended it. Repetition is the
    caller's to check: which strings can loop depends on the schema.
    """
    if finish_reason == "length":
        raise TruncatedOutput("the answer stopped at the token limit (finish_reason=length)", content)
    if finish_reason not in (None, "stop"):
        raise RefusedOutput(f"the server ended the answer (finish_reason={finish_reason})", content)
    text = content.strip()
    if not text:
        raise EmptyOutput("the answer is empty", content)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"not JSON ({exc.msg} at character {exc.pos})", content) from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise SchemaViolation(f"{exc.error_count()} schema errors, first at {where}: {first['msg']}", content) from None


def validate_answer(content: str, finish_reason: str | None) -> PageReading:
    """The answer as a :class:`PageReading`, or the :class:`BadOutput` that says why it is not usable."""
    reading = parse_answer(content, finish_reason, PageReading)
    check_repetition(reading, content)
    return reading
