"""The passage of a page that best matches a query, to show beside a search hit.

Example:
    >>> body = "ACME B.V.\\nKerkstraat 1\\nInvoice number: INV-2026-0042\\nTotal due: 4.904,94 EUR"
    >>> best_snippet(body, "total of INV-2026-0042", max_chars=60)
    'Invoice number: INV-2026-0042 Total due: 4.904,94 EUR'
"""

from __future__ import annotations

import re

from qwenvl_agents.store.text import tokenize

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])")


def best_snippet(text: str, query: str, *, max_chars: int = 300) -> str:
    """The window of consecutive lines (about ``max_chars`` long) holding the most distinct query tokens,
    earliest first on ties; the beginning of ``text`` when nothing matches. Lines are joined by spaces."""
    lines = [piece for line in text.splitlines() for piece in _pieces(" ".join(line.split()), max_chars)]
    if not lines:
        return ""
    wanted = set(tokenize(query))
    line_tokens = [set(tokenize(line)) & wanted for line in lines]
    best, best_start, best_end = -1, 0, 1
    for start in range(len(lines)):
        seen: set[str] = set()
        length, end = 0, start
        while end < len(lines) and (end == start or length + len(lines[end]) + 1 <= max_chars):
            seen |= line_tokens[end]
            length += len(lines[end]) + 1
            end += 1
        if len(seen) > best:
            best, best_start, best_end = len(seen), start, end
    if best <= 0:
        best_start, best_end = 0, len(lines)
    return _clip(" ".join(lines[best_start:best_end]), max_chars)


def _pieces(line: str, max_chars: int) -> list[str]:
    """A line as it is, or split into sentences (and those into slices) when longer than a snippet."""
    if len(line) <= max_chars:
        return [line] if line else []
    out: list[str] = []
    for sentence in _SENTENCE_END.split(line):
        sentence = sentence.strip()
        out += [sentence[i : i + max_chars] for i in range(0, len(sentence), max_chars)]
    return [piece for piece in out if piece]


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > max_chars // 2 else cut).rstrip() + "…"
