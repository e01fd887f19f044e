"""Qwen3-VL on a real vLLM server: our sizing and visual-token counts are the server's.

A second server (the tiny random Qwen3-VL of ``tests/vllm_server/build_tiny_qwen3_model.py``: 16-pixel
patches merged 2x2, so 32x32 pixels a visual token) is started on a free port for this module and stopped
after it; the shared Qwen2.5-VL server is not touched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image

from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import ModelPort, VLMClient
from qwenvl_agents.vlm.media_rules import QWEN3_VL
from tests.vllm_server import paths
from tests.vllm_server.build import BuildError, build_qwen3_model
from tests.vllm_server.server import ServerError, ServerHandle, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

#: Around the image's tokens the chat template adds <|vision_start|> and <|vision_end|>.
VISION_MARKERS = 2


@pytest.fixture(scope="module")
def qwen3_server() -> Iterator[ServerHandle]:
    try:
        model = build_qwen3_model()
        handle = start_server(model_dir=model, served_model_name=paths.QWEN3_SERVED_MODEL_NAME)
    except (BuildError, ServerError) as exc:
        pytest.fail(f"Qwen3-VL test server could not be set up: {exc}", pytrace=False)
    yield handle
    stop_server(handle)


def _input_tokens(client: VLMClient, images: list[object]) -> int:
    reply = client.ask("Describe.", images, max_tokens=1)  # type: ignore[arg-type]
    assert reply.usage_metadata is not None
    return int(reply.usage_metadata["input_tokens"])


@pytest.mark.parametrize(
    ("size", "budget"),
    [
        ((1240, 1754), {}),  # an A4 page at 150 dpi: scaled down to 1280 tokens at most
        ((10, 10), {}),  # a thumbnail: scaled up to 256 tokens at least
        ((640, 480), {"min_pixels": 4 * 1024, "max_pixels": 64 * 1024}),  # a tight budget
        ((3000, 40), {"min_pixels": 4 * 1024, "max_pixels": 64 * 1024}),  # a strip
    ],
)
def test_the_servers_image_tokens_are_our_estimate(
    qwen3_server: ServerHandle, size: tuple[int, int], budget: dict[str, int]
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, vlm_base_url=qwen3_server.base_url, vlm_model=qwen3_server.model, **budget
    )
    with ModelPort.from_settings(settings) as port:
        assert port.media_rules == QWEN3_VL  # from the served name, tiny-qwen3-vl
        prepared = port.prepare(Image.new("RGB", size, "white"))
        assert prepared.width % 32 == 0 and prepared.height % 32 == 0
        assert prepared.tokens == (prepared.width // 32) * (prepared.height // 32)
        assert settings.min_pixels <= prepared.width * prepared.height <= settings.max_pixels or size == (3000, 40)
        text_only = _input_tokens(port.client, [])
        with_image = _input_tokens(port.client, [prepared])
    assert with_image - text_only == prepared.tokens + VISION_MARKERS
