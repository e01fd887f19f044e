"""Small generated videos for the video workflow tests: a plain scene where an object appears later.

Made with OpenCV's ``mp4v`` writer so no codec outside the wheel is needed. Each second shows its number
in large digits (OCR and the offline extractor can read it), and from ``appears_at`` on a red disc and
the word ``object`` are drawn, so a test can tell the frames with the object from those without.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def make_video(
    path: Path,
    *,
    seconds: int = 6,
    fps: float = 4.0,
    appears_at: float | None = 3.0,
    size: tuple[int, int] = (224, 168),
    label: str = "object",
) -> Path:
    """Write ``seconds`` of video to ``path`` (``.mp4``) and return it."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for i in range(int(seconds * fps)):
            t = i / fps
            frame = np.full((height, width, 3), 235, np.uint8)
            # A slow gradient so consecutive frames differ and low-contrast enhancement has work to do.
            frame[:, :, 1] = np.uint8(200 + (i * 3) % 40)
            cv2.putText(frame, f"t={int(t)}s", (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
            if appears_at is not None and t >= appears_at:
                cv2.circle(frame, (width // 2, height // 2 + 10), height // 5, (30, 30, 220), -1)
                cv2.putText(frame, label, (8, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
            writer.write(frame)
    finally:
        writer.release()
    return path


def make_undecodable_video(path: Path) -> Path:
    """A file named like a video whose bytes are not one (a truncated header and noise)."""
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return path
