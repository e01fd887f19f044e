"""Probe of ChatQwenVLLM (vLLM's offline engine on the CPU) with the tiny checkpoint.

Shows: a batch of several prompts in one ``LLM.chat`` call (counted on the engine itself), structured
output validated by a pydantic model, too many images and an undecodable video refused per prompt while
the rest of the batch is answered, concurrent ``ainvoke`` calls micro-batched, and ``VLMExtractor``
reading rendered pages concurrently through it. Usage: ``probe_vllm.py MODEL_DIR WORK_DIR``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from PIL import Image
from pydantic import BaseModel, Field

from qwenvl_agents.extract.vlm import VLMExtractor
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm.local_vllm import ChatQwenVLLM
from tests.support.pages import page
from tests.support.videos import make_undecodable_video, make_video


class Inspection(BaseModel):
    present: Literal["yes", "no"]
    confidence: int = Field(ge=1, le=10)
    description: str


def outcome(result: Any) -> dict[str, Any]:
    if isinstance(result, BaseException):
        return {"status": "error", "error": f"{type(result).__name__}: {result}"}
    return {
        "status": "ok",
        "input_tokens": result.usage_metadata["input_tokens"],
        "output_tokens": result.usage_metadata["output_tokens"],
        "finish_reason": result.response_metadata.get("finish_reason"),
    }


def main() -> None:
    model_dir, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    red = work / "red.png"
    Image.new("RGB", (400, 300), "red").save(red)
    video = make_video(work / "clip.mp4", seconds=3, fps=4.0, appears_at=1.0)
    bad = make_undecodable_video(work / "broken.mp4")
    image = {"type": "image_url", "image_url": str(red)}

    started = time.monotonic()
    chat = ChatQwenVLLM(
        model=model_dir,
        min_pixels=16 * 784,
        max_pixels=96 * 784,
        max_model_len=4096,
        limit_mm_per_prompt={"image": 4, "video": 1},
        enforce_eager=True,
        skip_mm_profiling=True,
        gpu_memory_utilization=None,
        max_tokens=16,
        video_max_frames=4,
    )
    llm = chat.load()
    out: dict[str, Any] = {"startup_s": round(time.monotonic() - started, 1)}

    # Count calls on the engine itself, not on our own bookkeeping.
    engine_calls: list[int] = []
    real_chat = llm.chat

    def counting_chat(conversations: Any, *args: Any, **kwargs: Any) -> Any:
        engine_calls.append(len(conversations))
        return real_chat(conversations, *args, **kwargs)

    llm.chat = counting_chat

    batch = [
        [HumanMessage("Say hello.")],
        [HumanMessage([image, "Colour?"])],
        [HumanMessage([image, image, "Same colour?"])],
        [HumanMessage([image] * 5 + ["Too many?"])],
        [HumanMessage([{"type": "video_url", "video_url": {"url": str(video)}}, "What appears?"])],
        [HumanMessage([{"type": "video_url", "video_url": {"url": str(bad)}}, "What appears?"])],
    ]
    t = time.monotonic()
    results = chat.batch(batch, return_exceptions=True)
    out["batch_s"] = round(time.monotonic() - t, 2)
    out["batch"] = [outcome(r) for r in results]
    out["batch_engine_calls"] = list(engine_calls)

    engine_calls.clear()
    structured = chat.with_structured_output(Inspection)
    # Keyword arguments of a sequence's batch go to its first step: the bound chat model.
    inspections = structured.batch([[HumanMessage([image, "Is there a fire?"])], "Is there smoke?"], max_tokens=300)
    out["structured"] = [i.model_dump() for i in inspections]
    raw = chat.bind(
        max_tokens=300,
        response_format={"type": "json_schema", "json_schema": {"schema": Inspection.model_json_schema()}},
    ).invoke("Inspect.")
    out["structured_raw"] = {**outcome(raw), "valid": Inspection.model_validate_json(str(raw.content)) is not None}
    out["structured_engine_calls"] = list(engine_calls)

    engine_calls.clear()

    async def concurrent() -> list[Any]:
        return await asyncio.gather(*(chat.ainvoke(f"Question {i}?") for i in range(5)))

    out["concurrent"] = [outcome(r) for r in asyncio.run(concurrent())]
    out["concurrent_engine_calls"] = list(engine_calls)

    engine_calls.clear()
    settings = Settings(_env_file=None, min_pixels=16 * 784, max_pixels=96 * 784)  # type: ignore[call-arg]
    extractor = VLMExtractor(chat_model=chat, settings=settings, max_model_len=4096, attempts=2, max_tokens=600)
    pages = [page([f"Invoice {n}", f"Total {n}2.50 EUR"], number=n, text_layer=None) for n in (1, 2, 3)]

    async def extract() -> list[Any]:
        return await asyncio.gather(*(extractor.aextract(p) for p in pages))

    t = time.monotonic()
    extractions = asyncio.run(extract())
    out["extract_s"] = round(time.monotonic() - t, 2)
    out["extractions"] = [
        {"page": e.page, "status": e.status, "reason": e.reason, "input_tokens": e.input_tokens, "model": e.model}
        for e in extractions
    ]
    out["extract_engine_calls"] = list(engine_calls)
    out["stats_batch_sizes"] = chat.stats.batch_sizes
    out["total_s"] = round(time.monotonic() - started, 1)
    chat.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
