"""OCR quality of our ``OcrExtractor`` on the SROIE receipts: character error rate and speed.

For every ``receipts_sroie/*.jpg`` in the corpus (``QWENVL_CORPUS``, default ``../shared/corpus``) the
receipt is read by ``OcrExtractor`` (RapidOCR, the project's line filtering and reading order) and
compared with the line transcripts of its ``*.box.csv`` (8 corner coordinates, then the text, which may
itself contain commas).

How the texts are compared, and why: the ground truth is a list of boxes in annotation order, and its
segmentation differs from the OCR's (SROIE boxes "TOTAL" and "9.00" apart; the OCR may find one line or
two). Comparing line multisets would count every split or merge as a whole-line error, so instead both
sides are put into reading order by the *same* function (``reading_order``: rows by vertical overlap,
left to right) and joined into one text, one row per line. CER is the edit distance over the length of
the ground truth, on that text with whitespace runs collapsed (``CER``), and with all whitespace removed
(``CER-nows``: blind to spacing and row breaks, so it measures the characters alone). Both sides are
upper-cased first: the SROIE transcripts are in capitals even where the receipt prints "Total" or
"Cashier", and counting that as an error would measure the annotation convention, not the OCR.

Also reported: whether the rule-based key fields found the receipt's labelled total and date
(``key.json``), the pages per second after the engine is built, and the engine's build time.

Run: ``.venv/bin/python bench/ocr_quality.py [--min-score 0.5]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from pathlib import Path

from PIL import Image

from qwenvl_agents.extract.ocr import OcrExtractor, OcrLine, reading_order, rows_to_text
from qwenvl_agents.parsing import parse_amount, parse_date, to_decimal
from qwenvl_agents.types import DocumentInfo, PageImage


def corpus_dir() -> Path:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
    return Path(os.environ.get("QWENVL_CORPUS", default)).resolve()


def ground_truth(box_csv: Path) -> str:
    """The transcript in reading order (the same ordering as the OCR side)."""
    lines = []
    with box_csv.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.reader(fh):
            if len(row) < 9:
                continue
            coords = [float(v) for v in row[:8]]
            text = ",".join(row[8:]).strip()  # the transcript may contain commas
            if not text:
                continue
            xs, ys = coords[0::2], coords[1::2]
            lines.append(OcrLine(text, (min(xs), min(ys), max(xs), max(ys)), 1.0))
    return rows_to_text(reading_order(lines))


def normalise(text: str, *, keep_spaces: bool = True) -> str:
    text = text.upper()  # SROIE transcripts are upper-cased whatever the receipt prints
    if keep_spaces:
        return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return re.sub(r"\s+", "", text)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, two rows of the DP table at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-score", type=float, default=0.5)
    args = parser.parse_args()
    images = sorted((corpus_dir() / "receipts_sroie").glob("*.jpg"))
    if not images:
        print(f"no SROIE receipts under {corpus_dir()} (set QWENVL_CORPUS)")
        return 0

    started = time.perf_counter()
    ocr = OcrExtractor(min_score=args.min_score)
    warm = Image.new("RGB", (64, 32), "white")
    ocr.read_lines(warm)  # build the engine and load every model once, outside the timing
    build = time.perf_counter() - started

    print(f"OCR quality on {len(images)} SROIE receipts — {ocr.model}, min_score {args.min_score}")
    print(f"{'receipt':<12} {'gt chars':>8} {'CER':>7} {'CER-nows':>9} {'sec':>6}  total  date")
    tot_edits = tot_chars = tot_edits_nows = tot_chars_nows = 0
    ocr_seconds = 0.0
    totals_ok = dates_ok = 0
    for path in images:
        stem = path.name.removesuffix(".jpg")
        truth = normalise(ground_truth(path.with_name(stem + ".box.csv")))
        key_path = path.with_name(stem + ".key.json")
        key = json.loads(key_path.read_text()) if key_path.exists() else {}
        doc = DocumentInfo(stem, str(path), path.name, "image", "jpg", path.stat().st_size, 1)
        with Image.open(path) as im:
            page = PageImage(doc, 1, im.convert("RGB"))
        t0 = time.perf_counter()
        extraction = ocr.extract(page)
        seconds = time.perf_counter() - t0
        ocr_seconds += seconds
        text = normalise(extraction.markdown)
        edits = edit_distance(text, truth)
        truth_nows, text_nows = normalise(truth, keep_spaces=False), normalise(text, keep_spaces=False)
        edits_nows = edit_distance(text_nows, truth_nows)
        tot_edits, tot_chars = tot_edits + edits, tot_chars + len(truth)
        tot_edits_nows, tot_chars_nows = tot_edits_nows + edits_nows, tot_chars_nows + len(truth_nows)
        total_ok = key.get("total") is not None and to_decimal(extraction.fields.total) == parse_amount(key["total"])
        date_ok = key.get("date") is not None and extraction.fields.issue_date == parse_date(key["date"], dayfirst=True)
        totals_ok += total_ok
        dates_ok += date_ok
        print(
            f"{stem:<12} {len(truth):>8} {edits / max(1, len(truth)):>7.2%} "
            f"{edits_nows / max(1, len(truth_nows)):>9.2%} {seconds:>6.2f}  "
            f"{'yes' if total_ok else 'no':<5}  {'yes' if date_ok else 'no'}"
        )
    n = len(images)
    print(
        f"{'overall':<12} {tot_chars:>8} {tot_edits / max(1, tot_chars):>7.2%} "
        f"{tot_edits_nows / max(1, tot_chars_nows):>9.2%} {ocr_seconds:>6.1f}  {totals_ok}/{n}  {dates_ok}/{n}"
    )
    print(
        f"speed: {n / ocr_seconds:.2f} pages/s ({ocr_seconds / n:.2f} s per receipt) on {os.cpu_count()} cores; "
        f"engine build + warm-up {build:.1f} s"
    )
    ocr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
