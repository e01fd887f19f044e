"""The model port: the one place that builds chat models, for every role and every backend.

A :class:`ModelPort` is made once from :class:`~qwenvl_agents.settings.Settings` and hands out LangChain
``BaseChatModel`` objects by role. Every caller (CLI, agent, workflows, examples, extraction) takes its
models here, so a setting reaches all of them in the same way:

========================  ====================================================================
``openai`` (default)      ``ChatOpenAI`` from one shared :class:`~qwenvl_agents.vlm.client.VLMClient`:
                          one HTTP client per endpoint set, requests spread over the endpoints,
                          at most ``QWENVL_VLM_MAX_CONCURRENCY`` per endpoint in flight over all
                          roles, ``QWENVL_VLM_MAX_RETRIES`` retries (connection errors, 429, 5xx;
                          a request that timed out while generating is not sent again).
``transformers``          :class:`~qwenvl_agents.vlm.local_transformers.ChatQwenTransformers`:
                          one copy of the weights for all roles, one request at a time.
``vllm``                  :class:`~qwenvl_agents.vlm.local_vllm.ChatQwenVLLM`: one offline engine
                          for all roles, requests batched together.
========================  ====================================================================

Roles differ only in options (``temperature``, ``max_tokens``, ...); every role has the same transport
policy (:mod:`qwenvl_agents.vlm.retry`). The local backends have
no tool-call parser: the ``agent`` role's model raises ``NotImplementedError`` from ``bind_tools``,
naming ``qwenvl ask --graph rag``, which works on every backend.

Example:
    >>> from qwenvl_agents.settings import Settings
    >>> with ModelPort.from_settings(Settings(vlm_base_url="http://127.0.0.1:8000/v1")) as port:
    ...     model = port.chat_model("detector", max_tokens=256)
    ...     type(model).__name__, model.max_tokens, port.chat_model("extraction").max_retries
    ('ChatOpenAI', 256, 5)
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Literal, get_args

from qwenvl_agents.errors import VLMConnectionError, VLMError
from qwenvl_agents.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qwenvl_agents.vlm.backends import LocalChatModel
    from qwenvl_agents.vlm.client import VLMClient
    from qwenvl_agents.vlm.images import ImageInput, PreparedImage
    from qwenvl_agents.vlm.media_rules import MediaRules

ModelRole = Literal["chat", "agent", "pages", "extraction", "inspection", "detector", "video"]
"""What a model is for: a plain question (``chat``), the agent choosing tools and answering (``agent``),
looking at page images (``pages``), reading pages into fields (``extraction``), checking images against a
schema (``inspection``), watching a video for a target (``detector``) and questions about a video (``video``)."""

MODEL_ROLES: tuple[ModelRole, ...] = get_args(ModelRole)

_ROLE_OPTIONS: dict[ModelRole, dict[str, Any]] = {
    # The agent streams its steps; token usage then comes with the stream.
    "agent": {"stream_usage": True},
    "pages": {"stream_usage": True},
}

# Options only ChatOpenAI knows: the in-process models have no transport and always report usage.
_SERVER_ONLY = frozenset({"stream_usage", "max_retries", "timeout", "streaming", "stream_options"})

# Options read per request by the in-process models: a role differing only in these shares the weights.
_PER_REQUEST = frozenset({"temperature", "max_tokens", "stop", "video_fps", "video_max_frames"})


class ModelPort:
    """Chat models for every role on the configured backend; closes what it built.

    ``chat_model(role, **overrides)`` returns a LangChain ``BaseChatModel``; keyword arguments override
    the role's options (``model``, ``temperature``, ``max_tokens``, ...). Models are cached per role and
    options, so asking again is cheap. Per-run settings (another model name, base URL, pixel budget)
    are given to :meth:`from_settings`.

    Example (needs a running server):
        >>> with ModelPort.from_settings(vlm_base_url="http://127.0.0.1:8000/v1") as port:  # doctest: +SKIP
        ...     port.chat_model("chat").invoke([port.client.message("What is shown?", ["page-1.png"])]).content
        'An invoice.'
    """

    def __init__(self, settings: Settings | None = None, *, client: VLMClient | None = None) -> None:
        self.settings = settings or Settings()
        self._client = client
        self._owns_client = client is None
        self._models: dict[tuple[Hashable, ...], BaseChatModel] = {}
        self._local: dict[str, LocalChatModel] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> ModelPort:
        """The port for ``settings`` (default: the environment's); keyword arguments override settings fields.

        >>> ModelPort.from_settings(vlm_backend="transformers", vlm_model="/models/tiny").backend
        'transformers'
        """
        s = settings or Settings()
        if overrides:
            s = Settings.model_validate({**s.model_dump(exclude_unset=True), **overrides})
        return cls(s)

    @classmethod
    def from_client(cls, client: VLMClient, settings: Settings | None = None) -> ModelPort:
        """A port on an existing server client (its endpoints, pixel budget and limits); the client stays open."""
        return cls(settings, client=client)

    @property
    def backend(self) -> str:
        """``openai`` for a server client, else ``settings.vlm_backend``."""
        return "openai" if self._client is not None else self.settings.vlm_backend

    @property
    def client(self) -> VLMClient:
        """The server client every role's model shares (``openai`` backend only), built on first use.

        Raises :class:`~qwenvl_agents.errors.VLMConnectionError` when no server is configured.
        """
        if self.backend != "openai":
            raise VLMConnectionError(
                f"QWENVL_VLM_BACKEND={self.settings.vlm_backend} runs the model in this process; "
                "there is no server client"
            )
        with self._lock:
            if self._client is None:
                from qwenvl_agents.vlm.client import VLMClient

                self._client = VLMClient.from_settings(self.settings)
            return self._client

    def check_configuration(self) -> ModelPort:
        """Build the server client now, so a missing ``QWENVL_VLM_BASE_URL`` shows before any work.

        The in-process backends check their package when a model is asked for and load on the first
        request. Raises :class:`~qwenvl_agents.errors.VLMConnectionError`; returns the port.
        """
        if self.backend == "openai":
            _ = self.client
        return self

    @property
    def max_images_per_prompt(self) -> int | None:
        """Images one prompt may hold (``QWENVL_VLM_MAX_IMAGES_PER_PROMPT``), ``None`` when not set."""
        if self._client is not None:
            return self._client.max_images_per_prompt
        return self.settings.vlm_max_images_per_prompt

    @property
    def media_rules(self) -> MediaRules:
        """The served model family's media rules: visual-token grid, default budgets (the client's, for a client).

        Chosen by ``QWENVL_VLM_MODEL_FAMILY``, else the model's ``config.json`` or name
        (:func:`~qwenvl_agents.vlm.media_rules.media_rules_for`).

        >>> ModelPort.from_settings(vlm_model="Qwen/Qwen3-VL-8B-Instruct").media_rules.factor
        32
        """
        return self._client.media_rules if self._client is not None else self.settings.media_rules

    def check_image_count(self, count: int) -> None:
        """Raise :class:`~qwenvl_agents.errors.VLMRequestError` when ``count`` images exceed
        :attr:`max_images_per_prompt`, before anything is read or sent."""
        from qwenvl_agents.vlm.media_rules import check_image_count

        check_image_count(count, self.max_images_per_prompt)

    @property
    def min_pixels(self) -> int:
        """The smallest image size, in pixels, of the pixel budget (the client's, for a given client)."""
        return self._client.min_pixels if self._client is not None else self.settings.min_pixels

    @property
    def max_pixels(self) -> int:
        """The largest image size, in pixels, of the pixel budget (the client's, for a given client)."""
        return self._client.max_pixels if self._client is not None else self.settings.max_pixels

    @property
    def base_urls(self) -> list[str]:
        """The server endpoints (none for the in-process backends), for messages."""
        if self._client is not None:
            return list(self._client.base_urls)
        return self.settings.vlm_base_urls if self.backend == "openai" else []

    def max_model_len(self) -> int | None:
        """The model's context length: the server's (asked once), or the local engine's ``QWENVL_VLM_MAX_MODEL_LEN``.

        ``None`` when unknown (the server does not say, or cannot be reached now: asked again later).
        """
        if self.backend != "openai":
            return self.settings.vlm_max_model_len
        return self.client.limits.get()

    async def amax_model_len(self) -> int | None:
        """The asynchronous :meth:`max_model_len`."""
        if self.backend != "openai":
            return self.settings.vlm_max_model_len
        return await self.client.limits.aget()

    def chat_model(self, role: ModelRole = "chat", **overrides: Any) -> BaseChatModel:
        """The chat model for ``role``; keyword arguments override its options.

        Raises ``ValueError`` for an unknown role, :class:`~qwenvl_agents.errors.MissingDependencyError`
        when a local backend's package is missing.
        """
        if role not in MODEL_ROLES:
            raise ValueError(f"unknown model role {role!r}: one of {', '.join(MODEL_ROLES)}")
        options = {**_ROLE_OPTIONS.get(role, {}), **overrides}
        try:
            key: tuple[Hashable, ...] | None = (role, *sorted(options.items()))
            hash(key)
        except TypeError:  # unhashable options (a dict, a callback list): build, don't cache
            key = None
        with self._lock:
            if key is not None and key in self._models:
                return self._models[key]
        model = self._build(options)
        if key is not None:
            with self._lock:
                model = self._models.setdefault(key, model)
        return model

    def _build(self, options: dict[str, Any]) -> BaseChatModel:
        if self.backend == "openai":
            return self.client.chat_model(**options)
        local = {k: v for k, v in options.items() if k not in _SERVER_ONLY}
        per_request = {k: local.pop(k) for k in list(local) if k in _PER_REQUEST}
        # Anything else (another checkpoint, engine arguments) needs weights of its own.
        local["model"] = local.get("model") or self.settings.vlm_model
        key = repr(sorted(local.items()))
        with self._lock:
            base = self._local.get(key)
            if base is None:
                from qwenvl_agents.vlm.backends import local_chat_model

                base = self._local[key] = local_chat_model(self.settings, **local)
        return base.variant(**per_request) if per_request else base

    def prepare(self, image: ImageInput | PreparedImage) -> PreparedImage:
        """One image sized within the settings' pixel budget (the client's, on the server backend), on the
        model family's grid (:attr:`media_rules`), with its visual-token count."""
        from qwenvl_agents.vlm.images import PreparedImage, prepare_image

        if isinstance(image, PreparedImage):
            return image
        if self.backend == "openai":
            return self.client.prepare(image)
        s = self.settings
        return prepare_image(
            image,
            min_pixels=s.min_pixels,
            max_pixels=s.max_pixels,
            max_aspect_ratio=s.max_aspect_ratio,
            fetch_timeout=s.image_fetch_timeout,
            max_bytes=s.download_max_bytes,
            max_image_pixels=s.max_image_pixels,
            rules=s.media_rules,
        )

    def explain(self, exc: BaseException) -> VLMError:
        """A model exception as a :class:`~qwenvl_agents.errors.VLMError` that says what to do."""
        from qwenvl_agents.vlm.client import explain_error

        return explain_error(exc, self.base_urls)

    def close(self) -> None:
        """Close the HTTP client and stop the local engines this port built (a given client stays open)."""
        with self._lock:
            client, self._client = (self._client if self._owns_client else None), None
            local, self._local = list(self._local.values()), {}
            self._models.clear()
        if client is not None:
            client.close()
        for model in local:
            close = getattr(model, "close", None)
            if callable(close):
                close()

    async def aclose(self) -> None:
        """:meth:`close`, also closing the running event loop's connections."""
        client = self._client if self._owns_client else None
        if client is not None:
            await client.aclose()
        self.close()

    def __enter__(self) -> ModelPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ModelPort:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
