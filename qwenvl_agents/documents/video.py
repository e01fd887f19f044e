"""Video files as pages: frames sampled at ``video_fps`` with OpenCV.

Frames are read front to back — ``grab()`` for skipped frames, ``retrieve()`` (which also converts the
pixels) only for sampled ones — because seeking in compressed video decodes from the previous key
frame every time and was several times slower. Sample ``k`` is the frame shown at ``k / video_fps``
seconds; it becomes page ``k + 1`` with ``PageImage.timestamp`` set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from qwenvl_agents.documents.base import Document, with_page_count
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.errors import CorruptDocumentError, DocumentTooLargeError, MissingDependencyError
from qwenvl_agents.types import DocumentInfo, PageImage


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise MissingDependencyError(
            "Reading video needs OpenCV: pip install 'qwenvl-agents[video]' (opencv-python-headless)"
        ) from exc
    return cv2


class VideoBackend(Document):
    """Sampled frames of a video. ``page_count`` is the number of samples, known when opened."""

    random_access = False

    def __init__(
        self, path: Path, info: DocumentInfo, options: RenderOptions, *, native_fps: float, frame_count: int
    ) -> None:
        super().__init__(info, options)
        self.path = path
        self.native_fps = native_fps
        self.frame_count = frame_count

    @classmethod
    def open(cls, path: Path, info: DocumentInfo, options: RenderOptions) -> VideoBackend:
        cv2 = _cv2()
        source = info.source
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise CorruptDocumentError(
                    source, "cannot be decoded as video; the file is damaged or uses an unknown codec"
                )
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
            frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
            height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
            if width * height > options.max_image_pixels:
                raise DocumentTooLargeError(
                    source, f"has {width} x {height} frames, more than max_image_pixels={options.max_image_pixels:,}"
                )
            if not math.isfinite(fps) or fps <= 0:
                raise CorruptDocumentError(source, "has no frame rate; the file is damaged or not a video")
            if not cap.grab():
                raise CorruptDocumentError(source, "has no decodable video frame; the file is damaged or truncated")
            if frames <= 0:
                # Some containers do not store a frame count; count once (grab only, no conversion).
                frames = 1
                while cap.grab():
                    frames += 1
        finally:
            cap.release()
        samples = max(1, math.ceil(frames * options.video_fps / fps - 1e-9))
        return cls(path, with_page_count(info, samples), options, native_fps=fps, frame_count=frames)

    def frame_index(self, sample: int) -> int:
        """The index of the frame shown at ``sample / video_fps`` seconds (sample counted from 0)."""
        index = math.floor(sample * self.native_fps / self.options.video_fps + 1e-6)
        return min(index, self.frame_count - 1)

    def pages(self) -> Iterator[PageImage]:
        yield from self._read(range(self.info.page_count))

    def _render(self, number: int) -> PageImage:
        # Random access reads from the start: correct, but slow for late pages. Prefer pages().
        return next(iter(self._read(range(number - 1, number))))

    def _read(self, samples: range) -> Iterator[PageImage]:
        cv2 = _cv2()
        source = self.info.source
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise CorruptDocumentError(source, "cannot be decoded as video any more (was it changed or removed?)")
            position = -1  # index of the last grabbed frame
            for sample in samples:
                target = self.frame_index(sample)
                while position < target:
                    if not cap.grab():
                        raise CorruptDocumentError(
                            source,
                            f"ended at frame {position + 1} although it announces {self.frame_count} frames; "
                            f"samples from {sample / self.options.video_fps:.1f} s on are missing "
                            "(the file is truncated or damaged)",
                        )
                    position += 1
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise CorruptDocumentError(source, f"frame {target} cannot be decoded")
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
                elif frame.shape[2] == 4:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
                else:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                image = Image.fromarray(frame)
                yield PageImage(self.info, sample + 1, image, timestamp=sample / self.options.video_fps)
        finally:
            cap.release()
