"""Small generated videos for the video workflow tests.

``make_video`` is the package's own sample clip (:func:`qwenvl_agents.samples.write_sample_video`): a plain
scene where a red disc and the word ``object`` appear at ``appears_at``.
"""

from __future__ import annotations

from pathlib import Path

from qwenvl_agents.samples import write_sample_video as make_video

__all__ = ["make_undecodable_video", "make_video"]


def make_undecodable_video(path: Path) -> Path:
    """A file named like a video whose bytes are not one (a truncated header and noise)."""
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return path
