"""Re-ingesting a video at another frame rate replaces its frames: new timestamps, no frames left over."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwenvl_agents.documents import RenderOptions
from qwenvl_agents.ingest import Ingestor
from qwenvl_agents.settings import Settings
from tests.support.videos import make_video

pytestmark = [pytest.mark.integration]


def test_a_new_rate_replaces_the_frames(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=6, fps=4, appears_at=3)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]

    def ingest(rate: float) -> Ingestor:
        ingestor = Ingestor(
            settings, extractor="ocr", render_options=RenderOptions.from_settings(settings, video_fps=rate)
        )
        summary = ingestor.run([video])
        assert summary.documents_failed == 0
        return ingestor

    first = ingest(1.0)
    (doc,) = first.index.documents()
    assert [p.page for p in first.index.pages_of(doc.document_id)] == [1, 2, 3, 4, 5, 6]

    second = ingest(0.5)
    pages = second.index.pages_of(doc.document_id)
    assert [(p.page, p.metadata.get("timestamp")) for p in pages] == [(1, 0.0), (2, 2.0), (3, 4.0)]
    # The same rate again does no work.
    assert ingest(0.5).run([video]).pages_skipped == 3
