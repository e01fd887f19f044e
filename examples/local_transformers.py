"""Qwen2.5-VL with Hugging Face transformers in this process: the classic recipe, as a LangChain chat model.

    pip install 'qwenvl-agents[transformers]'          # + flash-attn on a GPU for --flash-attn
    python examples/local_transformers.py --image page.png --image photo.jpg --video clip.mp4
    python examples/local_transformers.py --model Qwen/Qwen2.5-VL-7B-Instruct --flash-attn --max-pixels 1003520 ...

Three questions, like the model card: one image, two images compared, a video described. Images are
paths, URLs or data URLs; min/max pixels bound the visual tokens per image (and per video frame).
Without --image/--video it draws two small test images. ``--json`` prints one JSON object per answer
(status, tokens, finish reason); the exit code is non-zero when a question failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from PIL import Image, ImageDraw

from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import ChatQwenTransformers, ModelPort


def _sample_images(folder: Path) -> list[str]:
    paths = []
    for name, colour in (("red-square.png", "red"), ("blue-circle.png", "blue")):
        image = Image.new("RGB", (320, 240), "white")
        draw = ImageDraw.Draw(image)
        (draw.rectangle if "square" in name else draw.ellipse)((80, 40, 240, 200), fill=colour)
        image.save(folder / name)
        paths.append(str(folder / name))
    return paths


def _image(source: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": source}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="Qwen/Qwen2.5-VL-3B-Instruct", help="hub id or local folder")
    parser.add_argument("--image", action="append", default=[], help="image path/URL (give two to compare)")
    parser.add_argument("--video", help="video path/URL to describe")
    parser.add_argument("--min-pixels", type=int, default=256 * 28 * 28)
    parser.add_argument("--max-pixels", type=int, default=1280 * 28 * 28)
    parser.add_argument("--flash-attn", action="store_true", help="use flash_attention_2 (needs flash-attn + CUDA)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--video-frames", type=int, default=16, help="at most this many frames per video")
    parser.add_argument("--json", action="store_true", help="one JSON object per answer")
    args = parser.parse_args(argv)

    images = args.image or _sample_images(Path(tempfile.mkdtemp(prefix="qwenvl-example-")))
    settings = Settings(
        vlm_backend="transformers",
        vlm_model=args.model,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        vlm_attn_implementation="flash_attention_2" if args.flash_attn else "auto",
    )
    # The port builds the model (ChatQwenTransformers here): the same call serves every backend.
    port = ModelPort.from_settings(settings)
    chat = port.chat_model("chat", max_tokens=args.max_tokens, video_max_frames=args.video_frames)
    assert isinstance(chat, ChatQwenTransformers)  # what it loaded is printed at the end
    questions: list[tuple[str, list[Any]]] = [("one_image", [_image(images[0]), "Describe this image."])]
    if len(images) > 1:
        questions.append(("two_images", [_image(images[0]), _image(images[1]), "What differs between them?"]))
    if args.video:
        questions.append(("video", [{"type": "video_url", "video_url": {"url": args.video}}, "Describe this video."]))

    failed = 0
    for task, content in questions:
        started = time.monotonic()
        try:
            answer = chat.invoke([HumanMessage(content)])
        except Exception as exc:  # one bad input is reported; the other questions still run
            failed += 1
            record: dict[str, Any] = {"task": task, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
        else:
            usage = answer.usage_metadata or {}
            record = {
                "task": task,
                "status": "ok",
                "answer": answer.content,
                "input_tokens": usage.get("input_tokens"),
                "output_tokens": usage.get("output_tokens"),
                "finish_reason": answer.response_metadata.get("finish_reason"),
                "seconds": round(time.monotonic() - started, 2),
            }
        if args.json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        elif record["status"] == "ok":
            print(f"[{task}] ({record['input_tokens']} tokens in, {record['finish_reason']})\n{record['answer']}\n")
        else:
            print(f"[{task}] error: {record['error']}\n", file=sys.stderr)
    if not args.json:
        print(f"loaded with {chat.resolved}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
