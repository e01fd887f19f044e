"""The client for vision-language models served by vLLM's OpenAI-compatible API.

Everything else in qwenvl-agents reaches the model through this module: it builds the LangChain
``ChatOpenAI`` (one instance, spread over every configured endpoint), prepares page images within
Qwen2.5-VL's pixel budget, turns the server's refusals into :class:`~qwenvl_agents.errors.VLMError`
messages a person can act on, and checks that a server is usable.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from qwenvl_agents.errors import VLMConnectionError, VLMError, VLMRequestError
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm.images import (
    DEFAULT_FETCH_MAX_BYTES,
    DEFAULT_FETCH_TIMEOUT,
    DEFAULT_MAX_ASPECT_RATIO,
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageInput,
    PreparedImage,
    prepare_image,
)
from qwenvl_agents.vlm.limits import ServerLimits
from qwenvl_agents.vlm.media_rules import MediaRules, check_image_count, media_rules_for
from qwenvl_agents.vlm.retry import not_resent
from qwenvl_agents.vlm.transport import AsyncSpreadingTransport, EndpointPool, RequestGate, SpreadingTransport

_START_HINT = (
    "run `qwenvl serve` for the vLLM command that fits your GPUs (e.g. `vllm serve Qwen/Qwen2.5-VL-7B-Instruct "
    "--limit-mm-per-prompt '{\"image\": 4}'`), or point QWENVL_VLM_BASE_URL at a running server"
)


def explain_error(exc: BaseException, endpoints: Sequence[str] = ()) -> VLMError:
    """Turn an OpenAI-client or transport exception into a :class:`VLMError` that says what to do."""
    where = ", ".join(endpoints) or "the VLM server"
    if isinstance(exc, VLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        why = not_resent(exc) or exc  # says that it was not sent again
        return VLMConnectionError(f"{where} did not answer in time ({why}); raise QWENVL_VLM_TIMEOUT or lower the load")
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return VLMConnectionError(f"cannot reach {where} ({exc.__cause__ or exc}); {_START_HINT}")
    if isinstance(exc, openai.APIStatusError):
        detail = _server_message(exc)
        status = exc.status_code
        if status == 404 and "model" in detail.lower():
            return VLMRequestError(
                f"{where} does not serve this model: {detail}. Set QWENVL_VLM_MODEL to a name from "
                "`qwenvl vlm check` (GET /v1/models)"
            )
        if status == 400:
            return VLMRequestError(explain_bad_request(detail))
        if status in (401, 403):
            return VLMRequestError(f"{where} refused the API key (HTTP {status}): {detail}; set QWENVL_VLM_API_KEY")
        return VLMRequestError(f"{where} answered HTTP {status}: {detail}")
    return VLMError(f"request to {where} failed: {type(exc).__name__}: {exc}")


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(exc.message)


def explain_bad_request(detail: str) -> str:
    """What to change for a refused request, from the refusal's text (used for the vLLM engine's errors too)."""
    lowered = detail.lower()
    if re.search(r"at most \d+ image|limit.?mm.?per.?prompt|image.*(limit|exceed)", lowered):
        return (
            f"the server refused the number of images in one prompt: {detail}. Send fewer images per "
            "request, or start vLLM with a higher --limit-mm-per-prompt (and set QWENVL_VLM_MAX_IMAGES_PER_PROMPT)"
        )
    if "maximum context length" in lowered or "max_model_len" in lowered or "longer than the maximum" in lowered:
        return (
            f"the prompt is too long for the server: {detail}. Lower QWENVL_MAX_PIXELS (fewer visual tokens "
            "per image), send fewer images, lower max_tokens, or start vLLM with a larger --max-model-len"
        )
    return f"the server refused the request: {detail}"


@dataclass(frozen=True)
class CheckStep:
    """One step of :meth:`VLMClient.check`: what was tried, whether it worked, and the detail."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class CheckReport:
    steps: tuple[CheckStep, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


class VLMClient:
    """Talks to Qwen2.5-VL behind one or more vLLM OpenAI-compatible endpoints.

    ``chat_model()`` is a plain LangChain ``ChatOpenAI`` (use it with ``.invoke``, ``.stream``,
    ``.batch``, ``.with_structured_output``, ``.bind_tools``) whose HTTP requests are spread over every
    endpoint. ``ask()`` is the short path: a prompt plus images in, an ``AIMessage`` out, errors explained.

    Images are paths, http(s)/file URLs, bytes, data URLs or PIL images, several per prompt. URLs are
    fetched here (``image_fetch_timeout`` seconds, ``image_max_bytes``) so every image is sized within
    the pixel budget before it is sent. With ``max_images_per_prompt`` set (vLLM's
    ``--limit-mm-per-prompt``), a prompt with more images is refused before anything is sent.

    Every chat model of one client shares its HTTP clients: ``max_concurrency`` (when set) bounds the
    requests in flight over all of them, and ``max_retries`` is each model's retry count for connection
    errors, 408/409/429 and 5xx (the SDK's backoff, honouring ``Retry-After``); a request that timed out
    while the server was generating is not sent again (:mod:`qwenvl_agents.vlm.retry`). Build clients through
    :class:`~qwenvl_agents.vlm.port.ModelPort`, which passes ``QWENVL_VLM_MAX_RETRIES`` and
    ``QWENVL_VLM_MAX_CONCURRENCY``.

    Example (needs a running server):
        >>> client = VLMClient(["http://127.0.0.1:8000/v1"], "Qwen/Qwen2.5-VL-7B-Instruct")  # doctest: +SKIP
        >>> client.ask("What is the invoice total?", ["page-1.png"]).content  # doctest: +SKIP
        'The total is 717.97 EUR.'
        >>> pictures = ["before.jpg", "https://example.org/after.jpg"]
        >>> client.ask("What changed between these pictures?", pictures).content  # doctest: +SKIP
        'A ladder now blocks the exit.'
        >>> # many prompts at once, one error per failed prompt instead of an exception:
        >>> msgs = [[client.message("Describe it.", [p])] for p in ["a.png", "b.png"]]  # doctest: +SKIP
        >>> client.chat_model().batch(msgs, return_exceptions=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        base_urls: Sequence[str],
        model: str,
        *,
        api_key: str = "EMPTY",
        timeout: float = 120.0,
        max_retries: int = 2,
        max_images_per_prompt: int | None = None,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO,
        media_rules: MediaRules | None = None,
        image_fetch_timeout: float = DEFAULT_FETCH_TIMEOUT,
        image_max_bytes: int = DEFAULT_FETCH_MAX_BYTES,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        max_concurrency: int | None = None,
    ) -> None:
        if not base_urls:
            raise VLMConnectionError(f"no VLM server configured: set QWENVL_VLM_BASE_URL; {_START_HINT}")
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_images_per_prompt = max_images_per_prompt
        # The served model's family sets the visual-token grid and the default budget (from its name unless given).
        self.media_rules = media_rules or media_rules_for(model)
        self.min_pixels = self.media_rules.default_min_pixels if min_pixels is None else min_pixels
        self.max_pixels = self.media_rules.default_max_pixels if max_pixels is None else max_pixels
        self.max_aspect_ratio = max_aspect_ratio
        self.image_fetch_timeout = image_fetch_timeout
        self.image_max_bytes = image_max_bytes
        self.max_image_pixels = max_image_pixels
        self.pool = EndpointPool(self.base_urls)
        self.gate = RequestGate(max_concurrency) if max_concurrency else None
        # A pool large enough for vLLM's batch: the default of 100 connections would cap concurrency.
        limits = httpx2.Limits(max_connections=512, max_keepalive_connections=128)
        # Loading the CA bundle for a TLS context takes tens of milliseconds per transport; vLLM endpoints are
        # usually plain http, where it is never used.
        verify = any(u.lower().startswith("https://") for u in self.base_urls)
        self._http = httpx2.Client(
            transport=SpreadingTransport(self.pool, httpx2.HTTPTransport(limits=limits, verify=verify), gate=self.gate),
            timeout=timeout,
            verify=verify,
        )
        self._ahttp = httpx2.AsyncClient(
            transport=AsyncSpreadingTransport(
                self.pool, lambda: httpx2.AsyncHTTPTransport(limits=limits, verify=verify), gate=self.gate
            ),
            timeout=timeout,
            verify=verify,
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> VLMClient:
        """The client configured by ``QWENVL_VLM_*`` settings; keyword arguments override them.

        ``QWENVL_VLM_MAX_RETRIES`` is every chat model's retry count and ``QWENVL_VLM_MAX_CONCURRENCY``
        (per endpoint) bounds the requests in flight. Applications take models from
        :class:`~qwenvl_agents.vlm.port.ModelPort`, which builds its client here.
        """
        s = settings or Settings()
        kwargs: dict[str, Any] = {
            "api_key": s.vlm_api_key.get_secret_value(),
            "timeout": s.vlm_timeout,
            "max_retries": s.vlm_max_retries,
            "max_concurrency": s.vlm_max_concurrency * len(s.vlm_base_urls),
            "max_images_per_prompt": s.vlm_max_images_per_prompt,
            "min_pixels": s.min_pixels,
            "max_pixels": s.max_pixels,
            "max_aspect_ratio": s.max_aspect_ratio,
            "media_rules": s.media_rules,
            # QWENVL_IMAGE_FETCH_TIMEOUT once Settings has it; the default until then.
            "image_fetch_timeout": s.image_fetch_timeout,
            "image_max_bytes": s.download_max_bytes,
            "max_image_pixels": s.max_image_pixels,
        }
        kwargs.update(overrides)
        return cls(s.vlm_base_urls, s.vlm_model, **kwargs)

    def chat_model(self, **kwargs: Any) -> ChatOpenAI:
        """A ``ChatOpenAI`` for this server; keyword arguments go to ``ChatOpenAI`` (temperature, ...)."""
        params: dict[str, Any] = {
            "model": self.model,
            "base_url": self.pool.primary,
            "api_key": self.api_key,
            "timeout": self.timeout,
            "temperature": 0.0,
            "max_retries": self.max_retries,
            "http_client": self._http,
            "http_async_client": self._ahttp,
        }
        params.update(kwargs)
        return ChatOpenAI(**params)

    @functools.cached_property
    def limits(self) -> ServerLimits:
        """The served model's context length (``max_model_len`` from ``GET /v1/models``), looked up once."""
        return ServerLimits(self.base_urls, self.model, api_key=self.api_key)

    def prepare(self, image: ImageInput | PreparedImage) -> PreparedImage:
        """Size and encode one image within this client's pixel budget (URLs are fetched here).

        Raises :class:`~qwenvl_agents.errors.ImageInputError` naming an input that cannot be read.
        An already prepared image is returned as it is.
        """
        if isinstance(image, PreparedImage):
            return image
        return prepare_image(
            image,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            max_aspect_ratio=self.max_aspect_ratio,
            fetch_timeout=self.image_fetch_timeout,
            max_bytes=self.image_max_bytes,
            max_image_pixels=self.max_image_pixels,
            rules=self.media_rules,
        )

    def check_image_count(self, count: int) -> None:
        """Raise :class:`VLMRequestError` when ``count`` images are more than the server takes in one prompt.

        >>> VLMClient(["http://gpu:8000/v1"], "m", max_images_per_prompt=4).check_image_count(5)
        Traceback (most recent call last):
        ...
        qwenvl_agents.errors.VLMRequestError: 5 images in one prompt, but the server accepts at most 4 \
(QWENVL_VLM_MAX_IMAGES_PER_PROMPT=4, vLLM's --limit-mm-per-prompt '{"image": 4}'); send them in smaller \
groups, or start vLLM with a higher limit and raise QWENVL_VLM_MAX_IMAGES_PER_PROMPT
        """
        check_image_count(count, self.max_images_per_prompt)

    def message(self, prompt: str, images: Sequence[ImageInput | PreparedImage] = ()) -> HumanMessage:
        """A user message holding the images (each sized for Qwen2.5-VL) followed by the prompt.

        Raises :class:`VLMRequestError` before any image is read or anything is sent when there are more
        images than the server accepts per prompt (``max_images_per_prompt``), and
        :class:`~qwenvl_agents.errors.ImageInputError` for an image that cannot be read.
        """
        self.check_image_count(len(images))
        parts: list[str | dict[str, Any]] = [self.prepare(img).content_part() for img in images]
        parts.append({"type": "text", "text": prompt})
        return HumanMessage(content=parts)

    def _conversation(
        self, prompt: str, images: Sequence[ImageInput | PreparedImage], system: str | None
    ) -> list[BaseMessage]:
        messages: list[BaseMessage] = [SystemMessage(system)] if system else []
        messages.append(self.message(prompt, images))
        return messages

    def ask(
        self,
        prompt: str,
        images: Sequence[ImageInput | PreparedImage] = (),
        *,
        system: str | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Ask one question about zero or more images; keyword arguments go to ``ChatOpenAI``.

        Raises :class:`VLMError` (explained) when the server cannot answer, and
        :class:`~qwenvl_agents.errors.ImageInputError` when an image cannot be read.
        """
        messages = self._conversation(prompt, images, system)
        try:
            result = self.chat_model(**kwargs).invoke(messages)
        except Exception as exc:
            raise explain_error(exc, self.base_urls) from exc
        assert isinstance(result, AIMessage)
        return result

    async def aask(
        self,
        prompt: str,
        images: Sequence[ImageInput | PreparedImage] = (),
        *,
        system: str | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """The asynchronous :meth:`ask`."""
        # Fetching URLs and encoding images blocks: keep it off the event loop.
        messages = await asyncio.to_thread(self._conversation, prompt, images, system)
        try:
            result = await self.chat_model(**kwargs).ainvoke(messages)
        except Exception as exc:
            raise explain_error(exc, self.base_urls) from exc
        assert isinstance(result, AIMessage)
        return result

    def check(self) -> CheckReport:
        """Check every endpoint (``/health``, ``/v1/models``) and one image round trip.

        Never raises for a server problem: each step says what worked and what is wrong.
        """
        from qwenvl_agents.vlm.health import run_check

        return run_check(self)

    def close(self) -> None:
        """Close both HTTP clients, the synchronous and the asynchronous one; from async code use :meth:`aclose`.

        Called where an event loop is running (``with VLMClient(...)`` inside a coroutine), the asynchronous
        client finishes closing on that loop as soon as the caller yields to it.

        >>> client = VLMClient(["http://127.0.0.1:9/v1"], "m")
        >>> chat = client.chat_model()
        >>> client.close()
        >>> chat.http_client.is_closed, chat.http_async_client.is_closed
        (True, True)
        """
        self._http.close()
        if self._ahttp.is_closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No loop running here: close on a private one (asyncio.run would unset this thread's event loop).
            closer = asyncio.new_event_loop()
            try:
                closer.run_until_complete(self._ahttp.aclose())
            finally:
                closer.close()
        else:
            self._closing = loop.create_task(self._ahttp.aclose())  # keep a reference until it has run

    async def aclose(self) -> None:
        """Close both HTTP clients, the running event loop's asynchronous connections included."""
        self._http.close()
        await self._ahttp.aclose()

    def __enter__(self) -> VLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
