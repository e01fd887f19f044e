"""The local backends (transformers, vLLM offline) with the tiny checkpoint, in the test server's venv.

The project venv has no torchvision (transformers' Qwen2-VL video processor needs it) and no vLLM, so the
probes in ``tests/local_backends/`` and the two examples run with the server venv's python (the package
on PYTHONPATH, the libraries it needs there part of that venv's lock) and print JSON that these tests check.
The model is random: plumbing is asserted (status, usage, finish reason, batching, limits, schema validity,
errors), never wording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
from PIL import Image
from pydantic import BaseModel, Field

from tests.local_backends.runner import HERE, Run, run_script
from tests.support.pages import text_image
from tests.support.videos import make_video
from tests.vllm_server import ensure_installed, paths

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.slow]

ROOT = paths.repo_root()


class Inspection(BaseModel):  # the schema the vLLM probe asks for
    present: Literal["yes", "no"]
    confidence: int = Field(ge=1, le=10)
    description: str


@pytest.fixture(scope="module")
def model_dir() -> Path:
    ensure_installed()
    return paths.model_dir()


def _report(name: str, run: Run) -> None:
    print(f"\n{name}: {run.seconds:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB (process tree)")


@pytest.fixture(scope="module")
def transformers_probe(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = run_script(HERE / "probe_transformers.py", str(model_dir), str(tmp_path_factory.mktemp("tf")))
    _report("transformers probe", run)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.json()


@pytest.fixture(scope="module")
def vllm_probe(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = run_script(HERE / "probe_vllm.py", str(model_dir), str(tmp_path_factory.mktemp("vllm")))
    _report("vLLM offline probe", run)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.json()


def _consistent(answer: dict[str, Any], max_tokens: int) -> None:
    """Usage and finish reason agree: a full budget means 'length', a shorter answer 'stop'."""
    assert 0 < answer["output_tokens"] <= max_tokens
    assert answer["finish_reason"] == ("length" if answer["output_tokens"] == max_tokens else "stop")
    assert answer["text_type"] == "str"


def test_transformers_backend_images_video_usage(transformers_probe: dict[str, Any]) -> None:
    p = transformers_probe
    assert p["resolved"] == {"attn_implementation": "sdpa", "dtype": "float32", "device_map": "auto", "device": "cpu"}
    for key in ("text", "one_image", "two_images", "video"):
        _consistent(p[key], 12)
    # Each image costs 16..96 visual tokens (min/max pixels 16*784..96*784); a video several frames' worth.
    assert p["text"]["input_tokens"] + 16 <= p["one_image"]["input_tokens"] <= p["text"]["input_tokens"] + 110
    assert p["two_images"]["input_tokens"] >= p["one_image"]["input_tokens"] + 16
    assert p["video"]["input_tokens"] >= p["text"]["input_tokens"] + 32
    assert p["deterministic"] is True
    assert p["stop"]["finish_reason"] == "stop" and not p["stop"]["contains_stop"]
    assert p["stop"]["output_tokens"] < 40
    assert (p["max_tokens_5"]["output_tokens"], p["max_tokens_5"]["finish_reason"]) == (5, "length")
    assert p["json_schema_unconstrained"]["output_tokens"] == 8  # accepted, not enforced (documented)
    assert "NotImplementedError" in p["bind_tools_error"] and "OpenAI server backend" in p["bind_tools_error"]
    assert "2 images in one prompt" in p["too_many_images_error"] and "at most 1" in p["too_many_images_error"]
    assert p["bad_video_error"].startswith("CorruptDocumentError")
    assert "broken.mp4" in p["bad_video_error"] and "cannot be decoded" in p["bad_video_error"]


def test_vllm_batch_is_one_engine_call_and_bad_prompts_fail_alone(vllm_probe: dict[str, Any]) -> None:
    batch = vllm_probe["batch"]
    assert [b["status"] for b in batch] == ["ok", "ok", "ok", "error", "ok", "error"]
    # The four good conversations went to vLLM together; the two bad ones never reached it.
    assert vllm_probe["batch_engine_calls"] == [4]
    text, one, two, _, video, _ = batch
    assert text["input_tokens"] + 16 <= one["input_tokens"] and one["input_tokens"] + 16 <= two["input_tokens"]
    assert video["input_tokens"] >= text["input_tokens"] + 32
    for answer in (text, one, two, video):
        assert answer["output_tokens"] <= 16 and answer["finish_reason"] in ("stop", "length")
    assert "5 images in one prompt" in batch[3]["error"] and "at most 4" in batch[3]["error"]
    assert batch[5]["error"].startswith("CorruptDocumentError") and "broken.mp4" in batch[5]["error"]


def test_vllm_structured_output_validates(vllm_probe: dict[str, Any]) -> None:
    assert len(vllm_probe["structured"]) == 2
    for item in vllm_probe["structured"]:
        Inspection.model_validate(item)
    assert vllm_probe["structured_raw"]["status"] == "ok" and vllm_probe["structured_raw"]["valid"] is True
    assert vllm_probe["structured_raw"]["finish_reason"] == "stop"
    assert vllm_probe["structured_engine_calls"][0] == 2  # structured batch: one call for both


def test_vllm_concurrent_calls_are_micro_batched(vllm_probe: dict[str, Any]) -> None:
    assert [c["status"] for c in vllm_probe["concurrent"]] == ["ok"] * 5
    calls = vllm_probe["concurrent_engine_calls"]
    assert sum(calls) == 5 and max(calls) > 1


def test_extractor_reads_pages_concurrently_through_vllm(vllm_probe: dict[str, Any]) -> None:
    extractions = vllm_probe["extractions"]
    assert [e["page"] for e in extractions] == [1, 2, 3]
    for e in extractions:
        assert e["status"] in ("ok", "fallback", "failed")
        assert e["input_tokens"] > 0  # the model was asked for every page
        if e["status"] != "ok":
            assert e["reason"]
    assert max(vllm_probe["extract_engine_calls"]) > 1  # pages in flight together went in one engine call


def test_example_local_transformers(model_dir: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    text_image([[(20, "Invoice 7")]], (400, 300)).save(a)
    Image.new("RGB", (300, 400), "green").save(b)
    video = make_video(tmp_path / "clip.mp4", seconds=2, fps=4.0)
    run = run_script(
        ROOT / "examples" / "local_transformers.py",
        *("--model", str(model_dir), "--image", str(a), "--image", str(b), "--video", str(video)),
        *("--min-pixels", str(16 * 784), "--max-pixels", str(64 * 784), "--max-tokens", "8", "--json"),
        *("--video-frames", "4"),
        timeout=600,
    )
    _report("examples/local_transformers.py", run)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.json_lines()
    assert [line["task"] for line in lines] == ["one_image", "two_images", "video"]
    for line in lines:
        assert line["status"] == "ok" and isinstance(line["answer"], str)
        assert line["output_tokens"] <= 8 and line["finish_reason"] in ("stop", "length")
    assert lines[1]["input_tokens"] > lines[0]["input_tokens"]


def test_example_offline_batch(model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for n in range(3):
        text_image([[(20, f"Receipt {n}")], [(20, f"Total {n}.50")]], (400, 300)).save(folder / f"page-{n}.png")
    make_video(folder / "clip.mp4", seconds=2, fps=4.0)  # two frames at 1 fps: two more pages
    engine = '{"enforce_eager": true, "skip_mm_profiling": true, "gpu_memory_utilization": null}'
    run = run_script(
        ROOT / "examples" / "offline_batch.py",
        *(str(folder), "--model", str(model_dir), "--structured", "--batch-size", "8", "--max-tokens", "200"),
        *("--min-pixels", str(16 * 784), "--max-pixels", str(64 * 784), "--max-model-len", "4096"),
        *("--engine-args", engine),
        timeout=900,
    )
    _report("examples/offline_batch.py", run)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.json_lines()
    assert sorted((Path(r["source"]).name, r["page"]) for r in lines) == [
        ("clip.mp4", 1),
        ("clip.mp4", 2),
        ("page-0.png", 1),
        ("page-1.png", 1),
        ("page-2.png", 1),
    ]
    for record in lines:
        assert record["status"] == "ok", record
        assert set(record["answer"]) == {"title", "kind", "language"}
    assert "5 prompts in 1 LLM.chat calls" in run.stderr


def test_ask_with_the_rag_graph_runs_on_the_transformers_backend(model_dir: Path, tmp_path: Path) -> None:
    run = run_script(HERE / "probe_rag.py", str(model_dir), str(tmp_path))
    _report("rag on transformers probe", run)
    out = run.json()
    assert out["ingest"]["returncode"] == 0, out["ingest"]["stderr"]
    assert out["ingest"]["summary"]["pages_new"] == 1
    rag = out["rag"]
    assert rag["returncode"] == 0, rag["stderr"]
    answer = rag["answer"]
    # The in-process model was shown the page and answered (random words); the page it saw is the citation.
    assert answer["type"] == "answer" and answer["input_tokens"] > 16 and answer["output_tokens"] > 0
    assert [(p["document"], p["page"]) for p in answer["pages_looked_at"]] == [("invoice.pdf", 1)]
    assert answer["found"] is True and answer["citations"] == answer["pages_looked_at"]
    # The agent graph needs tool calls, which an in-process backend does not make: a clear refusal.
    agent = out["agent"]
    assert agent["returncode"] == 2 and "--graph rag" in agent["stderr"] and "cannot call tools" in agent["stderr"]
