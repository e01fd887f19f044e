"""The video detector's Python API and ``qwenvl video detect`` against the real vLLM test server.

The tiny model's answers are random (deterministic for the same frame and prompt), so these tests check
plumbing: one schema-valid answer per sampled frame, timestamps 0, 1, 2 ..., a summary that agrees with
the frames, the stop rule applied to what the server really answered, and a bad video reported while the
good one of the same command is still scanned.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwenvl_agents.vlm import VLMClient
from qwenvl_agents.workflows.detector import (
    DetectionSummary,
    FrameAnswer,
    FrameEvent,
    VideoDetector,
    event_from_dict,
)
from tests.support.videos import make_undecodable_video, make_video

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

TARGET = "a red ball"
MIN_PIXELS, MAX_PIXELS = 16 * 784, 96 * 784
CLI = "import qwenvl_agents.cli.video_detect; from qwenvl_agents.cli import app; app()"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("videos")
    good = make_video(folder / "ball.mp4", seconds=5, fps=4.0, appears_at=2.0)
    return good, make_undecodable_video(folder / "broken.mp4")


@pytest.fixture(scope="module")
def client(vllm_server: Any) -> Iterator[VLMClient]:
    with VLMClient([vllm_server.base_url], vllm_server.model, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS) as c:
        yield c


def check_consistent(events: list[FrameEvent | DetectionSummary], consecutive: int) -> DetectionSummary:
    """The summary and the frames agree, and the scan stopped exactly where the stop rule says."""
    *frames, summary = events
    assert isinstance(summary, DetectionSummary) and all(isinstance(f, FrameEvent) for f in frames)
    assert [f.timestamp for f in frames] == [float(i) for i in range(len(frames))]  # type: ignore[union-attr]
    assert [f.index for f in frames] == list(range(len(frames)))  # type: ignore[union-attr]
    run, runs, stop_at = 0, [], None
    for f in frames:
        assert isinstance(f, FrameEvent)
        run = run + 1 if f.detected else 0
        runs.append(run)
        if consecutive and run >= consecutive and stop_at is None:
            stop_at = f.index
    assert [f.run for f in frames] == runs  # type: ignore[union-attr]
    assert summary.frames_checked == len(frames)
    assert summary.detections == tuple(f.timestamp for f in frames if f.detected)  # type: ignore[union-attr]
    assert summary.errors == sum(f.status == "error" for f in frames)  # type: ignore[union-attr]
    if stop_at is not None:
        assert summary.reason == "detected" and stop_at == len(frames) - 1
        assert summary.first_detection == float(stop_at - consecutive + 1)
        assert summary.stopped_early == (len(frames) < (summary.frames_total or 0))
    else:
        assert summary.reason == "end_of_video" and len(frames) == summary.frames_total
        assert summary.first_detection == (summary.detections[0] if summary.detections and not consecutive else None)
    return summary


def test_every_frame_gets_a_schema_valid_answer(client: VLMClient, videos: tuple[Path, Path]) -> None:
    good, _ = videos
    detector = VideoDetector.from_client(client, TARGET, consecutive=0, clahe=True, thumbnails=True)
    events = list(detector.stream(good))
    summary = check_consistent(events, 0)
    assert summary.status == "ok" and summary.frames_total == 5 and summary.errors == 0
    for event in events[:-1]:
        assert isinstance(event, FrameEvent) and event.status == "ok" and event.error is None
        answer = {"present": event.present, "description": event.description, "confidence": event.confidence}
        FrameAnswer.model_validate(answer)  # the server's constrained answer passed through unchanged
        assert event.detected == bool(event.present) and event.frames_total == 5
        assert (event.thumbnail or "").startswith("data:image/jpeg;base64,")
    print(f"scan: {summary.frames_checked} frames in {summary.elapsed:.2f} s "
          f"({summary.frames_checked / summary.elapsed:.1f} frames/s)")  # fmt: skip


def test_the_scan_stops_after_the_consecutive_detections_the_server_reports(
    client: VLMClient, videos: tuple[Path, Path]
) -> None:
    good, _ = videos
    # With the question alone (no system prompt) the tiny model answers "present" for these frames; the
    # detector must then stop after two of them. (With the default prompt it says "absent": see the test above.)
    events = list(VideoDetector.from_client(client, TARGET, consecutive=2, system_prompt=None).stream(good))
    summary = check_consistent(events, 2)
    if summary.reason != "detected":
        pytest.fail(f"the test model no longer reports two detections in a row here, nothing was stopped: {summary}")
    assert summary.stopped_early and summary.frames_checked < 5


def test_astream_gives_the_same_answers(client: VLMClient, videos: tuple[Path, Path]) -> None:
    good, _ = videos
    detector = VideoDetector.from_client(client, TARGET, consecutive=0, max_frames=3)

    async def collect() -> list[Any]:
        return [e async for e in detector.astream(good)]

    def answers(events: list[Any]) -> list[tuple[Any, ...]]:
        return [(e.timestamp, e.present, e.confidence, e.description) for e in events if isinstance(e, FrameEvent)]

    streamed = list(detector.stream(good))
    assert answers(asyncio.run(collect())) == answers(streamed)  # greedy decoding is deterministic
    assert streamed[-1].reason == "max_frames"  # type: ignore[union-attr]


def test_a_bad_video_in_a_batch(client: VLMClient, videos: tuple[Path, Path]) -> None:
    good, bad = videos
    results = VideoDetector.from_client(client, TARGET, consecutive=0, max_frames=2).batch([bad, good])
    assert [r.status for r in results] == ["error", "ok"]
    assert results[0].reason == "video_error" and str(bad) in (results[0].error or "")
    assert results[1].frames_checked == 2


def _cli(args: list[str], vllm_server: Any, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWENVL_")}
    env.update(
        QWENVL_VLM_BASE_URL=vllm_server.base_url,
        QWENVL_VLM_MODEL=vllm_server.model,
        QWENVL_MIN_PIXELS=str(MIN_PIXELS),
        QWENVL_MAX_PIXELS=str(MAX_PIXELS),
        QWENVL_DATA_DIR=str(tmp / "data"),
    )
    cmd = [sys.executable, "-c", CLI, "video", "detect", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=300)


def test_cli_json_streams_events_and_fails_for_the_bad_video(
    vllm_server: Any, videos: tuple[Path, Path], tmp_path: Path
) -> None:
    good, bad = videos
    done = _cli([str(bad), str(good), "--target", TARGET, "--consecutive", "0", "--json"], vllm_server, tmp_path)
    assert done.returncode == 1, done.stderr
    events = [event_from_dict(json.loads(line)) for line in done.stdout.splitlines()]
    assert isinstance(events[0], DetectionSummary) and events[0].status == "error"
    assert events[0].video == str(bad) and "cannot be decoded" in (events[0].error or "")
    rest = events[1:]
    assert all(isinstance(e, FrameEvent) and e.video == str(good) for e in rest[:-1])
    summary = check_consistent(rest, 0)  # type: ignore[arg-type]
    assert summary.status == "ok" and summary.frames_checked == 5


def test_cli_prints_a_line_per_frame(vllm_server: Any, videos: tuple[Path, Path], tmp_path: Path) -> None:
    good, bad = videos
    done = _cli([str(good), str(bad), "-t", TARGET, "--max-frames", "3", "--clahe"], vllm_server, tmp_path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    frame_lines = [line for line in lines if line.lstrip().split(" ")[0] in ("0.0", "1.0", "2.0")]
    assert len(frame_lines) == 3
    assert [line for line in lines if line.startswith(f"{good}: ") and "stopped after max_frames" in line]
    assert f"✗ {bad}: the video could not be read" in done.stderr


def test_cli_with_nothing_to_look_for_is_refused(vllm_server: Any, videos: tuple[Path, Path], tmp_path: Path) -> None:
    done = _cli([str(videos[0]), "--target", " "], vllm_server, tmp_path)
    assert done.returncode == 2 and "target must say what to look for" in done.stderr
