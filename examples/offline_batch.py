"""Batch inference with vLLM's offline engine over a folder of images and documents: one JSON line per page.

    pip install 'qwenvl-agents[vllm]'
    python examples/offline_batch.py scans/ --model Qwen/Qwen2.5-VL-7B-Instruct --question "Transcribe the title."
    python examples/offline_batch.py scans/ --structured          # schema-constrained JSON per page

Every image, PDF page, slide or video frame (1 per second) in the folder becomes one prompt; prompts go to
vLLM ``--batch-size`` at a time in one ``LLM.chat`` call each (``ChatQwenVLLM.batch``), which is what
makes offline inference fast. A page or file that cannot be read gets its own ``"status": "error"`` line
and the rest go on; the exit code is 1 when anything failed. ``--engine-args`` passes more ``vllm.LLM``
arguments as JSON (e.g. ``'{"enforce_eager": true}'``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field

from qwenvl_agents.documents import RenderOptions, iter_pages
from qwenvl_agents.settings import Settings
from qwenvl_agents.types import PageImage, SourceFailure
from qwenvl_agents.vlm import ChatQwenVLLM, ModelPort


class PageSummary(BaseModel):
    """What ``--structured`` asks for per page (vLLM constrains decoding to this schema)."""

    title: str = Field(description="the page's title or first heading, empty if none")
    kind: Literal["invoice", "receipt", "form", "slide", "report", "photo", "other"]
    language: str = Field(description="ISO 639-1 code of the main language")


def _record(page: PageImage, result: Any, structured: bool) -> dict[str, Any]:
    where = {"source": page.document.source, "page": page.page}
    if page.timestamp is not None:
        where["timestamp"] = page.timestamp
    if isinstance(result, BaseException):
        return {**where, "status": "error", "error": f"{type(result).__name__}: {result}"}
    usage = result.usage_metadata or {}
    record = {
        **where,
        "status": "ok",
        "answer": result.content,
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "finish_reason": result.response_metadata.get("finish_reason"),
    }
    if structured:
        try:
            record["answer"] = PageSummary.model_validate_json(str(result.content)).model_dump()
        except ValueError as exc:  # e.g. cut at max_tokens: reported, never dropped
            return {**record, "status": "error", "error": f"invalid JSON answer: {exc}"}
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="+", help="folders or files (images, PDFs, office files, videos)")
    parser.add_argument("--model", default="Qwen/Qwen2.5-VL-7B-Instruct", help="hub id or local folder")
    parser.add_argument("--question", default="Describe this page in one sentence.")
    parser.add_argument("--structured", action="store_true", help="answer with schema-constrained JSON")
    parser.add_argument("--batch-size", type=int, default=64, help="pages per LLM.chat call")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--min-pixels", type=int, default=256 * 28 * 28)
    parser.add_argument("--max-pixels", type=int, default=1280 * 28 * 28)
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--tensor-parallel-size", type=int, default=1)
    parser.add_argument("--dpi", type=float, default=150.0, help="rendering resolution of PDF pages")
    parser.add_argument("--engine-args", default="{}", help="more vllm.LLM keyword arguments, as JSON")
    args = parser.parse_args(argv)

    settings = Settings(
        vlm_backend="vllm",
        vlm_model=args.model,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        vlm_max_model_len=args.max_model_len,
        vlm_tensor_parallel_size=args.tensor_parallel_size,
    )
    # The port builds the model (ChatQwenVLLM here); engine arguments beyond the settings go with it.
    port = ModelPort.from_settings(settings)
    chat = port.chat_model("chat", max_tokens=args.max_tokens, engine_kwargs=json.loads(args.engine_args))
    assert isinstance(chat, ChatQwenVLLM)  # its batch statistics are printed at the end
    bound: Any = chat
    if args.structured:
        schema = {"type": "json_schema", "json_schema": {"schema": PageSummary.model_json_schema()}}
        bound = chat.bind(response_format=schema)
    failed = 0
    started = time.monotonic()

    def flush(pages: list[PageImage]) -> None:
        nonlocal failed
        prompts = [
            [HumanMessage([{"type": "image", "base64": _png(p), "mime_type": "image/png"}, args.question])]
            for p in pages
        ]
        for page, result in zip(pages, bound.batch(prompts, return_exceptions=True), strict=True):
            record = _record(page, result, args.structured)
            failed += record["status"] != "ok"
            print(json.dumps(record, ensure_ascii=False), flush=True)

    pending: list[PageImage] = []
    for item in iter_pages(args.folder, RenderOptions(dpi=args.dpi)):
        if isinstance(item, SourceFailure):  # a file that cannot be read: its own line, the rest goes on
            failed += 1
            print(json.dumps({"source": item.source, "page": item.page, "status": "error", "error": item.message}))
            continue
        pending.append(item)
        if len(pending) >= args.batch_size:
            flush(pending)
            pending = []
    if pending:
        flush(pending)
    stats = chat.stats
    print(
        f"{stats.prompts} prompts in {stats.chat_calls} LLM.chat calls, {time.monotonic() - started:.1f} s; "
        f"{failed} failed",
        file=sys.stderr,
    )
    port.close()
    return 1 if failed else 0


def _png(page: PageImage) -> str:
    import base64
    import io

    buf = io.BytesIO()
    page.image.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


if __name__ == "__main__":
    sys.exit(main())
