"""A video as message parts (qwenvl_agents.vlm.video): sampling, budgets, part shapes, errors; real videos, no model."""

from __future__ import annotations

import base64
import io
import itertools
import math
from pathlib import Path

import cv2
import pytest
from PIL import Image

from qwenvl_agents.documents import DocumentNotFoundError
from qwenvl_agents.errors import CorruptDocumentError, UnsupportedDocumentError, VLMRequestError
from qwenvl_agents.vlm.video import (
    NATIVE_MAX_FPS,
    fit_frame,
    frame_parts,
    frame_pixel_budget,
    native_part,
    sample_indices,
    sample_video,
    video_parts,
)
from tests.support.videos import make_undecodable_video, make_video

SMALL = {"min_pixels": 16 * 784, "max_pixels": 96 * 784}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 6 s at 4 fps = 24 frames; the red disc and the word "object" from 3 s on.
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", seconds=6, fps=4.0, appears_at=3.0)


@pytest.mark.parametrize("frame_count", [1, 2, 5, 24, 1000, 86_400])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16])
def test_sample_indices_spread_from_first_to_last_frame(frame_count: int, count: int) -> None:
    idx = sample_indices(frame_count, count)
    assert len(idx) == min(count, frame_count)
    assert idx == sorted(set(idx))  # strictly increasing: no frame twice
    assert idx[0] == 0
    if len(idx) > 1:
        assert idx[-1] == frame_count - 1
        gaps = [b - a for a, b in itertools.pairwise(idx)]
        assert max(gaps) - min(gaps) <= 1  # evenly spaced


@pytest.mark.parametrize(("frame_count", "count"), [(0, 4), (10, 0), (10, -1)])
def test_sample_indices_rejects_nonsense(frame_count: int, count: int) -> None:
    with pytest.raises(ValueError):
        sample_indices(frame_count, count)


@pytest.mark.parametrize("count", [1, 3, 4, 8, 16, 64])
@pytest.mark.parametrize("per_grid", [1, 2])
@pytest.mark.parametrize("size", [(168, 224), (1080, 1920), (1920, 1080), (30, 3000), (480, 640)])
def test_every_frame_fits_the_video_budget(count: int, per_grid: int, size: tuple[int, int]) -> None:
    budget = 2048
    low, high = frame_pixel_budget(count, max_video_tokens=budget, frames_per_grid=per_grid)
    h, w = fit_frame(*size, low, high)
    assert h % 28 == 0 and w % 28 == 0
    assert h * w <= high
    grids = math.ceil(count / per_grid)
    assert grids * (h // 28) * (w // 28) <= budget


def test_an_impossible_budget_is_refused_with_advice() -> None:
    with pytest.raises(VLMRequestError, match="sample fewer frames or raise max_video_tokens"):
        frame_pixel_budget(64, max_video_tokens=100)


def test_sample_video_reads_the_sampled_frames_only(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    retrieved = []
    real = cv2.VideoCapture

    class Counting:  # a spy around the real capture (subclassing the C class crashes OpenCV)
        def __init__(self, *args: object) -> None:
            self._cap = real(*args)

        def __getattr__(self, name: str) -> object:
            return getattr(self._cap, name)

        def retrieve(self, *args: object) -> object:
            retrieved.append(1)
            return self._cap.retrieve(*args)

    monkeypatch.setattr(cv2, "VideoCapture", Counting)
    sampled = sample_video(clip, 4)
    assert [f.index for f in sampled.frames] == [0, 7, 15, 23]
    assert sampled.timestamps == (0.0, 1.75, 3.75, 5.75)
    assert (sampled.frame_count, sampled.native_fps, sampled.duration) == (24, 4.0, 6.0)
    assert len(retrieved) == 4  # 24 frames grabbed, 4 converted
    # The decoded pixels are the right frames: the red disc is drawn from 3 s on only.
    centre = [f.image.getpixel((112, 94)) for f in sampled.frames]
    red = [px[0] > 150 and px[2] < 100 for px in centre]  # type: ignore[index]
    assert red == [False, False, True, True]


def test_frames_mode_parts_label_each_frame_with_its_time(clip: Path) -> None:
    parts = frame_parts(sample_video(clip, 3), max_video_tokens=200, **SMALL)
    kinds = [p["type"] for p in parts.parts]
    assert kinds == ["text", "text", "image_url", "text", "image_url", "text", "image_url"]
    assert "6.0 s long" in parts.parts[0]["text"]
    labels = [p["text"] for p in parts.parts[1::2]]
    assert labels == ["Frame at 0.0 s:", "Frame at 2.8 s:", "Frame at 5.8 s:"]
    assert parts.timestamps == (0.0, 2.75, 5.75)
    w, h = parts.frame_size
    for p in parts.parts[2::2]:
        url = p["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (w, h)
    assert parts.visual_tokens == 3 * (w // 28) * (h // 28) <= 200
    assert parts.content("when?")[-1] == {"type": "text", "text": "when?"}


def _decode_mp4(url: str, tmp_path: Path) -> tuple[int, float, tuple[int, int]]:
    assert url.startswith("data:video/mp4;base64,")
    path = tmp_path / "sent.mp4"
    path.write_bytes(base64.b64decode(url.split(",", 1)[1]))
    cap = cv2.VideoCapture(str(path))
    try:
        frames = 0
        while cap.grab():
            frames += 1
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        return frames, float(cap.get(cv2.CAP_PROP_FPS)), size
    finally:
        cap.release()


@pytest.mark.parametrize(("asked", "sent"), [(1, 2), (4, 4), (5, 6), (8, 8)])
def test_native_part_is_an_mp4_of_the_budgeted_frames(clip: Path, tmp_path: Path, asked: int, sent: int) -> None:
    parts = native_part(sample_video(clip, asked), max_video_tokens=300, **SMALL)
    assert [p["type"] for p in parts.parts] == ["text", "video_url"]
    frames, fps, size = _decode_mp4(parts.parts[1]["video_url"]["url"], tmp_path)
    assert frames == sent  # even: Qwen2.5-VL merges frames in pairs; vLLM fails on a single frame
    assert 0 < fps <= NATIVE_MAX_FPS + 0.01
    assert size == parts.frame_size and size[0] % 28 == 0 and size[1] % 28 == 0
    assert parts.visual_tokens == (sent // 2) * (size[0] // 28) * (size[1] // 28) <= 300
    assert len(parts.timestamps) == asked


def test_long_video_native_mp4_keeps_its_real_pace(tmp_path: Path) -> None:
    long = make_video(tmp_path / "long.mp4", seconds=120, fps=2.0, appears_at=None)
    parts = native_part(sample_video(long, 8), max_video_tokens=400, **SMALL)
    frames, fps, _ = _decode_mp4(parts.parts[1]["video_url"]["url"], tmp_path)
    assert frames == 8
    assert fps == pytest.approx(8 / 120, rel=0.05)


def test_too_many_frames_for_the_image_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    bad = make_undecodable_video(tmp_path / "bad.mp4")
    with pytest.raises(VLMRequestError, match="at most 4 images"):
        video_parts(bad, mode="frames", frames=6, max_images=4)


def test_native_mode_is_not_bound_by_the_image_limit(clip: Path) -> None:
    parts = video_parts(clip, mode="native", frames=6, max_images=4, max_video_tokens=300, **SMALL)
    assert parts.mode == "native" and len(parts.timestamps) == 6


def test_default_frame_count_follows_the_image_limit(clip: Path) -> None:
    assert len(video_parts(clip, max_images=2, max_video_tokens=300, **SMALL).timestamps) == 2
    assert len(video_parts(clip, max_images=None, max_video_tokens=300, **SMALL).timestamps) == 4


def test_undecodable_video_names_the_file(tmp_path: Path) -> None:
    bad = make_undecodable_video(tmp_path / "broken clip.mp4")
    with pytest.raises(CorruptDocumentError, match=r"broken clip\.mp4"):
        video_parts(bad)


def test_a_picture_is_not_a_video(tmp_path: Path) -> None:
    png = tmp_path / "still.png"
    Image.new("RGB", (64, 48), "white").save(png)
    with pytest.raises(UnsupportedDocumentError, match=r"still\.png.*not a video"):
        sample_video(png, 4)


def test_missing_video(tmp_path: Path) -> None:
    with pytest.raises(DocumentNotFoundError, match=r"nope\.mp4"):
        video_parts(tmp_path / "nope.mp4")


@pytest.mark.parametrize(("kwargs", "error"), [({"mode": "audio"}, ValueError), ({"frames": 0}, ValueError)])
def test_bad_arguments(clip: Path, kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        video_parts(clip, **kwargs)  # type: ignore[arg-type]
