"""Index a video's frames and find when something first appears in it.

    python examples/video_search.py                       # a generated clip; finds the word "object" (3 s)
    python examples/video_search.py clip.mp4 "red car"    # your own video and query

Frames are sampled once per second (QWENVL_VIDEO_FPS) and indexed as pages with their timestamps: OCR
reads the text in each frame (offline), and with a vLLM server (QWENVL_VLM_BASE_URL) Qwen2.5-VL also
describes it. Running it again on the same video re-extracts nothing. The answer is the best-matching
moments and the first appearance: the earliest frame whose text holds every word of the query.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from qwenvl_agents import Settings
from qwenvl_agents.samples import write_sample_video
from qwenvl_agents.workflows.video_search import VideoSearch


def main() -> None:
    if len(sys.argv) == 2:
        sys.exit('usage: python examples/video_search.py [VIDEO "query"]')
    if len(sys.argv) >= 3:
        video, query = Path(sys.argv[1]), sys.argv[2]
    else:
        video, query = write_sample_video(Path(tempfile.mkdtemp()) / "demo-clip.mp4"), "object"

    settings = Settings()
    reader = "auto" if settings.vlm_base_urls else "ocr"  # the VLM describes frames when a server is set
    search = VideoSearch(settings, extractor=reader)
    result = search.search_many([video], query, k=5)[0]
    if not result.ok:
        sys.exit(f"{video}: {result.error}")
    print(
        f"{video.name}: {result.frames} frames over {result.duration:.1f} s, read by {reader} "
        f"({result.frames_new} extracted now, {result.frames_skipped} already indexed)"
    )
    first = result.first_appearance
    if first is None:
        print(f"{query!r} was not found")
    else:
        print(f"{query!r} first appears at {first.timestamp:.1f} s (frame image: {first.image_path})")
    print("best moments:")
    for moment in result.moments:
        print(
            f"  {moment.timestamp:6.1f} s  score {moment.score:.4f}  {'strong' if moment.strong else '      '}"
            f"  {moment.snippet[:70]!r}"
        )


if __name__ == "__main__":
    main()
