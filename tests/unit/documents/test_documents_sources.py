"""find_sources: folders are walked, filtered and sorted; named files are always kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qwenvl_agents.documents import SourceListing, find_sources


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    files = [
        "b.pdf",
        "a.PNG",
        "notes.txt",
        "invoices/2024/x.pdf",
        "invoices/y.pptx",
        "slides/deck.pptx",
        ".hidden.pdf",
        ".git/objects/z.pdf",
        "~$lock.docx",
        "video/clip.mp4",
    ]
    for name in files:
        path = tmp_path / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path / "docs"


def _rel(root: Path, paths: tuple[str, ...]) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


def test_folder_is_walked_sorted_and_hidden_files_are_ignored(tree: Path) -> None:
    listing = find_sources([tree])
    assert _rel(tree, listing.sources) == [
        "a.PNG",
        "b.pdf",
        "invoices/2024/x.pdf",
        "invoices/y.pptx",
        "slides/deck.pptx",
        "video/clip.mp4",
    ]
    assert _rel(tree, listing.skipped) == ["notes.txt"]
    assert listing.missing == ()
    assert all(os.path.isabs(p) for p in listing.sources)


def test_include_and_exclude_match_relative_paths_and_names(tree: Path) -> None:
    assert _rel(tree, find_sources([tree], include=["invoices/**"]).sources) == [
        "invoices/2024/x.pdf",
        "invoices/y.pptx",
    ]
    only_pdf = find_sources([tree], include=["*.pdf"])
    assert _rel(tree, only_pdf.sources) == ["b.pdf", "invoices/2024/x.pdf"]
    assert "slides/deck.pptx" in _rel(tree, only_pdf.skipped)
    no_invoices = find_sources([tree], exclude=["invoices/**", "*.mp4"])
    assert _rel(tree, no_invoices.sources) == ["a.PNG", "b.pdf", "slides/deck.pptx"]
    assert _rel(tree, find_sources([tree], include=["**/deck.pptx"]).sources) == ["slides/deck.pptx"]


def test_named_files_are_kept_in_the_given_order_even_if_unsupported_or_excluded(tree: Path) -> None:
    listing = find_sources([tree / "notes.txt", tree / "b.pdf", str(tree / "b.pdf")], exclude=["*.pdf"])
    assert _rel(tree, listing.sources) == ["notes.txt", "b.pdf"]


def test_missing_paths_and_urls(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    listing = find_sources(["b.pdf", "https://example.org/r.pdf", "gone.pdf", Path("slides")])
    assert listing == SourceListing(
        sources=(str(tree / "b.pdf"), "https://example.org/r.pdf", str(tree / "slides/deck.pptx")),
        skipped=(),
        missing=(str(tree / "gone.pdf"),),
    )


def test_a_single_path_is_not_iterated_character_by_character(tree: Path) -> None:
    assert find_sources(str(tree / "b.pdf")).sources == (str(tree / "b.pdf"),)
    assert find_sources(tree / "b.pdf").sources == (str(tree / "b.pdf"),)


def test_a_file_in_a_folder_and_named_again_is_listed_once(tree: Path) -> None:
    listing = find_sources([tree / "b.pdf", tree])
    assert listing.sources.count(str(tree / "b.pdf")) == 1
    assert listing.sources[0] == str(tree / "b.pdf")
