"""`qwenvl serve`: the planner's choices follow the model's shape and the GPUs, and the CLI prints them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenvl_agents.cli import app
from qwenvl_agents.serving import MODELS, OVERHEAD_GB, ServePlanError, markdown_table, plan_server
from qwenvl_agents.vlm.media_rules import QWEN2_5_VL

README = Path(__file__).resolve().parents[2] / "README.md"
SETUPS = [(n, mem) for n in (1, 2, 4, 8) for mem in (24, 48, 80)]


@pytest.mark.parametrize("size", list(MODELS))
@pytest.mark.parametrize(("gpus", "memory"), SETUPS)
def test_every_plan_fits_its_gpus(size: str, gpus: int, memory: float) -> None:
    try:
        plan = plan_server(size, gpus=gpus, gpu_memory_gb=memory)
    except ServePlanError as exc:
        assert "needs about" in str(exc)
        # Refused only when even the widest tensor parallel split leaves no room for two 8k requests.
        shape = MODELS[size]
        widest = max(tp for tp in (1, 2, 4, 8) if tp <= gpus and shape.attention_heads % tp == 0)
        room = memory * 0.9 - shape.weights_gb / widest - OVERHEAD_GB
        assert room * 1e9 / shape.kv_bytes_per_token(widest) < 2 * 8192
        return
    shape = MODELS[size]
    tp, dp = plan.tensor_parallel_size, plan.data_parallel_size
    assert shape.attention_heads % tp == 0 and tp * dp <= gpus < tp * (dp + 1)
    assert shape.weights_gb / tp + OVERHEAD_GB < memory * 0.9  # weights fit each GPU of a copy
    # The chosen context fits twice in the KV cache, and every allowed image fits with room for text.
    assert 2 * plan.max_model_len <= plan.kv_cache_tokens
    assert plan.max_model_len <= 32768 and plan.max_model_len % 1024 == 0
    tokens_per_image = plan.max_pixels // QWEN2_5_VL.token_pixels
    assert plan.images_per_prompt * tokens_per_image + 6144 <= plan.max_model_len
    # The smallest split that fits was chosen: one fewer step would not leave room.
    smaller = [t for t in (1, 2, 4, 8) if t < tp and shape.attention_heads % t == 0]
    for t in smaller:
        room = memory * 0.9 - shape.weights_gb / t - OVERHEAD_GB
        assert room * 1e9 / shape.kv_bytes_per_token(t) < 2 * 8192


def test_flags_match_the_plan() -> None:
    plan = plan_server("72B", gpus=8, gpu_memory_gb=80, max_pixels=640 * 784, port=9000, served_model_name="qwen")
    args = plan.arguments()

    def value(flag: str) -> str:
        return args[args.index(flag) + 1]

    assert (value("--tensor-parallel-size"), value("--data-parallel-size")) == ("4", "2")
    assert json.loads(value("--limit-mm-per-prompt")) == {"image": plan.images_per_prompt, "video": 1}
    assert json.loads(value("--mm-processor-kwargs")) == {"min_pixels": 256 * 784, "max_pixels": 640 * 784}
    assert value("--tool-call-parser") == "hermes" and "--enable-auto-tool-choice" in args
    assert value("--served-model-name") == "qwen" and value("--port") == "9000"
    env = plan.client_env()
    assert env["QWENVL_VLM_BASE_URL"] == "http://127.0.0.1:9000/v1" and env["QWENVL_VLM_MODEL"] == "qwen"
    assert env["QWENVL_MAX_PIXELS"] == str(640 * 784)
    # One GPU needs neither parallel flag.
    single = plan_server("3B", gpus=1, gpu_memory_gb=24).arguments()
    assert "--tensor-parallel-size" not in single and "--data-parallel-size" not in single


def test_smaller_pixel_caps_allow_more_images() -> None:
    wide = plan_server("7B", gpus=1, gpu_memory_gb=24, max_model_len=8192, max_pixels=1280 * 784)
    narrow = plan_server("7B", gpus=1, gpu_memory_gb=24, max_model_len=8192, max_pixels=256 * 784)
    assert wide.images_per_prompt < narrow.images_per_prompt


def test_refusals_say_what_is_wrong() -> None:
    with pytest.raises(ServePlanError, match=r"unknown Qwen2\.5-VL size '13B'"):
        plan_server("13B")
    with pytest.raises(ServePlanError, match="must divide 28 attention heads"):
        plan_server("7B", gpus=8, tensor_parallel_size=8)
    with pytest.raises(ServePlanError, match="CPU server needs --max-model-len"):
        plan_server("7B", gpus=0)
    plan = plan_server("7B", gpus=6, gpu_memory_gb=80, tensor_parallel_size=4)
    assert plan.data_parallel_size == 1 and any("2 GPU(s) left idle" in n for n in plan.notes)
    crowded = plan_server("7B", gpus=1, max_model_len=8192, images_per_prompt=8)
    assert any("do not fit" in n for n in crowded.notes)


def test_readme_table_is_the_planners() -> None:
    assert markdown_table() in README.read_text(encoding="utf-8")


def test_cli_prints_the_command_and_the_client_settings() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["serve", "--size", "32B", "--gpus", "4", "--gpu-memory", "80", "--", "--max-num-seqs", "64"]
    )
    assert result.exit_code == 0, result.output
    assert "vllm serve Qwen/Qwen2.5-VL-32B-Instruct" in result.output
    assert re.search(r"--tensor-parallel-size 2 \\\n\s+--data-parallel-size 2", result.output)
    assert "--max-num-seqs 64" in result.output
    assert "export QWENVL_VLM_MODEL=Qwen/Qwen2.5-VL-32B-Instruct" in result.output

    as_json = json.loads(runner.invoke(app, ["serve", "--gpus", "2", "--gpu-memory", "24", "--json"]).output)
    assert as_json["command"][:3] == ["vllm", "serve", "Qwen/Qwen2.5-VL-7B-Instruct"]
    assert as_json["plan"]["data_parallel_size"] == 2

    refused = runner.invoke(app, ["serve", "--size", "72B", "--gpus", "1", "--gpu-memory", "24"])
    assert refused.exit_code == 2 and "needs about 147 GB" in refused.output

    assert markdown_table() in runner.invoke(app, ["serve", "--table"]).output


def test_a_quantised_checkpoint_fits_where_bf16_does_not() -> None:
    with pytest.raises(ServePlanError):
        plan_server("72B", gpus=2, gpu_memory_gb=48)
    plan = plan_server("72B", gpus=2, gpu_memory_gb=48, weights_gb=41, model="Qwen/Qwen2.5-VL-72B-Instruct-AWQ")
    assert plan.tensor_parallel_size == 2 and plan.model.endswith("-AWQ")
