"""A small sample video in which something appears part-way through, for the video workflows' demos.

Written with OpenCV's ``mp4v`` writer, so no codec outside the wheel is needed (``pip install
'qwenvl-agents[video]'``). Each second shows its time in large digits (OCR and the offline extractor can
read it), and from ``appears_at`` on a red disc and the word ``label`` are drawn: video search should
find the word from that second on, and a detector asked for "a red disc" should fire there.
"""

from __future__ import annotations

from pathlib import Path

from qwenvl_agents.errors import MissingDependencyError


def write_sample_video(
    path: str | Path,
    *,
    seconds: int = 6,
    fps: float = 4.0,
    appears_at: float | None = 3.0,
    size: tuple[int, int] = (224, 168),
    label: str = "object",
) -> Path:
    """Write ``seconds`` of video to ``path`` (``.mp4``) and return it.

    >>> import tempfile, pathlib
    >>> from qwenvl_agents.documents import iter_pages
    >>> clip = write_sample_video(pathlib.Path(tempfile.mkdtemp()) / "clip.mp4", seconds=3)
    >>> [page.timestamp for page in iter_pages(clip)]
    [0.0, 1.0, 2.0]
    """
    try:
        import cv2
        import numpy as np
    except ImportError as exc:
        raise MissingDependencyError(
            "Writing the sample video needs OpenCV: pip install 'qwenvl-agents[video]'"
        ) from exc
    path = Path(path)
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path}")
    try:
        for i in range(int(seconds * fps)):
            t = i / fps
            frame = np.full((height, width, 3), 235, np.uint8)
            # A slow gradient so consecutive frames differ and contrast enhancement has work to do.
            frame[:, :, 1] = np.uint8(200 + (i * 3) % 40)
            cv2.putText(frame, f"t={int(t)}s", (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
            if appears_at is not None and t >= appears_at:
                cv2.circle(frame, (width // 2, height // 2 + 10), height // 5, (30, 30, 220), -1)
                cv2.putText(frame, label, (8, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
            writer.write(frame)
    finally:
        writer.release()
    return path
