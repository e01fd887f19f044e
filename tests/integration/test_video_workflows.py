"""Asking about videos and video search against the real vLLM test server (and offline, with real OCR).

The tiny model has random weights: these tests check plumbing (status, token accounting, limits, errors,
JSON output, no duplicates on a rerun), never wording. Offline search is checked for content: OCR reads the
word "object" drawn from second 3 of the generated clip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from qwenvl_agents.errors import CorruptDocumentError, VLMRequestError
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import VLMClient
from qwenvl_agents.vlm.video import video_parts
from qwenvl_agents.workflows.video_qa import ask_video, ask_videos
from qwenvl_agents.workflows.video_search import VideoSearch
from tests.support.videos import make_undecodable_video, make_video

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[2]
SMALL_PIXELS = {"min_pixels": 16 * 784, "max_pixels": 96 * 784}
CLI = "import qwenvl_agents.cli.video; from qwenvl_agents.cli import app; app()"
VIDEO = ["-c", CLI, "video"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", seconds=6, fps=4.0, appears_at=3.0)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_undecodable_video(tmp_path_factory.mktemp("b") / "broken.mp4")


@pytest.fixture
def client(vllm_server: Any) -> Any:
    with VLMClient([vllm_server.base_url], vllm_server.model, max_images_per_prompt=4, **SMALL_PIXELS) as c:
        yield c


def run(args: list[str], tmp: Path, vllm: Any = None) -> subprocess.CompletedProcess[str]:
    """``python args`` in ``tmp`` with only our QWENVL_* settings (small pixel budget, a fresh data dir)."""
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWENVL_")}
    env.update(
        {
            "QWENVL_DATA_DIR": str(tmp / "data"),
            "QWENVL_MIN_PIXELS": str(16 * 784),
            "QWENVL_MAX_PIXELS": str(96 * 784),
            "QWENVL_VLM_TIMEOUT": "60",
            "QWENVL_VLM_MAX_RETRIES": "0",
            "TMPDIR": str(tmp),
        }
    )
    if vllm is not None:
        env.update(
            {
                "QWENVL_VLM_BASE_URL": vllm.base_url,
                "QWENVL_VLM_MODEL": vllm.model,
                "QWENVL_VLM_MAX_IMAGES_PER_PROMPT": "4",
            }
        )
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=tmp, timeout=600, check=False
    )


def _visual_tokens_counted(client: VLMClient, mode: str, clip: Path, frames: int) -> tuple[int, int, int]:
    """(our estimate, what the server counted for the video, images sent): the prompt with and without it."""
    parts = video_parts(clip, mode=mode, frames=frames, max_video_tokens=400, **SMALL_PIXELS)  # type: ignore[arg-type]
    model = client.chat_model(max_tokens=1)
    texts = [p for p in parts.parts if p["type"] == "text"]
    with_video = model.invoke([HumanMessage(content=parts.content("q"))]).usage_metadata
    without = model.invoke([HumanMessage(content=[*texts, {"type": "text", "text": "q"}])]).usage_metadata
    assert with_video is not None and without is not None
    media = sum(p["type"] != "text" for p in parts.parts)
    return parts.visual_tokens, with_video["input_tokens"] - without["input_tokens"], media


def test_frames_mode_answers_and_costs_what_was_budgeted(client: VLMClient, clip: Path) -> None:
    answer = ask_video(client, clip, "What happens, and when?", frames=4, max_video_tokens=400, max_tokens=8)
    assert answer.status == "ok" and answer.error is None
    assert answer.timestamps == (0.0, 1.75, 3.75, 5.75)
    assert answer.output_tokens and answer.output_tokens <= 8
    assert answer.input_tokens is not None and answer.input_tokens > answer.visual_tokens > 0
    estimate, counted, images = _visual_tokens_counted(client, "frames", clip, 4)
    assert counted == estimate + 2 * images  # each image adds <|vision_start|> and <|vision_end|>
    assert estimate <= 400


def test_native_video_is_accepted_and_keeps_every_frame(client: VLMClient, clip: Path) -> None:
    answer = ask_video(client, clip, "Describe this video.", mode="native", frames=8, max_tokens=8)
    assert answer.status == "ok" and answer.mode == "native" and len(answer.timestamps) == 8
    estimate, counted, videos = _visual_tokens_counted(client, "native", clip, 8)
    assert videos == 1
    # vLLM decoded the mp4 itself and kept all 8 frames (4 temporal grids) at the size we chose.
    assert counted == estimate + 2


def test_too_many_frames_is_refused_before_sending(client: VLMClient, clip: Path, vllm_server: Any) -> None:
    with pytest.raises(VLMRequestError, match="at most 4 images"):
        ask_video(client, clip, "What happens?", frames=5)
    # A client that does not know the limit: the server refuses, and the error says what to do.
    unaware = VLMClient([vllm_server.base_url], vllm_server.model, **SMALL_PIXELS)
    with unaware, pytest.raises(VLMRequestError, match="number of images"):
        ask_video(unaware, clip, "What happens?", frames=5, max_video_tokens=400, max_tokens=4)


def test_batch_answers_the_rest_when_one_video_is_undecodable(client: VLMClient, clip: Path, bad: Path) -> None:
    answers = ask_videos(client, [clip, bad, clip], "Describe this video.", frames=2, max_tokens=4)
    assert [a.status for a in answers] == ["ok", "error", "ok"]
    assert answers[1].error is not None and "broken.mp4" in answers[1].error
    assert "cannot be decoded" in answers[1].error


@pytest.mark.slow  # subprocesses importing the whole CLI
def test_cli_ask_json(tmp_path: Path, clip: Path, bad: Path, vllm_server: Any) -> None:
    done = run(
        [
            "-c",
            CLI,
            "video",
            "ask",
            str(clip),
            str(bad),
            "What happens?",
            "--frames",
            "3",
            "--max-tokens",
            "4",
            "--json",
        ],
        tmp_path,
        vllm_server,
    )
    assert done.returncode == 1, done.stderr  # one video failed
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(x["type"], x["status"]) for x in lines] == [("answer", "ok"), ("answer", "error")]
    assert lines[0]["timestamps"] == [0.0, 2.75, 5.75] and lines[0]["input_tokens"] > 0
    assert "broken.mp4" in lines[1]["error"]

    native = run(
        [*VIDEO, "ask", str(clip), "Describe.", "--native", "--max-tokens", "4", "--json"],
        tmp_path,
        vllm_server,
    )
    assert native.returncode == 0, native.stderr
    (line,) = [json.loads(x) for x in native.stdout.splitlines()]
    assert line["mode"] == "native" and line["status"] == "ok" and len(line["timestamps"]) == 16

    refused = run([*VIDEO, "ask", str(clip), "What?", "--frames", "9", "--json"], tmp_path, vllm_server)
    assert refused.returncode == 1
    assert "at most 4 images" in json.loads(refused.stdout.splitlines()[0])["error"]


def _settings(tmp: Path, vllm: Any = None) -> Settings:
    extra = {"vlm_base_url": vllm.base_url, "vlm_model": vllm.model} if vllm else {}
    return Settings(data_dir=tmp, _env_file=None, **SMALL_PIXELS, **extra)  # type: ignore[arg-type]


def test_search_offline_finds_the_first_appearance_and_a_rerun_adds_nothing(tmp_path: Path, clip: Path) -> None:
    search = VideoSearch(_settings(tmp_path / "data"), extractor="ocr")
    result = search.search(clip, "object", k=5)
    assert result.status == "ok" and (result.frames, result.frames_new, result.frames_skipped) == (6, 6, 0)
    assert result.rule == "words"
    first = result.first_appearance
    assert first is not None and first.timestamp == 3.0 and first.page == 4
    assert sorted(m.timestamp for m in result.moments if m.strong) == [3.0, 4.0, 5.0]
    assert all(m.image_path and Path(m.image_path).is_file() for m in result.moments)
    records = search.ingestor.index.count()

    again = VideoSearch(_settings(tmp_path / "data"), extractor="ocr").search(clip, "t=1s", k=3)
    assert (again.frames_new, again.frames_skipped) == (0, 6)
    assert again.first_appearance is not None and again.first_appearance.timestamp == 1.0
    assert search.ingestor.index.count() == records


def test_search_undecodable_video_is_an_error_naming_it(tmp_path: Path, clip: Path, bad: Path) -> None:
    search = VideoSearch(_settings(tmp_path / "data"), extractor="ocr")
    with pytest.raises(CorruptDocumentError, match=r"broken\.mp4"):
        search.search(bad, "object")
    results = search.search_many([bad, clip], "object", k=2)
    assert [r.status for r in results] == ["error", "ok"]
    assert results[1].first_appearance is not None and results[1].first_appearance.timestamp == 3.0


def test_search_with_the_vlm_describing_frames(tmp_path: Path, clip: Path, vllm_server: Any) -> None:
    settings = _settings(tmp_path / "data", vllm_server)
    with VLMClient.from_settings(settings) as vlm:
        search = VideoSearch(settings, extractor="vlm", client=vlm)
        result = search.search(clip, "red disc", k=3)
        assert result.status == "ok" and result.frames_new == 6
        assert len(result.moments) == 3
        assert {m.timestamp for m in result.moments} <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
        assert result.rule in ("words", "score") and result.first_appearance is not None
        again = search.search(clip, "red disc", k=3)
        assert (again.frames_new, again.frames_skipped) == (0, 6)
        assert search.ingestor.index.count() == len(search.ingestor.index.pages_of(result.document_id or ""))


@pytest.mark.slow  # subprocesses importing the whole CLI
def test_cli_search_json(tmp_path: Path, clip: Path, bad: Path) -> None:
    done = run([*VIDEO, "search", str(clip), "object", "--k", "2", "--extractor", "ocr", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for x in done.stdout.splitlines()]
    assert line["type"] == "video_search" and line["status"] == "ok"
    assert line["first_appearance"]["timestamp"] == 3.0 and len(line["moments"]) == 2
    failed = run([*VIDEO, "search", str(bad), "object", "--extractor", "ocr", "--json"], tmp_path)
    assert failed.returncode == 1
    assert "broken.mp4" in json.loads(failed.stdout)["error"]


@pytest.mark.slow  # subprocesses importing the whole CLI
def test_example_video_ask(tmp_path: Path, vllm_server: Any) -> None:
    done = run([str(ROOT / "examples" / "video_ask.py")], tmp_path, vllm_server)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Q: ") == 2 and done.stdout.count("  A: ") == 2
    assert "frames at 0.0, 1.8, 3.8, 5.8 s" in done.stdout


@pytest.mark.slow  # subprocesses importing the whole CLI
def test_example_video_search_offline_and_with_the_vlm(tmp_path: Path, vllm_server: Any) -> None:
    offline = run([str(ROOT / "examples" / "video_search.py")], tmp_path / "offline")
    assert offline.returncode == 0, offline.stderr
    assert "read by ocr" in offline.stdout
    assert "'object' first appears at 3.0 s" in offline.stdout
    with_vlm = run([str(ROOT / "examples" / "video_search.py")], tmp_path / "vlm", vllm_server)
    assert with_vlm.returncode == 0, with_vlm.stderr
    assert "read by auto (6 extracted now, 0 already indexed)" in with_vlm.stdout
    assert "first appears at" in with_vlm.stdout
