"""RenderOptions: defaults, settings, validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qwenvl_agents.documents import RenderOptions
from qwenvl_agents.settings import Settings


def test_from_settings_takes_every_rendering_field(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        render_dpi=100,
        render_workers=3,
        max_image_pixels=1000,
        video_fps=0.5,
        download_max_bytes=10,
        download_timeout=2,
        soffice_path="/opt/lo/soffice",
        office_timeout=9,
    )
    opts = RenderOptions.from_settings(settings, password="pw")
    assert opts == RenderOptions(
        dpi=100,
        password="pw",
        video_fps=0.5,
        max_image_pixels=1000,
        download_max_bytes=10,
        download_timeout=2,
        soffice_path="/opt/lo/soffice",
        office_timeout=9,
        workers=3,
        cache_dir=settings.cache_dir,
    )


def test_workers_zero_means_every_core() -> None:
    assert RenderOptions(workers=0).process_count == (os.cpu_count() or 1)
    assert RenderOptions().process_count == 1


@pytest.mark.parametrize("bad", [{"dpi": 0}, {"workers": -1}, {"video_fps": 0}, {"max_image_pixels": 0}])
def test_invalid_values_fail_early(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RenderOptions(**bad)  # type: ignore[arg-type]


def test_cache_dir_may_be_given_as_a_string(tmp_path: Path) -> None:
    assert RenderOptions(cache_dir=str(tmp_path)).cache_dir == tmp_path  # type: ignore[arg-type]
