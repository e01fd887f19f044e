"""Video files: frames sampled at video_fps by reading front to back, with timestamps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qwenvl_agents.documents import RenderOptions, iter_pages, open_document
from qwenvl_agents.errors import CorruptDocumentError, MissingDependencyError
from qwenvl_agents.types import PageImage, SourceFailure
from tests.support.documents import sha256_file

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

pytestmark = pytest.mark.integration

FPS = 10.0
FRAMES = 35  # 3.5 s


def level(index: int) -> int:
    """The grey level of frame ``index``: each frame is identifiable from its pixels."""
    return (index * 7) % 256


def make_video(path: Path, fourcc: str, frames: int = FRAMES, fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (64, 48))
    if not writer.isOpened():
        pytest.skip(f"OpenCV cannot write {fourcc} here")
    for i in range(frames):
        writer.write(np.full((48, 64, 3), level(i), np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize(("name", "fourcc"), [("clip.mp4", "mp4v"), ("clip.avi", "MJPG"), ("clip.mkv", "mp4v")])
def test_one_frame_per_second_with_timestamps(tmp_path: Path, name: str, fourcc: str) -> None:
    path = make_video(tmp_path / name, fourcc)
    with open_document(path) as doc:
        pages = list(doc.pages())
    assert (doc.info.media_type, doc.info.suffix) == ("video", name.split(".")[1])
    assert doc.info.document_id == sha256_file(path)
    assert doc.info.page_count == 4 == len(pages)  # samples at 0, 1, 2 and 3 s of a 3.5 s clip
    assert [p.page for p in pages] == [1, 2, 3, 4]
    assert [p.timestamp for p in pages] == [0.0, 1.0, 2.0, 3.0]
    for page, frame in zip(pages, (0, 10, 20, 30), strict=True):
        assert page.image.mode == "RGB" and page.image.size == (64, 48) and page.dpi is None
        pixel = page.image.getpixel((32, 24))
        assert all(abs(v - level(frame)) <= 8 for v in pixel), (page.page, pixel, level(frame))


def test_other_sampling_rates(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", "mp4v")
    with open_document(path, RenderOptions(video_fps=2.5)) as doc:
        pages = list(doc.pages())
        assert doc.page(3).timestamp == pytest.approx(0.8)
    assert doc.info.page_count == len(pages) == 9  # ceil(3.5 s * 2.5)
    assert [p.timestamp for p in pages] == pytest.approx([k / 2.5 for k in range(9)])
    for page in pages:  # frame shown at t is frame floor(t * 10)
        expected = level(int(page.timestamp * FPS + 1e-6))  # type: ignore[operator]
        assert abs(page.image.getpixel((1, 1))[0] - expected) <= 8


def test_undecodable_videos_are_corrupt(tmp_path: Path) -> None:
    whole = make_video(tmp_path / "whole.mp4", "mp4v").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole[: len(whole) // 3])  # the index (moov) is at the end: gone
    garbage = tmp_path / "garbage.mov"
    garbage.write_bytes(b"\x00\x00\x00\x14ftypqt  " + bytes(range(256)) * 8)
    for path in (truncated, garbage):
        with pytest.raises(CorruptDocumentError, match=path.name):
            open_document(path)
    good = make_video(tmp_path / "good.avi", "MJPG")
    items = list(iter_pages([truncated, good]))
    assert isinstance(items[0], SourceFailure) and items[0].error_type == "CorruptDocumentError"
    assert [i.page for i in items[1:] if isinstance(i, PageImage)] == [1, 2, 3, 4]


def test_missing_opencv_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_video(tmp_path / "clip.mp4", "mp4v")
    monkeypatch.setitem(sys.modules, "cv2", None)  # makes `import cv2` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'qwenvl-agents\[video\]'"):
        open_document(path)
