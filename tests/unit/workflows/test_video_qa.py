"""ask_video / ask_videos with fake chat models: what the model is shown, limits, and batches that go on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from qwenvl_agents.errors import CorruptDocumentError, VLMRequestError
from qwenvl_agents.vlm import VLMClient
from qwenvl_agents.workflows.video_qa import aask_video, ask_video, ask_videos
from tests.support.fakes import ScriptedChatModel
from tests.support.videos import make_undecodable_video, make_video

SMALL: dict[str, Any] = {"max_video_tokens": 200, "max_pixels": 96 * 784}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", seconds=6, fps=4.0, appears_at=3.0)


def _parts(message: BaseMessage) -> list[dict[str, Any]]:
    assert isinstance(message, HumanMessage) and isinstance(message.content, list)
    return [p for p in message.content if isinstance(p, dict)]


def test_frames_mode_shows_n_frames_each_with_its_time(clip: Path) -> None:
    model = ScriptedChatModel.of("A red disc appears at 3.8 s.")
    answer = ask_video(model, clip, "When does the disc appear?", frames=4, **SMALL)
    assert answer.status == "ok" and answer.error is None
    assert answer.answer == "A red disc appears at 3.8 s."
    assert answer.timestamps == (0.0, 1.75, 3.75, 5.75)
    (system, user) = model.prompts[0]
    assert isinstance(system, SystemMessage) and "time in seconds" in system.text
    parts = _parts(user)
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 4
    labels = [p["text"] for p in parts if p["type"] == "text" and p["text"].startswith("Frame at")]
    assert labels == ["Frame at 0.0 s:", "Frame at 1.8 s:", "Frame at 3.8 s:", "Frame at 5.8 s:"]
    # Every frame label sits right before its image, and the question comes last.
    for n, part in enumerate(parts):
        if part["type"] == "image_url":
            assert parts[n - 1]["text"].startswith("Frame at")
    assert parts[-1] == {"type": "text", "text": "When does the disc appear?"}
    assert 0 < answer.visual_tokens <= 200


def test_native_mode_sends_one_video_part(clip: Path) -> None:
    model = ScriptedChatModel.of("ok")
    answer = ask_video(model, clip, "Describe this video.", mode="native", frames=6, **SMALL)
    parts = _parts(model.prompts[0][-1])
    assert [p["type"] for p in parts] == ["text", "video_url", "text"]
    assert parts[1]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert answer.mode == "native" and len(answer.timestamps) == 6


def test_more_frames_than_the_image_limit_is_refused_before_the_model_is_called(clip: Path) -> None:
    model = ScriptedChatModel.of("never")
    with pytest.raises(VLMRequestError, match="at most 4 images"):
        ask_video(model, clip, "What happens?", frames=5, max_images=4, **SMALL)
    assert model.prompts == []


def test_a_clients_image_limit_and_pixel_budget_apply(clip: Path) -> None:
    client = VLMClient(["http://127.0.0.1:9/v1"], "m", max_images_per_prompt=2, max_pixels=64 * 784)
    with pytest.raises(VLMRequestError, match="at most 2 images"):
        ask_video(client, clip, "What happens?", frames=3)
    client.close()


def test_without_frames_the_default_fits_the_given_limit(clip: Path) -> None:
    model = ScriptedChatModel.of("ok")
    answer = ask_video(model, clip, "What happens?", max_images=3, **SMALL)
    assert len(answer.timestamps) == 3
    assert sum(p["type"] == "image_url" for p in _parts(model.prompts[0][-1])) == 3


def test_undecodable_video_raises_naming_it(tmp_path: Path) -> None:
    bad = make_undecodable_video(tmp_path / "broken.mp4")
    with pytest.raises(CorruptDocumentError, match=r"broken\.mp4"):
        ask_video(ScriptedChatModel.of("x"), bad, "What happens?")


def test_empty_question_is_refused(clip: Path) -> None:
    with pytest.raises(ValueError, match="question"):
        ask_video(ScriptedChatModel.of("x"), clip, "  ")


def test_batch_with_a_bad_video_and_a_failed_request_answers_the_rest(clip: Path, tmp_path: Path) -> None:
    bad = make_undecodable_video(tmp_path / "bad.mp4")
    other = make_video(tmp_path / "other.mp4", seconds=2, fps=4.0, appears_at=None)
    # The second request fails like a refused request.
    model = ScriptedChatModel.of(AIMessage("first"), AIMessage("third"), errors=[None, RuntimeError("server said no")])
    answers = ask_videos(model, [clip, bad, other, clip], "What happens?", frames=2, max_concurrency=1, **SMALL)
    assert [a.status for a in answers] == ["ok", "error", "error", "ok"]
    assert [a.answer for a in answers] == ["first", "", "", "third"]
    assert answers[1].error is not None and "bad.mp4" in answers[1].error
    assert answers[1].error_type == "CorruptDocumentError"
    assert answers[2].error is not None and "server said no" in answers[2].error and "other.mp4" in answers[2].error
    assert len(model.prompts) == 3  # the undecodable video never reached the model


def test_batch_in_threads_keeps_input_order(clip: Path, tmp_path: Path) -> None:
    short = make_video(tmp_path / "short.mp4", seconds=2, fps=4.0, appears_at=None)
    model = ScriptedChatModel.of("a", "b", "c")
    answers = ask_videos(model, [clip, short, clip], "What happens?", frames=2, max_concurrency=3, **SMALL)
    assert [a.status for a in answers] == ["ok", "ok", "ok"]
    assert [Path(a.video).name for a in answers] == ["clip.mp4", "short.mp4", "clip.mp4"]
    assert answers[1].duration == 2.0 and answers[0].duration == 6.0


def test_async_ask(clip: Path) -> None:
    model = ScriptedChatModel.of("async answer")
    answer = asyncio.run(aask_video(model, clip, "What happens?", frames=2, **SMALL))
    assert (answer.status, answer.answer, len(answer.timestamps)) == ("ok", "async answer", 2)


def test_answer_record_is_json_ready(clip: Path) -> None:
    import json

    answer = ask_video(ScriptedChatModel.of("ok"), clip, "What happens?", frames=2, **SMALL)
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["status"] == "ok" and data["timestamps"] == [0.0, 5.75] and len(data["frame_size"]) == 2
