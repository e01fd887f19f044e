"""The vLLM command that serves Qwen2.5-VL well on a given set of GPUs.

Users arrive with "I have four 24 GB cards, which flags?". :func:`plan_server` answers from the model's
shape: the weights must fit in the GPUs of one model copy (tensor parallel, a divisor of the attention
heads), what is left on each GPU holds the KV cache, and the context length is what that cache can hold
for a few full-length requests. GPUs left over serve more copies (data parallel), which is how vLLM keeps
every GPU's batch full. The image limit and pixel caps match the client's own pixel budget
(``QWENVL_MAX_PIXELS``), so no prompt the toolkit builds can overflow ``--max-model-len``.

The memory figures are estimates from parameter counts (bf16 weights, two bytes per parameter) with a
fixed allowance for activations, the vision encoder and CUDA graphs; vLLM measures the real thing at
start-up and says so if the KV cache is too small.

Example:
    >>> plan = plan_server("7B", gpus=4, gpu_memory_gb=80)
    >>> (plan.tensor_parallel_size, plan.data_parallel_size, plan.max_model_len)
    (1, 4, 32768)
    >>> print(plan.shell_command())  # doctest: +ELLIPSIS
    vllm serve Qwen/Qwen2.5-VL-7B-Instruct \\
      --data-parallel-size 4 \\
    ...
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from qwenvl_agents.errors import ServePlanError
from qwenvl_agents.vlm.media_rules import media_rules_for

#: Tokens the server keeps for the text of a prompt and the answer, beyond the images.
TEXT_TOKENS = 4096 + 2048
#: Allowance per GPU for activations, the vision encoder's peak and CUDA graphs.
OVERHEAD_GB = 2.5
#: Full-length requests the KV cache must hold at once for the context length chosen.
CONCURRENT_FULL_REQUESTS = 2
#: Qwen2.5-VL's context without YaRN scaling.
NATIVE_CONTEXT = 32768


@dataclass(frozen=True)
class ModelShape:
    """What serving needs to know of one Qwen2.5-VL size (from its ``config.json``)."""

    size: str
    repo: str
    params_billion: float
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int = 128
    vision_heads: int = 16

    @property
    def weights_gb(self) -> float:
        return self.params_billion * 2  # bf16

    def kv_bytes_per_token(self, tensor_parallel: int) -> int:
        """KV cache bytes per token on one GPU: K and V, every layer, this GPU's share of the KV heads."""
        heads_here = math.ceil(self.kv_heads / tensor_parallel)  # replicated when TP > KV heads
        return 2 * self.layers * heads_here * self.head_dim * 2


MODELS: dict[str, ModelShape] = {
    m.size: m
    for m in (
        ModelShape("3B", "Qwen/Qwen2.5-VL-3B-Instruct", 3.75, layers=36, attention_heads=16, kv_heads=2),
        ModelShape("7B", "Qwen/Qwen2.5-VL-7B-Instruct", 8.29, layers=28, attention_heads=28, kv_heads=4),
        ModelShape("32B", "Qwen/Qwen2.5-VL-32B-Instruct", 33.5, layers=64, attention_heads=40, kv_heads=8),
        ModelShape("72B", "Qwen/Qwen2.5-VL-72B-Instruct", 73.4, layers=80, attention_heads=64, kv_heads=8),
    )
}


@dataclass(frozen=True)
class ServerPlan:
    """A vLLM command line and the client settings that match it."""

    model: str
    size: str
    gpus: int
    gpu_memory_gb: float
    tensor_parallel_size: int
    data_parallel_size: int
    max_model_len: int
    images_per_prompt: int
    videos_per_prompt: int
    min_pixels: int
    max_pixels: int
    gpu_memory_utilization: float
    family: str = "qwen2.5-vl"
    """The model family whose visual tokens the pixel budget is counted in (28 px a side, 32 for Qwen3-VL)."""
    host: str = "0.0.0.0"
    port: int = 8000
    served_model_name: str | None = None
    kv_cache_tokens: int = 0
    notes: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.served_model_name or self.model

    def arguments(self) -> list[str]:
        """The flags after ``vllm serve MODEL`` (the same for ``python -m vllm.entrypoints.openai.api_server``)."""
        args: list[str] = []
        if self.tensor_parallel_size > 1:
            args += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if self.data_parallel_size > 1:
            args += ["--data-parallel-size", str(self.data_parallel_size)]
        if self.gpus > 0:
            args += ["--gpu-memory-utilization", f"{self.gpu_memory_utilization:g}"]
        limits = {"image": self.images_per_prompt, "video": self.videos_per_prompt}
        pixels = {"min_pixels": self.min_pixels, "max_pixels": self.max_pixels}
        args += [
            "--max-model-len", str(self.max_model_len),
            "--limit-mm-per-prompt", json.dumps(limits, separators=(",", ":")),
            "--mm-processor-kwargs", json.dumps(pixels, separators=(",", ":")),
            "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
        ]  # fmt: skip
        if self.served_model_name:
            args += ["--served-model-name", self.served_model_name]
        args += ["--host", self.host, "--port", str(self.port), *self.extra_args]
        return args

    def command(self) -> list[str]:
        return ["vllm", "serve", self.model, *self.arguments()]

    def shell_command(self) -> str:
        """The command for a shell, one flag per line."""
        lines = [f"vllm serve {shlex.quote(self.model)}"]
        args = self.arguments()
        i = 0
        while i < len(args):
            takes_value = i + 1 < len(args) and not args[i + 1].startswith("--")
            part = args[i : i + 2] if takes_value else args[i : i + 1]
            lines.append("  " + " ".join(shlex.quote(a) for a in part))
            i += len(part)
        return " \\\n".join(lines)

    def client_env(self, host: str | None = None) -> dict[str, str]:
        """The ``QWENVL_*`` settings that make the toolkit fit this server."""
        where = host or ("127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host)
        return {
            "QWENVL_VLM_BASE_URL": f"http://{where}:{self.port}/v1",
            "QWENVL_VLM_MODEL": self.name,
            "QWENVL_VLM_MAX_IMAGES_PER_PROMPT": str(self.images_per_prompt),
            "QWENVL_MIN_PIXELS": str(self.min_pixels),
            "QWENVL_MAX_PIXELS": str(self.max_pixels),
            # Said outright: a --served-model-name may not name the family the client sizes images for.
            "QWENVL_VLM_MODEL_FAMILY": self.family,
        }


def _tensor_parallel_options(shape: ModelShape, gpus: int) -> list[int]:
    # vLLM splits attention heads (text and vision tower) evenly over the GPUs of one copy.
    return [
        tp for tp in (1, 2, 4, 8, 16) if tp <= gpus and shape.attention_heads % tp == 0 and shape.vision_heads % tp == 0
    ]


def plan_server(
    size: str = "7B",
    *,
    gpus: int = 1,
    gpu_memory_gb: float = 80.0,
    model: str | None = None,
    max_model_len: int | None = None,
    images_per_prompt: int | None = None,
    videos_per_prompt: int = 1,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    gpu_memory_utilization: float = 0.9,
    family: str = "auto",
    tensor_parallel_size: int | None = None,
    weights_gb: float | None = None,
    host: str = "0.0.0.0",
    port: int = 8000,
    served_model_name: str | None = None,
    extra_args: Sequence[str] = (),
) -> ServerPlan:
    """Plan a vLLM server for Qwen2.5-VL ``size`` on ``gpus`` GPUs of ``gpu_memory_gb`` each.

    ``gpus=0`` plans a CPU server (for trying things out): no parallelism, and ``max_model_len`` must
    be given because the KV cache size is then set by ``VLLM_CPU_KVCACHE_SPACE``. ``model`` replaces
    the hub id (a local folder, a fine-tune) while ``size`` still gives the shape. Raises
    :class:`ServePlanError` when the model does not fit, naming what would. ``weights_gb`` replaces the
    bf16 estimate, for a quantised checkpoint (the size of its safetensors files). The pixel budget
    defaults to 256..1280 visual tokens of the model's family (``family``, else from ``model``'s config or
    name: 32 px a token side for Qwen3-VL, 28 for Qwen2.5-VL); the visual tokens per image follow it.

    >>> plan_server("72B", gpus=8, gpu_memory_gb=80).tensor_parallel_size
    4
    >>> plan_server("72B", gpus=1, gpu_memory_gb=80)
    Traceback (most recent call last):
    ...
    qwenvl_agents.errors.ServePlanError: Qwen2.5-VL-72B needs about 147 GB for its weights: ...
    """
    key = size.upper().removesuffix("-INSTRUCT")
    if key not in MODELS:
        raise ServePlanError(f"unknown Qwen2.5-VL size {size!r}: choose one of {', '.join(MODELS)}")
    shape = MODELS[key]
    weights = weights_gb if weights_gb is not None else shape.weights_gb
    if gpus < 0:
        raise ServePlanError("gpus must be 0 (CPU) or more")
    rules = media_rules_for(model or shape.repo, family)
    min_pixels = rules.default_min_pixels if min_pixels is None else min_pixels
    max_pixels = rules.default_max_pixels if max_pixels is None else max_pixels
    if min_pixels > max_pixels:
        raise ServePlanError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
    tokens_per_image = max_pixels // rules.token_pixels
    notes: list[str] = []

    if gpus == 0:
        if max_model_len is None:
            raise ServePlanError("a CPU server needs --max-model-len (its KV cache is VLLM_CPU_KVCACHE_SPACE GiB)")
        tp, dp, kv_tokens = 1, 1, 0
        notes.append("CPU: set VLLM_CPU_KVCACHE_SPACE (GiB of KV cache) in the server's environment")
    else:
        usable = gpu_memory_gb * gpu_memory_utilization
        options = _tensor_parallel_options(shape, gpus)
        if tensor_parallel_size is not None:
            if tensor_parallel_size not in options:
                raise ServePlanError(
                    f"tensor parallel size {tensor_parallel_size} is not possible for {shape.size} on {gpus} "
                    f"GPU(s): it must divide {shape.attention_heads} attention heads and be at most the GPU "
                    f"count; choose from {options}"
                )
            options = [tensor_parallel_size]
        need = CONCURRENT_FULL_REQUESTS * (max_model_len or 8192)
        chosen: tuple[int, int] | None = None
        for tp in options:
            kv_gb = usable - weights / tp - OVERHEAD_GB
            tokens = int(kv_gb * 1e9 / shape.kv_bytes_per_token(tp)) if kv_gb > 0 else 0
            if tokens >= need:
                chosen = (tp, tokens)
                break
        if chosen is None:
            most = max(options, default=1)
            per_gpu = weights / most + OVERHEAD_GB
            raise ServePlanError(
                f"Qwen2.5-VL-{shape.size} needs about {weights:.0f} GB for its weights: on "
                f"{gpus} GPU(s) of {gpu_memory_gb:g} GB (tensor parallel {most}: ~{per_gpu:.0f} GB each before "
                "any KV cache) there is no room left for requests. Use more or larger GPUs, or a smaller size"
            )
        tp, kv_tokens = chosen
        dp = gpus // tp
        if gpus % tp:
            notes.append(f"{gpus - dp * tp} GPU(s) left idle: {gpus} is not a multiple of tensor parallel {tp}")

    if max_model_len is None:
        room = kv_tokens // CONCURRENT_FULL_REQUESTS
        max_model_len = min(NATIVE_CONTEXT, room // 1024 * 1024)
    if max_model_len > NATIVE_CONTEXT:
        notes.append(f"max_model_len above {NATIVE_CONTEXT} needs YaRN rope scaling in the model's config")
    fit = (max_model_len - TEXT_TOKENS) // tokens_per_image
    if images_per_prompt is None:
        images_per_prompt = max(1, min(8, fit))
    if images_per_prompt > fit:
        notes.append(
            f"{images_per_prompt} images of up to {tokens_per_image} visual tokens do not fit in "
            f"max_model_len {max_model_len} with room for text; the client keeps to QWENVL_MAX_PIXELS, so "
            "lower it or the image limit"
        )
    return ServerPlan(
        model=model or shape.repo,
        size=shape.size,
        gpus=gpus,
        gpu_memory_gb=gpu_memory_gb,
        tensor_parallel_size=tp,
        data_parallel_size=dp,
        max_model_len=max_model_len,
        images_per_prompt=images_per_prompt,
        videos_per_prompt=videos_per_prompt,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        gpu_memory_utilization=gpu_memory_utilization,
        family=rules.family,
        host=host,
        port=port,
        served_model_name=served_model_name,
        kv_cache_tokens=kv_tokens,
        notes=tuple(notes),
        extra_args=tuple(extra_args),
    )


#: The GPU set-ups of the README's table.
TABLE_SETUPS: tuple[tuple[int, float], ...] = ((1, 24), (1, 48), (1, 80), (2, 80), (4, 24), (4, 80), (8, 80))


def markdown_table(setups: Sequence[tuple[int, float]] = TABLE_SETUPS) -> str:
    """The README's table: tensor x data parallel and context per size and GPU set-up.

    >>> print(markdown_table([(1, 24)]).splitlines()[2])
    | 3B | TP 1 × DP 1, 32k, 8 img |
    """
    header = "| size | " + " | ".join(f"{n} × {mem:g} GB" for n, mem in setups) + " |"
    lines = [header, "|" + " --- |" * (len(setups) + 1)]
    for size in MODELS:
        cells = []
        for n, mem in setups:
            try:
                p = plan_server(size, gpus=n, gpu_memory_gb=mem)
            except ServePlanError:
                cells.append("does not fit")
                continue
            cells.append(
                f"TP {p.tensor_parallel_size} × DP {p.data_parallel_size}, "
                f"{p.max_model_len // 1024}k, {p.images_per_prompt} img"
            )
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
