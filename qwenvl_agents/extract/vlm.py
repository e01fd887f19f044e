"""``VLMExtractor``: Qwen2.5-VL reads a page image into a schema-constrained JSON answer.

Layered as in olmOCR, each layer with one job:

1. one attempt: image + prompt (+ the text layer or OCR as a hint) → chat model with ``response_format``
   ``json_schema`` → :func:`~qwenvl_agents.extract.validate.validate_answer`;
2. bad-output retries: up to ``attempts`` tries, the temperature raised a little each time (a greedy
   decode that looped once loops again; a little randomness gets it out);
3. transport retries under each attempt: the chat model's, the same for every role
   (:mod:`qwenvl_agents.vlm.retry`: connection errors, 429 and 5xx with backoff, honouring
   ``Retry-After``; a request that timed out while the server was generating is not sent again),
   counted into ``stats.transport``;
4. fallback: after the last attempt, or when the server cannot be used, the text layer or OCR result
   stands in with ``status="fallback"`` and a ``reason``; when nothing can read the page the result is
   ``status="failed"``. No page problem ever raises.

At most ``max_concurrency`` requests are in flight (``vlm_max_concurrency`` × endpoints): enough to
keep vLLM's continuous batch full without queueing thousands of requests in its scheduler.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from qwenvl_agents.extract.base import BaseExtractor, failed
from qwenvl_agents.extract.budget import TokenEstimator, clamp_max_tokens
from qwenvl_agents.extract.chat import content_text, usage_tokens
from qwenvl_agents.extract.lang import guess_language
from qwenvl_agents.extract.prompts import build_prompt
from qwenvl_agents.extract.schemas import PROMPT_VERSION, PageReading, response_format
from qwenvl_agents.extract.text import TextLayerExtractor, is_good_text_layer
from qwenvl_agents.extract.validate import BadOutput, validate_answer
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import PageExtraction, PageImage, TextLayer
from qwenvl_agents.vlm.client import VLMClient, explain_error
from qwenvl_agents.vlm.images import PreparedImage, prepare_image
from qwenvl_agents.vlm.limits import ServerLimits
from qwenvl_agents.vlm.retry import RetryStats, counting, error_kind, is_retryable

log = logging.getLogger(__name__)

MIN_OUTPUT_TOKENS = 128
"""Below this many output tokens no page can be answered; the request is not sent."""


@dataclass
class ExtractorStats:
    """Counters over the extractor's life, for logs, benchmarks and tests."""

    pages: int = 0
    ok: int = 0
    fallback: int = 0
    failed: int = 0
    attempts: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    bad_outputs: Counter[str] = field(default_factory=Counter)
    transport: RetryStats = field(default_factory=RetryStats)


@dataclass
class _Request:
    """Everything one page's attempts share."""

    messages: list[BaseMessage]
    prompt_text: str
    visual_tokens: int
    max_tokens: int


@dataclass
class _Outcome:
    reading: PageReading | None = None
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    bad: list[BadOutput] = field(default_factory=list)
    error: str | None = None  # set when the server could not be used (no more attempts make sense)


class VLMExtractor(BaseExtractor):
    """Pages read by a vision-language model, with validation, retries and a fallback.

    Give a :class:`~qwenvl_agents.vlm.client.VLMClient` (vLLM's OpenAI API) or any LangChain
    ``chat_model`` (a local backend, a fake in tests). Limits default to ``settings``.

    Example (needs a running server):
        >>> from qwenvl_agents.vlm import ModelPort  # doctest: +SKIP
        >>> client = ModelPort.from_settings(vlm_base_url="http://127.0.0.1:8000/v1").client  # doctest: +SKIP
        >>> extractor = VLMExtractor(client)  # doctest: +SKIP
        >>> extraction = await extractor.aextract(page)  # doctest: +SKIP
        >>> extraction.status, extraction.fields.total  # doctest: +SKIP
        ('ok', 717.97)
    """

    name = "vlm"

    def __init__(
        self,
        client: VLMClient | None = None,
        *,
        chat_model: BaseChatModel | None = None,
        model_name: str | None = None,
        settings: Settings | None = None,
        fallback: BaseExtractor | None = None,
        attempts: int | None = None,
        max_tokens: int | None = None,
        max_concurrency: int | None = None,
        text_hint: bool | None = None,
        hint_chars: int = 4000,
        temperatures: tuple[float, float] = (0.0, 0.2),
        max_model_len: int | None = None,
    ) -> None:
        if client is None and chat_model is None:
            raise ValueError("VLMExtractor needs a VLMClient or a chat_model")
        s = settings or Settings()
        self.client = client
        # The client's retries, as for every role; the transport counts them into stats.transport.
        self.chat_model: BaseChatModel = chat_model or client.chat_model()  # type: ignore[union-attr]
        self.model = model_name or (client.model if client else None) or getattr(chat_model, "model_name", None)
        self.prompt_version = PROMPT_VERSION
        self.fallback = fallback
        self.attempts = attempts or s.extract_attempts
        self.max_tokens = max_tokens or s.extract_max_tokens
        endpoints = len(client.base_urls) if client else 1
        self.max_concurrency = max_concurrency or s.vlm_max_concurrency * endpoints
        self.max_in_flight = self.max_concurrency + 2
        self.text_hint = s.extract_text_hint if text_hint is None else text_hint
        self.hint_chars = hint_chars
        self.temperature_start, self.temperature_step = temperatures
        self.pixels = {"min_pixels": s.min_pixels, "max_pixels": s.max_pixels, "max_aspect_ratio": s.max_aspect_ratio}
        self.media_rules = s.media_rules
        self.tokens = TokenEstimator()
        self.limits: ServerLimits | None = None
        self._fixed_max_model_len = max_model_len
        if client is not None and max_model_len is None:
            self.limits = client.limits  # the server's, asked once per client
        self.stats = ExtractorStats()
        self._stats_lock = threading.Lock()
        self._sems: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._tsem = threading.BoundedSemaphore(self.max_concurrency)
        self._response_format = response_format()

    # --- building a request -------------------------------------------------------------------

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # one semaphore per event loop: asyncio primitives are loop-bound
        sem = self._sems.get(loop)
        if sem is None:
            sem = self._sems[loop] = asyncio.Semaphore(self.max_concurrency)
        return sem

    def _prepare(self, page: PageImage) -> PreparedImage:
        if self.client is not None:
            return self.client.prepare(page.image)
        return prepare_image(page.image, rules=self.media_rules, **self.pixels)  # type: ignore[arg-type]

    def _hint_for(self, page: PageImage, hint: TextLayer | None) -> TextLayer | None:
        if not self.text_hint:
            return None
        if hint is not None:
            return hint if hint.text.strip() else None
        return page.text_layer if is_good_text_layer(page.text_layer, page) else None

    def _request(
        self, page: PageImage, image: PreparedImage, hint: TextLayer | None, max_model_len: int | None
    ) -> _Request | str:
        """The messages and ``max_tokens`` for this page, or why the page cannot be sent."""
        language = guess_language(hint.text if hint else None)
        frame = page.timestamp is not None
        system, user = build_prompt(language, video_frame=frame)
        base_tokens = self.tokens.estimate(system + user, image.tokens)
        hint_chars = 0
        if hint is not None:
            hint_chars = self.hint_chars
            if max_model_len is not None:  # the hint may take a third of what the page leaves free
                free = max_model_len - base_tokens - MIN_OUTPUT_TOKENS
                hint_chars = min(hint_chars, int(max(0, free) / 3 * self.tokens.chars_per_token))
        while True:
            if hint is not None and hint_chars > 0:
                system, user = build_prompt(
                    language, hint=hint.text, hint_source=hint.source, hint_chars=hint_chars, video_frame=frame
                )
            else:
                system, user = build_prompt(language, video_frame=frame)
            prompt_text = system + user
            prompt_tokens = self.tokens.estimate(prompt_text, image.tokens)
            max_tokens = clamp_max_tokens(self.max_tokens, max_model_len, prompt_tokens)
            # A hint is help, not a requirement: shrink it (CJK text costs more tokens per character than
            # the ratio assumes), then drop it, before giving up on the page.
            if max_tokens >= MIN_OUTPUT_TOKENS or hint is None or hint_chars <= 0:
                break
            hint_chars = hint_chars // 2 if hint_chars > 200 else 0
        if max_tokens < MIN_OUTPUT_TOKENS:
            return (
                f"vlm: the page needs about {prompt_tokens} prompt tokens ({image.tokens} for the image), too many "
                f"for the server's max_model_len {max_model_len}; lower QWENVL_MAX_PIXELS"
            )
        content: list[str | dict[str, Any]] = [image.content_part(), {"type": "text", "text": user}]
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(content=content)]
        return _Request(messages, prompt_text, image.tokens, max_tokens)

    def _bound(self, request: _Request, attempt: int) -> Any:
        temperature = min(1.0, self.temperature_start + self.temperature_step * attempt)
        # The same ``response_format`` on the wire, but passed as extra body: LangChain then calls the plain
        # ``create`` endpoint instead of the SDK's ``parse`` helper, whose response parsing costs the client
        # several milliseconds per page (measured with bench/ingest.py); we validate the JSON ourselves.
        return self.chat_model.bind(
            extra_body={"response_format": self._response_format},
            temperature=temperature,
            max_tokens=request.max_tokens,
        )

    # --- interpreting an answer ------------------------------------------------------------------

    def _record_answer(
        self, outcome: _Outcome, request: _Request, content: str, finish: str | None, usage: Any
    ) -> None:
        inp, out = usage_tokens(usage)
        outcome.input_tokens += inp
        outcome.output_tokens += out
        if inp:
            self.tokens.observe(request.prompt_text, request.visual_tokens, inp)
        try:
            outcome.reading = validate_answer(content, finish)
        except BadOutput as bad:
            outcome.bad.append(bad)
            with self._stats_lock:
                self.stats.bad_outputs[bad.reason] += 1
            log.info("bad VLM output (attempt %d): %s", outcome.attempts, bad)

    def _count(self, sent: RetryStats, result: AIMessage | BaseException) -> None:
        """Add one attempt's transport counts to the extractor's (a model without a transport sent one)."""
        sent.calls = 1
        sent.requests = max(sent.requests, 1)
        answered = openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError
        if isinstance(result, BaseException) and not isinstance(result, answered):
            if not sent.errors:  # failed above the transport (a fake or local model): count it here
                sent.note(result)
            sent.gave_up = 1
        with self._stats_lock:
            self.stats.requests += sent.requests
            self.stats.transport.add(sent)

    def _handle(
        self, outcome: _Outcome, request: _Request, result: AIMessage | BaseException, sent: RetryStats
    ) -> bool:
        """Record one attempt's result; True when no further attempt should be made."""
        outcome.attempts += 1
        self._count(sent, result)
        if isinstance(result, openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError):
            # The OpenAI client's parse path raises instead of returning a cut answer.
            completion = result.completion
            choice = completion.choices[0] if completion is not None and completion.choices else None
            content = (choice.message.content or "") if choice else ""
            finish = choice.finish_reason if choice else "length"
            self._record_answer(outcome, request, content, finish, completion.usage if completion is not None else None)
            return False
        if isinstance(result, BaseException):
            endpoints = self.client.base_urls if self.client else ()
            retries = f" after {sent.retries} retries" if is_retryable(result) else ""
            outcome.error = f"vlm: {error_kind(result)}{retries}: {explain_error(result, endpoints)}"
            return True
        self._record_answer(
            outcome,
            request,
            content_text(result),
            result.response_metadata.get("finish_reason"),
            result.usage_metadata,
        )
        return outcome.reading is not None

    # --- the attempt loops ---------------------------------------------------------------------

    async def _arun(self, request: _Request) -> _Outcome:
        outcome = _Outcome()
        sem = self._semaphore()
        for attempt in range(self.attempts):
            sent = RetryStats()
            try:
                async with sem:
                    with counting(sent):
                        result: AIMessage | BaseException = await self._bound(request, attempt).ainvoke(
                            request.messages
                        )
            except Exception as exc:
                result = exc
            if self._handle(outcome, request, result, sent):
                break
        return outcome

    def _run(self, request: _Request) -> _Outcome:
        outcome = _Outcome()
        for attempt in range(self.attempts):
            sent = RetryStats()
            try:
                with self._tsem, counting(sent):
                    result: AIMessage | BaseException = self._bound(request, attempt).invoke(request.messages)
            except Exception as exc:
                result = exc
            if self._handle(outcome, request, result, sent):
                break
        return outcome

    # --- results -------------------------------------------------------------------------------

    def _success(self, page: PageImage, outcome: _Outcome) -> PageExtraction:
        reading = outcome.reading
        assert reading is not None
        markdown = reading.markdown.strip()
        language = (reading.language or "").strip().lower()[:2] or None
        if language is None or not language.isalpha():
            language = guess_language(markdown)
        return PageExtraction(
            document_id=page.document.document_id,
            page=page.page,
            markdown=markdown,
            extractor="vlm",
            status="ok",
            tables=reading.to_tables(),
            fields=reading.to_fields(),
            page_kind=reading.page_kind.value,
            language=language,
            blank=reading.page_kind.value == "blank" or not markdown,
            model=self.model,
            prompt_version=self.prompt_version,
            attempts=outcome.attempts,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
        )

    @staticmethod
    def _bad_reason(outcome: _Outcome) -> str:
        reasons = [b.reason for b in outcome.bad]
        n = outcome.attempts
        what = reasons[-1] if len(set(reasons)) == 1 else "bad (" + ", ".join(reasons) + ")"
        return f"vlm: {what} output after {n} attempt{'s' if n != 1 else ''}; last: {outcome.bad[-1].detail}"

    def _fall_back(
        self, page: PageImage, reason: str, outcome: _Outcome | None, base: PageExtraction | None
    ) -> PageExtraction:
        usage = {
            "attempts": outcome.attempts if outcome else 0,
            "input_tokens": outcome.input_tokens if outcome else 0,
            "output_tokens": outcome.output_tokens if outcome else 0,
        }
        if base is None or base.status == "failed" or (not base.markdown.strip() and not base.blank):
            why = base.reason if base is not None and base.reason else "no text layer or OCR to fall back on"
            return failed(
                page, "vlm", f"{reason}; {why}", model=self.model, prompt_version=self.prompt_version, **usage
            )
        return dataclasses.replace(
            base,
            status="fallback",
            reason=reason,
            attempts=usage["attempts"],
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
        )

    def _tally(self, result: PageExtraction) -> PageExtraction:
        with self._stats_lock:
            s = self.stats
            s.pages += 1
            s.attempts += result.attempts
            s.input_tokens += result.input_tokens
            s.output_tokens += result.output_tokens
            setattr(s, result.status, getattr(s, result.status) + 1)
        return result

    async def _abase(self, page: PageImage, hint: TextLayer | None) -> PageExtraction | None:
        if self.fallback is not None:
            return await self.fallback.aextract(page)
        return TextLayerExtractor(require_good=False).extract(page, hint) if (hint or page.text_layer) else None

    def _base(self, page: PageImage, hint: TextLayer | None) -> PageExtraction | None:
        if self.fallback is not None:
            return self.fallback.extract(page)
        return TextLayerExtractor(require_good=False).extract(page, hint) if (hint or page.text_layer) else None

    # --- public API ----------------------------------------------------------------------------

    async def aextract(
        self, page: PageImage, hint: TextLayer | None = None, *, base: PageExtraction | None = None
    ) -> PageExtraction:
        """Read one page. ``hint``: text for the prompt; ``base``: a ready fallback (else computed on need)."""
        hint = self._hint_for(page, hint)
        try:
            max_model_len = self._fixed_max_model_len or (await self.limits.aget() if self.limits else None)
            image = await asyncio.to_thread(self._prepare, page)
            request = self._request(page, image, hint, max_model_len)
            if isinstance(request, str):
                return self._tally(self._fall_back(page, request, None, base or await self._abase(page, hint)))
            outcome = await self._arun(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. an unreadable image: the page is reported, never dropped
            log.exception("VLM extraction crashed on page %s", page.page)
            return self._tally(failed(page, "vlm", f"vlm: {type(exc).__name__}: {exc}", model=self.model))
        if outcome.reading is not None:
            return self._tally(self._success(page, outcome))
        reason = outcome.error or self._bad_reason(outcome)
        return self._tally(self._fall_back(page, reason, outcome, base or await self._abase(page, hint)))

    def extract(
        self, page: PageImage, hint: TextLayer | None = None, *, base: PageExtraction | None = None
    ) -> PageExtraction:
        """The synchronous :meth:`aextract` (its own blocking HTTP path; safe to call from threads)."""
        hint = self._hint_for(page, hint)
        try:
            max_model_len = self._fixed_max_model_len or (self.limits.get() if self.limits else None)
            request = self._request(page, self._prepare(page), hint, max_model_len)
            if isinstance(request, str):
                return self._tally(self._fall_back(page, request, None, base or self._base(page, hint)))
            outcome = self._run(request)
        except Exception as exc:
            log.exception("VLM extraction crashed on page %s", page.page)
            return self._tally(failed(page, "vlm", f"vlm: {type(exc).__name__}: {exc}", model=self.model))
        if outcome.reading is not None:
            return self._tally(self._success(page, outcome))
        reason = outcome.error or self._bad_reason(outcome)
        return self._tally(self._fall_back(page, reason, outcome, base or self._base(page, hint)))
