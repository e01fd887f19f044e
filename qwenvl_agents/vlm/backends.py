"""One chat-model interface, three backends: vLLM's OpenAI server, local transformers, vLLM offline.

``chat_model_from_settings()`` returns a LangChain ``BaseChatModel`` for ``QWENVL_VLM_BACKEND``:

========================  ====================================================================
``openai`` (default)      ``ChatOpenAI`` against vLLM's server (``QWENVL_VLM_BASE_URL``); tools,
                          streaming, several endpoints.
``transformers``          :class:`~qwenvl_agents.vlm.local_transformers.ChatQwenTransformers`:
                          the model in this process, one request at a time.
``vllm``                  :class:`~qwenvl_agents.vlm.local_vllm.ChatQwenVLLM`: vLLM's offline
                          engine in this process, batched generation.
========================  ====================================================================

The local backends share :class:`LocalChatModel`: the same messages as the server path (see
:mod:`~qwenvl_agents.vlm.content`), ``temperature`` / ``max_tokens`` / ``stop`` / ``response_format``
(also inside ``extra_body``, which is how the extractor binds it), and answers carrying
``usage_metadata`` and ``response_metadata["finish_reason"]`` (``"stop"`` or ``"length"``).

Example:
    >>> from qwenvl_agents.settings import Settings
    >>> type(chat_model_from_settings(Settings(vlm_base_url="http://127.0.0.1:8000/v1"))).__name__
    'ChatOpenAI'
    >>> generation_options({"extra_body": {"response_format": {"type": "json_object"}}, "max_tokens": 64}, 0.0, 512)
    GenerationOptions(temperature=0.0, max_tokens=64, stop=(), top_p=1.0, json_schema={'type': 'object'})
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, PrivateAttr, model_validator

from qwenvl_agents.errors import MissingDependencyError, VLMRequestError
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm.content import ContentOptions, Conversation, to_conversation
from qwenvl_agents.vlm.images import DEFAULT_MAX_ASPECT_RATIO, DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS
from qwenvl_agents.vlm.media_rules import MediaRules, media_rules_for

_TOOLS_MESSAGE = (
    "{backend} runs the model in this process without a tool-call parser, so it cannot call tools: use "
    "`qwenvl ask --graph rag` (the retrieve-look-answer pipeline, on every backend), or the OpenAI server "
    "backend (QWENVL_VLM_BACKEND=openai, vLLM started with --enable-auto-tool-choice --tool-call-parser "
    "hermes) for the tool-calling agent"
)


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling for one request, gathered from the model's defaults and the call's keyword arguments."""

    temperature: float
    max_tokens: int
    stop: tuple[str, ...] = ()
    top_p: float = 1.0
    json_schema: dict[str, Any] | None = None


def _schema_of(response_format: Any) -> dict[str, Any] | None:
    if response_format is None:
        return None
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        return response_format.model_json_schema()
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_schema":
            inner = response_format.get("json_schema") or {}
            schema = inner.get("schema") if isinstance(inner, dict) else None
            if not isinstance(schema, dict):
                raise VLMRequestError("response_format json_schema without a 'schema' object")
            return schema
        if kind == "json_object":
            return {"type": "object"}
        if kind == "text":
            return None
    raise VLMRequestError(f"unsupported response_format {response_format!r}: use json_schema, json_object or text")


def generation_options(
    kwargs: dict[str, Any], temperature: float, max_tokens: int, stop: Sequence[str] = ()
) -> GenerationOptions:
    """Read what LangChain and the extractor bind (``temperature``, ``max_tokens``, ``stop``,
    ``response_format``, ``extra_body``) into :class:`GenerationOptions`; tools are refused."""
    extra = dict(kwargs.get("extra_body") or {})
    merged = {**extra, **{k: v for k, v in kwargs.items() if k != "extra_body"}}
    if merged.get("tools") or merged.get("functions"):
        raise NotImplementedError(_TOOLS_MESSAGE.format(backend="this local backend"))
    limit = merged.get("max_tokens") or merged.get("max_completion_tokens") or max_tokens
    stops = merged.get("stop") or stop or ()
    return GenerationOptions(
        temperature=float(merged["temperature"]) if merged.get("temperature") is not None else temperature,
        max_tokens=int(limit),
        stop=(stops,) if isinstance(stops, str) else tuple(stops),
        top_p=float(merged.get("top_p") or 1.0),
        json_schema=_schema_of(merged.get("response_format")),
    )


class LocalChatModel(BaseChatModel):
    """What the in-process backends share: message conversion, options, answers with usage."""

    model: str = Field(description="Hub id or local folder of a Qwen2.5-VL checkpoint.")
    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO
    media_rules: MediaRules | None = Field(
        default=None, description="The model family's media rules; default: from the model's config or name."
    )
    video_fps: float = 2.0
    video_max_frames: int = 16
    temperature: float = 0.0
    max_tokens: int = 1024
    stop: list[str] | None = None
    max_images_per_prompt: int | None = None

    _owner: LocalChatModel | None = PrivateAttr(default=None)
    """The model whose weights (and engine) a :meth:`variant` uses: loaded once, whatever the options."""

    @model_validator(mode="after")
    def _family_budget(self) -> LocalChatModel:
        # A budget not given is the family's (256..1280 visual tokens), in its pixels: 28 or 32 px a token side.
        for name in ("min_pixels", "max_pixels"):
            if name not in self.model_fields_set:
                self.__dict__[name] = getattr(self.rules, f"default_{name}")
        return self

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def owner(self) -> LocalChatModel:
        """The model that holds the weights: this one, or the one it is a variant of."""
        return self._owner or self

    def variant(self, **options: Any) -> LocalChatModel:
        """The same loaded model with other options (``temperature``, ``max_tokens``, ``stop``, ...).

        Roles of :class:`~qwenvl_agents.vlm.port.ModelPort` differ in such options only; the weights
        stay loaded once. A different checkpoint is another model, not a variant.
        """
        if "model" in options and options["model"] != self.model:
            raise ValueError("a variant shares the loaded checkpoint; build another model for another checkpoint")
        clone = self.model_copy(update=options)
        clone._owner = self.owner
        return clone

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "min_pixels": self.min_pixels, "max_pixels": self.max_pixels}

    def content_options(self) -> ContentOptions:
        """Images within ``min_pixels``..``max_pixels``; video frames within the same cap (at most)."""
        rules = self.rules
        return ContentOptions(
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            max_aspect_ratio=self.max_aspect_ratio,
            video_fps=self.video_fps,
            video_max_frames=self.video_max_frames,
            video_min_pixels=min(self.min_pixels, rules.video_min_pixels),
            video_max_pixels=min(self.max_pixels, rules.video_max_pixels),
            rules=rules,
        )

    @property
    def rules(self) -> MediaRules:
        """:attr:`media_rules`, else the family of :attr:`model` (its ``config.json``, else its name)."""
        return self.media_rules or media_rules_for(self.model)

    def conversation(self, messages: Sequence[BaseMessage]) -> Conversation:
        """Messages converted and checked against ``max_images_per_prompt`` before any generation."""
        conv = to_conversation(messages, self.content_options())
        limit = self.max_images_per_prompt
        if limit is not None and conv.image_count > limit:  # worded for a model in this process, not a server
            raise VLMRequestError(
                f"{conv.image_count} images in one prompt, but this model accepts at most {limit} "
                "(limit_mm_per_prompt / QWENVL_VLM_MAX_IMAGES_PER_PROMPT); send them in smaller groups"
            )
        return conv

    def options(self, stop: Sequence[str] | None, kwargs: dict[str, Any]) -> GenerationOptions:
        return generation_options(kwargs, self.temperature, self.max_tokens, stop or self.stop or ())

    def answer(self, text: str, input_tokens: int, output_tokens: int, finish_reason: str) -> AIMessage:
        return AIMessage(
            content=text,
            usage_metadata={
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
            response_metadata={"finish_reason": finish_reason, "model_name": self.model},
        )

    @staticmethod
    def result(message: AIMessage) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Not available in-process: raises ``NotImplementedError`` naming the backend to use."""
        raise NotImplementedError(_TOOLS_MESSAGE.format(backend=type(self).__name__))

    def with_structured_output(
        self, schema: dict[str, Any] | type[BaseModel], *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """JSON-schema structured output (``method`` is always ``json_schema``); pydantic models validate."""
        from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser

        if include_raw:
            raise NotImplementedError("include_raw=True is not supported by the local backends")
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel)
        json_schema = schema.model_json_schema() if is_model else schema  # type: ignore[union-attr]
        bound = self.bind(response_format={"type": "json_schema", "json_schema": {"schema": json_schema}})
        parser: Any = PydanticOutputParser(pydantic_object=schema) if is_model else JsonOutputParser()
        return bound | parser

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        options = self.options(stop, kwargs)
        return self.result(self.generate_one(self.conversation(messages), options))

    def generate_one(self, conversation: Conversation, options: GenerationOptions) -> AIMessage:
        raise NotImplementedError


def _require(module: str, extra: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(f"QWENVL_VLM_BACKEND={extra} needs {what}: pip install 'qwenvl-agents[{extra}]'")


def chat_model_from_settings(settings: Settings | None = None, **overrides: Any) -> BaseChatModel:
    """The chat model for ``settings.vlm_backend``; keyword arguments override its options.

    A thin wrapper over :meth:`ModelPort.chat_model() <qwenvl_agents.vlm.port.ModelPort.chat_model>`
    (role ``chat``) on a port of its own, kept for existing callers: applications that need several
    models build one :class:`~qwenvl_agents.vlm.port.ModelPort` and share it (one HTTP client, one copy of
    the weights). ``openai`` returns the ``ChatOpenAI`` of a client built from the settings; ``transformers``
    and ``vllm`` load ``settings.vlm_model`` (hub id or folder) lazily, on the first request. Raises
    :class:`~qwenvl_agents.errors.MissingDependencyError` naming the extra to install when the backend's
    package is missing.
    """
    from qwenvl_agents.vlm.port import ModelPort

    return ModelPort.from_settings(settings).chat_model("chat", **overrides)


def local_chat_model(settings: Settings, **overrides: Any) -> LocalChatModel:
    """The in-process model for ``settings.vlm_backend`` (``transformers`` or ``vllm``); used by the port."""
    s = settings
    common: dict[str, Any] = {
        "model": s.vlm_model,
        "min_pixels": s.min_pixels,
        "max_pixels": s.max_pixels,
        "max_aspect_ratio": s.max_aspect_ratio,
        "media_rules": s.media_rules,
        "max_images_per_prompt": s.vlm_max_images_per_prompt,
    }
    factory: Callable[..., LocalChatModel]
    if s.vlm_backend == "transformers":
        _require("transformers", "transformers", "Hugging Face transformers (and torch)")
        _require("torch", "transformers", "torch")
        from qwenvl_agents.vlm.local_transformers import ChatQwenTransformers

        factory = ChatQwenTransformers
        common.update(device_map=s.vlm_device_map, dtype=s.vlm_dtype, attn_implementation=s.vlm_attn_implementation)
    elif s.vlm_backend == "vllm":
        _require("vllm", "vllm", "vLLM")
        from qwenvl_agents.vlm.local_vllm import ChatQwenVLLM

        factory = ChatQwenVLLM
        common.update(
            dtype=s.vlm_dtype,
            tensor_parallel_size=s.vlm_tensor_parallel_size,
            max_model_len=s.vlm_max_model_len,
            gpu_memory_utilization=s.vlm_gpu_memory_utilization,
        )
    else:
        raise ValueError(f"vlm_backend {s.vlm_backend!r} is not an in-process backend")
    common.update(overrides)
    return factory(**common)
