"""Choosing and combining extractors: ``make_extractor(settings)`` and the ``auto`` strategy.

``auto`` reads a page from its text layer when that is good, with OCR when it is not; when a VLM is
configured it then asks the VLM, giving it that text as a hint and keeping it as the fallback. So the
VLM never waits for OCR on born-digital pages, and a scan whose VLM answer is unusable still gets text.
``vlm`` asks the VLM directly (hint: a good text layer only) and computes the offline reading only when
it is needed as a fallback.

Example:
    >>> from qwenvl_agents.settings import Settings
    >>> make_extractor(Settings(extractor="text")).name
    'text'
    >>> make_extractor(Settings(extractor="auto"), ocr=False).describe()["prompt_version"]
    'auto/text-1'
"""

from __future__ import annotations

from qwenvl_agents.extract.base import BaseExtractor, failed
from qwenvl_agents.extract.ocr import OcrExtractor, rapidocr_available
from qwenvl_agents.extract.text import TextLayerExtractor, text_layer_problem
from qwenvl_agents.extract.vlm import VLMExtractor
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import PageExtraction, PageImage, TextLayer
from qwenvl_agents.vlm.client import VLMClient

_NO_OCR = "OCR is not installed (pip install 'qwenvl-agents[ocr]')"


class AutoExtractor(BaseExtractor):
    """Text layer when good, else OCR; then the VLM on top when one is given (see module docs)."""

    name = "auto"

    def __init__(
        self,
        text: TextLayerExtractor | None = None,
        ocr: OcrExtractor | None = None,
        vlm: VLMExtractor | None = None,
    ) -> None:
        self.text = text or TextLayerExtractor()
        self.ocr = ocr
        self.vlm = vlm
        parts = [p.prompt_version for p in (self.text, ocr, vlm) if p is not None and p.prompt_version]
        self.prompt_version = "auto/" + "/".join(parts)
        self.model = vlm.model if vlm else (ocr.model if ocr else None)
        self.max_in_flight = vlm.max_in_flight if vlm else (ocr.max_in_flight if ocr else self.text.max_in_flight)

    async def aoffline(self, page: PageImage) -> tuple[PageExtraction, TextLayer | None]:
        """The reading without a VLM, and the text it came from (the VLM's hint)."""
        problem = text_layer_problem(page.text_layer, page)
        if problem is None:
            return self.text.extract(page), page.text_layer
        if self.ocr is None:
            return failed(page, "text", f"text: {problem}; {_NO_OCR}", prompt_version=self.text.prompt_version), None
        extraction, layer = await self.ocr.aextract_with_layer(page)
        return extraction, layer

    def offline(self, page: PageImage) -> tuple[PageExtraction, TextLayer | None]:
        problem = text_layer_problem(page.text_layer, page)
        if problem is None:
            return self.text.extract(page), page.text_layer
        if self.ocr is None:
            return failed(page, "text", f"text: {problem}; {_NO_OCR}", prompt_version=self.text.prompt_version), None
        extraction = self.ocr.extract(page)
        layer = TextLayer(extraction.markdown, (), "ocr") if extraction.status == "ok" else None
        return extraction, layer

    async def aextract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        base, layer = await self.aoffline(page)
        if self.vlm is None:
            return base
        return await self.vlm.aextract(page, hint or layer, base=base)

    def extract(self, page: PageImage, hint: TextLayer | None = None) -> PageExtraction:
        base, layer = self.offline(page)
        if self.vlm is None:
            return base
        return self.vlm.extract(page, hint or layer, base=base)


def make_extractor(
    settings: Settings | None = None,
    client: VLMClient | None = None,
    name: str | None = None,
    *,
    ocr: bool | None = None,
) -> BaseExtractor:
    """The extractor named by ``name`` (default ``settings.extractor``): ``text``, ``ocr``, ``vlm``, ``auto``.

    ``vlm`` and ``auto`` use ``client``, or one built from the settings when ``QWENVL_VLM_BASE_URL`` is
    set, or, with ``QWENVL_VLM_BACKEND=transformers|vllm``, the model loaded in this process; ``auto``
    without any is the offline reader. ``ocr=False`` leaves OCR out (``None``: use it
    when RapidOCR is installed). Raises ``ValueError`` for an unknown name or ``vlm`` without a server.
    """
    s = settings or Settings()
    which = name or s.extractor
    use_ocr = rapidocr_available() if ocr is None else ocr
    if which == "text":
        return TextLayerExtractor()
    if which == "ocr":
        return OcrExtractor(min_score=s.ocr_min_score)
    if which not in ("vlm", "auto"):
        raise ValueError(f"unknown extractor {which!r}: choose text, ocr, vlm or auto")
    ocr_extractor = OcrExtractor(min_score=s.ocr_min_score) if use_ocr else None
    if client is None and s.vlm_backend != "openai":
        return _local_extractor(s, which, ocr_extractor)
    if client is None and s.vlm_base_urls:
        from qwenvl_agents.vlm.port import ModelPort

        client = ModelPort.from_settings(s).client
    if which == "vlm":
        if client is None:
            raise ValueError("the vlm extractor needs a VLM server: set QWENVL_VLM_BASE_URL or pass a client")
        offline = AutoExtractor(TextLayerExtractor(), ocr_extractor)
        return VLMExtractor(client, settings=s, fallback=offline)
    vlm = VLMExtractor(client, settings=s) if client is not None else None
    return AutoExtractor(TextLayerExtractor(), ocr_extractor, vlm)


def _local_extractor(s: Settings, which: str, ocr_extractor: OcrExtractor | None) -> BaseExtractor:
    """``vlm`` / ``auto`` on an in-process model (``QWENVL_VLM_BACKEND=transformers`` or ``vllm``).

    The model loads on the first page. With ``vllm`` the extractor's concurrent pages are gathered into
    batched ``LLM.chat`` calls; ``max_model_len`` is the engine's context (``QWENVL_VLM_MAX_MODEL_LEN``).
    """
    from qwenvl_agents.vlm.port import ModelPort

    chat = ModelPort.from_settings(s).chat_model("extraction")
    fallback = AutoExtractor(TextLayerExtractor(), ocr_extractor) if which == "vlm" else None
    vlm = VLMExtractor(
        chat_model=chat, model_name=s.vlm_model, settings=s, max_model_len=s.vlm_max_model_len, fallback=fallback
    )
    return vlm if which == "vlm" else AutoExtractor(TextLayerExtractor(), ocr_extractor, vlm)
