"""Our VLM client against the real vLLM OpenAI server on the CPU (tiny random Qwen2.5-VL).

A random model says nothing meaningful, so these tests assert plumbing: status, usage, limits, errors,
schema validity, spreading over endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import subprocess
import sys

import pytest
from langchain_core.messages import HumanMessage
from PIL import Image, ImageDraw
from pydantic import BaseModel

from qwenvl_agents.errors import VLMConnectionError, VLMRequestError
from qwenvl_agents.vlm import VLMClient, explain_error
from qwenvl_agents.vlm.images import visual_tokens

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

SMALL = {"min_pixels": 4 * 784, "max_pixels": 64 * 784}


def page_image(width: int = 1240, height: int = 1754) -> Image.Image:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for i in range(40):
        draw.text((60, 60 + i * 40), f"Invoice line {i}: 12.50 EUR", fill="black")
    return image


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.fixture
def client(vllm_server):
    with VLMClient([vllm_server.base_url], vllm_server.model, max_retries=0, **SMALL) as c:
        yield c


def test_page_image_as_data_url_is_answered_and_counted(vllm_server, client) -> None:
    prepared = client.prepare(page_image())
    answer = client.ask("Read this page.", [page_image()], max_tokens=8)
    usage = answer.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] >= prepared.tokens  # the server saw every visual token we paid for
    assert 1 <= usage["output_tokens"] <= 8
    assert answer.response_metadata["finish_reason"] in ("stop", "length")


def test_image_sized_by_our_code_fits_max_model_len(vllm_server) -> None:
    big = page_image(2480, 3508)  # A4 at 300 dpi: about 11,000 visual tokens unsized
    raw = io.BytesIO()
    big.save(raw, "PNG")
    data_url = "data:image/png;base64," + base64.b64encode(raw.getvalue()).decode()
    with VLMClient([vllm_server.base_url], vllm_server.model, max_retries=0) as c:
        # Sent as is, the page is longer than the server's context: a clear error, not a traceback.
        message = HumanMessage(content=[{"type": "image_url", "image_url": {"url": data_url}}, "Read."])
        with pytest.raises(Exception) as raised:
            c.chat_model(max_tokens=4).invoke([message])
        error = explain_error(raised.value, c.base_urls)
        assert isinstance(error, VLMRequestError)
        assert "too long" in str(error) and "QWENVL_MAX_PIXELS" in str(error)
        # Sized by our code (default budget: at most 1280 tokens), the same page is answered.
        prepared = c.prepare(big)
        assert prepared.tokens <= 1280 and prepared.width % 28 == 0 and prepared.height % 28 == 0
        answer = c.ask("Read.", [big], max_tokens=4)
        assert answer.usage_metadata and answer.usage_metadata["input_tokens"] < vllm_server.max_model_len
        assert answer.usage_metadata["input_tokens"] >= visual_tokens(prepared.height, prepared.width)


def test_one_image_over_the_server_limit_is_a_clear_error(vllm_server, client) -> None:
    images = [page_image(300, 300)] * (vllm_server.max_images + 1)
    with pytest.raises(VLMRequestError, match="limit-mm-per-prompt") as raised:
        client.ask("Compare these.", images, max_tokens=4)
    assert "images in one prompt" in str(raised.value)
    # Told the limit, the client refuses before sending anything.
    with VLMClient(
        [vllm_server.base_url], vllm_server.model, max_images_per_prompt=vllm_server.max_images, **SMALL
    ) as limited:
        with pytest.raises(VLMRequestError, match=f"at most {vllm_server.max_images}"):
            limited.message("Compare these.", images)
        assert limited.ask("Compare.", images[:-1], max_tokens=4).usage_metadata


class Invoice(BaseModel):
    invoice_number: str
    total: float
    paid: bool


def test_structured_output_through_chat_model_is_schema_valid(client) -> None:
    llm = client.chat_model(max_tokens=200).with_structured_output(Invoice, method="json_schema")
    result = llm.invoke([client.message("Extract the invoice fields as JSON.", [page_image(600, 800)])])
    assert isinstance(result, Invoice)


def test_streaming_and_async(client) -> None:
    chunks = list(client.chat_model(max_tokens=6).stream([client.message("Say something.")]))
    assert len(chunks) >= 2
    # A client outlives event loops (scripts call asyncio.run more than once): each loop gets its own pool.
    for _ in range(3):
        answer = asyncio.run(client.aask("Read.", [page_image(400, 400)], max_tokens=4))
        assert answer.usage_metadata and answer.usage_metadata["output_tokens"] >= 1


def test_requests_spread_over_endpoints_and_skip_a_dead_one(vllm_server) -> None:
    alias = vllm_server.base_url.replace("127.0.0.1", "localhost")
    urls = [_dead_url(), vllm_server.base_url, alias]
    with VLMClient(urls, vllm_server.model, max_retries=0, **SMALL) as c:

        async def many() -> list[object]:
            return await asyncio.gather(*(c.aask(f"Question {i}", max_tokens=2) for i in range(8)))

        answers = asyncio.run(many())
        assert len(answers) == 8
        live = c.pool.endpoints[1:]
        assert all(ep.in_flight == 0 for ep in c.pool.endpoints)
        assert c.pool.endpoints[0].down_until > 0  # the dead one was tried once and rested
        assert all(ep.requests > 0 for ep in live), [ep.requests for ep in live]


def test_unreachable_server_is_explained() -> None:
    with VLMClient([_dead_url()], "m", max_retries=0) as c, pytest.raises(VLMConnectionError, match="cannot reach"):
        c.ask("hello", max_tokens=2)


def _qwenvl(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **(env_extra or {})}
    env.pop("QWENVL_VLM_BASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_vlm_check_passes_on_the_test_server(vllm_server) -> None:
    result = _qwenvl("vlm", "check", "--base-url", vllm_server.base_url, "--model", vllm_server.model, "--json")
    assert result.returncode == 0, result.stderr
    steps = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["ok"] for s in steps] == [True, True, True]
    assert "prompt tokens" in steps[-1]["detail"]


def test_cli_vlm_check_explains_what_is_wrong(vllm_server) -> None:
    wrong_model = _qwenvl("vlm", "check", "--base-url", vllm_server.base_url, "--model", "no-such-model")
    assert wrong_model.returncode == 1
    assert vllm_server.model in wrong_model.stderr and "QWENVL_VLM_MODEL" in wrong_model.stderr
    dead = _qwenvl("vlm", "check", "--base-url", _dead_url())
    assert dead.returncode == 1 and "cannot reach" in dead.stderr and "Traceback" not in dead.stderr
    unset = _qwenvl("vlm", "check")
    assert unset.returncode == 1 and "QWENVL_VLM_BASE_URL" in unset.stderr
