"""VLMExtractor against the real vLLM server on the CPU (tiny random Qwen2.5-VL).

The model's words are meaningless; these tests assert the plumbing: schema-constrained JSON that
validates, status ok, usage counted, max_tokens clamped to the server's context, bounded concurrency,
the sync path, and the auto strategy with a VLM on top.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from qwenvl_agents.extract import PROMPT_VERSION, VLMExtractor, make_extractor, response_format, validate_answer
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import VLMClient
from tests.support.fault_proxy import FaultProxy
from tests.support.pages import page, text_image

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

PIXELS = {"min_pixels": 4 * 784, "max_pixels": 64 * 784}


def settings(**kw: object) -> Settings:
    return Settings(vlm_max_retries=2, extract_attempts=3, vlm_max_concurrency=4, **PIXELS, **kw)  # type: ignore[arg-type]


@pytest.fixture
def proxy(vllm_server) -> Iterator[FaultProxy]:
    with FaultProxy(vllm_server.root_url) as p:
        yield p


@pytest.fixture
def client(vllm_server, proxy: FaultProxy) -> Iterator[VLMClient]:
    with VLMClient([proxy.base_url], vllm_server.model, timeout=30, **PIXELS) as c:
        yield c


def pages() -> list:
    return [
        page(["INVOICE 2023-001", "Widget 2 x 12.50", "Total 25.00 EUR"], number=1),
        page(["Quarterly report", "Revenue grew 12%"], number=2, text_layer="Quarterly report\nRevenue grew 12% in Q3"),
        page(number=3, size=(600, 900)),
    ]


def test_pages_are_read_with_schema_valid_json_and_usage(vllm_server, client: VLMClient, proxy: FaultProxy) -> None:
    ex = VLMExtractor(client, settings=settings())
    results = asyncio.run(ex.aextract_all(pages()))
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    for r, p in zip(results, pages(), strict=True):
        assert (r.document_id, r.page) == (p.document.document_id, p.page)
        assert r.extractor == "vlm" and r.model == vllm_server.model and r.prompt_version == PROMPT_VERSION
        assert r.attempts >= 1 and r.input_tokens > 0 and r.output_tokens > 0
        assert r.page_kind in {
            "invoice",
            "receipt",
            "slide",
            "report",
            "form",
            "letter",
            "table",
            "figure",
            "blank",
            "other",
        }
    assert ex.stats.ok == 3 and ex.stats.input_tokens == sum(r.input_tokens for r in results)
    # Every request asked for constrained JSON and fit the context: prompt + max_tokens <= max_model_len.
    assert proxy.chat_requests() == ex.stats.requests
    body = proxy.bodies[-1]
    assert body["response_format"]["type"] == "json_schema"
    assert body["max_completion_tokens"] + min(r.input_tokens for r in results) <= vllm_server.max_model_len
    # The hint (page 2's text layer) went into its prompt.
    prompts = [b["messages"][-1]["content"][-1]["text"] for b in proxy.bodies]
    assert any("Revenue grew 12% in Q3" in text for text in prompts)


def test_the_answer_on_the_wire_validates_against_our_schema(vllm_server) -> None:
    with VLMClient([vllm_server.base_url], vllm_server.model, max_retries=0, **PIXELS) as c:
        message = c.message("Parse this page as JSON.", [text_image([[(40, "Total 12.50")]], (600, 200))])
        model = c.chat_model(max_tokens=1500).bind(response_format=response_format())
        answer = model.invoke([message])
    assert answer.response_metadata["finish_reason"] == "stop"
    reading = validate_answer(str(answer.content), "stop")
    assert reading.page_kind is not None


def test_max_tokens_is_clamped_to_max_model_len(vllm_server, client: VLMClient, proxy: FaultProxy) -> None:
    ex = VLMExtractor(client, settings=settings(), max_tokens=100_000)
    result = asyncio.run(ex.aextract(page()))
    assert result.status == "ok"
    assert ex.limits is not None and ex.limits.get() == vllm_server.max_model_len  # asked GET /v1/models once
    assert proxy.counts["/v1/models"] == 1
    sent = proxy.bodies[-1]["max_completion_tokens"]
    assert sent + result.input_tokens <= vllm_server.max_model_len
    assert sent >= 128


def test_a_page_too_big_for_the_context_is_not_sent(vllm_server, proxy: FaultProxy) -> None:
    with VLMClient([proxy.base_url], vllm_server.model, min_pixels=4 * 784, max_pixels=4096 * 784) as big:
        ex = VLMExtractor(big, settings=settings())
        result = asyncio.run(ex.aextract(page(size=(2480, 3508), text_layer="The text layer stands in for the VLM")))
    assert result.status == "fallback" and result.extractor == "text"
    assert f"max_model_len {vllm_server.max_model_len}" in (result.reason or "")
    assert proxy.chat_requests() == 0


def test_concurrency_is_bounded(vllm_server, client: VLMClient, proxy: FaultProxy) -> None:
    ex = VLMExtractor(client, settings=settings(), max_concurrency=2)
    many = [page(number=i) for i in range(1, 9)]
    results = asyncio.run(ex.aextract_all(many, max_in_flight=8))
    assert [r.page for r in results] == list(range(1, 9))
    assert all(r.status == "ok" for r in results)
    assert proxy.max_in_flight <= 2 and proxy.chat_requests() >= 8


def test_sync_extract(vllm_server, client: VLMClient) -> None:
    ex = VLMExtractor(client, settings=settings())
    result = ex.extract(page())
    assert result.status == "ok" and result.input_tokens > 0


def test_auto_with_vlm_on_top(vllm_server, client: VLMClient, proxy: FaultProxy) -> None:
    auto = make_extractor(settings(), client=client, name="auto", ocr=False)
    result = asyncio.run(auto.aextract(page(text_layer="Invoice 42\nTotal 12.50 EUR\nThank you for your order")))
    assert result.status == "ok" and result.extractor == "vlm"
    assert "Thank you for your order" in proxy.bodies[-1]["messages"][-1]["content"][-1]["text"]
    assert auto.prompt_version is not None and PROMPT_VERSION in auto.prompt_version


def test_one_extractor_serves_several_event_loops(vllm_server, client: VLMClient) -> None:
    """asyncio.run per batch must keep working: connections are never reused across loops."""
    ex = VLMExtractor(client, settings=settings())
    statuses = [asyncio.run(ex.aextract(page())).status for _ in range(3)]
    assert statuses == ["ok", "ok", "ok"]
    assert ex.stats.transport.errors == {}
