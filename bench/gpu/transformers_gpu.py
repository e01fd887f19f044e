"""The local transformers backend on a real GPU, and Qwen2.5-VL-7B-sized prefill/decode figures.

Prints one JSON object (and writes it to ``--out`` when given) with four sections:

``env``
    Python, torch, CUDA, transformers, accelerate, torchvision, flash_attn, the GPU, and two measured
    ceilings of the card (an 8192^3 bf16 matrix product in TFLOP/s, a device-to-device copy in GB/s).
``backend``
    The toolkit's :class:`~qwenvl_agents.vlm.local_transformers.ChatQwenTransformers` with the tiny random
    Qwen2.5-VL checkpoint (``--model``), ``dtype="bfloat16"``, ``device_map="auto"``,
    ``attn_implementation="sdpa"``, the default page budget (256..1280 visual tokens): a text prompt, one
    page image, two images, a short mp4 (``qwenvl_agents.samples.write_sample_video``), a stop string and
    ``max_tokens``. For each: input/output tokens, finish reason, the text, wall time of two calls (the
    second warm) and whether greedy decoding repeated itself. It asserts that every parameter really is on
    CUDA and in bfloat16. The checkpoint is random, so the texts are noise: this checks plumbing, not
    quality.
``qwen7b``
    A random-weight model with Qwen2.5-VL-7B-Instruct's published configuration (written out below, no
    download), built directly on the GPU in bfloat16 with sdpa attention. Measured with
    ``torch.cuda.synchronize()`` around each call, after warm-up, median of several runs:

    - prefill of one page: 1,280 visual tokens (``image_grid_thw`` (1, 64, 80) = 5,120 patches, merged 2x2)
      plus about 100 text tokens, one forward with ``logits_to_keep=1``; the vision encoder alone too, and
      the same at batch 8 (eight pages in one forward), as milliseconds per page;
    - decode at batch 1 and batch 8 after that page prompt: ``generate`` with
      ``min_new_tokens == max_new_tokens`` (no early stop), greedy; the decode time is
      ``t(1 + N tokens) - t(1 token)``, so prefill is left out; tokens/s per sequence and in total;
    - peak GPU memory of each phase, and the arithmetic/bandwidth floors from the two measured ceilings.

    Random weights give meaningless tokens but the same work per token as the real model.
``errors``
    Any section that failed, with its exception; the other sections still run.

Run on any CUDA machine (needs torch, transformers, accelerate; the ``backend`` section also needs this
package's dependencies and opencv-python-headless)::

    PYTHONPATH=. python bench/gpu/transformers_gpu.py --model build/tiny-qwen2.5-vl --out results.json

Check the logic on a CPU first (tiny checkpoint, a shrunken 7B config, a few tokens; no CUDA assertion)::

    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/gpu/transformers_gpu.py --smoke --model build/tiny-qwen2.5-vl

``--skip backend`` / ``--skip qwen7b`` leave a section out; ``--profile`` adds ``qwen7b.profile``: wall
time against GPU kernel time (torch.profiler), kernel launches and sdpa calls, for one vision pass, one
prefill and a 33-token generate.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

#: Qwen2.5-VL-7B-Instruct's published config.json, as transformers 5 names the fields.
QWEN25_VL_7B_TEXT: dict[str, Any] = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "max_window_layers": 28,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "tie_word_embeddings": False,
}
QWEN25_VL_7B_ROPE = {"rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}
QWEN25_VL_7B_VISION: dict[str, Any] = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "hidden_act": "silu",
    "in_channels": 3,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
}
QWEN25_VL_7B_TOP = {
    "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "tie_word_embeddings": False,
}
#: --smoke: the same structure, shrunk to run in seconds on a CPU (vocabulary and token ids unchanged).
SMOKE_TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_window_layers": 2,
}
SMOKE_VISION = {
    "depth": 4,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 2,
    "out_hidden_size": 64,
    "fullatt_block_indexes": [1, 3],
}
SMOKE_ROPE = {"mrope_section": [2, 3, 3]}  # head_dim 16 -> 8 rotary pairs

IM_START, IM_END, ENDOFTEXT = 151644, 151645, 151643


def tf_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Any, device: str) -> float:
    """Seconds ``fn()`` takes, the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def median_ms(fn: Any, device: str, warmup: int, repeats: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = [timed(fn, device) * 1e3 for _ in range(repeats)]
    return {
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "runs": repeats,
    }


def gib(n: int) -> float:
    return round(n / 2**30, 2)


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    return gib(torch.cuda.max_memory_allocated()) if device.startswith("cuda") else None


# --- env -------------------------------------------------------------------------------------------


def version_of(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return str(getattr(importlib.import_module(module), "__version__", "present"))
    except Exception as exc:  # a broken install is worth knowing about
        return f"import fails: {type(exc).__name__}: {exc}"


def env_section(device: str, smoke: bool) -> dict[str, Any]:
    import transformers

    out: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "transformers": transformers.__version__,
        "accelerate": version_of("accelerate"),
        "torchvision": version_of("torchvision"),
        "flash_attn": version_of("flash_attn"),
        "cv2": version_of("cv2"),
        "device": device,
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        out.update(
            gpu=props.name,
            gpu_memory_gib=gib(props.total_memory),
            sm_count=props.multi_processor_count,
            capability=f"{props.major}.{props.minor}",
        )
        out["ceilings"] = measure_ceilings(device, n=1024 if smoke else 8192)
    return out


def measure_ceilings(device: str, n: int) -> dict[str, float]:
    """A bf16 n^3 matrix product (TFLOP/s) and a 4 GiB device-to-device copy (GB/s, read + write)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    mm = median_ms(lambda: a @ b, device, warmup=3, repeats=10)["median_ms"]
    src = torch.randn(2**29, device=device, dtype=torch.bfloat16)  # 1 GiB
    dst = torch.empty_like(src)
    cp = median_ms(lambda: dst.copy_(src), device, warmup=3, repeats=10)["median_ms"]
    result = {
        "bf16_matmul_tflops": round(2 * n**3 / (mm / 1e3) / 1e12, 1),
        "copy_gb_s": round(2 * src.numel() * 2 / (cp / 1e3) / 1e9, 1),
    }
    return result


# --- the toolkit's backend ----------------------------------------------------------------------------


def backend_section(model_dir: str, device: str, smoke: bool) -> dict[str, Any]:
    from langchain_core.messages import HumanMessage, SystemMessage
    from PIL import Image, ImageDraw

    from qwenvl_agents.samples import write_sample_video
    from qwenvl_agents.vlm.local_transformers import ChatQwenTransformers, resolve_attn_implementation

    work = Path(tempfile.mkdtemp(prefix="qwenvl-gpu-"))
    page = work / "page.png"  # an A4 page at 150 dpi: the default budget brings it to 1,280 visual tokens
    img = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(img)
    for i in range(40):
        draw.text((100, 100 + 38 * i), f"Line {i + 1}: invoice item {i * 7 % 13} ... {i * 17.5:.2f} EUR", fill="black")
    img.save(page)
    red = work / "red.png"
    Image.new("RGB", (400, 300), "red").save(red)
    video = write_sample_video(work / "clip.mp4", seconds=4, fps=4.0, appears_at=2.0)

    out: dict[str, Any] = {"model": model_dir}
    started = time.perf_counter()
    chat = ChatQwenTransformers(
        model=model_dir,
        dtype="bfloat16",
        device_map="auto",
        attn_implementation="sdpa",
        max_tokens=24,
        video_max_frames=8,
    )
    model, processor = chat.load()
    out["load_s"] = round(time.perf_counter() - started, 2)
    out["resolved"] = chat.resolved
    out["attn_auto_would_pick"] = resolve_attn_implementation("auto", cuda=torch.cuda.is_available())
    out["hf_device_map"] = getattr(model, "hf_device_map", None)
    devices = sorted({str(p.device) for p in model.parameters()})
    dtypes = sorted({str(p.dtype) for p in model.parameters()})
    buffers = sorted({f"{b.device}/{b.dtype}" for b in model.buffers()})
    out["parameters"] = {
        "count": sum(p.numel() for p in model.parameters()),
        "devices": devices,
        "dtypes": dtypes,
        "buffers": buffers,
    }
    want = "cuda" if device.startswith("cuda") else "cpu"
    out["params_on_expected_device"] = all(torch.device(d).type == want for d in devices)
    out["params_bf16"] = dtypes == ["torch.bfloat16"]
    assert out["params_on_expected_device"], f"parameters on {devices}, expected {want}"
    assert out["params_bf16"], f"parameter dtypes {dtypes}, expected bfloat16 only"

    def case(name: str, messages: Any, bound: Any = chat, repeats: int = 2) -> None:
        runs = []
        reset_peak(device)
        for _ in range(repeats):
            t0 = time.perf_counter()
            msg = bound.invoke(messages)
            runs.append((time.perf_counter() - t0, msg))
        msg = runs[0][1]
        out[name] = {
            "input_tokens": msg.usage_metadata["input_tokens"],
            "output_tokens": msg.usage_metadata["output_tokens"],
            "finish_reason": msg.response_metadata.get("finish_reason"),
            "text": str(msg.content)[:160],
            "wall_s": [round(t, 3) for t, _ in runs],
            "deterministic": all(m.content == msg.content for _, m in runs),
            "peak_gib": peak_gib(device),
        }

    case("text", [SystemMessage("Be brief."), HumanMessage("Say hello.")])
    case("one_image", [HumanMessage([{"type": "image_url", "image_url": str(page)}, "What is the total?"])])
    case(
        "two_images",
        [
            HumanMessage(
                [
                    {"type": "image_url", "image_url": {"url": page.as_uri()}},
                    {"type": "image", "url": str(red)},
                    "Which one is red?",
                ]
            )
        ],
    )
    case("video", [HumanMessage([{"type": "video_url", "video_url": {"url": str(video)}}, "What appears?"])])
    case("stop_quote", [HumanMessage("Answer in JSON.")], chat.bind(max_tokens=40, stop=['"']), repeats=1)
    case("max_tokens_5", [HumanMessage("Tell a long story.")], chat.bind(max_tokens=5), repeats=1)
    # The one-image prompt straight through the processor: what the backend hands to generate().
    conv = chat.conversation([HumanMessage([{"type": "image_url", "image_url": str(page)}, "Total?"])])
    t0 = time.perf_counter()
    inputs = chat._inputs(conv, processor)
    out["one_image_processor_s"] = round(time.perf_counter() - t0, 3)
    out["one_image_inputs"] = {k: [list(v.shape), str(v.dtype), str(v.device)] for k, v in inputs.items()}
    out["one_image_visual_tokens"] = conv.images[0].tokens
    out["one_image_resized_to"] = list(conv.images[0].image.size)
    return out


# --- Qwen2.5-VL-7B-sized random model --------------------------------------------------------------------


def qwen7b_config(smoke: bool) -> Any:
    from transformers import Qwen2_5_VLConfig

    text = {**QWEN25_VL_7B_TEXT, **(SMOKE_TEXT if smoke else {})}
    vision = {**QWEN25_VL_7B_VISION, **(SMOKE_VISION if smoke else {})}
    rope = {**QWEN25_VL_7B_ROPE, **(SMOKE_ROPE if smoke else {})}
    if tf_major() >= 5:
        text["rope_parameters"] = {
            "rope_type": "default",
            "rope_theta": rope["rope_theta"],
            "mrope_section": rope["mrope_section"],
        }
    else:
        text["rope_theta"] = rope["rope_theta"]
        text["rope_scaling"] = {"type": "mrope", "mrope_section": rope["mrope_section"]}
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **QWEN25_VL_7B_TOP)
    # Every field we set must have landed under that name (a renamed field would silently default);
    # sliding_window is dropped to None by transformers 5 when use_sliding_window is False, as in the 7B.
    checks = [(config.text_config, text), (config.vision_config, vision), (config, QWEN25_VL_7B_TOP)]
    wrong = [
        f"{k}={getattr(c, k, '<missing>')!r}, wanted {v!r}"
        for c, d in checks
        for k, v in d.items()
        if k not in ("rope_parameters", "rope_scaling", "sliding_window")
        and getattr(c, k, None) != v
        and not (isinstance(v, list) and list(getattr(c, k, []) or []) == v)
    ]
    if wrong:
        raise ValueError("config fields not taken: " + "; ".join(wrong))
    return config


def page_batch(
    config: Any, grid: tuple[int, int, int], text_tokens: int, batch: int, device: str, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """Chat-shaped ids around one image per row, random pixel patches, and the grid: no processor needed."""
    t, h, w = grid
    vc = config.vision_config
    patches = t * h * w
    visual = patches // vc.spatial_merge_size**2
    pre = torch.randint(0, 150000, (max(text_tokens // 5, 1),), generator=gen).tolist()
    post = torch.randint(0, 150000, (text_tokens - len(pre),), generator=gen).tolist()
    row = (
        [IM_START]
        + pre
        + [config.vision_start_token_id]
        + [config.image_token_id] * visual
        + [config.vision_end_token_id]
        + post
        + [IM_END, IM_START]
    )
    ids = torch.tensor([row] * batch, device=device)
    width = vc.in_channels * vc.temporal_patch_size * vc.patch_size**2
    pixels = torch.randn(patches * batch, width, generator=gen).to(device=device, dtype=torch.bfloat16)
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "pixel_values": pixels,
        "image_grid_thw": torch.tensor([list(grid)] * batch, device=device),
    }


def linear_params(module: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, torch.nn.Linear))


def prefill_flops(config: Any, model: Any, tokens: int, patches: int) -> float:
    """Matrix-product FLOPs of one page's prefill (last-token logits only), attention included."""
    inner = model.model
    tc, vc = config.text_config, config.vision_config
    llm = linear_params(inner.language_model)
    merger = linear_params(inner.visual.merger)
    blocks = linear_params(inner.visual.blocks)
    flops = 2 * llm * tokens + 2 * blocks * patches + 2 * merger * patches / vc.spatial_merge_size**2
    flops += 2 * tc.hidden_size * tc.vocab_size  # lm_head on the last token
    flops += tc.num_hidden_layers * 2 * tokens**2 * tc.hidden_size  # causal QK^T and PV: 4*T^2*d / 2
    window = (vc.window_size // vc.patch_size) ** 2  # patches per attention window (before the merge)
    full = len(vc.fullatt_block_indexes)
    flops += full * 4 * patches**2 * vc.hidden_size + (vc.depth - full) * 4 * patches * window * vc.hidden_size
    return float(flops)


def qwen7b_section(
    device: str,
    smoke: bool,
    repeats: int,
    new_tokens: int,
    batches: list[int],
    decode_repeats: int = 3,
    profile: bool = False,
) -> dict[str, Any]:
    from transformers import Qwen2_5_VLForConditionalGeneration

    out: dict[str, Any] = {"smoke": smoke}
    config = qwen7b_config(smoke)
    tc, vc = config.text_config, config.vision_config
    out["config"] = {
        "text": {k: getattr(tc, k) for k in QWEN25_VL_7B_TEXT},
        "rope": getattr(tc, "rope_parameters", None) or getattr(tc, "rope_scaling", None),
        "vision": {k: getattr(vc, k) for k in QWEN25_VL_7B_VISION},
        **{k: getattr(config, k) for k in QWEN25_VL_7B_TOP},
    }
    torch.manual_seed(0)
    reset_peak(device)
    dtype_kw = "dtype" if tf_major() >= 5 else "torch_dtype"
    t0 = time.perf_counter()
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(
            config, attn_implementation="sdpa", **{dtype_kw: torch.bfloat16}
        )
    model.eval()
    sync(device)
    out["init_s"] = round(time.perf_counter() - t0, 2)
    params = list(model.parameters())
    out["params"] = {
        "total": sum(p.numel() for p in params),
        "language_model": sum(p.numel() for p in model.model.language_model.parameters()),
        "vision": sum(p.numel() for p in model.model.visual.parameters()),
        "lm_head": model.lm_head.weight.numel(),
        "devices": sorted({str(p.device) for p in params}),
        "dtypes": sorted({str(p.dtype) for p in params}),
        "attn_implementation": model.config._attn_implementation,
        "vision_attn_implementation": vc._attn_implementation,
    }
    out["weights_gib"] = peak_gib(device)
    gc = model.generation_config
    gc.eos_token_id, gc.pad_token_id, gc.bos_token_id = [IM_END, ENDOFTEXT], ENDOFTEXT, ENDOFTEXT
    gc.temperature = gc.top_p = gc.top_k = None
    gc.do_sample = False

    grid = (1, 8, 10) if smoke else (1, 64, 80)
    text_tokens = 16 if smoke else 100
    gen = torch.Generator().manual_seed(1)
    one = page_batch(config, grid, text_tokens, 1, device, gen)
    patches = grid[0] * grid[1] * grid[2]
    tokens = int(one["input_ids"].shape[1])
    visual = int((one["input_ids"] == config.image_token_id).sum())
    out["page"] = {"grid_thw": list(grid), "patches": patches, "visual_tokens": visual, "prompt_tokens": tokens}
    warm = 1 if smoke else 3
    reps = 1 if smoke else repeats

    def forward(inputs: dict[str, torch.Tensor]) -> Any:
        with torch.inference_mode():
            return model(**inputs, use_cache=True, logits_to_keep=1)

    def vision(inputs: dict[str, torch.Tensor]) -> Any:
        with torch.inference_mode():
            return model.model.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"])

    logits = forward(one).logits
    out["logits_finite"] = bool(torch.isfinite(logits).all())
    out["logits_shape"] = list(logits.shape)
    prefill: dict[str, Any] = {}
    for batch in sorted({1, max(batches)}):
        inputs = one if batch == 1 else page_batch(config, grid, text_tokens, batch, device, gen)
        reset_peak(device)
        full = median_ms(lambda inputs=inputs: forward(inputs), device, warm, reps)
        vis = median_ms(lambda inputs=inputs: vision(inputs), device, warm, reps)
        prefill[f"batch{batch}"] = {
            "forward": full,
            "vision_encoder": vis,
            "ms_per_page": round(full["median_ms"] / batch, 2),
            "vision_ms_per_page": round(vis["median_ms"] / batch, 2),
            "language_model_ms_per_page": round((full["median_ms"] - vis["median_ms"]) / batch, 2),
            "pages_per_s": round(1e3 * batch / full["median_ms"], 2),
            "peak_gib": peak_gib(device),
        }
    out["prefill"] = prefill
    flops = prefill_flops(config, model, tokens, patches)
    out["prefill_tflop_per_page"] = round(flops / 1e12, 2)
    out["prefill_tflops_achieved_batch1"] = round(flops / (prefill["batch1"]["forward"]["median_ms"] / 1e3) / 1e12, 1)

    decode: dict[str, Any] = {}
    for batch in batches:
        inputs = one if batch == 1 else page_batch(config, grid, text_tokens, batch, device, gen)

        def generate(n: int, inputs: dict[str, torch.Tensor] = inputs) -> torch.Tensor:
            with torch.inference_mode():
                return model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False)

        reset_peak(device)
        produced = generate(new_tokens + 1)
        got = int(produced.shape[1]) - int(inputs["input_ids"].shape[1])
        dreps = 1 if smoke else decode_repeats
        first = [timed(lambda: generate(1), device) for _ in range(dreps)]
        whole = [timed(lambda: generate(new_tokens + 1), device) for _ in range(dreps)]
        step = (statistics.median(whole) - statistics.median(first)) / new_tokens
        decode[f"batch{batch}"] = {
            "new_tokens": new_tokens,
            "generated_per_row": got,
            "generate_1_token_s": [round(t, 3) for t in first],
            "generate_all_s": [round(t, 3) for t in whole],
            "ms_per_step": round(step * 1e3, 2),
            "tokens_per_s_per_sequence": round(1 / step, 1),
            "tokens_per_s_total": round(batch / step, 1),
            "peak_gib": peak_gib(device),
        }
    out["decode"] = decode
    if profile:
        out["profile"] = profile_phases(model, one, device, steps=8 if smoke else 32, forward=forward, vision=vision)
    # What the card allows: the prefill's FLOPs and a decode step's weight reads over the measured ceilings.
    weight_bytes = 2 * (out["params"]["language_model"] + out["params"]["lm_head"])
    out["floors_note"] = (
        "prefill floor = FLOPs / measured bf16 matmul rate; decode floor = bytes of the "
        "language model's weights and lm_head read once per step / measured copy bandwidth"
    )
    out["decode_weight_gib_per_step"] = gib(weight_bytes)
    model = None  # the weights go before the next section (the closures above still name it)
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out


def profile_phases(
    model: Any, inputs: dict[str, torch.Tensor], device: str, steps: int, forward: Any, vision: Any
) -> dict[str, Any]:
    """Wall time against GPU kernel time (torch.profiler) for one vision pass, one prefill and a decode.

    Kernels run on one stream, so the sum of their times is how long the GPU was busy; wall time far
    above it means the host (Python, launches, synchronisation) sets the pace, not the GPU.
    """
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])

    def gen() -> Any:
        with torch.inference_mode():
            return model.generate(**inputs, max_new_tokens=steps + 1, min_new_tokens=steps + 1, do_sample=False)

    result: dict[str, Any] = {}
    for name, fn in (
        ("vision_encoder", lambda: vision(inputs)),
        ("prefill", lambda: forward(inputs)),
        (f"generate_{steps + 1}_tokens", gen),
    ):
        fn()
        sync(device)
        with profile(activities=activities) as prof:
            wall = timed(fn, device)
        averages = prof.key_averages()
        gpu_us = sum(
            getattr(e, "self_device_time_total", 0)
            for e in averages
            if str(getattr(e, "device_type", "")).endswith("CUDA")
        )
        launches = sum(e.count for e in averages if "LaunchKernel" in e.key)
        sdpa = sum(e.count for e in averages if e.key == "aten::scaled_dot_product_attention")
        top = sorted(
            (e for e in averages if str(getattr(e, "device_type", "")).endswith("CUDA")),
            key=lambda e: -getattr(e, "self_device_time_total", 0),
        )[:5]
        result[name] = {
            "wall_ms": round(wall * 1e3, 2),
            "gpu_kernel_ms": round(gpu_us / 1e3, 2),
            "gpu_busy_fraction": round(gpu_us / 1e3 / (wall * 1e3), 3) if wall else None,
            "kernel_launches": launches,
            "sdpa_calls": sdpa,
            "top_kernels": [
                [e.key[:80], e.count, round(getattr(e, "self_device_time_total", 0) / 1e3, 2)] for e in top
            ],
        }
    return result


def add_floors(result: dict[str, Any]) -> None:
    ceilings = result.get("env", {}).get("ceilings")
    q = result.get("qwen7b")
    if not ceilings or not q or "prefill" not in q:
        return
    q["prefill_floor_ms_per_page"] = round(q["prefill_tflop_per_page"] / ceilings["bf16_matmul_tflops"] * 1e3, 2)
    q["decode_floor_ms_per_step"] = round(
        q["decode_weight_gib_per_step"] * 2**30 / (ceilings["copy_gb_s"] * 1e9) * 1e3, 2
    )


def summary(result: dict[str, Any]) -> str:
    lines = []
    env = result.get("env", {})
    lines.append(
        f"device: {env.get('gpu', env.get('device'))}  torch {env.get('torch')} (CUDA {env.get('torch_cuda')})"
        f"  transformers {env.get('transformers')}  ceilings {env.get('ceilings')}"
    )
    b = result.get("backend", {})
    for name in ("text", "one_image", "two_images", "video", "stop_quote", "max_tokens_5"):
        if name in b:
            c = b[name]
            lines.append(
                f"backend {name:12s} in={c['input_tokens']:5d} out={c['output_tokens']:3d} "
                f"finish={c['finish_reason']:6s} wall={c['wall_s']}"
            )
    q = result.get("qwen7b", {})
    for key, p in q.get("prefill", {}).items():
        lines.append(
            f"7B prefill {key}: {p['ms_per_page']} ms/page (vision {p['vision_ms_per_page']}, "
            f"LM {p['language_model_ms_per_page']}), peak {p['peak_gib']} GiB"
        )
    for key, d in q.get("decode", {}).items():
        lines.append(
            f"7B decode {key}: {d['ms_per_step']} ms/step, {d['tokens_per_s_per_sequence']} tok/s/seq, "
            f"{d['tokens_per_s_total']} tok/s total, peak {d['peak_gib']} GiB"
        )
    for key, p in q.get("profile", {}).items():
        lines.append(
            f"7B profile {key}: wall {p['wall_ms']} ms, GPU kernels {p['gpu_kernel_ms']} ms "
            f"({p['gpu_busy_fraction']}), {p['kernel_launches']} launches, {p['sdpa_calls']} sdpa calls"
        )
    if "prefill_floor_ms_per_page" in q:
        lines.append(
            f"7B floors: prefill {q['prefill_floor_ms_per_page']} ms/page "
            f"({q['prefill_tflop_per_page']} TFLOP), decode {q['decode_floor_ms_per_step']} ms/step"
        )
    for name, err in result.get("errors", {}).items():
        lines.append(f"ERROR {name}: {err.splitlines()[-1] if err else err}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="build/tiny-qwen2.5-vl", help="tiny Qwen2.5-VL checkpoint folder")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--smoke", action="store_true", help="CPU-sized check of the logic")
    parser.add_argument("--skip", action="append", default=[], choices=["backend", "qwen7b"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--decode-repeats", type=int, default=3)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one vision pass, one prefill and a short decode (qwen7b section)",
    )
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batches", default="1,8")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    if not args.smoke and device != "cuda":
        parser.error("no CUDA device: use --smoke for the CPU check")
    batches = [int(b) for b in args.batches.split(",")]
    new_tokens = 8 if args.smoke else args.new_tokens
    if args.smoke:
        batches = [1, 2]

    result: dict[str, Any] = {"argv": sys.argv[1:], "errors": {}}
    started = time.perf_counter()
    sections = [("env", lambda: env_section(device, args.smoke))]
    if "backend" not in args.skip:
        sections.append(("backend", lambda: backend_section(args.model, device, args.smoke)))
    if "qwen7b" not in args.skip:
        sections.append(
            (
                "qwen7b",
                lambda: qwen7b_section(
                    device, args.smoke, args.repeats, new_tokens, batches, args.decode_repeats, args.profile
                ),
            )
        )
    for name, run in sections:
        t0 = time.perf_counter()
        try:
            result[name] = run()
        except Exception:
            result["errors"][name] = traceback.format_exc()
        print(f"[{name}] {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    add_floors(result)
    result["total_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, default=str)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    print(summary(result), file=sys.stderr)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
