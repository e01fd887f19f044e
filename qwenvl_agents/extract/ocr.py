"""OCR with RapidOCR (PP-OCR models inside the wheel, ONNX Runtime on the CPU): lines in reading order.

RapidOCR finds text lines with boxes and scores. Low-scoring lines are dropped (garbage from stamps and
textures scores far below real text), the rest are put into reading order — grouped into rows by
vertical overlap, each row left to right — and become the page's Markdown, one row per line. The same
lines come back as a ``TextLayer(source="ocr")`` so the VLM can get them as a hint.

The engine takes seconds to build and holds about 1 GB, so it is built once per extractor, on first
use. ONNX Runtime already spreads one page over every core and releases the GIL, so pages are run one
at a time on a dedicated worker thread; async callers are never blocked.

Example (about 2 s for the first page, then well under a second for a small image):
    >>> from PIL import Image, ImageDraw, ImageFont
    >>> image = Image.new("RGB", (600, 120), "white")
    >>> font = ImageFont.truetype("DejaVuSans.ttf", 32)
    >>> ImageDraw.Draw(image).text((20, 40), "TOTAL 12.50", font=font, fill="black")
    >>> [line.text for line in OcrExtractor().read_lines(image)]  # doctest: +SKIP
    ['TOTAL 12.50']
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

from qwenvl_agents.errors import MissingDependencyError
from qwenvl_agents.extract.base import BaseExtractor, failed
from qwenvl_agents.extract.text import HEURISTICS_REVISION, reading_from_text
from qwenvl_agents.types import Box, PageExtraction, PageImage, TextLayer, TextSpan

log = logging.getLogger(__name__)

OCR_REVISION = "1"
"""Bump when line filtering or ordering changes (part of ``prompt_version``)."""


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised line: text, axis-aligned box in image pixels, recognition score (0-1)."""

    text: str
    box: Box
    score: float

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2


def _vertical_overlap(a: Box, b: Box) -> float:
    """Overlap of two boxes' vertical extents relative to the shorter one (0-1)."""
    top, bottom = max(a[1], b[1]), min(a[3], b[3])
    shorter = min(a[3] - a[1], b[3] - b[1])
    return max(0.0, bottom - top) / shorter if shorter > 0 else 0.0


def reading_order(lines: list[OcrLine], *, min_overlap: float = 0.5) -> list[list[OcrLine]]:
    """Rows of lines, top to bottom, each row left to right.

    A line joins a row when it overlaps the row's last-added line vertically by at least
    ``min_overlap`` of the shorter height; lines are visited top to bottom, so a slightly skewed scan
    still keeps "TOTAL" and its amount on one row.

    >>> a = OcrLine("TOTAL", (10, 100, 80, 120), 0.99)
    >>> b = OcrLine("9.00", (300, 103, 350, 123), 0.99)
    >>> c = OcrLine("Thank you", (10, 10, 120, 30), 0.99)
    >>> [[line.text for line in row] for row in reading_order([a, b, c])]
    [['Thank you'], ['TOTAL', '9.00']]
    """
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.center_y, ln.box[0])):
        best: list[OcrLine] | None = None
        best_overlap = min_overlap
        for row in rows[-3:]:  # only recent rows can overlap a line further down the page
            overlap = max(_vertical_overlap(line.box, other.box) for other in row)
            if overlap >= best_overlap:
                best, best_overlap = row, overlap
        if best is None:
            rows.append([line])
        else:
            best.append(line)
    for row in rows:
        row.sort(key=lambda ln: ln.box[0])
    rows.sort(key=lambda row: min(ln.box[1] for ln in row))
    return rows


def rows_to_text(rows: list[list[OcrLine]]) -> str:
    """One text line per row; pieces of a row separated by a space."""
    return "\n".join(" ".join(line.text for line in row) for row in rows)


def _rapidocr_version() -> str:
    try:
        return importlib.metadata.version("rapidocr")
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def rapidocr_available() -> bool:
    """Whether RapidOCR and ONNX Runtime can be imported (the ``ocr`` extra is installed)."""
    # ONNX Runtime 1.31 reports telemetry to Microsoft once a session runs; we never reach the network.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


class OcrExtractor(BaseExtractor):
    """Reads page images with RapidOCR. Construct once and reuse: the engine is built on first use.

    ``min_score`` drops lines the recogniser is unsure of (``Settings.ocr_min_score``); ``params``
    go to ``RapidOCR(params=...)`` (e.g. ``{"Det.limit_side_len": 1280}``).
    """

    name = "ocr"
    max_in_flight = 2  # one running, one decoded and waiting: the worker thread never idles

    def __init__(self, *, min_score: float = 0.5, params: dict[str, Any] | None = None) -> None:
        if not rapidocr_available():
            raise MissingDependencyError(
                "OCR needs RapidOCR and ONNX Runtime: pip install 'qwenvl-agents[ocr]' (rapidocr, onnxruntime)"
            )
        self.min_score = min_score
        self.params = {"Global.log_level": "warning", "Global.text_score": min_score, **(params or {})}
        self.model = f"rapidocr-{_rapidocr_version()}"
        self.prompt_version = f"ocr-{OCR_REVISION}.{HEURISTICS_REVISION}-min{min_score:g}"
        self._engine: Any = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rapidocr")

    def _get_engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                self._engine = RapidOCR(params=self.params)
            return self._engine

    def read_lines(self, image: Image.Image) -> list[OcrLine]:
        """Recognised lines scoring at least ``min_score``, in the engine's order (not reading order)."""
        engine = self._get_engine()
        result = engine(image.convert("RGB"))
        if result.boxes is None or result.txts is None:
            return []
        lines = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores or (), strict=False):
            text = " ".join(str(text).split())
            if not text or float(score) < self.min_score:
                continue
            xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
            lines.append(OcrLine(text, (min(xs), min(ys), max(xs), max(ys)), float(score)))
        return lines

    def read(self, image: Image.Image) -> tuple[list[list[OcrLine]], TextLayer]:
        """Rows in reading order, and the same as a ``TextLayer(source="ocr")`` with line spans."""
        rows = reading_order(self.read_lines(image))
        spans = tuple(TextSpan(line.text, line.box) for row in rows for line in row)
        return rows, TextLayer(rows_to_text(rows), spans, "ocr")

    async def aread(self, image: Image.Image) -> tuple[list[list[OcrLine]], TextLayer]:
        """:meth:`read` on the OCR worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.read, image)

    def _to_extraction(self, page: PageImage, layer: TextLayer) -> PageExtraction:
        return reading_from_text(page, layer, extractor="ocr", model=self.model, prompt_version=self.prompt_version)

    def extract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        del hint  # OCR reads the pixels; a text layer has nothing to add
        try:
            _, layer = self._executor.submit(self.read, page.image).result()
        except Exception as exc:
            log.warning("OCR failed on %s page %s: %s", page.document.name, page.page, exc)
            return failed(page, "ocr", f"ocr: {type(exc).__name__}: {exc}", model=self.model)
        return self._to_extraction(page, layer)

    async def aextract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        del hint
        try:
            _, layer = await self.aread(page.image)
        except Exception as exc:
            log.warning("OCR failed on %s page %s: %s", page.document.name, page.page, exc)
            return failed(page, "ocr", f"ocr: {type(exc).__name__}: {exc}", model=self.model)
        return self._to_extraction(page, layer)

    async def aextract_with_layer(self, page: PageImage) -> tuple[PageExtraction, TextLayer | None]:
        """The extraction and the OCR text layer (for the VLM hint); the layer is ``None`` on failure."""
        try:
            _, layer = await self.aread(page.image)
        except Exception as exc:
            log.warning("OCR failed on %s page %s: %s", page.document.name, page.page, exc)
            return failed(page, "ocr", f"ocr: {type(exc).__name__}: {exc}", model=self.model), None
        return self._to_extraction(page, layer), layer

    def close(self) -> None:
        """Stop the worker thread (the engine is freed with the extractor)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
