"""Where the evaluation corpus is, and how many pages each of its documents has by independent tools."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

CORPUS = Path(os.environ.get("QWENVL_CORPUS", Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"))


def require_corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set QWENVL_CORPUS)")
    return CORPUS.resolve()


def pdfinfo_pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^Pages:\s+(\d+)", out, re.M)
    assert match, out
    return int(match.group(1))


#: The long-document sets (over 1,000 pages of reports and 10-Ks): the retrieval benchmark and eval read them;
#: an end-to-end ingest test that renders and reads every page of them would outlast its time limit.
LONG_DOCUMENT_FOLDERS = ("longdocs_dev", "longdocs_mmlongbench")


def expected_page_counts(root: Path, skip_folders: tuple[str, ...] = ()) -> dict[str, int]:
    """``{absolute path: pages}`` by pdfinfo (PDF), python-pptx (slides) and one per image.

    ``skip_folders``: top-level folders of ``root`` left out.
    """
    from pptx import Presentation

    expected: dict[str, int] = {}
    for path in sorted(root.rglob("*")):
        if path.relative_to(root).parts[0] in skip_folders:
            continue
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            expected[str(path.resolve())] = pdfinfo_pages(path)
        elif suffix == ".pptx":
            expected[str(path.resolve())] = len(Presentation(str(path)).slides)
        elif suffix in (".jpg", ".jpeg", ".png"):
            expected[str(path.resolve())] = 1
    return expected
