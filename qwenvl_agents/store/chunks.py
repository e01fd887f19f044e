"""Splitting a long page into chunks on paragraph boundaries, with a small overlap.

Example:
    >>> text = "\\n\\n".join(f"Paragraph {i}. " + "word " * 40 for i in range(6))
    >>> parts = split_chunks(text, size=500)
    >>> len(parts), all(len(p) <= 500 for p in parts)
    (3, True)
"""

from __future__ import annotations

import re

_PARAGRAPH = re.compile(r"\n\s*\n")
# Zero-width cut points, so the pieces concatenate back to the original text: after a line break, after a
# sentence end (Latin punctuation followed by a space, CJK punctuation anywhere), before a word.
_CUTS = (
    re.compile(r"(?<=\n)"),
    re.compile(r"(?<=[.!?;:])(?=\s)|(?<=[。！？；])"),
    re.compile(r"(?<=\s)(?=\S)"),
)


def default_overlap(size: int) -> int:
    """A tenth of the chunk, at most 200 characters: enough to carry a sentence across a cut."""
    return min(200, size // 10)


def _split_long(text: str, size: int, level: int = 0) -> list[str]:
    """Pieces of at most ``size`` characters: by line, then by sentence, then by word, then hard cuts."""
    if len(text) <= size:
        return [text]
    for depth in range(level, len(_CUTS)):
        pieces = [p for p in _CUTS[depth].split(text) if p]
        if len(pieces) < 2:
            continue
        out: list[str] = []
        current = ""
        for piece in pieces:
            if len(current) + len(piece) <= size:
                current += piece
                continue
            if current.strip():
                out.append(current)
            if len(piece) > size:
                out.extend(_split_long(piece, size, depth + 1))
                current = ""
            else:
                current = piece
        if current.strip():
            out.append(current)
        return [p.strip() for p in out if p.strip()]
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters, starting at a word boundary when there is one."""
    if overlap <= 0 or not text:
        return ""
    tail = text[-overlap:]
    cut = tail.find(" ")
    return tail[cut + 1 :] if 0 <= cut < len(tail) - 1 else tail


def split_chunks(text: str, size: int, overlap: int | None = None) -> list[str]:
    """Cut ``text`` into chunks of at most ``size`` characters.

    Paragraphs (blank-line separated) are kept together where they fit; a paragraph longer than ``size``
    is cut by lines, sentences (also ``。！？``), words, and as a last resort by characters. Each chunk after
    the first starts with the last ``overlap`` characters of the one before (default: :func:`default_overlap`),
    so a fact spanning a cut is still found.
    """
    if size < 50:
        raise ValueError(f"chunk size must be at least 50 characters, got {size}")
    overlap = default_overlap(size) if overlap is None else overlap
    if not 0 <= overlap < size // 2:
        raise ValueError(f"overlap must be between 0 and half the chunk size ({size // 2}), got {overlap}")
    # (piece, joiner): pieces of one paragraph are joined by a newline, paragraphs by a blank line.
    pieces: list[tuple[str, str]] = []
    for paragraph in _PARAGRAPH.split(text.strip()):
        parts = _split_long(paragraph.strip(), size - overlap) if paragraph.strip() else []
        pieces.extend((part, "\n\n" if i == 0 else "\n") for i, part in enumerate(parts))
    chunks: list[str] = []
    current = ""
    for piece, joiner in pieces:
        if current and len(current) + len(joiner) + len(piece) > size:
            chunks.append(current)
            carry = _tail(current, overlap)
            current = f"{carry}{joiner}{piece}" if carry and len(carry) + 2 + len(piece) <= size else piece
        else:
            current = f"{current}{joiner}{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks
