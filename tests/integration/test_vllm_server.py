"""Plumbing tests against the real vLLM CPU server serving the tiny random Qwen2.5-VL.

Why: these prove that what the library sends (image data URLs, json_schema response formats, strict tool
calls, streaming) is accepted by the real server and that the limits it relies on hold. The model is
random, so the tests check status codes, usage, schema validity and shapes, never wording.
"""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any, Literal

import httpx
import pytest
from langchain_openai import ChatOpenAI
from openai import OpenAI
from PIL import Image, ImageDraw
from pydantic import BaseModel

from tests.vllm_server import ServerHandle

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

TIMEOUT = 60.0


class PageSummary(BaseModel):
    """Schema used for structured output: strings, numbers, enums, arrays and a nested object."""

    title: str
    page_count: int
    language: Literal["en", "zh"]
    tags: list[str]
    has_table: bool


class WeatherArgs(BaseModel):
    """Arguments of the ``get_weather`` tool."""

    city: str
    unit: Literal["celsius", "fahrenheit"]


def png_data_url(width: int = 112, height: int = 112, color: tuple[int, int, int] = (200, 40, 40)) -> str:
    """A small synthetic page image as a ``data:`` URL (what the library sends for rendered pages)."""
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle((width // 8, height // 8, width // 2, height // 2), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def chat(server: ServerHandle, messages: list[dict[str, Any]], **params: Any) -> httpx.Response:
    """POST /v1/chat/completions with plain httpx (no client library between us and the server)."""
    body = {"model": server.model, "messages": messages, "max_tokens": 8, **params}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def client(vllm_server: ServerHandle) -> OpenAI:
    return OpenAI(base_url=vllm_server.base_url, api_key="EMPTY", timeout=TIMEOUT, max_retries=0)


def test_models_lists_served_model(vllm_server: ServerHandle) -> None:
    response = httpx.get(f"{vllm_server.base_url}/models", timeout=TIMEOUT)
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["data"]}
    assert vllm_server.model in models
    assert models[vllm_server.model]["max_model_len"] == vllm_server.max_model_len


def test_chat_with_image_counts_image_tokens(vllm_server: ServerHandle) -> None:
    text = {"type": "text", "text": "What is on this page?"}
    with_image = chat(vllm_server, [{"role": "user", "content": [image_part(png_data_url(112, 112)), text]}])
    text_only = chat(vllm_server, [{"role": "user", "content": [text]}])
    assert with_image.status_code == 200, with_image.text
    assert text_only.status_code == 200, text_only.text
    body = with_image.json()
    assert body["choices"][0]["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # 112x112 px = 8x8 patches of 14 px, merged 2x2 -> 16 image tokens, plus vision start/end markers.
    assert usage["prompt_tokens"] - text_only.json()["usage"]["prompt_tokens"] == 16 + 2


def test_client_sized_image_fits_but_huge_image_exceeds_context(vllm_server: ServerHandle) -> None:
    text = {"type": "text", "text": "Read the page."}
    huge = chat(vllm_server, [{"role": "user", "content": [image_part(png_data_url(2000, 2000)), text]}])
    assert huge.status_code == 400, huge.text  # ~5000 image tokens > max_model_len
    sized = chat(vllm_server, [{"role": "user", "content": [image_part(png_data_url(448, 448)), text]}])
    assert sized.status_code == 200, sized.text
    assert sized.json()["usage"]["prompt_tokens"] < vllm_server.max_model_len


def test_json_schema_response_is_valid_and_quick(vllm_server: ServerHandle) -> None:
    schema = PageSummary.model_json_schema()
    response_format = {"type": "json_schema", "json_schema": {"name": "page", "schema": schema, "strict": True}}
    messages = [{"role": "user", "content": [image_part(png_data_url()), {"type": "text", "text": "Summarise."}]}]
    started = time.monotonic()
    response = chat(vllm_server, messages, max_tokens=200, response_format=response_format)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "stop", choice
    PageSummary.model_validate_json(choice["message"]["content"])
    assert elapsed < 20, f"constrained JSON took {elapsed:.1f} s"


def test_langchain_with_structured_output(vllm_server: ServerHandle) -> None:
    llm = ChatOpenAI(
        base_url=vllm_server.base_url, api_key="EMPTY", model=vllm_server.model, max_tokens=200, timeout=TIMEOUT
    )
    result = llm.with_structured_output(PageSummary, method="json_schema").invoke("Summarise the page.")
    assert isinstance(result, PageSummary)


def test_one_image_over_the_limit_is_rejected(vllm_server: ServerHandle) -> None:
    url = png_data_url(56, 56)
    content = [image_part(url)] * (vllm_server.max_images + 1) + [{"type": "text", "text": "Compare."}]
    response = chat(vllm_server, [{"role": "user", "content": content}])
    assert response.status_code == 400, response.text
    at_limit = chat(vllm_server, [{"role": "user", "content": content[:-2] + content[-1:]}])
    assert at_limit.status_code == 200, at_limit.text


def test_streaming_yields_chunks(vllm_server: ServerHandle, client: OpenAI) -> None:
    messages: Any = [{"role": "user", "content": [image_part(png_data_url()), {"type": "text", "text": "Hi"}]}]
    stream = client.chat.completions.create(
        model=vllm_server.model,
        messages=messages,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(deltas) >= 2
    assert finishes == ["length"]
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 6


def test_greedy_output_is_deterministic(vllm_server: ServerHandle, client: OpenAI) -> None:
    messages: Any = [{"role": "user", "content": [image_part(png_data_url()), {"type": "text", "text": "Read."}]}]
    outputs = [
        client.chat.completions.create(model=vllm_server.model, messages=messages, max_tokens=16, temperature=0)
        .choices[0]
        .message.content
        for _ in range(2)
    ]
    assert outputs[0] and outputs[0] == outputs[1]


def test_strict_tool_call_follows_schema(vllm_server: ServerHandle, client: OpenAI) -> None:
    tool: Any = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "strict": True,
            "parameters": {**WeatherArgs.model_json_schema(), "additionalProperties": False},
        },
    }
    response = client.chat.completions.create(
        model=vllm_server.model,
        messages=[{"role": "user", "content": "What is the weather in Berlin?"}],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=100,
    )
    calls = response.choices[0].message.tool_calls
    assert calls and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    WeatherArgs.model_validate(json.loads(call.function.arguments))
