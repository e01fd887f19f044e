"""Probe of ChatQwenTransformers with the tiny checkpoint: one image, two images, a video, stop, errors.

Run with the server venv's python: ``probe_transformers.py MODEL_DIR WORK_DIR``; prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from PIL import Image

from qwenvl_agents.vlm.local_transformers import ChatQwenTransformers
from tests.support.videos import make_undecodable_video, make_video


def usage(message: Any) -> dict[str, Any]:
    return {
        "input_tokens": message.usage_metadata["input_tokens"],
        "output_tokens": message.usage_metadata["output_tokens"],
        "finish_reason": message.response_metadata.get("finish_reason"),
        "text_type": type(message.content).__name__,
    }


def error_of(call: Any) -> str | None:
    try:
        call()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> None:
    model_dir, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    red, blue = work / "red.png", work / "blue.jpg"
    Image.new("RGB", (400, 300), "red").save(red)
    Image.new("RGB", (300, 500), "blue").save(blue)
    video = make_video(work / "clip.mp4", seconds=3, fps=4.0, appears_at=1.0)
    bad = make_undecodable_video(work / "broken.mp4")

    started = time.monotonic()
    chat = ChatQwenTransformers(
        model=model_dir, min_pixels=16 * 784, max_pixels=96 * 784, max_tokens=12, video_max_frames=4
    )
    out: dict[str, Any] = {}
    out["text"] = usage(chat.invoke([SystemMessage("Be brief."), HumanMessage("Say hello.")]))
    out["load_and_first_s"] = round(time.monotonic() - started, 2)
    out["resolved"] = chat.resolved
    out["one_image"] = usage(chat.invoke([HumanMessage([{"type": "image_url", "image_url": str(red)}, "Colour?"])]))
    out["two_images"] = usage(
        chat.invoke(
            [
                HumanMessage(
                    [
                        {"type": "image_url", "image_url": {"url": red.as_uri()}},
                        {"type": "image", "url": str(blue)},
                        "Which one is blue?",
                    ]
                )
            ]
        )
    )
    out["video"] = usage(
        chat.invoke([HumanMessage([{"type": "video_url", "video_url": {"url": str(video)}}, "What appears?"])])
    )
    # Greedy decoding is deterministic: the same prompt twice gives the same text.
    a = chat.invoke("Count to three.")
    b = chat.invoke("Count to three.")
    out["deterministic"] = a.content == b.content
    # The tiny model emits '"' early; a stop string ends generation with finish_reason "stop".
    stopped = chat.bind(max_tokens=40, stop=['"']).invoke([HumanMessage("Answer in JSON.")])
    out["stop"] = {**usage(stopped), "contains_stop": '"' in str(stopped.content)}
    out["max_tokens_5"] = usage(chat.bind(max_tokens=5).invoke("Tell a long story."))
    out["json_schema_unconstrained"] = usage(
        chat.bind(
            max_tokens=8, extra_body={"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}
        ).invoke("Give JSON.")
    )
    out["bind_tools_error"] = error_of(lambda: chat.bind_tools([]))
    limited = chat.model_copy(update={"max_images_per_prompt": 1})
    out["too_many_images_error"] = error_of(
        lambda: limited.invoke([HumanMessage([{"type": "image_url", "image_url": str(red)}] * 2 + ["?"])])
    )
    out["bad_video_error"] = error_of(
        lambda: chat.invoke([HumanMessage([{"type": "video_url", "video_url": {"url": str(bad)}}, "?"])])
    )
    out["total_s"] = round(time.monotonic() - started, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
