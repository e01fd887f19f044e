"""The Qwen2.5-VL workflows users know, built on the one chat-model seam of :mod:`qwenvl_agents.vlm`.

Each workflow takes a :class:`~qwenvl_agents.vlm.VLMClient` or any LangChain chat model (a local backend
from :func:`~qwenvl_agents.vlm.chat_model_from_settings`) and works on batches where one bad item never
stops the rest: every result carries its own status and error.

- :mod:`~qwenvl_agents.workflows.video_qa`: ask about a video (sampled frames, or native video input).
- :mod:`~qwenvl_agents.workflows.video_search`: index a video's frames and find when something appears.
- :mod:`~qwenvl_agents.workflows.detector`: watch a video frame by frame until something is seen.
- :mod:`~qwenvl_agents.workflows.inspection`: a pydantic schema of questions, one validated answer per image.

Names load on first use (OpenCV, Chroma and the ingest pipeline are not imported with the package).

Example:
    >>> from qwenvl_agents import workflows
    >>> workflows.VisualInspector.__name__
    'VisualInspector'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwenvl_agents.workflows.detector import DetectionSummary, FrameAnswer, FrameEvent, VideoDetector
    from qwenvl_agents.workflows.inspection import InspectionResult, VisualInspector
    from qwenvl_agents.workflows.video_qa import VideoAnswer, aask_video, ask_video, ask_videos
    from qwenvl_agents.workflows.video_search import VideoMoment, VideoSearch, VideoSearchResult, search_video

_LAZY = {
    "DetectionSummary": "detector",
    "FrameAnswer": "detector",
    "FrameEvent": "detector",
    "VideoDetector": "detector",
    "InspectionResult": "inspection",
    "VisualInspector": "inspection",
    "VideoAnswer": "video_qa",
    "aask_video": "video_qa",
    "ask_video": "video_qa",
    "ask_videos": "video_qa",
    "VideoMoment": "video_search",
    "VideoSearch": "video_search",
    "VideoSearchResult": "video_search",
    "search_video": "video_search",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qwenvl_agents.workflows' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qwenvl_agents.workflows.{module}"), name)


__all__ = [
    "DetectionSummary",
    "FrameAnswer",
    "FrameEvent",
    "InspectionResult",
    "VideoAnswer",
    "VideoDetector",
    "VideoMoment",
    "VideoSearch",
    "VideoSearchResult",
    "VisualInspector",
    "aask_video",
    "ask_video",
    "ask_videos",
    "search_video",
]
