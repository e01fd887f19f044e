"""What the agent's nodes and tools share: settings, the page search, the chat and vision models.

Everything opens lazily, on the first run that needs it: compiling a graph (for ``langgraph dev``) needs
neither a model server nor an index.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from qwenvl_agents.errors import VLMError
from qwenvl_agents.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qwenvl_agents.agent.context import AgentContext
    from qwenvl_agents.retrieval import PageSearch
    from qwenvl_agents.vlm.media_rules import MediaRules
    from qwenvl_agents.vlm.port import ModelPort


class AgentResources:
    """Settings, page search (one per knowledge base) and models for the graphs.

    ``chat_model`` (the model that picks tools and answers) and ``vision_model`` (the one shown page
    images; defaults to ``chat_model``) may be injected, e.g. fakes in tests; otherwise they are the
    ``agent`` and ``pages`` models of the :class:`~qwenvl_agents.vlm.port.ModelPort` (``models``: given,
    or built from the settings on first use), per model name, temperature and token cap of the run's
    context, on whichever backend ``QWENVL_VLM_BACKEND`` names. An injected ``search`` serves its own
    knowledge base only. :meth:`close` closes a port built here.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        chat_model: BaseChatModel | None = None,
        vision_model: BaseChatModel | None = None,
        search: PageSearch | None = None,
        models: ModelPort | None = None,
    ) -> None:
        self._settings = settings
        self._chat_model = chat_model
        self._vision_model = vision_model
        self._search = search
        self._searches: dict[str, PageSearch] = {}
        self._port = models
        self._owns_port = models is None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings()
        return self._settings

    def search(self, context: AgentContext) -> PageSearch:
        """The page search over the context's knowledge base (opened once per knowledge base)."""
        if self._search is not None:
            wanted = context.knowledge_base
            if wanted and wanted != self._search.index.knowledge_base:
                raise ValueError(
                    f"this graph searches knowledge base {self._search.index.knowledge_base!r}, "
                    f"not {wanted!r}; build it without a search object to choose per run"
                )
            return self._search
        kb = context.knowledge_base or self.settings.knowledge_base
        with self._lock:
            if kb not in self._searches:
                from qwenvl_agents.retrieval import PageSearch

                self._searches[kb] = PageSearch.open(self.settings, kb)
            return self._searches[kb]

    @property
    def models(self) -> ModelPort:
        """The port the run's models come from (built from the settings on first use)."""
        with self._lock:
            if self._port is None:
                from qwenvl_agents.vlm.port import ModelPort

                self._port = ModelPort.from_settings(self.settings)
            return self._port

    @staticmethod
    def _options(context: AgentContext) -> dict[str, Any]:
        options: dict[str, Any] = {"temperature": context.temperature}
        if context.model:
            options["model"] = context.model
        if context.max_tokens:
            options["max_tokens"] = context.max_tokens
        return options

    def chat_model(self, context: AgentContext) -> BaseChatModel:
        """The model that chooses tools and writes answers."""
        if self._chat_model is not None:
            return self._chat_model
        return self.models.chat_model("agent", **self._options(context))

    def vision_model(self, context: AgentContext) -> BaseChatModel:
        """The model shown page images."""
        if self._vision_model is not None:
            return self._vision_model
        if self._chat_model is not None:
            return self._chat_model
        return self.models.chat_model("pages", **self._options(context))

    @property
    def image_limit(self) -> int | None:
        """The server's images per prompt (``QWENVL_VLM_MAX_IMAGES_PER_PROMPT``), ``None`` when not set."""
        return self.settings.vlm_max_images_per_prompt

    @property
    def media_rules(self) -> MediaRules:
        """The model family's media rules (the port's): the grid page images are sized on."""
        return self.models.media_rules

    def pixels(self, context: AgentContext) -> tuple[int, int]:
        """``(min_pixels, max_pixels)`` of a look: the context's, else the settings'."""
        low = context.min_pixels or self.settings.min_pixels
        high = context.max_pixels or self.settings.max_pixels
        if low > high:
            raise ValueError(f"min_pixels {low} is above max_pixels {high}")
        return low, high

    def explain(self, exc: BaseException) -> VLMError:
        """A model-server exception as a :class:`VLMError` that says what to do."""
        from qwenvl_agents.vlm import explain_error

        return explain_error(exc, self.settings.vlm_base_urls)

    def close(self) -> None:
        """Close the model port built here (a given one stays open)."""
        if not self._owns_port:
            return
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            port.close()
