"""How documents are rendered: resolution, limits, helpers and parallelism."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwenvl_agents.settings import Settings


@dataclass(frozen=True)
class RenderOptions:
    """Knobs for turning documents into page images.

    ``dpi`` applies to PDFs and converted office files (images and video frames keep their own pixels).
    ``password`` opens encrypted PDFs. ``workers`` is a number of processes (``0`` = one per core).
    ``cache_dir`` keeps office→PDF conversions and downloads between runs, keyed by content hash;
    ``None`` uses temporary folders that are removed when a document is closed.

    Example:
        >>> opts = RenderOptions(dpi=100, workers=2)
        >>> opts.process_count
        2
        >>> RenderOptions().scale
        2.0833333333333335
    """

    dpi: float = 150.0
    password: str | None = None
    video_fps: float = 1.0
    max_image_pixels: int = 100_000_000
    download_max_bytes: int = 100 * 1024 * 1024
    download_timeout: float = 30.0
    soffice_path: str | None = None
    office_timeout: float = 180.0
    workers: int = 1
    cache_dir: Path | None = None
    max_render_pixels: int | None = None
    """Render PDF and office pages no larger than this (lowering the dpi): when only a vision model with
    a pixel budget will look at the page, pixels beyond the budget cost time and are thrown away."""

    def __post_init__(self) -> None:
        # Fail at construction rather than deep inside a worker process.
        if not 0 < self.dpi <= 1200:
            raise ValueError(f"dpi must be in (0, 1200], not {self.dpi}")
        if self.video_fps <= 0:
            raise ValueError(f"video_fps must be > 0, not {self.video_fps}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = every core), not {self.workers}")
        for name in ("max_image_pixels", "download_max_bytes", "download_timeout", "office_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        if self.max_render_pixels is not None and self.max_render_pixels <= 0:
            raise ValueError(f"max_render_pixels must be > 0, not {self.max_render_pixels}")
        if self.cache_dir is not None and not isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RenderOptions:
        """Options from :class:`~qwenvl_agents.settings.Settings`, with per-call ``overrides``.

        Example:
            >>> from qwenvl_agents.settings import Settings
            >>> RenderOptions.from_settings(Settings(render_dpi=100), workers=3).dpi
            100.0
        """
        base = cls(
            dpi=settings.render_dpi,
            video_fps=settings.video_fps,
            max_image_pixels=settings.max_image_pixels,
            download_max_bytes=settings.download_max_bytes,
            download_timeout=settings.download_timeout,
            soffice_path=settings.soffice_path,
            office_timeout=settings.office_timeout,
            workers=settings.render_workers,
            cache_dir=settings.cache_dir,
        )
        return dataclasses.replace(base, **overrides) if overrides else base

    @property
    def scale(self) -> float:
        """Pixels per PDF point (1/72 inch) at ``dpi``."""
        return self.dpi / 72.0

    @property
    def process_count(self) -> int:
        """Worker processes to use: ``workers``, or every core when it is 0."""
        return self.workers or os.cpu_count() or 1
