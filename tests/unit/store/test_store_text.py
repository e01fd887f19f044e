"""The tokenizer shared by lexical search and hashing embeddings."""

from __future__ import annotations

import pytest

from qwenvl_agents.store.text import scan, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INV-2026-0042", ["inv-2026-0042", "inv", "2026", "0042"]),
        ("4.904,94", ["4.904,94", "4", "904", "94", "490494"]),
        ("4,904.94", ["4,904.94", "4", "904", "94", "490494"]),  # same digits-only form as the European one
        ("42183017", ["42183017"]),
        ("2026-03-15", ["2026-03-15", "2026", "03", "15"]),
        ("ＩＮＶ－７", ["inv-7", "inv", "7"]),  # full-width forms are folded
    ],
)
def test_identifiers_and_numbers_stay_whole_and_in_parts(text, expected) -> None:
    assert tokenize(text) == expected


def test_cjk_becomes_unigrams_and_bigrams_without_spaces() -> None:
    assert tokenize("发票金额") == ["发", "发票", "票", "票金", "金", "金额", "额"]
    assert tokenize("請求書") == ["請", "請求", "求", "求書", "書"]
    assert tokenize("カタカナ")[:2] == ["カ", "カタ"]
    # Mixed scripts split where the script changes, even without a space.
    assert tokenize("合计USD100") == ["合", "合计", "计", "usd100"]


def test_european_words_are_lowercased_stemmed_and_stopwords_dropped() -> None:
    assert tokenize("The Invoices of the company") == ["invoic", "compani"]
    assert tokenize("Die Rechnung für die Firma") == ["rechnung", "firma"]
    assert tokenize("De factuur van het bedrijf") == ["factuur", "bedrijf"]
    assert tokenize("La facture de l'entreprise") == ["factur", "l'entreprise", "entrepris"]


def test_scan_kinds() -> None:
    assert list(scan("Nr 7-B 东京")) == [
        ("word", "nr"),
        ("code", "7-b"),
        ("part", "7"),
        ("part", "b"),
        ("cjk", "东"),
        ("cjk", "东京"),
        ("cjk", "京"),
    ]
    assert tokenize("") == [] and tokenize("— , . !") == []
