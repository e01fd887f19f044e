"""The video detector's rules with a fake chat model that answers per frame; the videos and OpenCV are real."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from PIL import Image, ImageStat
from pydantic import Field

from qwenvl_agents.workflows.detector import (
    DetectionSummary,
    FrameAnswer,
    FrameEvent,
    VideoDetector,
    enhance_contrast,
    event_from_dict,
)
from tests.support.fakes import ScriptedChatModel, connection_error, reply
from tests.support.videos import make_undecodable_video, make_video

YES = {"present": True, "description": "a red ball in the middle", "confidence": 8}
NO = {"present": False, "description": "an empty grey scene", "confidence": 7}


class FrameFake(ScriptedChatModel):
    """Answers each frame from ``answers`` by the timestamp in its prompt (``default`` for the others): a dict
    is sent as JSON, a str as is, an exception is raised as the request's failure. Structured output parses
    like ``ChatOpenAI(..., include_raw=True)``, or with ``raw_structured_output=False`` like the local backends
    (no ``include_raw``; the parser raises on a bad answer)."""

    answers: dict[float, Any] = Field(default_factory=dict)
    default: Any = Field(default_factory=lambda: NO)
    finish_reason: str = "stop"

    def respond(self, messages: list[BaseMessage]) -> AIMessage:
        text = messages[-1].content[-1]["text"]  # type: ignore[index]
        match = re.search(r"Frame at ([\d.]+) s", text)
        assert match, text
        answer = self.answers.get(float(match.group(1)), self.default)
        if isinstance(answer, BaseException):
            raise answer
        return reply(answer, self.finish_reason, tokens=None)

    def images(self) -> list[str]:
        return [m[-1].content[0]["image_url"]["url"] for m in self.prompts]  # type: ignore[index]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", seconds=8, fps=2.0, appears_at=3.0)


def detector(fake: FrameFake, **kwargs: Any) -> VideoDetector:
    kwargs.setdefault("min_pixels", 4 * 784)
    kwargs.setdefault("max_pixels", 16 * 784)
    built = VideoDetector(fake, "a red ball", **kwargs)
    # A model that supports it is asked for the raw answer too (its finish reason tells a cut answer).
    assert fake.structured_calls[-1] == ("json_schema", fake.raw_structured_output)
    return built


def frames(events: list[Any]) -> list[FrameEvent]:
    return [e for e in events if isinstance(e, FrameEvent)]


def test_stops_after_n_consecutive_detections(video: Path) -> None:
    fake = FrameFake(answers={2.0: YES, 3.0: YES, 4.0: YES})
    events = list(detector(fake).stream(video))
    summary = events[-1]
    assert isinstance(summary, DetectionSummary) and events[:-1] == frames(events)
    assert [f.timestamp for f in frames(events)] == [0.0, 1.0, 2.0, 3.0]
    assert [f.run for f in frames(events)] == [0, 0, 1, 2]
    assert len(fake.prompts) == 4  # nothing asked after the stop
    assert fake.structured_calls == [("json_schema", True)]
    assert (summary.reason, summary.status, summary.detected, summary.stopped_early) == ("detected", "ok", True, True)
    assert (summary.first_detection, summary.last_timestamp, summary.frames_checked) == (2.0, 3.0, 4)
    assert summary.frames_total == 8 and summary.detections == (2.0, 3.0)
    assert "2 consecutive frames from 2.0 s" in summary.message


def test_a_non_detection_resets_the_run(video: Path) -> None:
    fake = FrameFake(answers={1.0: YES, 3.0: YES, 4.0: YES, 5.0: YES})
    summary = detector(fake, consecutive=3).invoke(video)
    assert summary.first_detection == 3.0 and summary.last_timestamp == 5.0
    assert summary.detections == (1.0, 3.0, 4.0, 5.0)


def test_errors_are_not_detections_and_break_a_run(video: Path) -> None:
    answers = {
        1.0: YES,
        2.0: "{not json",  # invalid answer
        3.0: YES,
        4.0: connection_error(),  # failed request
        5.0: YES,
        6.0: YES,
    }
    events = list(detector(FrameFake(answers=answers)).stream(video))
    by_ts = {f.timestamp: f for f in frames(events)}
    assert by_ts[2.0].status == "error" and "invalid answer" in (by_ts[2.0].error or "")
    assert by_ts[4.0].status == "error" and "cannot reach" in (by_ts[4.0].error or "")
    assert not by_ts[2.0].detected and by_ts[2.0].present is None and by_ts[3.0].run == 1
    summary = events[-1]
    assert isinstance(summary, DetectionSummary)
    assert (summary.first_detection, summary.errors, summary.status) == (5.0, 2, "ok")


def test_low_confidence_and_schema_violations(video: Path) -> None:
    answers = {
        0.0: {**YES, "confidence": 3},  # below min_confidence: seen, not a detection
        1.0: {**YES, "confidence": 11},  # outside the schema's 1..10
        2.0: {"present": True},  # fields missing
    }
    events = frames(list(detector(FrameFake(answers=answers), min_confidence=5, max_frames=3).stream(video)))
    assert (events[0].status, events[0].present, events[0].detected) == ("ok", True, False)
    assert [e.status for e in events[1:]] == ["error", "error"]


def test_an_answer_cut_at_the_token_limit_is_an_error(video: Path) -> None:
    events = frames(list(detector(FrameFake(default=YES, finish_reason="length"), max_frames=2).stream(video)))
    assert len(events) == 2  # both frames are reported, as errors
    assert all(e.status == "error" and "token limit" in (e.error or "") for e in events)


def test_a_self_parsing_model_works_and_its_bad_answers_are_not_server_failures(video: Path) -> None:
    fake = FrameFake(default="garbage", answers={1.0: YES, 2.0: YES}, raw_structured_output=False)
    events = list(detector(fake, consecutive=0, max_frames=5).stream(video))
    assert [f.status for f in frames(events)] == ["error", "ok", "ok", "error", "error"]
    assert "invalid answer" in (frames(events)[0].error or "") and fake.structured_calls == [("json_schema", False)]
    summary = events[-1]
    assert isinstance(summary, DetectionSummary)
    assert (summary.reason, summary.detections, summary.errors) == ("max_frames", (1.0, 2.0), 3)


def test_an_unreachable_server_ends_the_scan(video: Path) -> None:
    down = connection_error()
    fake = FrameFake(default=down, answers={1.0: "garbage"})  # an invalid answer resets the count
    summary = detector(fake, max_consecutive_errors=3).invoke(video)
    assert summary.reason == "server_errors" and summary.status == "error" and summary.stopped_early
    assert summary.frames_checked == 5 and len(fake.prompts) == 5  # frames 0, 1 (answered), 2, 3, 4
    assert "3 frames in a row failed" in (summary.error or "") and "cannot reach" in (summary.error or "")


def test_consecutive_zero_scans_the_whole_video(video: Path) -> None:
    summary = detector(FrameFake(answers={2.0: YES, 5.0: YES}), consecutive=0).invoke(video)
    assert (summary.reason, summary.stopped_early, summary.frames_checked) == ("end_of_video", False, 8)
    assert summary.detected and summary.first_detection == 2.0 and summary.detections == (2.0, 5.0)
    none = detector(FrameFake(), consecutive=None, max_frames=3).invoke(video)
    assert (none.reason, none.detected, none.first_detection, none.stopped_early) == ("max_frames", False, None, True)


def test_every_answer_invalid_is_an_error_summary(video: Path) -> None:
    summary = detector(FrameFake(default="nope"), max_frames=2).invoke(video)
    assert summary.status == "error" and "no frame got a valid answer" in (summary.error or "")


def test_fps_sets_the_sampling(video: Path) -> None:
    fake = FrameFake()
    summary = detector(fake, fps=0.5, consecutive=0).invoke(video)
    assert summary.frames_checked == 4 and summary.last_timestamp == 6.0


def _std_l(data_url: str) -> float:
    image = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    return float(ImageStat.Stat(image.convert("L")).stddev[0])


def _dim_video(path: Path) -> Path:
    """Two seconds of a hazy scene: a faint disc a few grey levels above a flat background."""
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 2.0, (112, 84))
    for i in range(4):
        frame = np.full((84, 112, 3), 96 + i, np.uint8)
        cv2.circle(frame, (56, 42), 20, (104, 104, 112 + i), -1)
        writer.write(frame)
    writer.release()
    return path


def test_clahe_raises_the_contrast_of_dim_frames(tmp_path: Path) -> None:
    dim = Image.new("RGB", (96, 64), (100, 100, 100))
    dim.paste((112, 104, 104), (30, 20, 60, 44))  # a faint shape on a flat background
    before, after = dim.convert("L"), enhance_contrast(dim).convert("L")
    # The shape stands out more from its background, and the colours keep their hue (only L is equalised).
    assert after.getpixel((45, 30)) - after.getpixel((5, 5)) > before.getpixel((45, 30)) - before.getpixel((5, 5))
    assert ImageStat.Stat(after).stddev[0] > 1.4 * ImageStat.Stat(before).stddev[0]
    r, g, b = enhance_contrast(dim).getpixel((45, 30))  # type: ignore[misc]
    assert r > g and r > b
    clip = _dim_video(tmp_path / "dim.mp4")
    plain, enhanced = FrameFake(), FrameFake()
    detector(plain, consecutive=0, thumbnails=True).invoke(clip)
    events = frames(list(detector(enhanced, consecutive=0, clahe=True, thumbnails=True).stream(clip)))
    assert len(plain.images()) == len(enhanced.images()) == 2
    for a, b in zip(plain.images(), enhanced.images(), strict=True):
        assert a != b and _std_l(b) > _std_l(a)
    assert all(e.thumbnail and e.thumbnail.startswith("data:image/jpeg;base64,") for e in events)


def test_events_round_trip_through_ndjson(video: Path) -> None:
    events = list(detector(FrameFake(answers={1.0: YES, 2.0: YES}), thumbnails=True).stream(video))
    lines = "".join(json.dumps(e.to_dict()) + "\n" for e in events)
    assert [event_from_dict(json.loads(line)) for line in lines.splitlines()] == events
    with pytest.raises(ValueError, match="not a detector event"):
        event_from_dict({"type": "other"})


def test_a_bad_video_in_a_batch_does_not_stop_the_others(video: Path, tmp_path: Path) -> None:
    bad = make_undecodable_video(tmp_path / "broken.mp4")
    Image.new("RGB", (32, 32)).save(tmp_path / "still.png")
    fake = FrameFake(answers={0.0: YES, 1.0: YES})
    results = detector(fake).batch([bad, video, tmp_path / "missing.mp4", tmp_path / "still.png", tmp_path])
    assert [r.status for r in results] == ["error", "ok", "error", "error", "error"]
    assert all(r.reason == "video_error" for i, r in enumerate(results) if i != 1)
    assert str(bad) in (results[0].error or "") and "cannot be decoded" in (results[0].error or "")
    assert results[1].detected and results[1].first_detection == 0.0
    assert "not a video" in (results[3].error or "") and "folder" in (results[4].error or "")


def test_a_name_labels_events_and_errors(tmp_path: Path) -> None:
    bad = make_undecodable_video(tmp_path / "upload-1234.bin")
    summary = detector(FrameFake()).invoke(bad, name="holiday.mp4")
    assert summary.video == "holiday.mp4" and (summary.error or "").startswith("holiday.mp4: ")
    assert str(bad) not in summary.message


def test_astream_matches_stream(video: Path) -> None:
    answers = {1.0: YES, 2.0: "junk", 3.0: YES, 4.0: YES}

    async def collect() -> list[Any]:
        return [e async for e in detector(FrameFake(answers=answers)).astream(video)]

    sync = list(detector(FrameFake(answers=answers)).stream(video))
    asynced = asyncio.run(collect())
    strip = [{k: v for k, v in e.to_dict().items() if k != "elapsed"} for e in sync]
    assert strip == [{k: v for k, v in e.to_dict().items() if k != "elapsed"} for e in asynced]
    assert asyncio.run(detector(FrameFake(answers=answers)).ainvoke(video)).first_detection == 3.0


def test_the_system_prompt_can_be_left_out(video: Path) -> None:
    with_system, without = FrameFake(), FrameFake()
    detector(with_system, max_frames=1).invoke(video)
    detector(without, max_frames=1, system_prompt=None).invoke(video)
    assert [m.type for m in with_system.prompts[0]] == ["system", "human"]
    assert [m.type for m in without.prompts[0]] == ["human"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"consecutive": -1}, "consecutive"),
        ({"fps": 0}, "fps"),
        ({"max_frames": 0}, "max_frames"),
        ({"min_confidence": 11}, "min_confidence"),
        ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        VideoDetector(FrameFake(), "a red ball", **kwargs)
    with pytest.raises(ValueError, match="target"):
        VideoDetector(FrameFake(), "  ")


def test_frame_answer_schema_is_strict() -> None:
    schema = FrameAnswer.model_json_schema()
    assert schema["required"] == ["present", "description", "confidence"]
    assert schema["additionalProperties"] is False
    assert (schema["properties"]["confidence"]["minimum"], schema["properties"]["confidence"]["maximum"]) == (1, 10)
