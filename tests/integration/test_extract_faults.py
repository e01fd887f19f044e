"""Faults between VLMExtractor and the real vLLM server, injected by a real HTTP proxy.

Every page comes back exactly once: read, retried and read, fallen back (with a reason), or failed
(with a reason). Counts on both sides (proxy and extractor) show the retries happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from qwenvl_agents.extract import VLMExtractor
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import VLMClient
from tests.support.fault_proxy import FaultProxy
from tests.support.pages import page

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

PIXELS = {"min_pixels": 4 * 784, "max_pixels": 64 * 784}
SETTINGS = Settings(extract_attempts=3, vlm_max_retries=2, vlm_max_concurrency=4, **PIXELS)  # type: ignore[arg-type]
TEXT = "Invoice 42\nTotal 1,007.50 EUR\nThank you for your order"


@pytest.fixture
def proxy(vllm_server) -> Iterator[FaultProxy]:
    with FaultProxy(vllm_server.root_url) as p:
        yield p


def extractor(vllm_server, proxy: FaultProxy, timeout: float = 30.0) -> VLMExtractor:
    client = VLMClient([proxy.base_url], vllm_server.model, timeout=timeout, max_retries=2, **PIXELS)
    # max_model_len given: the proxy's counts then hold only chat requests.
    return VLMExtractor(client, settings=SETTINGS, max_model_len=vllm_server.max_model_len)


def test_http_500_twice_is_retried_and_the_page_is_read(vllm_server, proxy: FaultProxy) -> None:
    ex = extractor(vllm_server, proxy)
    proxy.set_mode("http_500", times=2)
    result = asyncio.run(ex.aextract(page()))
    assert result.status == "ok" and result.attempts == 1
    assert proxy.faults["http_500"] == 2 and proxy.chat_requests() == 3
    assert ex.stats.transport.retries == 2 and ex.stats.transport.errors == {"http_500": 2}


def test_503_with_retry_after_is_honoured(vllm_server, proxy: FaultProxy) -> None:
    ex = extractor(vllm_server, proxy)
    proxy.set_mode("http_500", times=1, status=503, retry_after="0.3")
    started = time.monotonic()
    result = asyncio.run(ex.aextract(page()))
    assert result.status == "ok" and time.monotonic() - started >= 0.3
    assert 0.3 <= ex.stats.transport.waited < 1.0  # the server's Retry-After, not the SDK's backoff
    assert ex.stats.transport.retries == 1 and proxy.chat_requests() == 2


def test_persistent_500_falls_back_or_fails_with_a_reason(vllm_server, proxy: FaultProxy) -> None:
    ex = extractor(vllm_server, proxy)
    proxy.set_mode("http_500")
    with_text = page(number=1, text_layer=TEXT)
    scan = page(number=2)
    results = asyncio.run(ex.aextract_all([with_text, scan]))
    assert [r.page for r in results] == [1, 2]
    assert results[0].status == "fallback" and results[0].extractor == "text"
    assert results[0].fields.total == 1007.5
    assert (results[0].reason or "").startswith("vlm: http_500 after 2 retries")
    assert results[1].status == "failed" and "http_500" in (results[1].reason or "")
    assert proxy.chat_requests() == 6  # (1 + 2 retries) per page, no bad-output attempts on top


def test_refused_connections_fall_back(vllm_server, proxy: FaultProxy) -> None:
    ex = extractor(vllm_server, proxy)
    proxy.set_mode("refuse")
    result = asyncio.run(ex.aextract(page(text_layer=TEXT)))
    assert result.status == "fallback" and (result.reason or "").startswith("vlm: connection after 2 retries")
    assert ex.stats.transport.retries == 2 and ex.stats.transport.errors == {"connection": 3}
    proxy.set_mode("pass")  # listening again on the same port: the next page is read
    assert asyncio.run(ex.aextract(page())).status == "ok"


def test_slow_server_times_out_once_and_falls_back(vllm_server, proxy: FaultProxy) -> None:
    """A request that timed out while the server was generating is not sent again (it may still run)."""
    ex = extractor(vllm_server, proxy, timeout=0.5)
    proxy.set_mode("slow", delay=3.0)
    started = time.monotonic()
    result = ex.extract(page(text_layer=TEXT))
    elapsed = time.monotonic() - started
    assert result.status == "fallback" and (result.reason or "").startswith("vlm: timeout: ")
    assert "timed out after 0.5 s" in (result.reason or "") and "not retried" in (result.reason or "")
    assert proxy.chat_requests() == 1 and result.attempts == 1
    assert ex.stats.transport.errors == {"timeout": 1} and ex.stats.transport.retries == 0
    assert elapsed < 3.0  # one 0.5 s timeout, not the server's 3 s


def test_truncated_answers_use_every_attempt_then_fall_back(vllm_server, proxy: FaultProxy) -> None:
    ex = extractor(vllm_server, proxy)
    proxy.set_mode("truncate_json")
    result = asyncio.run(ex.aextract(page(text_layer=TEXT)))
    assert result.status == "fallback" and result.attempts == 3
    assert (result.reason or "").startswith("vlm: truncated output after 3 attempts")
    assert [b["temperature"] for b in proxy.bodies] == pytest.approx([0.0, 0.2, 0.4])
    assert result.input_tokens > 0  # the VLM tokens spent are still accounted
    assert ex.stats.bad_outputs == {"truncated": 3}


def test_invalid_json_once_is_retried_and_read(vllm_server, proxy: FaultProxy) -> None:
    ex = extractor(vllm_server, proxy)
    proxy.set_mode("invalid_json", times=1)
    result = asyncio.run(ex.aextract(page()))
    assert result.status == "ok" and result.attempts == 2
    assert ex.stats.bad_outputs == {"invalid_json": 1} and proxy.chat_requests() == 2


def test_a_batch_under_mixed_faults_loses_no_page(vllm_server, proxy: FaultProxy) -> None:
    ex = extractor(vllm_server, proxy)
    pages = [page(number=i, text_layer=TEXT if i % 2 else None) for i in range(1, 11)]
    proxy.set_mode("http_500", times=3)

    async def run() -> list:
        out = []
        async for p, e in ex.aextract_many(pages, max_in_flight=4):
            out.append((p, e))
            if len(out) == 3:
                proxy.set_mode("invalid_json", times=4)
        return out

    results = asyncio.run(run())
    assert sorted(e.page for _, e in results) == list(range(1, 11))
    assert all(p.page == e.page for p, e in results)
    assert {e.status for _, e in results} <= {"ok", "fallback", "failed"}
    assert ex.stats.pages == 10 and ex.stats.ok + ex.stats.fallback + ex.stats.failed == 10
