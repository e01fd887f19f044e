"""The real corpus: every PDF has pdfinfo's page count, every pptx one page per slide."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from qwenvl_agents.documents import RenderOptions, find_sources, iter_pages
from qwenvl_agents.types import PageImage, SourceFailure
from tests.support.documents import pdfinfo_pages

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORPUS = Path(os.environ.get("QWENVL_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set QWENVL_CORPUS)")
    return CORPUS


def _count(sources: list[str], options: RenderOptions) -> tuple[Counter[str], list[SourceFailure]]:
    pages: Counter[str] = Counter()
    failures: list[SourceFailure] = []
    numbers: dict[str, list[int]] = {}
    for item in iter_pages(sources, options):
        if isinstance(item, SourceFailure):
            failures.append(item)
            continue
        pages[item.document.source] += 1
        numbers.setdefault(item.document.source, []).append(item.page)
        assert item.document.page_count >= item.page
        assert item.image.mode == "RGB" and item.width > 0 and item.height > 0
    for source, seen in numbers.items():
        assert seen == list(range(1, len(seen) + 1)), source
    return pages, failures


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="pdfinfo (poppler-utils) is not installed")
def test_every_pdf_has_the_page_count_of_pdfinfo(corpus: Path) -> None:
    pdfs = list(find_sources([corpus], include=["*.pdf"]).sources)
    assert pdfs
    # Page counts do not depend on resolution; a low one keeps the test quick.
    pages, failures = _count(pdfs, RenderOptions(dpi=24))
    assert failures == []
    assert dict(pages) == {p: pdfinfo_pages(Path(p)) for p in pdfs}


@pytest.mark.office
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_every_pptx_has_one_page_per_slide(corpus: Path, tmp_path: Path) -> None:
    from pptx import Presentation

    decks = list(find_sources([corpus], include=["*.pptx"]).sources)
    assert decks
    pages, failures = _count(decks, RenderOptions(dpi=24, cache_dir=tmp_path))
    assert failures == []
    assert dict(pages) == {p: len(Presentation(p).slides) for p in decks}


def test_every_image_is_one_page(corpus: Path) -> None:
    images = list(find_sources([corpus], include=["*.jpg", "*.jpeg", "*.png", "*.tif", "*.tiff"]).sources)
    pages, failures = _count(images, RenderOptions())
    assert failures == []
    assert dict(pages) == dict.fromkeys(images, 1)


def test_pdftoppm_agrees_on_page_size(corpus: Path, tmp_path: Path) -> None:
    """Spot check against poppler: the same pixel size at the same dpi (within rounding)."""
    pdf = next(iter(sorted(corpus.rglob("*.pdf"))))
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "p")], check=True)
    from PIL import Image

    with Image.open(next(tmp_path.glob("p*.png"))) as reference:
        size = reference.size
    first = next(i for i in iter_pages([pdf], RenderOptions(dpi=50)) if isinstance(i, PageImage))
    assert abs(first.width - size[0]) <= 1 and abs(first.height - size[1]) <= 1
