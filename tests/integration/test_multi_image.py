"""Several images in one prompt, image URLs and visual inspection against the real vLLM test server.

The tiny model's weights are random: these tests assert plumbing (exit status, usage, limits, schema-valid
answers, errors naming their input), never wording. Image URLs come from a real local HTTP server.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
from PIL import Image, ImageDraw
from pydantic import BaseModel, Field

from qwenvl_agents.vlm import VLMClient
from qwenvl_agents.workflows.inspection import VisualInspector

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[2]
PIXELS = {"min_pixels": 16 * 784, "max_pixels": 96 * 784}


def scene(color: str, size: tuple[int, int] = (320, 240)) -> bytes:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, size[0] - 40, size[1] - 40), fill=color)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


class _Images(BaseHTTPRequestHandler):
    release: threading.Event
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path == "/slow.png":
            self.release.wait(60)  # never answers within the client's timeout
            return
        body = scene("navy")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # a stand-in "VLM server" that only records whether anything was sent
        self.requests.append(self.path)
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def http() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server: ``/photo.png`` answers an image, ``/slow.png`` never answers; requests recorded."""
    release, requests = threading.Event(), []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Images,), {"release": release, "requests": requests}))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    paths = []
    for i, color in enumerate(["red", "green", "blue", "orange", "purple"]):
        path = tmp_path / f"img{i}.png"
        path.write_bytes(scene(color))
        paths.append(path)
    return paths


def qwenvl(args: list[str], tmp: Path, vllm: Any, **env: str) -> subprocess.CompletedProcess[str]:
    """``qwenvl args`` as a user runs it, with only our QWENVL_* settings (run in ``tmp``: no stray .env)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QWENVL_")}
    environ.update(
        {
            "QWENVL_VLM_BASE_URL": vllm.base_url,
            "QWENVL_VLM_MODEL": vllm.model,
            "QWENVL_MIN_PIXELS": str(PIXELS["min_pixels"]),
            "QWENVL_MAX_PIXELS": str(PIXELS["max_pixels"]),
            "QWENVL_VLM_TIMEOUT": "60",
            "QWENVL_IMAGE_FETCH_TIMEOUT": "2",
        }
    )
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp,
        timeout=300,
    )


def last_json(out: str) -> dict[str, Any]:
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines, "no output"
    return lines[-1]


def test_cli_two_images_cost_more_input_tokens_than_one(vllm_server, images, tmp_path) -> None:
    common = ["vlm", "ask", "--json", "--max-tokens", "8"]
    one = qwenvl([*common, "-i", str(images[0]), "Describe the picture."], tmp_path, vllm_server)
    assert one.returncode == 0, one.stderr
    two = qwenvl(
        [*common, "--image", str(images[0]), "--image", str(images[1]), "What changed between these pictures?"],
        tmp_path,
        vllm_server,
    )
    assert two.returncode == 0, two.stderr
    first, second = last_json(one.stdout), last_json(two.stdout)
    assert second["type"] == "answer" and second["model"] == vllm_server.model
    assert [i["source"] for i in second["images"]] == [str(images[0]), str(images[1])]
    assert all(i["visual_tokens"] > 0 and i["width"] % 28 == 0 for i in second["images"])
    # The second image's visual tokens are in the prompt (the prompt texts differ by a few tokens).
    added = second["usage"]["input_tokens"] - first["usage"]["input_tokens"]
    assert added >= second["images"][1]["visual_tokens"]
    assert 0 < second["usage"]["output_tokens"] <= 8


def test_cli_stream_prints_tokens_then_the_answer(vllm_server, images, tmp_path) -> None:
    result = qwenvl(
        ["vlm", "ask", "--stream", "--json", "--max-tokens", "6", "-i", str(images[0]), "Describe it."],
        tmp_path,
        vllm_server,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    tokens = [line["text"] for line in lines if line["type"] == "token"]
    assert tokens and lines[-1]["type"] == "answer"
    assert "".join(tokens) == lines[-1]["answer"]
    assert lines[-1]["usage"]["output_tokens"] == 6 and lines[-1]["usage"]["input_tokens"] > 0
    plain = qwenvl(["vlm", "ask", "--stream", "--max-tokens", "6", "Say hi."], tmp_path, vllm_server)
    assert plain.returncode == 0 and plain.stdout.strip() and "input" in plain.stderr


def test_cli_too_many_images_with_the_limit_set_sends_nothing(vllm_server, images, tmp_path, http) -> None:
    base, requests = http
    before = len(requests)
    args = ["vlm", "ask", *[a for p in images for a in ("-i", str(p))], "Compare."]
    # The "server" is the recording HTTP server: nothing may reach it.
    result = qwenvl(args, tmp_path, vllm_server, QWENVL_VLM_MAX_IMAGES_PER_PROMPT="4", QWENVL_VLM_BASE_URL=f"{base}/v1")
    assert result.returncode == 1
    assert "5 images in one prompt, but the server accepts at most 4" in result.stderr
    assert "QWENVL_VLM_MAX_IMAGES_PER_PROMPT" in result.stderr and "--limit-mm-per-prompt" in result.stderr
    assert len(requests) == before
    as_json = qwenvl([*args, "--json"], tmp_path, vllm_server, QWENVL_VLM_MAX_IMAGES_PER_PROMPT="4")
    assert as_json.returncode == 1 and last_json(as_json.stdout)["type"] == "error"


def test_cli_too_many_images_without_the_setting_explains_the_servers_400(vllm_server, images, tmp_path) -> None:
    result = qwenvl(["vlm", "ask", *[a for p in images for a in ("-i", str(p))], "Compare."], tmp_path, vllm_server)
    assert result.returncode == 1
    assert "the server refused the number of images in one prompt" in result.stderr
    assert f"At most {vllm_server.max_images} image" in result.stderr  # the server's own words
    assert "--limit-mm-per-prompt" in result.stderr


def test_cli_bad_inputs_exit_1_with_a_clear_message(vllm_server, images, tmp_path, http) -> None:
    base, _ = http
    missing = qwenvl(["vlm", "ask", "-i", str(tmp_path / "nope.png"), "-i", str(images[0]), "x"], tmp_path, vllm_server)
    assert missing.returncode == 1 and f"{tmp_path / 'nope.png'}: no such file" in missing.stderr
    dead = qwenvl(["vlm", "ask", "hi"], tmp_path, vllm_server, QWENVL_VLM_BASE_URL="http://127.0.0.1:9/v1")
    assert dead.returncode == 1 and "cannot reach http://127.0.0.1:9/v1" in dead.stderr
    assert "qwenvl serve" in dead.stderr
    start = time.monotonic()
    slow = qwenvl(["vlm", "ask", "--json", "-i", f"{base}/slow.png", "x"], tmp_path, vllm_server)
    assert slow.returncode == 1
    error = last_json(slow.stdout)["error"]
    assert error.startswith(f"{base}/slow.png: did not answer within ") and "QWENVL_IMAGE_FETCH_TIMEOUT" in error
    assert time.monotonic() - start < 30


def test_python_api_mixes_files_urls_and_bytes(vllm_server, images, http) -> None:
    base, _ = http
    with VLMClient([vllm_server.base_url], vllm_server.model, max_retries=0, **PIXELS) as client:
        inputs: list[Any] = [images[0], f"{base}/photo.png", images[1].read_bytes()]
        answer = client.ask("What changed between these pictures?", inputs, max_tokens=4)
        assert answer.usage_metadata is not None
        visual = sum(client.prepare(i).tokens for i in inputs)
        assert answer.usage_metadata["input_tokens"] > visual
        again = asyncio.run(client.aask("Compare.", inputs[:2], max_tokens=4))
        assert again.usage_metadata is not None and again.usage_metadata["input_tokens"] > 0
        # Many prompts at once through LangChain's batch: a failed one is an exception in its slot.
        prompts = [[client.message("Describe.", [p])] for p in images[:3]]
        prompts.append([client.message("Compare.", images)])  # one image over the server's limit
        results = client.chat_model(max_tokens=4, max_retries=0).batch(prompts, return_exceptions=True)
        assert [isinstance(r, Exception) for r in results] == [False, False, False, True]


class HardHats(str, Enum):
    all = "all"
    some = "some"
    none = "none"
    no_people = "no people"


class SiteCheck(BaseModel):
    fire: Literal["yes", "no", "unsure"] = Field(description="Is there fire or are there flames?")
    hard_hats: HardHats = Field(description="Do the people wear hard hats?")
    details: str = Field(description="What matters for safety, in one short sentence.", max_length=200)


def test_inspection_batch_answers_good_images_and_names_the_bad(vllm_server, images, tmp_path, http) -> None:
    base, _ = http
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(images[0].read_bytes()[:60])
    inputs: list[Any] = [images[0], f"{base}/slow.png", corrupt, f"{base}/photo.png"]
    with VLMClient(
        [vllm_server.base_url], vllm_server.model, max_retries=0, image_fetch_timeout=3.0, **PIXELS
    ) as client:
        inspector = VisualInspector.from_client(client, SiteCheck, max_tokens=200)
        start = time.monotonic()
        results = inspector.batch(inputs)
        elapsed = time.monotonic() - start
        async_results = asyncio.run(inspector.abatch(inputs))
    assert [r.status for r in results] == ["ok", "error", "error", "ok"], [r.error for r in results]
    assert [r.status for r in async_results] == ["ok", "error", "error", "ok"], [r.error for r in async_results]
    for result in (results[0], results[3]):
        assert isinstance(result.answer, SiteCheck)
        assert SiteCheck.model_validate_json(result.raw or "") == result.answer
        assert result.input_tokens > result.visual_tokens > 0
    assert results[1].error == (
        f"{base}/slow.png: did not answer within 3 s; check the server or raise QWENVL_IMAGE_FETCH_TIMEOUT"
    )
    assert results[2].error is not None and results[2].error.startswith(f"{corrupt}: ")
    assert results[1].attempts == results[2].attempts == 0  # nothing was sent for them
    assert elapsed < 60


def run_example(name: str, args: list[str], tmp: Path, vllm: Any, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QWENVL_")}
    environ.update(
        {
            "QWENVL_VLM_BASE_URL": vllm.base_url,
            "QWENVL_VLM_MODEL": vllm.model,
            "QWENVL_MIN_PIXELS": str(PIXELS["min_pixels"]),
            "QWENVL_MAX_PIXELS": str(PIXELS["max_pixels"]),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp,
        timeout=300,
    )


def test_compare_images_example(vllm_server, images, tmp_path) -> None:
    result = run_example("compare_images.py", ["--max-tokens", "8"], tmp_path, vllm_server)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["image 1", "image 2"]
    assert all("visual tokens" in line for line in lines[:2])
    assert lines[-1].endswith("output tokens") and "input tokens" in lines[-1]
    over = run_example(
        "compare_images.py", [str(p) for p in images], tmp_path, vllm_server, QWENVL_VLM_MAX_IMAGES_PER_PROMPT="4"
    )
    assert over.returncode == 1 and "at most 4" in over.stderr and "image 1" not in over.stdout


def test_safety_inspection_example(vllm_server, images, tmp_path) -> None:
    result = run_example("safety_inspection.py", [], tmp_path, vllm_server)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    keys = {"fire", "smoke", "hard_hats", "blocked_exit", "details"}
    assert all(set(r["answer"]) == keys for r in records)
    # A folder and a missing file: one line per image, the error named, exit status 1.
    mixed = run_example("safety_inspection.py", [str(images[0].parent), "gone.png"], tmp_path, vllm_server)
    assert mixed.returncode == 1
    records = [json.loads(line) for line in mixed.stdout.splitlines()]
    assert len(records) == len(images) + 1
    assert [r["image"] for r in records if r["status"] == "error"] == ["gone.png"]


def test_cli_inspect_with_a_json_schema_file(vllm_server, images, tmp_path) -> None:
    schema = tmp_path / "questions.json"
    schema.write_text(
        json.dumps(
            {
                "title": "Check",
                "type": "object",
                "required": ["fire", "details"],
                "properties": {
                    "fire": {"enum": ["yes", "no", "unsure"], "description": "Is there fire?"},
                    "details": {"type": "string", "maxLength": 80, "description": "One short sentence."},
                },
            }
        )
    )
    args = ["vlm", "inspect", "--json", "--schema", str(schema), "--max-tokens", "120", str(images[0]), "gone.png"]
    result = qwenvl(args, tmp_path, vllm_server)
    assert result.returncode == 1  # one image failed
    records = {r["image"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["gone.png"]["status"] == "error" and "no such file" in records["gone.png"]["error"]
    answer = records[str(images[0])]
    assert answer["status"] == "ok" and answer["answer"]["fire"] in ("yes", "no", "unsure")
    assert len(answer["answer"]["details"]) <= 80
    bad = qwenvl(["vlm", "inspect", "--schema", "nowhere:Thing", str(images[0])], tmp_path, vllm_server)
    assert bad.returncode == 2 and "cannot import nowhere" in bad.stderr
