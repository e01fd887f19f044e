"""VLMExtractor's attempt, retry and fallback layers, with LangChain's fake chat models."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from openai.types.chat import ChatCompletion

from qwenvl_agents.extract import VLMExtractor
from qwenvl_agents.extract.text import TextLayerExtractor
from qwenvl_agents.settings import Settings
from tests.support.fakes import ScriptedChatModel, connection_error, reply, status_error
from tests.support.pages import page

GOOD = json.dumps(
    {
        "page_kind": "invoice",
        "language": "en",
        "markdown": "# Invoice 42\nTotal 12.50 EUR",
        "tables": [],
        "invoice": {
            "document_number": "42",
            "issue_date": "2023-05-01",
            "due_date": None,
            "seller": "ACME GmbH",
            "buyer": None,
            "currency": "EUR",
            "subtotal": None,
            "tax": None,
            "total": 12.5,
            "line_items": [],
        },
        "slide": None,
        "other": None,
    }
)
SETTINGS = Settings(
    extract_attempts=3, vlm_max_retries=2, vlm_max_concurrency=4, min_pixels=4 * 784, max_pixels=64 * 784
)


def extractor(
    responses: list[AIMessage], errors: list[BaseException | None] | None = None, **kw: Any
) -> tuple[VLMExtractor, ScriptedChatModel]:
    """An extractor on a fake that gives ``responses`` round and round, after failing with ``errors``."""
    fake = ScriptedChatModel.cycle(*responses, errors=errors or ())
    return VLMExtractor(chat_model=fake, model_name="fake-qwen", settings=SETTINGS, **kw), fake


def test_bad_output_twice_then_good_is_ok_with_three_attempts_and_rising_temperature() -> None:
    ex, fake = extractor([reply('{"page_kind": "inv', "length"), reply("not json at all"), reply(GOOD)])
    result = asyncio.run(ex.aextract(page(text_layer="Invoice 42 Total 12.50 EUR, ACME GmbH, Musterstraße 1")))
    assert result.status == "ok" and result.extractor == "vlm" and result.reason is None
    assert result.attempts == 3
    assert [c["temperature"] for c in fake.calls] == pytest.approx([0.0, 0.2, 0.4])
    assert all(c["extra_body"]["response_format"]["type"] == "json_schema" for c in fake.calls)
    assert (result.input_tokens, result.output_tokens) == (300, 60)  # every attempt is paid for
    assert result.fields.total == 12.5 and result.fields.seller == "ACME GmbH"
    assert result.model == "fake-qwen" and result.prompt_version == ex.prompt_version
    assert ex.stats.bad_outputs == {"truncated": 1, "invalid_json": 1}
    # The hint (a good text layer) went into the prompt, marked as possibly wrong.
    prompt = fake.calls[0]["messages"][-1].content[-1]["text"]
    assert "Musterstraße" in prompt and "may contain mistakes" in prompt


def test_always_bad_falls_back_to_the_text_layer_with_a_reason() -> None:
    ex, fake = extractor([reply('{"page_kind": "x', "length")])
    result = asyncio.run(ex.aextract(page(text_layer="INVOICE No: 42-A\nTotal 1,007.50 EUR\nThank you for your order")))
    assert result.status == "fallback"
    assert result.extractor == "text"
    assert result.reason is not None and result.reason.startswith("vlm: truncated output after 3 attempts")
    assert result.attempts == 3 and len(fake.calls) == 3
    assert result.fields.total == 1007.5  # the fallback still carries rule-based fields
    assert ex.stats.fallback == 1 and ex.stats.ok == 0


def test_mixed_bad_outputs_are_all_named() -> None:
    ex, _ = extractor([reply("", "stop"), reply("{}", "stop"), reply("nope", "stop")])
    result = ex.extract(page(text_layer="Some text layer that is long enough to use"))
    assert result.status == "fallback"
    assert "bad (empty, schema, invalid_json) output after 3 attempts" in (result.reason or "")


def test_nothing_to_fall_back_on_is_failed_not_raised() -> None:
    ex, _ = extractor([reply("[]")])
    result = asyncio.run(ex.aextract(page()))  # no text layer, no fallback extractor
    assert result.status == "failed" and result.markdown == ""
    assert "schema" in (result.reason or "") and "no text layer or OCR" in (result.reason or "")
    assert result.extractor == "vlm" and result.attempts == 3


def test_configured_fallback_extractor_is_used() -> None:
    ex, _ = extractor([reply("oops")], fallback=TextLayerExtractor(require_good=False))
    result = asyncio.run(ex.aextract(page(text_layer="short")))
    assert result.status == "fallback" and result.markdown == "short"


def test_a_failed_request_falls_back_without_more_attempts() -> None:
    """Transport retries are the chat model's (see test_extract_transport_retry.py); a request that still
    failed is not asked again as a bad output would be."""
    errors: list[BaseException | None] = [connection_error()] * 10
    ex, fake = extractor([reply(GOOD)], errors=errors)
    result = ex.extract(page(text_layer="A good enough text layer for the fallback page"))
    assert result.status == "fallback" and result.attempts == 1
    assert len(fake.calls) == 1  # no new bad-output attempt after a transport failure
    assert result.reason is not None and result.reason.startswith("vlm: connection after 0 retries")
    assert ex.stats.transport.errors == {"connection": 1} and ex.stats.transport.gave_up == 1


def test_client_errors_are_not_retried() -> None:
    bad_request = status_error(400, "At most 4 image(s) may be provided")
    assert isinstance(bad_request, openai.BadRequestError)
    ex, fake = extractor([reply(GOOD)], errors=[bad_request])
    result = asyncio.run(ex.aextract(page()))
    assert result.status == "failed" and len(fake.calls) == 1
    assert "http_400" in (result.reason or "") and "limit-mm-per-prompt" in (result.reason or "")


def test_length_error_from_the_openai_parse_path_counts_as_truncated() -> None:
    completion = ChatCompletion.model_validate(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": '{"pa'}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57},
        }
    )
    ex, _ = extractor([reply(GOOD)], errors=[openai.LengthFinishReasonError(completion=completion)])
    result = asyncio.run(ex.aextract(page()))
    assert result.status == "ok" and result.attempts == 2
    assert ex.stats.bad_outputs == {"truncated": 1}
    assert result.input_tokens == 150 and result.output_tokens == 27


def test_many_pages_keep_their_identity_and_each_yields_once() -> None:
    ex, _ = extractor([reply(GOOD), reply("bad"), reply(GOOD), reply(GOOD), reply("bad"), reply(GOOD)] * 3)
    pages = [page(number=i) for i in range(1, 8)]

    async def run() -> list[tuple[int, int, str]]:
        return [(p.page, e.page, e.status) async for p, e in ex.aextract_many(pages, max_in_flight=3)]

    results = asyncio.run(run())
    assert sorted(r[0] for r in results) == list(range(1, 8))
    assert all(pnum == enum for pnum, enum, _ in results)
    ordered = asyncio.run(ex.aextract_all(pages))
    assert [e.page for e in ordered] == list(range(1, 8))


def test_requests_in_flight_are_bounded() -> None:
    in_flight = 0
    peak = 0

    class SlowFake(ScriptedChatModel):
        async def _agenerate(
            self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> ChatResult:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            return self._generate(messages, stop, None, **kw)

    fake = SlowFake.cycle(reply(GOOD))
    ex = VLMExtractor(chat_model=fake, settings=SETTINGS, max_concurrency=3)
    results = asyncio.run(ex.aextract_all([page(number=i) for i in range(1, 13)], max_in_flight=12))
    assert [r.status for r in results] == ["ok"] * 12
    assert peak == 3


def test_max_tokens_is_clamped_to_the_context_and_too_big_pages_are_not_sent() -> None:
    ex, fake = extractor([reply(GOOD)], max_model_len=2048, max_tokens=100_000)
    result = asyncio.run(ex.aextract(page()))
    assert result.status == "ok"
    sent = fake.calls[0]["max_tokens"]
    assert 128 <= sent < 2048

    big = Settings(min_pixels=4 * 784, max_pixels=4000 * 784)
    ex2 = VLMExtractor(chat_model=fake, settings=big, max_model_len=2048)
    calls_before = len(fake.calls)
    result = asyncio.run(ex2.aextract(page(size=(2400, 3300), text_layer="A text layer standing in for the VLM")))
    assert result.status == "fallback" and "max_model_len 2048" in (result.reason or "")
    assert len(fake.calls) == calls_before


def test_a_crash_while_preparing_is_a_failed_page() -> None:
    ex, _ = extractor([reply(GOOD)])
    broken = page()
    object.__setattr__(broken, "image", None)
    result = asyncio.run(ex.aextract(broken))
    assert result.status == "failed" and (result.reason or "").startswith("vlm: ")
