"""Tokens for lexical search and hashing embeddings, for Latin-script and CJK text alike.

One tokenizer serves English, Dutch, German and French (whitespace-separated words) and Chinese,
Japanese and Korean (no spaces needed: CJK characters become unigrams and bigrams). Text is NFKC
normalised (full-width ``ＩＮＶ`` becomes ``inv``) and case-folded.

Identifiers and numbers stay whole *and* are split into their parts, so ``INV-2026-0042`` is found by the
whole number or by ``0042``; numbers written with thousands/decimal separators also get a digits-only form,
so ``4.904,94`` (European) and ``4,904.94`` (English) share the token ``490494``.

Example:
    >>> tokenize("Invoice INV-2026-0042: total 4.904,94 EUR")
    ['invoic', 'inv-2026-0042', 'inv', '2026', '0042', 'total', '4.904,94', '4', '904', '94', '490494', 'eur']
    >>> tokenize("发票金额")
    ['发', '发票', '票', '票金', '金', '金额', '额']
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Literal

import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN, STOPWORDS_FRENCH, STOPWORDS_GERMAN

TOKENIZER_VERSION = "qv-tok-1"
"""Changes whenever tokens change, so persisted lexical indexes know to rebuild."""

TokenKind = Literal["word", "code", "part", "cjk"]

# Hiragana, Katakana, CJK unified ideographs (+ extension A and the supplementary planes), compatibility
# ideographs, Hangul syllables, and the iteration mark. These scripts are written without spaces.
_CJK = "\u3005\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003134f"
# Word characters other than "_" and CJK; joiners inside identifiers and numbers.
_W = rf"[^\W_{_CJK}]"
_JOIN = r"[-./,:'’_@&+]"
_TOKEN_RE = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<tok>{_W}+(?:{_JOIN}{_W}+)*)")
_NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)+$")
_SPLIT_RE = re.compile(_JOIN)
_MAX_TOKEN = 64
"""Longer runs (base64, hashes in URLs) are noise for search; their parts are still kept."""

STOPWORDS: frozenset[str] = frozenset(
    w for lst in (STOPWORDS_EN, STOPWORDS_DUTCH, STOPWORDS_GERMAN, STOPWORDS_FRENCH) for w in lst
)
"""English, Dutch, German and French function words (bm25s' lists): they carry no meaning for search."""

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # PyStemmer objects are not thread-safe; one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def normalize(text: str) -> str:
    """NFKC and case folding, the form every token is taken from."""
    return unicodedata.normalize("NFKC", text).casefold()


def scan(text: str) -> Iterator[tuple[TokenKind, str]]:
    """Raw tokens of ``text`` in reading order, before stemming and stop-word removal.

    Kinds: ``word`` (one run of letters/digits), ``code`` (an identifier or number with joiners, kept
    whole), ``part`` (a piece of a code, or a code's digits-only form), ``cjk`` (CJK unigrams and bigrams).

    Example:
        >>> list(scan("Nr. 42-A 東京"))
        [('word', 'nr'), ('code', '42-a'), ('part', '42'), ('part', 'a'), ('cjk', '東'), ('cjk', '東京'), ('cjk', '京')]
    """
    for match in _TOKEN_RE.finditer(normalize(text)):
        run = match.group("cjk")
        if run is not None:
            for i, char in enumerate(run):
                yield "cjk", char
                if i + 1 < len(run):
                    yield "cjk", run[i : i + 2]
            continue
        token = match.group("tok")
        parts = _SPLIT_RE.split(token)
        if len(parts) == 1:
            if len(token) <= _MAX_TOKEN:
                yield "word", token
            continue
        if len(token) <= _MAX_TOKEN:
            yield "code", token
        for part in parts:
            if len(part) <= _MAX_TOKEN:
                yield "part", part
        if _NUMBER_RE.match(token):
            # 4.904,94 and 4,904.94 are the same amount: the digits-only form matches either way.
            yield "part", "".join(parts)


@lru_cache(maxsize=1 << 17)
def word_form(token: str) -> str | None:
    """The indexed form of a ``word``/``part`` token: stemmed when alphabetic; ``None`` for stop words and
    single letters, which only add noise. Cached: a corpus repeats its words."""
    if token.isalpha():
        if len(token) < 2 or token in STOPWORDS:
            return None
        return str(_stemmer().stemWord(token))
    return token


def tokenize(text: str) -> list[str]:
    """Search tokens of ``text``: what the lexical index stores and what queries are matched with.

    Example:
        >>> tokenize("The invoices of ACME B.V.")
        ['invoic', 'acm', 'b.v']
    """
    out: list[str] = []
    for kind, token in scan(text):
        if kind == "code" or kind == "cjk":
            out.append(token)
        else:
            form = word_form(token)
            if form is not None:
                out.append(form)
    return out
