"""The model family's media rules: which family, how images are sized and counted, and that every caller uses them."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from PIL import Image

from qwenvl_agents.serving import plan_server
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm.client import VLMClient
from qwenvl_agents.vlm.local_transformers import ChatQwenTransformers
from qwenvl_agents.vlm.media_rules import (
    QWEN2_5_VL,
    QWEN2_VL,
    QWEN3_VL,
    MediaRules,
    media_rules_for,
    media_rules_of,
)
from qwenvl_agents.vlm.port import ModelPort
from qwenvl_agents.vlm.video import fit_frame, frame_pixel_budget
from qwenvl_agents.workflows.detector import VideoDetector

PACKAGE = Path(__file__).resolve().parents[3] / "qwenvl_agents"
RULES_MODULE = PACKAGE / "vlm" / "media_rules.py"
SIZES = [(1, 1), (10, 10), (28, 28), (31, 33), (480, 640), (1754, 1240), (1080, 1920), (4000, 30), (30, 4000)]


def _checkpoint(folder: Path, model_type: str, **vision: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, "vision_config": vision}))
    return folder


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- which family --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_type", "expected"),
    [("qwen2_vl", QWEN2_VL), ("qwen2_5_vl", QWEN2_5_VL), ("qwen3_vl", QWEN3_VL), ("qwen3_vl_moe", QWEN3_VL)],
)
def test_a_local_folder_is_known_by_its_config(tmp_path: Path, model_type: str, expected: MediaRules) -> None:
    folder = _checkpoint(tmp_path / "my-finetune", model_type)  # the name says nothing
    assert media_rules_for(str(folder)) == expected


def test_the_config_beats_the_name_and_its_vision_sizes_count(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "Qwen2.5-VL-7B-Instruct", "qwen3_vl", patch_size=16, spatial_merge_size=2)
    assert media_rules_for(str(folder)).factor == 32
    odd = _checkpoint(tmp_path / "odd", "qwen2_5_vl", patch_size=16, spatial_merge_size=3)
    assert (media_rules_for(str(odd)).factor, media_rules_for(str(odd)).family) == (48, "qwen2.5-vl")


def test_an_unknown_or_broken_config_leaves_the_name_to_decide(tmp_path: Path) -> None:
    assert media_rules_for(str(_checkpoint(tmp_path / "Qwen3-VL-tiny", "llava"))) == QWEN3_VL
    broken = tmp_path / "qwen3_vl_broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert media_rules_for(str(broken)) == QWEN3_VL


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Qwen/Qwen3-VL-8B-Instruct", QWEN3_VL),
        ("Qwen/Qwen3-VL-30B-A3B-Instruct-FP8", QWEN3_VL),
        ("/models/qwen3_vl_4b", QWEN3_VL),
        ("Qwen/Qwen2.5-VL-72B-Instruct-AWQ", QWEN2_5_VL),
        ("Qwen/Qwen2-VL-7B-Instruct", QWEN2_VL),
        ("tiny-qwen2.5-vl", QWEN2_5_VL),
        ("my-model", QWEN2_5_VL),  # nothing says: the default
        ("", QWEN2_5_VL),
    ],
)
def test_a_hub_id_is_known_by_its_name(name: str, expected: MediaRules) -> None:
    assert media_rules_for(name) == expected


def test_the_setting_overrides_config_and_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _checkpoint(tmp_path / "Qwen3-VL", "qwen3_vl")
    assert media_rules_for(str(folder), "qwen2.5-vl") == QWEN2_5_VL
    assert media_rules_for("Qwen/Qwen2.5-VL-7B-Instruct", "qwen3-vl") == QWEN3_VL
    with pytest.raises(ValueError, match="QWENVL_VLM_MODEL_FAMILY"):
        media_rules_for("m", "llava")
    monkeypatch.setenv("QWENVL_VLM_MODEL_FAMILY", "qwen3-vl")
    s = _settings(vlm_model="Qwen/Qwen2.5-VL-7B-Instruct")
    assert s.vlm_model_family == "qwen3-vl" and s.media_rules == QWEN3_VL
    assert (s.min_pixels, s.max_pixels) == (256 * 32 * 32, 1280 * 32 * 32)


def test_pixel_defaults_are_tokens_of_the_family(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (_settings().min_pixels, _settings().max_pixels) == (256 * 28 * 28, 1280 * 28 * 28)
    qwen3 = _settings(vlm_model="Qwen/Qwen3-VL-8B-Instruct")
    assert (qwen3.min_pixels, qwen3.max_pixels) == (256 * 32 * 32, 1280 * 32 * 32)
    # QWENVL_MIN_PIXELS / QWENVL_MAX_PIXELS stay pixel values, whatever the family.
    monkeypatch.setenv("QWENVL_MAX_PIXELS", "50176")
    assert _settings(vlm_model="Qwen/Qwen3-VL-8B-Instruct").max_pixels == 50176
    # A copy for another model computes the defaults afresh (and keeps what was set).
    port = ModelPort.from_settings(_settings(), vlm_model="Qwen/Qwen3-VL-8B-Instruct")
    assert (port.min_pixels, port.max_pixels, port.media_rules) == (256 * 32 * 32, 50176, QWEN3_VL)


# --- sizing and counting for Qwen3-VL ------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_qwen3_sizes_are_multiples_of_32_within_the_budget(height: int, width: int) -> None:
    low, high = QWEN3_VL.default_min_pixels, QWEN3_VL.default_max_pixels
    h, w = QWEN3_VL.resize(height, width)
    assert h % 32 == 0 and w % 32 == 0
    assert low <= h * w <= high or max(h, w) / min(h, w) > 100  # an extreme strip can't reach the floor
    assert QWEN3_VL.tokens(h, w) == (h // 32) * (w // 32) <= 1280
    small = QWEN3_VL.fit_within(height, width, 4 * 1024, 64 * 1024)  # never above the cap, even for a strip
    assert small[0] % 32 == 0 and small[1] % 32 == 0
    assert small[0] * small[1] <= 64 * 1024 and QWEN3_VL.tokens(*small) <= 64


def test_qwen3_and_qwen25_spend_the_same_tokens_on_a_page_in_other_pixels() -> None:
    assert QWEN2_5_VL.resize(1754, 1240) == (1176, 840) and QWEN3_VL.resize(1754, 1240) == (1344, 960)
    assert QWEN2_5_VL.tokens(1176, 840) == QWEN3_VL.tokens(1344, 960) == 1260
    assert QWEN3_VL.video_tokens(5, 320, 480) == 3 * 10 * 15  # 5 frames: 3 temporal pairs, the last padded


def test_qwen3_video_frames_fit_their_token_budget() -> None:
    low, high = frame_pixel_budget(8, max_video_tokens=2048, frames_per_grid=2, rules=QWEN3_VL)
    assert high == 512 * 1024 and low == 128 * 1024
    h, w = fit_frame(1080, 1920, low, high, QWEN3_VL)
    assert h % 32 == 0 and w % 32 == 0 and QWEN3_VL.video_tokens(8, h, w) <= 2048


# --- the port and every caller use the rules -----------------------------------------------------


def test_the_port_prepares_images_for_qwen3_on_every_backend(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "checkpoint", "qwen3_vl", patch_size=16, spatial_merge_size=2)
    page = Image.new("RGB", (1240, 1754), "white")
    for backend in ("openai", "transformers"):
        s = _settings(vlm_model=str(folder), vlm_backend=backend, vlm_base_url="http://127.0.0.1:9/v1")
        with ModelPort.from_settings(s) as port:
            assert port.media_rules.factor == 32, backend
            p = port.prepare(page)
            assert (p.width, p.height, p.tokens) == (960, 1344, 1260), backend
            assert p.tokens == (p.width // 32) * (p.height // 32)
            small = ModelPort.from_settings(s, min_pixels=4 * 1024, max_pixels=64 * 1024).prepare(page)
            assert small.width % 32 == 0 and small.height % 32 == 0 and small.tokens <= 64, backend
    local = ModelPort.from_settings(_settings(vlm_model=str(folder), vlm_backend="transformers"))
    model = local.chat_model("pages")
    assert isinstance(model, ChatQwenTransformers) and model.content_options().rules == QWEN3_VL
    assert model.min_pixels == 256 * 1024


def test_a_client_for_a_qwen3_model_sizes_for_it() -> None:
    client = VLMClient(["http://127.0.0.1:9/v1"], "Qwen/Qwen3-VL-8B-Instruct")
    try:
        assert (client.media_rules, client.max_pixels) == (QWEN3_VL, 1280 * 1024)
        assert ModelPort.from_client(client).media_rules == QWEN3_VL
        p = client.prepare(Image.new("RGB", (640, 480), "white"))
        assert (p.width, p.height, p.tokens) == (640, 480, 300)
    finally:
        client.close()


def test_workflows_take_the_rules_of_their_model() -> None:
    port = ModelPort.from_settings(_settings(vlm_model="Qwen/Qwen3-VL-8B-Instruct", vlm_base_url="http://x:1/v1"))
    detector = VideoDetector.from_port(port, "a ladder")
    assert (detector.media_rules, detector.max_pixels) == (QWEN3_VL, 1280 * 1024)
    # A bare chat model brings its own rules (an in-process model) or its name's family.
    assert VideoDetector(port.chat_model("detector"), "a ladder").media_rules == QWEN3_VL
    assert media_rules_of(FakeListChatModel(responses=["{}"])) == QWEN2_5_VL
    port.close()


def test_the_serve_planner_counts_in_the_families_tokens() -> None:
    qwen25 = plan_server("7B", gpus=1, gpu_memory_gb=80)
    qwen3 = plan_server("7B", gpus=1, gpu_memory_gb=80, model="Qwen/Qwen3-VL-8B-Instruct")
    assert (qwen25.max_pixels, qwen3.max_pixels) == (1280 * 784, 1280 * 1024)
    assert qwen25.images_per_prompt == qwen3.images_per_prompt  # the same tokens per image
    env = qwen3.client_env()
    assert env["QWENVL_VLM_MODEL_FAMILY"] == "qwen3-vl" and env["QWENVL_MAX_PIXELS"] == str(1280 * 1024)
    named = plan_server("7B", gpus=1, model="/srv/ckpt", served_model_name="qwen", family="qwen3-vl")
    assert named.client_env()["QWENVL_VLM_MODEL_FAMILY"] == "qwen3-vl"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)
    ]


def test_no_module_sizes_images_outside_the_rules() -> None:
    """No token size constant outside the rules module, and every sizing call passes the model's rules."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == RULES_MODULE:
            continue
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        where = path.relative_to(PACKAGE.parent)
        if "QWEN_PATCH" in source:
            problems.append(f"{where}: QWEN_PATCH")
        for node in ast.walk(tree):  # 28 or 784 (28 * 28) in arithmetic, a literal factor=: a hand-made token size
            if isinstance(node, ast.BinOp):
                for side in (node.left, node.right):
                    if isinstance(side, ast.Constant) and side.value in (28, 784):
                        problems.append(f"{where}:{node.lineno}: token size {side.value} in arithmetic")
            if isinstance(node, ast.keyword) and node.arg == "factor" and isinstance(node.value, ast.Constant):
                problems.append(f"{where}:{node.value.lineno}: factor={node.value.value}")
        for call in _calls(tree, "prepare_image"):
            if not any(k.arg == "rules" for k in call.keywords):
                problems.append(f"{where}:{call.lineno}: prepare_image without rules=")
        for name in ("smart_resize", "visual_tokens"):  # the Qwen2.5-VL-only helpers, for library users
            problems += [f"{where}:{c.lineno}: {name}" for c in _calls(tree, name)]
    assert problems == []
