"""The model port: the one place that builds chat models, with the same settings for every role."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import MODEL_ROLES, ChatQwenTransformers, ModelPort, VLMClient
from qwenvl_agents.vlm.transport import RequestGate

ROOT = Path(__file__).resolve().parents[3]

# Calls that build a model client (a constructor, or a factory that makes a client of its own).
BUILDERS = {
    "ChatOpenAI",
    "AzureChatOpenAI",
    "VLMClient",
    "ChatQwenTransformers",
    "ChatQwenVLLM",
    "VLMClient.from_settings",
    "chat_model_from_settings",
    "init_chat_model",
}


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name):
            return f"{func.value.id}.{func.attr}"
        return func.attr
    return None


def _builders_in(code: str) -> list[tuple[int, str]]:
    return [
        (node.lineno, name)
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        and (name := _called_name(node)) is not None
        and (name in BUILDERS or name.rsplit(".", 1)[-1] in BUILDERS)
    ]


def test_no_module_outside_vlm_builds_a_model_client() -> None:
    files = [
        p
        for folder in ("qwenvl_agents", "examples", "graphs")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if not p.is_relative_to(ROOT / "qwenvl_agents" / "vlm")
    ]
    assert len(files) > 50  # the walk found the package, not an empty folder
    found = [
        f"{p.relative_to(ROOT)}:{line}: {name}(...)"
        for p in files
        for line, name in _builders_in(p.read_text(encoding="utf-8"))
    ]
    assert not found, "models are built by qwenvl_agents.vlm.ModelPort only:\n" + "\n".join(found)


def test_the_check_sees_every_way_of_building() -> None:
    code = (
        "m = ChatOpenAI(model='x')\nc = VLMClient.from_settings()\nx = vlm.ChatQwenVLLM(model='y')\nport.chat_model()\n"
    )
    assert _builders_in(code) == [(1, "ChatOpenAI"), (2, "VLMClient.from_settings"), (3, "vlm.ChatQwenVLLM")]


def server_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "_env_file": None,
        "vlm_base_url": "http://127.0.0.1:9/v1,http://127.0.0.1:10/v1",
        "vlm_max_retries": 3,
        "vlm_max_concurrency": 5,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_every_role_on_the_server_shares_one_client_with_retries_and_a_bound() -> None:
    with ModelPort.from_settings(server_settings()) as port:
        models = {role: port.chat_model(role) for role in MODEL_ROLES}
        client = port.client
        assert isinstance(client, VLMClient) and isinstance(client.gate, RequestGate)
        assert client.gate.limit == 5 * 2  # per endpoint, two endpoints
        for role, model in models.items():
            assert isinstance(model, ChatOpenAI), role
            assert model.http_client is client._http and model.http_async_client is client._ahttp, role
            # One transport policy for every role, the extractor's included (it counts the retries).
            assert model.max_retries == 3, role
        assert models["agent"].stream_usage and models["pages"].stream_usage


def test_overrides_and_the_cache() -> None:
    with ModelPort.from_settings(server_settings(), vlm_model="served-name") as port:
        detector = port.chat_model("detector", max_tokens=256, temperature=0.2)
        assert (detector.model_name, detector.max_tokens, detector.temperature) == ("served-name", 256, 0.2)  # type: ignore[attr-defined]
        assert port.chat_model("detector", max_tokens=256, temperature=0.2) is detector
        assert port.chat_model("detector", max_tokens=128) is not detector
        assert port.chat_model("agent", model="other").model_name == "other"  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="unknown model role 'judge'"):
            port.chat_model("judge")  # type: ignore[arg-type]


def test_a_given_client_is_used_and_left_open() -> None:
    client = VLMClient(["http://127.0.0.1:9/v1"], "m", max_pixels=64 * 784, max_images_per_prompt=3)
    with ModelPort.from_client(client) as port:
        assert port.client is client and port.backend == "openai"
        assert (port.max_pixels, port.max_images_per_prompt, port.base_urls) == (64 * 784, 3, ["http://127.0.0.1:9/v1"])
        assert port.chat_model("inspection").http_client is client._http  # type: ignore[attr-defined]
    assert not client._http.is_closed
    client.close()


def test_close_closes_the_client_it_built() -> None:
    port = ModelPort.from_settings(server_settings())
    client = port.client
    port.close()
    assert client._http.is_closed


def test_missing_server_is_reported_before_any_work() -> None:
    from qwenvl_agents.errors import VLMConnectionError

    with pytest.raises(VLMConnectionError, match="QWENVL_VLM_BASE_URL"):
        ModelPort.from_settings(Settings(_env_file=None)).check_configuration()  # type: ignore[call-arg]


def test_local_roles_share_one_copy_of_the_weights(tmp_path: Path) -> None:
    local = Settings(_env_file=None, vlm_backend="transformers", vlm_model=str(tmp_path), max_pixels=64 * 784)  # type: ignore[call-arg]
    with ModelPort.from_settings(local) as port:
        assert port.check_configuration() is port  # nothing to reach: the model loads on first use
        models = {role: port.chat_model(role, max_tokens=16, stream_usage=True) for role in MODEL_ROLES}
        agent = port.chat_model("agent")
        assert isinstance(agent, ChatQwenTransformers)
        for role, model in models.items():
            assert isinstance(model, ChatQwenTransformers), role
            assert model.max_tokens == 16 and model.max_pixels == 64 * 784, role
            assert model.owner is agent, role  # a variant: same weights, other options
        assert port.chat_model("pages", model=str(tmp_path / "other")).owner is not agent  # another checkpoint
        with pytest.raises(NotImplementedError, match="--graph rag"):
            agent.bind_tools([])
        assert port.base_urls == [] and port.prepare  # images are sized with the settings' budget


def test_the_servers_context_length_is_asked_once_through_the_port() -> None:
    import asyncio
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class Models(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"data": [{"id": "qwen", "max_model_len": 4096}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with ModelPort.from_settings(vlm_base_url=base, vlm_model="qwen") as port:
            assert port.max_model_len() == 4096 and asyncio.run(port.amax_model_len()) == 4096
    finally:
        server.shutdown()
    assert asked == ["/v1/models"]
    local = ModelPort.from_settings(vlm_backend="transformers", vlm_model="/m", vlm_max_model_len=2048)
    assert local.max_model_len() == 2048
