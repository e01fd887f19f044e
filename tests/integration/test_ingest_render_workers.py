"""Ingest with QWENVL_RENDER_WORKERS > 1: pages are really rendered in worker processes, same records as one.

The page store is the hook: rendering and storing a page happen in the same task, so a store that also
notes the process id it runs in (a real PageImageStore, pickled into the workers) says who rendered.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from qwenvl_agents.extract.base import BaseExtractor
from qwenvl_agents.ingest import Ingestor, IngestSummary
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import PageImageStore, PageIndex
from qwenvl_agents.types import PageExtraction, PageImage, StoredImage, TextLayer
from tests.support.documents import make_pdf

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class PidRecordingStore(PageImageStore):
    """A real page store that also leaves one empty file per process that stored a page."""

    pid_dir: str = ""

    def put(self, image: Image.Image) -> StoredImage:
        Path(self.pid_dir, str(os.getpid())).touch()
        return super().put(image)


def pids(folder: Path) -> set[int]:
    return {int(p.name) for p in folder.iterdir()}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("sources")
    report = make_pdf(folder / "report.pdf", [f"Quarterly figure number {i}" for i in range(1, 9)])
    memo = make_pdf(folder / "memo.pdf", ["Memo about the harbour", "Second page of the memo"])
    corrupt = folder / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    encrypted = make_pdf(folder / "locked.pdf", ["secret"], encrypt="pw")
    photo = folder / "photo.png"
    Image.new("RGB", (80, 60), "teal").save(photo)
    found = [report, corrupt, memo, encrypted, photo]
    try:
        import cv2
        import numpy as np

        video = folder / "clip.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
        for i in range(30):  # 3 s at 10 fps: 3 pages at 1 fps
            writer.write(np.full((48, 64, 3), i * 8, np.uint8))
        writer.release()
        found.append(video)
    except ImportError:
        pass
    return found


class PageTextExtractor(BaseExtractor):
    """Answers with the page's own text, or its name and number when it has none (images, frames)."""

    name = "text"
    model = "page-text"
    prompt_version = "p1"
    max_in_flight = 2

    async def aextract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        text = page.text_layer.text if page.text_layer else f"{page.document.name} page {page.page}"
        return PageExtraction(page.document.document_id, page.page, text, "text", "ok")

    def extract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        raise NotImplementedError


class InterruptingExtractor(PageTextExtractor):
    """Stops the run (Ctrl-C) on the third page it is given."""

    max_in_flight = 1

    def __init__(self) -> None:
        self.seen = 0

    async def aextract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        self.seen += 1
        if self.seen == 3:
            raise KeyboardInterrupt
        return await super().aextract(page, hint)


def run(
    tmp_path: Path, sources: list[Path], workers: int, extractor: BaseExtractor | None = None
) -> tuple[IngestSummary, set[int], Settings]:
    settings = Settings(data_dir=tmp_path / f"data{workers}", render_workers=workers, _env_file=None)  # type: ignore[call-arg]
    pid_dir = tmp_path / f"pids{workers}"
    pid_dir.mkdir()
    store = PidRecordingStore(settings.page_image_dir, pid_dir=str(pid_dir))
    summary = Ingestor(settings, extractor=extractor or PageTextExtractor(), store=store).run(sources)
    return summary, pids(pid_dir), settings


def records(settings: Settings) -> list[tuple[Any, ...]]:
    index = PageIndex.open(settings)
    out = []
    for ids, texts, metas in index.iter_batches({"record_type": "page"}, include_text=True, include_metadata=True):
        for record_id, text, md in zip(ids, texts, metas, strict=True):
            assert md is not None
            keys = ("name", "page", "content_key", "status", "image_sha256")
            out.append((record_id, text, *(md.get(k) for k in keys)))
    return sorted(out)


@pytest.mark.timeout(300)
def test_two_render_workers_render_in_worker_processes_and_give_the_same_records(
    tmp_path: Path, sources: list[Path]
) -> None:
    one, one_pids, one_settings = run(tmp_path, sources, 1)
    two, two_pids, two_settings = run(tmp_path, sources, 2)

    assert one_pids == {os.getpid()}  # workers = 1 renders in this process
    assert two_pids and os.getpid() not in two_pids  # workers = 2: every page rendered (and stored) elsewhere
    video_pages = 3 if sources[-1].suffix == ".avi" else 0
    for summary in (one, two):
        assert summary.pages_new == 8 + 2 + 1 + video_pages
        assert (summary.documents_failed, summary.documents_new) == (2, len(sources) - 2)
        assert {Path(e.source).name for e in summary.errors} == {"corrupt.pdf", "locked.pdf"}
    assert records(two_settings) == records(one_settings) and len(records(one_settings)) == one.pages_new

    # A rerun with workers = 2 skips every unchanged page without rendering it.
    rerun_pids = tmp_path / "rerun"
    rerun_pids.mkdir()
    store = PidRecordingStore(two_settings.page_image_dir, pid_dir=str(rerun_pids))
    again = Ingestor(two_settings, extractor=PageTextExtractor(), store=store).run(sources)
    assert (again.pages_skipped, again.pages_extracted, again.documents_unchanged) == (
        two.pages_new,
        0,
        len(sources) - 2,
    )
    assert pids(rerun_pids) == set()


@pytest.mark.timeout(300)
def test_a_cancelled_run_leaves_no_render_worker_behind(tmp_path: Path, sources: list[Path]) -> None:
    long_pdf = make_pdf(tmp_path / "long.pdf", [f"Page {i} of a long report" for i in range(1, 41)])
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, [long_pdf], 2, InterruptingExtractor())
    assert pids(tmp_path / "pids2")  # the workers did render
    assert multiprocessing.active_children() == []
