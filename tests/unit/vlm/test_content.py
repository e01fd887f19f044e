"""LangChain messages -> local backend input (qwenvl_agents.vlm.content): real images, real video files."""

from __future__ import annotations

import base64
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from PIL import Image

from qwenvl_agents.errors import CorruptDocumentError, QwenVLError, VLMRequestError
from qwenvl_agents.vlm.content import (
    ContentOptions,
    ImagePart,
    TextPart,
    VideoPart,
    decode_video,
    sample_indices,
    to_conversation,
)
from tests.support.videos import make_undecodable_video, make_video

OPTS = ContentOptions(
    min_pixels=4 * 784,
    max_pixels=16 * 784,
    video_fps=2.0,
    video_max_frames=8,
    video_min_pixels=784,
    video_max_pixels=8 * 784,
)


def _png(path: Path, size: tuple[int, int] = (600, 300), color: str = "red") -> Path:
    Image.new("RGB", size, color).save(path)
    return path


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", seconds=3, fps=4.0, appears_at=1.0)


def _user(*parts: object) -> list[HumanMessage]:
    return [HumanMessage(content=list(parts))]  # type: ignore[arg-type]


def test_roles_and_text(tmp_path: Path) -> None:
    conv = to_conversation([SystemMessage("sys"), HumanMessage("hi"), AIMessage("yo"), HumanMessage("again")], OPTS)
    assert [t.role for t in conv.turns] == ["system", "user", "assistant", "user"]
    assert [t.text for t in conv.turns] == ["sys", "hi", "yo", "again"]
    assert conv.image_count == 0
    assert conv.openai_messages()[1] == {"role": "user", "content": "hi"}


def test_every_image_form_is_loaded_and_sized(tmp_path: Path) -> None:
    png = _png(tmp_path / "a b.png")
    data_url = "data:image/png;base64," + _b64(png)
    conv = to_conversation(
        _user(
            {"type": "image_url", "image_url": {"url": data_url}},
            {"type": "image_url", "image_url": str(png)},
            {"type": "image_url", "image_url": {"url": png.resolve().as_uri()}},
            {"type": "image", "base64": _b64(png), "mime_type": "image/png"},
            {"type": "image", "source_type": "base64", "data": _b64(png), "mime_type": "image/png"},
            {"type": "image", "url": str(png)},
            {"type": "image", "source_type": "url", "url": data_url},
            {"type": "text", "text": "compare"},
        ),
        OPTS,
    )
    images = conv.images
    assert len(images) == 7
    for part in images:
        w, h = part.image.size
        assert w % 28 == 0 and h % 28 == 0
        assert 4 * 784 <= w * h <= 16 * 784
        assert part.tokens == (w // 28) * (h // 28)
        assert part.image.getpixel((w // 2, h // 2)) == (255, 0, 0)
    assert conv.turns[0].parts[-1] == TextPart("compare")
    msg = conv.openai_messages()[0]
    assert [p["type"] for p in msg["content"]] == ["image_url"] * 7 + ["text"]
    decoded = Image.open(io.BytesIO(base64.b64decode(msg["content"][0]["image_url"]["url"].split(",", 1)[1])))
    assert decoded.size == images[0].image.size


def test_image_budget_follows_options(tmp_path: Path) -> None:
    png = _png(tmp_path / "big.png", (2000, 1000))
    small = to_conversation(_user({"type": "image_url", "image_url": str(png)}), OPTS).images[0]
    large = to_conversation(
        _user({"type": "image_url", "image_url": str(png)}), ContentOptions(min_pixels=784, max_pixels=64 * 784)
    ).images[0]
    assert small.tokens <= 16 < large.tokens <= 64


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        lambda *a: _Handler(*a, directory=str(tmp_path)),  # type: ignore[misc]
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_http_image_and_video(http_dir: tuple[str, Path], video: Path) -> None:
    base, folder = http_dir
    _png(folder / "page.png", (300, 300), "blue")
    (folder / "clip.mp4").write_bytes(video.read_bytes())
    conv = to_conversation(
        _user(
            {"type": "image_url", "image_url": {"url": f"{base}/page.png"}},
            {"type": "video_url", "video_url": {"url": f"{base}/clip.mp4"}},
        ),
        OPTS,
    )
    assert conv.images[0].image.getpixel((0, 0)) == (0, 0, 255)
    assert len(conv.videos[0].frames) == 6


def test_video_is_sampled_with_metadata(video: Path) -> None:
    for source in (str(video), video.resolve().as_uri(), "data:video/mp4;base64," + _b64(video)):
        conv = to_conversation(_user({"type": "video_url", "video_url": {"url": source}}, "what happens?"), OPTS)
        (part,) = conv.videos
        assert isinstance(part, VideoPart)
        assert part.total_frames == 12 and part.native_fps == pytest.approx(4.0)
        assert len(part.frames) == 6  # 3 s at 2 fps
        assert part.fps == pytest.approx(2.0)
        for frame in part.frames:
            assert frame.width % 28 == 0 and frame.height % 28 == 0 and frame.width * frame.height <= 8 * 784
        # the red disc appears at 1 s: in the centre of the last frame, not of the first
        centre = (frame.width // 2, frame.height // 2 + 2)
        first, last = part.frames[0].getpixel(centre), part.frames[-1].getpixel(centre)
        assert first[1] > 150 and last[0] > 150 and last[1] < 100, (first, last)
        assert part.data == video.read_bytes()
    native = conv.openai_messages("native")[0]["content"]
    assert native[0]["type"] == "video_url" and native[0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    frames = conv.openai_messages("frames")[0]["content"]
    assert [p["type"] for p in frames] == ["image_url"] * 6 + ["text"]


def test_video_frame_cap_and_standard_block(video: Path) -> None:
    opts = ContentOptions(video_fps=10.0, video_max_frames=4, video_min_pixels=784, video_max_pixels=4 * 784)
    part = to_conversation(_user({"type": "video", "base64": _b64(video), "mime_type": "video/mp4"}), opts).videos[0]
    assert len(part.frames) == 4
    assert part.fps == pytest.approx(4 / 3)


def test_sample_indices() -> None:
    assert sample_indices(100, 25.0, 2.0, 32) == [0, 14, 28, 42, 57, 71, 85, 99]
    assert len(sample_indices(25 * 600, 25.0, 2.0, 32)) == 32
    assert all(len(sample_indices(n, 30.0, 1.0, 7)) % 2 == 0 for n in (1, 2, 31, 95, 1000))


def test_undecodable_video_names_the_file(tmp_path: Path) -> None:
    bad = make_undecodable_video(tmp_path / "broken.mp4")
    with pytest.raises(CorruptDocumentError, match=r"broken\.mp4.*cannot be decoded"):
        to_conversation(_user({"type": "video_url", "video_url": {"url": str(bad)}}), OPTS)
    with pytest.raises(CorruptDocumentError, match=r"data:video/mp4;base64,\.\.\."):
        decode_video("data:video/mp4;base64," + _b64(bad), OPTS)


@pytest.mark.parametrize(
    ("part", "match"),
    [
        ({"type": "audio_url", "audio_url": {"url": "x.wav"}}, r"part 1: unsupported content part type 'audio_url'"),
        ({"type": "image_url", "image_url": {}}, "without a url"),
        ({"type": "image", "file_id": "file-123"}, "file id"),
        ({"type": "image"}, "without base64 data or url"),
    ],
)
def test_unknown_or_empty_parts_are_refused(part: object, match: str) -> None:
    with pytest.raises(VLMRequestError, match=match):
        to_conversation(_user(part), OPTS)


def test_unreadable_image_names_it(tmp_path: Path) -> None:
    (tmp_path / "not-an-image.png").write_text("hello")
    with pytest.raises(QwenVLError, match=r"not-an-image\.png"):
        to_conversation(_user({"type": "image_url", "image_url": str(tmp_path / "not-an-image.png")}), OPTS)
    with pytest.raises(QwenVLError, match=r"missing\.png"):
        to_conversation(_user({"type": "image_url", "image_url": str(tmp_path / "missing.png")}), OPTS)


def test_tools_are_refused_with_the_backend_to_use() -> None:
    with pytest.raises(VLMRequestError, match="OpenAI server backend"):
        to_conversation([ToolMessage("42", tool_call_id="c1")])
    with pytest.raises(VLMRequestError, match="OpenAI server backend"):
        to_conversation([AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c1"}])])
    with pytest.raises(VLMRequestError, match="no messages"):
        to_conversation([])


def test_image_part_data_url_roundtrip() -> None:
    part = ImagePart(Image.new("RGB", (56, 28), "white"), "x", 2)
    assert part.data_url.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(part.data_url.split(",", 1)[1]))).size == (56, 28)


# --- what the local backends read from a LangChain call (qwenvl_agents.vlm.backends) ----------------


def test_generation_options_read_what_the_extractor_binds() -> None:
    from qwenvl_agents.extract.schemas import page_reading_schema, response_format
    from qwenvl_agents.vlm.backends import generation_options

    opts = generation_options(
        {"extra_body": {"response_format": response_format()}, "temperature": 0.2, "max_tokens": 300}, 0.0, 1024
    )
    assert (opts.temperature, opts.max_tokens, opts.json_schema) == (0.2, 300, page_reading_schema())
    defaults = generation_options({}, 0.0, 1024, ["</s>"])
    assert (defaults.temperature, defaults.max_tokens, defaults.stop, defaults.json_schema) == (
        0.0,
        1024,
        ("</s>",),
        None,
    )
    assert generation_options({"stop": "END", "max_completion_tokens": 7}, 0.0, 1024).stop == ("END",)


def test_generation_options_refuse_tools_and_unknown_formats() -> None:
    from pydantic import BaseModel

    from qwenvl_agents.vlm.backends import generation_options

    class Answer(BaseModel):
        yes: bool

    assert generation_options({"response_format": Answer}, 0.0, 8).json_schema == Answer.model_json_schema()
    with pytest.raises(NotImplementedError, match="OpenAI server backend"):
        generation_options({"tools": [{"type": "function"}]}, 0.0, 8)
    with pytest.raises(VLMRequestError, match="unsupported response_format"):
        generation_options({"response_format": {"type": "grammar"}}, 0.0, 8)
    with pytest.raises(VLMRequestError, match="without a 'schema'"):
        generation_options({"response_format": {"type": "json_schema", "json_schema": {}}}, 0.0, 8)


def test_backend_factory_and_extractor_wiring(tmp_path: Path) -> None:
    import importlib.util

    from langchain_openai import ChatOpenAI

    from qwenvl_agents.errors import MissingDependencyError
    from qwenvl_agents.extract.auto import AutoExtractor, make_extractor
    from qwenvl_agents.extract.vlm import VLMExtractor
    from qwenvl_agents.settings import Settings
    from qwenvl_agents.vlm.backends import chat_model_from_settings
    from qwenvl_agents.vlm.local_transformers import ChatQwenTransformers

    server = Settings(_env_file=None, vlm_base_url="http://127.0.0.1:9/v1")  # type: ignore[call-arg]
    assert isinstance(chat_model_from_settings(server), ChatOpenAI)
    vlm = make_extractor(server.model_copy(update={"extractor": "vlm"}), ocr=False)
    assert isinstance(vlm, VLMExtractor) and vlm.client is not None  # the server path is unchanged

    local = Settings(  # type: ignore[call-arg]
        _env_file=None,
        vlm_backend="transformers",
        vlm_model=str(tmp_path),
        vlm_attn_implementation="sdpa",
        min_pixels=4 * 784,
        max_pixels=64 * 784,
        vlm_max_images_per_prompt=2,
        vlm_max_model_len=4096,
    )
    chat = chat_model_from_settings(local, max_tokens=99)
    assert isinstance(chat, ChatQwenTransformers)
    assert (chat.model, chat.attn_implementation, chat.max_pixels, chat.max_tokens) == (
        str(tmp_path),
        "sdpa",
        64 * 784,
        99,
    )
    with pytest.raises(VLMRequestError, match="3 images in one prompt, but this model accepts at most 2"):
        chat.conversation(_user(*[{"type": "image_url", "image_url": str(_png(tmp_path / "p.png"))}] * 3))
    with pytest.raises(NotImplementedError, match="OpenAI server backend"):
        chat.bind_tools([])
    extractor = make_extractor(local.model_copy(update={"extractor": "vlm"}), ocr=False)
    assert isinstance(extractor, VLMExtractor) and extractor.client is None
    assert isinstance(extractor.chat_model, ChatQwenTransformers) and extractor._fixed_max_model_len == 4096
    auto = make_extractor(local, ocr=False)
    assert isinstance(auto, AutoExtractor) and isinstance(auto.vlm, VLMExtractor)

    if importlib.util.find_spec("vllm") is None:  # the project venv has no vLLM: the error says what to install
        with pytest.raises(MissingDependencyError, match=r"pip install 'qwenvl-agents\[vllm\]'"):
            chat_model_from_settings(local.model_copy(update={"vlm_backend": "vllm"}))
