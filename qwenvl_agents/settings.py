"""Infrastructure settings, read from ``QWENVL_*`` environment variables and a ``.env`` file.

Per-run knobs (how many pages to retrieve, which documents to search) do not live here; they are passed
per call or through a graph's context.

Example:
    >>> from qwenvl_agents.settings import Settings
    >>> s = Settings(vlm_base_url="http://gpu1:8000/v1,http://gpu2:8000/v1")
    >>> s.vlm_base_urls
    ['http://gpu1:8000/v1', 'http://gpu2:8000/v1']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from qwenvl_agents.vlm.media_rules import MediaRules


class Settings(BaseSettings):
    """Where the model server, the data and the limits are. Every field maps to ``QWENVL_<NAME>``."""

    # QWENVL_ENV_FILE picks another settings file, or none when empty (the test suite uses that to keep a
    # developer's .env out); it is read when this module is imported.
    model_config = SettingsConfigDict(
        env_prefix="QWENVL_", env_file=os.environ.get("QWENVL_ENV_FILE", ".env") or None, extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("qwenvl-agents")),
        description="All state of the toolkit (page images, index, caches) lives under this folder.",
    )

    # --- vision-language model server (vLLM's OpenAI-compatible API) ---
    vlm_base_url: str | None = Field(
        default=None,
        description="One or more OpenAI-compatible base URLs ending in /v1, separated by commas.",
    )
    vlm_model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    vlm_api_key: SecretStr = SecretStr("EMPTY")
    vlm_timeout: float = Field(default=120.0, gt=0, description="Seconds for one request.")
    vlm_max_images_per_prompt: int | None = Field(
        default=None,
        ge=1,
        description="The server's --limit-mm-per-prompt image count; checked before a request is sent.",
    )
    vlm_backend: Literal["openai", "transformers", "vllm"] = Field(
        default="openai",
        description=(
            "openai: a vLLM (or any OpenAI-compatible) server at QWENVL_VLM_BASE_URL; transformers: the model "
            "loaded in this process with Hugging Face transformers; vllm: vLLM's offline engine in this process. "
            "The local backends load QWENVL_VLM_MODEL (a hub id or a folder)."
        ),
    )
    vlm_device_map: str = Field(default="auto", description="transformers backend: device_map for the model.")
    vlm_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto", description="Local backends: weights dtype (auto: bfloat16 on a GPU, float32 on a CPU)."
    )
    vlm_attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = Field(
        default="auto", description="transformers backend: auto uses flash attention 2 when it is installed."
    )
    vlm_tensor_parallel_size: int = Field(default=1, ge=1, description="vllm backend: GPUs per model copy.")
    vlm_max_model_len: int | None = Field(default=None, ge=256, description="vllm backend: context length.")
    vlm_gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1, description="vllm backend: GPU share.")
    vlm_model_family: Literal["auto", "qwen2-vl", "qwen2.5-vl", "qwen3-vl"] = Field(
        default="auto",
        description=(
            "The model family's media rules (visual-token size: 28 px for Qwen2-VL and Qwen2.5-VL, 32 px for "
            "Qwen3-VL). auto: from QWENVL_VLM_MODEL's config.json when it is a folder, else from its name, "
            "else Qwen2.5-VL."
        ),
    )
    # 0 stands for "the family's default" and is replaced when the settings are made (see _pixel_defaults).
    min_pixels: int = Field(
        default=0, ge=0, description="Smallest image size in pixels; default 256 visual tokens of the model family."
    )
    max_pixels: int = Field(
        default=0, ge=0, description="Largest image size in pixels; default 1280 visual tokens of the model family."
    )
    max_aspect_ratio: float = Field(default=200.0, gt=1)

    # --- rendering ---
    render_dpi: float = Field(default=150.0, gt=0, le=1200)
    render_workers: int = Field(default=1, ge=0, description="Processes for rendering; 0 uses every core.")
    page_image_format: Literal["png", "jpeg", "webp"] = "png"
    page_image_quality: int = Field(default=90, ge=1, le=100)
    max_image_pixels: int = Field(
        default=100_000_000, gt=0, description="Larger images are refused (decompression-bomb guard)."
    )
    video_fps: float = Field(default=1.0, gt=0, description="Frames sampled per second of video.")
    download_max_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    download_timeout: float = Field(default=30.0, gt=0)
    image_fetch_timeout: float = Field(
        default=10.0, gt=0, description="Seconds an image URL given to the VLM has to deliver the whole image."
    )
    soffice_path: str | None = Field(
        default=None, description="LibreOffice's soffice binary; found on PATH when not set."
    )
    office_timeout: float = Field(default=180.0, gt=0)

    # --- extraction (page -> PageExtraction) ---
    extractor: Literal["auto", "vlm", "ocr", "text"] = Field(
        default="auto",
        description="auto: text layer when good, OCR when not, and the VLM on top when one is configured.",
    )
    vlm_max_concurrency: int = Field(
        default=64, ge=1, description="Requests in flight per endpoint; enough to keep vLLM's batch full."
    )
    vlm_max_retries: int = Field(
        default=5, ge=0, description="Transport retries (connection errors, 429, 5xx) with backoff per request."
    )
    extract_attempts: int = Field(
        default=3, ge=1, description="Tries per page when the model's output is invalid; then the page falls back."
    )
    extract_max_tokens: int = Field(default=4096, ge=16, description="Output token cap for one page.")
    extract_text_hint: bool = Field(default=True, description="Give the page's text layer or OCR to the VLM.")
    ocr_min_score: float = Field(default=0.5, ge=0, le=1, description="OCR lines scored lower are dropped.")

    # --- index (ChromaDB + lexical) ---
    knowledge_base: str = Field(default="default", description="Name of the Chroma collection to use.")
    chroma_url: str | None = Field(
        default=None, description="http://host:port of a `chroma run` server; embedded under data_dir when unset."
    )
    embeddings: Literal["hashing", "openai", "sentence-transformers"] = Field(
        default="hashing", description="hashing works offline with no model; the others need a model."
    )
    embeddings_model: str | None = None
    embeddings_base_url: str | None = Field(
        default=None, description="OpenAI-compatible /v1 URL for embeddings (e.g. vLLM serving an embedding model)."
    )
    chunk_chars: int = Field(default=2000, ge=200, description="Pages longer than this also get chunk records.")

    @field_validator("vlm_base_url")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    @model_validator(mode="after")
    def _pixel_defaults(self) -> Settings:
        # The default budget is in visual tokens, so its pixels follow the model family (28 or 32 px a token).
        # Written past pydantic's bookkeeping, so a copy made with another model computes them afresh.
        if not self.min_pixels or not self.max_pixels:
            rules = self.media_rules
            if not self.min_pixels:
                self.__dict__["min_pixels"] = rules.default_min_pixels
            if not self.max_pixels:
                self.__dict__["max_pixels"] = rules.default_max_pixels
        return self

    @property
    def media_rules(self) -> MediaRules:
        """The model family's media rules (:func:`~qwenvl_agents.vlm.media_rules.media_rules_for`).

        >>> Settings(vlm_model="Qwen/Qwen3-VL-8B-Instruct").media_rules.factor
        32
        """
        from qwenvl_agents.vlm.media_rules import media_rules_for

        return media_rules_for(self.vlm_model, self.vlm_model_family)

    @property
    def vlm_base_urls(self) -> list[str]:
        """The configured endpoints, in order, without trailing slashes."""
        if not self.vlm_base_url:
            return []
        return [u.strip().rstrip("/") for u in self.vlm_base_url.split(",") if u.strip()]

    @property
    def render_processes(self) -> int:
        return self.render_workers or os.cpu_count() or 1

    @property
    def page_image_dir(self) -> Path:
        return self.data_dir / "page-images"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / "ingest-ledger.sqlite3"
