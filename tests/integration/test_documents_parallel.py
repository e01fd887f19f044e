"""workers > 1: the same pages, in the same order, with the same stored images, from worker processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import deque
from concurrent.futures import Future
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.documents import RenderOptions, iter_pages
from qwenvl_agents.documents.events import DocumentStarted
from qwenvl_agents.documents.loader import render_pages
from qwenvl_agents.documents.parallel import _Failed, _Item, _LazyPool, _wait
from qwenvl_agents.store.page_images import PageImageStore
from qwenvl_agents.types import DocumentInfo, PageImage, SourceFailure
from tests.support.documents import make_pdf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("mixed")
    long_pdf = make_pdf(folder / "long.pdf", [f"Page number {i} of the long report" for i in range(1, 13)])
    encrypted = make_pdf(folder / "locked.pdf", ["secret"], encrypt="pw")
    corrupt = folder / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    tiff = folder / "scan.tiff"
    frames = [Image.new("RGB", (60, 40), c) for c in ("red", "green", "blue")]
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    photo = folder / "photo.png"
    Image.new("RGBA", (50, 30), (0, 0, 255, 128)).save(photo)
    sources = [long_pdf, encrypted, corrupt, tiff, folder / "missing.pdf", photo]
    try:
        import cv2
        import numpy as np

        video = folder / "clip.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
        for i in range(25):
            writer.write(np.full((48, 64, 3), i * 9, np.uint8))
        writer.release()
        sources.insert(3, video)  # read in the parent, encoded by the workers
    except ImportError:
        pass
    return sources


def _summary(items: list[PageImage | SourceFailure]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for item in items:
        if isinstance(item, PageImage):
            stored = item.stored.sha256 if item.stored else None
            text = item.text_layer.text if item.text_layer else None
            spans = item.text_layer.spans if item.text_layer else None
            out.append((item.document, item.page, item.image.size, stored, text, spans, item.timestamp, item.dpi))
        else:
            out.append((item.source, item.error_type, item.message, item.pages_done))
    return out


def test_two_workers_give_the_same_pages_as_one(mixed: list[Path], tmp_path: Path) -> None:
    results = {}
    for workers in (1, 2):
        store = PageImageStore(tmp_path / f"store{workers}")
        items = list(iter_pages(mixed, RenderOptions(dpi=60, workers=workers), store=store))
        results[workers] = items
    assert _summary(results[2]) == _summary(results[1])
    pages = [i for i in results[2] if isinstance(i, PageImage)]
    assert len(pages) >= 12 + 3 + 1
    sequential = [i for i in results[1] if isinstance(i, PageImage)]
    for parallel_page, sequential_page in zip(pages, sequential, strict=True):
        assert parallel_page.image.mode == "RGB"
        assert parallel_page.image.tobytes() == sequential_page.image.tobytes()
    failures = [i for i in results[2] if isinstance(i, SourceFailure)]
    assert [Path(f.source).name for f in failures] == ["locked.pdf", "corrupt.pdf", "missing.pdf"]


def test_two_workers_render_the_same_selected_pages_and_events_as_one(mixed: list[Path], tmp_path: Path) -> None:
    def select(info: DocumentInfo) -> list[int]:
        return [n for n in range(1, info.page_count + 1) if n % 3 != 1]  # page 1 of each never rendered

    results = {}
    for workers in (1, 2):
        store = PageImageStore(tmp_path / f"store{workers}")
        events = list(render_pages(mixed, RenderOptions(dpi=60, workers=workers), store=store, select=select))
        pages = [e for e in events if isinstance(e, PageImage | SourceFailure)]
        results[workers] = (events, _summary(pages))
    events_two, summary_two = results[2]
    events_one, summary_one = results[1]
    assert summary_two == summary_one
    shape = [type(e).__name__ if not isinstance(e, PageImage) else e.page for e in events_two]
    assert shape == [type(e).__name__ if not isinstance(e, PageImage) else e.page for e in events_one]
    assert [e for e in events_two if isinstance(e, DocumentStarted)] == [
        e for e in events_one if isinstance(e, DocumentStarted)
    ]
    rendered = [e.page for e in events_two if isinstance(e, PageImage) and e.document.name == "long.pdf"]
    assert rendered == [2, 3, 5, 6, 8, 9, 11, 12]
    assert all(e.page != 1 for e in events_two if isinstance(e, PageImage))


def test_without_a_store_the_images_come_back_from_the_workers(mixed: list[Path]) -> None:
    pdf = mixed[0]
    one = [p for p in iter_pages([pdf], RenderOptions(dpi=40, workers=1)) if isinstance(p, PageImage)]
    two = [p for p in iter_pages([pdf], RenderOptions(dpi=40, workers=2)) if isinstance(p, PageImage)]
    assert [p.image.tobytes() for p in two] == [p.image.tobytes() for p in one]
    assert [p.stored for p in two] == [None] * 12


def _pool_workers() -> set[int]:
    """Pids of the spawned worker processes below this one (not the resource tracker, which outlives pools)."""
    import psutil

    found: set[int] = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "--multiprocessing-fork" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def test_stopping_early_shuts_the_workers_down(mixed: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(mixed[0], folder / "a.pdf")
    before = _pool_workers()
    stream = iter_pages([folder / "a.pdf"], RenderOptions(dpi=40, workers=2))
    first = next(stream)
    assert isinstance(first, PageImage) and first.page == 1
    started = _pool_workers() - before
    assert 1 <= len(started) <= 2, started
    stream.close()  # must not hang or raise
    # close() waits for the workers to exit (they may still be reading the document's file), so none is
    # left when it returns. No grace period: once the pool is unreferenced, garbage collection would end
    # the workers within milliseconds anyway, and a wait would hide a close() that leaves them running.
    assert not _pool_workers() & started, "worker processes outlived stream.close()"


def test_a_crashing_worker_costs_only_its_own_page() -> None:
    pool = _LazyPool(2)
    try:
        crash = _Item("bad.pdf", pool.submit(os._exit, 1), task=(os._exit, 1), number=7)
        later = _Item("good.pdf", pool.submit(pow, 2, 10), task=(pow, 2, 10), number=1)
        result = _wait(crash, deque([later]), pool)
        assert isinstance(result, _Failed) and result.error_type == "WorkerCrashedError"
        assert "bad.pdf: the rendering process crashed on page 7" in result.message
        assert isinstance(later.result, Future) and _wait(later, deque(), pool) == 1024
    finally:
        pool.shutdown()


def test_a_script_without_main_guard_gets_a_clear_error(tmp_path: Path, mixed: list[Path]) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from qwenvl_agents.documents import RenderOptions, iter_pages\n"
        f"print(sum(1 for _ in iter_pages([{str(mixed[0])!r}], RenderOptions(workers=2))))\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2]
    )
    assert result.returncode != 0
    assert "needs an `if __name__ == '__main__':` guard" in result.stderr
