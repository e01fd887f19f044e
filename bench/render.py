"""Rendering speed and memory: qwenvl-agents vs ``pdftoppm``, measured side by side in one run.

1. Every PDF of the corpus (``QWENVL_CORPUS``, default ``../shared/corpus``) rendered at the same
   resolution to PNG files by ``pdftoppm -png`` and by our pipeline (render, text layer, PNG into the
   content-addressed page store), one process each, then ours with every core.
2. A generated 1,000-page PDF rendered in a child process; its peak RSS is compared with a 100-page one
   to show memory stays flat in the number of pages.

Run: ``make bench`` or ``.venv/bin/python bench/render.py [--dpi 150] [--pages 1000]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qwenvl_agents.documents import RenderOptions, iter_pages
from qwenvl_agents.store import PageImageStore
from qwenvl_agents.types import SourceFailure


def corpus_pdfs() -> list[Path]:
    root = Path(os.environ.get("QWENVL_CORPUS", Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"))
    pdfs = sorted(root.rglob("*.pdf"))
    if not pdfs:
        sys.exit(f"no PDFs under {root}; set QWENVL_CORPUS")
    return pdfs


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_pdftoppm(pdfs: list[Path], dpi: float, out: Path) -> float:
    start = time.perf_counter()
    for i, pdf in enumerate(pdfs):
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out / f"d{i}")], check=True)
    return time.perf_counter() - start


def run_ours(pdfs: list[Path], dpi: float, out: Path, workers: int) -> tuple[float, int]:
    store = PageImageStore(out, "png")
    options = RenderOptions(dpi=dpi, workers=workers)
    start = time.perf_counter()
    pages = 0
    for item in iter_pages([str(p) for p in pdfs], options, store=store):
        if isinstance(item, SourceFailure):
            raise SystemExit(f"render failed: {item.message}")
        pages += 1
    return time.perf_counter() - start, pages


def make_long_pdf(path: Path, pages: int) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for n in range(1, pages + 1):
        c.setFont("Helvetica-Bold", 16)
        c.drawString(72, 780, f"Generated report, page {n}")
        c.setFont("Helvetica", 10)
        for line in range(60):
            c.drawString(72, 750 - line * 11, f"Line {line + 1} of page {n}: quarterly figures {n * 37 + line} EUR.")
        c.showPage()
    c.save()


def peak_rss_child(pdf: Path, dpi: float, store_dir: Path) -> tuple[float, int]:
    """Render ``pdf`` in a fresh interpreter; return its peak RSS in MB and the page count."""
    code = (
        "import sys\n"
        "from qwenvl_agents.documents import RenderOptions, iter_pages\n"
        "from qwenvl_agents.store import PageImageStore\n"
        "n = sum(1 for _ in iter_pages([sys.argv[1]], RenderOptions(dpi=float(sys.argv[2])),"
        " store=PageImageStore(sys.argv[3])))\n"
        "import resource; print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(pdf), str(dpi), str(store_dir)], check=True, capture_output=True, text=True
    )
    pages, rss_kb = out.stdout.split()
    return int(rss_kb) / 1024, int(pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dpi", type=float, default=150.0)
    parser.add_argument("--pages", type=int, default=1000, help="pages of the generated PDF for the memory test")
    args = parser.parse_args()
    if not shutil.which("pdftoppm"):
        sys.exit("pdftoppm is missing: apt-get install poppler-utils (or `make system-deps`)")

    pdfs = corpus_pdfs()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for name in ("poppler", "ours1", "oursN"):
            (t / name).mkdir()
        # Warm the OS cache and the imports so neither side pays for the first read.
        run_ours(pdfs[:1], args.dpi, t / "warm", 1)
        poppler_s = run_pdftoppm(pdfs, args.dpi, t / "poppler")
        poppler_pages = len(list((t / "poppler").glob("*.png")))
        ours1_s, pages = run_ours(pdfs, args.dpi, t / "ours1", 1)
        oursn_s, _ = run_ours(pdfs, args.dpi, t / "oursN", cores)
        assert pages == poppler_pages, f"page counts differ: ours {pages}, pdftoppm {poppler_pages}"

        print(f"corpus: {len(pdfs)} PDFs, {pages} pages at {args.dpi:g} dpi, PNG output, {cores} cores")
        print(f"{'renderer':<34}{'seconds':>9}{'pages/s':>10}{'MB written':>12}{'vs pdftoppm':>13}")
        rows = [
            ("pdftoppm -png (1 process)", poppler_s, t / "poppler"),
            ("qwenvl-agents (1 process)", ours1_s, t / "ours1"),
            (f"qwenvl-agents ({cores} processes)", oursn_s, t / "oursN"),
        ]
        for label, secs, folder in rows:
            ratio = poppler_s / secs
            print(f"{label:<34}{secs:>9.2f}{pages / secs:>10.1f}{folder_bytes(folder) / 1e6:>12.1f}{ratio:>12.2f}x")

        long_pdf, short_pdf = t / "long.pdf", t / "short.pdf"
        make_long_pdf(long_pdf, args.pages)
        make_long_pdf(short_pdf, max(1, args.pages // 10))
        rss_short, n_short = peak_rss_child(short_pdf, args.dpi, t / "rss-short")
        rss_long, n_long = peak_rss_child(long_pdf, args.dpi, t / "rss-long")
        print(f"peak RSS rendering {n_short:>5} pages: {rss_short:7.0f} MB")
        ratio = rss_long / rss_short
        print(f"peak RSS rendering {n_long:>5} pages: {rss_long:7.0f} MB  (ratio {ratio:.2f}, aim < 500 MB)")


if __name__ == "__main__":
    main()
