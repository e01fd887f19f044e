"""A tiny language guess from the characters of a text, shared by every extractor.

Only what the prompts and the index need: ``zh`` or ``ja`` when CJK characters dominate (kana mark
Japanese), ``ko`` for Hangul, ``en`` for mostly Latin text, ``None`` when there is too little to tell.
A real language detector would add a dependency and a model; the scripts are what matter here (which
prompt language to use, whether to tokenise by characters).

>>> guess_language("Invoice number 42, total 12.50 EUR")
'en'
>>> guess_language("发票号码 12345 价税合计")
'zh'
>>> guess_language("領収書 ありがとうございました")
'ja'
>>> guess_language("42") is None
True
"""

from __future__ import annotations


def _is_han(ch: str) -> bool:
    code = ord(ch)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def _is_kana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x30FF


def _is_hangul(ch: str) -> bool:
    return 0xAC00 <= ord(ch) <= 0xD7AF


def cjk_ratio(text: str) -> float:
    """Share of CJK characters (Han, kana, Hangul) among the letters of ``text``."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    cjk = sum(1 for ch in letters if _is_han(ch) or _is_kana(ch) or _is_hangul(ch))
    return cjk / len(letters)


def guess_language(text: str | None, *, min_letters: int = 3) -> str | None:
    """``zh``, ``ja``, ``ko``, ``en`` or ``None`` from the scripts used in ``text``.

    CJK characters carry a word each, so a ratio of 0.2 of the letters is already a Chinese page with
    Latin product codes; Latin text is called English because that is the prompt language it gets.
    """
    if not text:
        return None
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < min_letters:
        return None
    han = sum(1 for ch in letters if _is_han(ch))
    kana = sum(1 for ch in letters if _is_kana(ch))
    hangul = sum(1 for ch in letters if _is_hangul(ch))
    cjk = han + kana + hangul
    if cjk / len(letters) >= 0.2:
        if hangul > han + kana:
            return "ko"
        if kana and kana >= 0.05 * cjk:
            return "ja"
        return "zh"
    latin = sum(1 for ch in letters if ch.isascii() or "\u00c0" <= ch <= "\u024f")
    return "en" if latin / len(letters) >= 0.8 else None
