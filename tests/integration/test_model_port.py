"""Every role's model from the ModelPort honours QWENVL_VLM_MAX_RETRIES and QWENVL_VLM_MAX_CONCURRENCY.

A real fault-injecting HTTP proxy stands between the port and the vLLM test server and counts what
arrives: injected 503s and 429s are retried by every role's model (the extractor's included), a request
that timed out while the server was generating reaches it once, and concurrent requests over all roles
never exceed the concurrency bound at the proxy.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel

from qwenvl_agents.agent import AgentContext
from qwenvl_agents.agent.resources import AgentResources
from qwenvl_agents.extract import make_extractor
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import MODEL_ROLES, ModelPort
from qwenvl_agents.workflows.detector import VideoDetector
from qwenvl_agents.workflows.inspection import VisualInspector
from qwenvl_agents.workflows.video_qa import _target
from tests.support.fault_proxy import FaultProxy
from tests.support.pages import page

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

PIXELS = {"min_pixels": 4 * 784, "max_pixels": 64 * 784}
PROMPT = [HumanMessage("Say hello.")]


class Seen(BaseModel):
    thing: str


@pytest.fixture
def proxy(vllm_server) -> Iterator[FaultProxy]:
    with FaultProxy(vllm_server.root_url) as p:
        yield p


def settings(vllm_server, proxy: FaultProxy, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "vlm_base_url": proxy.base_url,
        "vlm_model": vllm_server.model,
        "vlm_max_retries": 2,
        "vlm_max_concurrency": 2,
        **PIXELS,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def consumers_models(port: ModelPort) -> dict[str, BaseChatModel]:
    """Each role's model as its consumer takes it from the port (agent, workflows), else the port's own."""
    resources = AgentResources(port.settings, models=port)
    context = AgentContext(max_tokens=8)
    models: dict[str, BaseChatModel] = {role: port.chat_model(role, max_tokens=8) for role in MODEL_ROLES}
    models["agent"] = resources.chat_model(context)
    models["pages"] = resources.vision_model(context)
    models["inspection"] = VisualInspector.from_port(port, Seen).chat_model
    models["detector"] = VideoDetector.from_port(port, "a red ball", max_tokens=8).chat_model
    models["video"] = _target(port, None, 8, None).model
    return models


@pytest.mark.parametrize("status", [503, 429])
@pytest.mark.parametrize("role", MODEL_ROLES)
def test_two_503s_or_429s_are_retried_by_every_roles_model(
    vllm_server, proxy: FaultProxy, role: str, status: int
) -> None:
    with ModelPort.from_settings(settings(vllm_server, proxy)) as port:
        model = consumers_models(port)[role]
        proxy.set_mode("http_500", times=2, status=status, retry_after="0.05")
        answer = model.invoke(PROMPT)
    assert isinstance(answer, AIMessage)
    assert proxy.faults["http_500"] == 2 and proxy.chat_requests() == 3


@pytest.mark.parametrize("role", MODEL_ROLES)
def test_a_read_timeout_reaches_the_server_once_for_every_role(vllm_server, proxy: FaultProxy, role: str) -> None:
    with ModelPort.from_settings(settings(vllm_server, proxy, vlm_timeout=0.5)) as port:
        model = consumers_models(port)[role]
        proxy.set_mode("slow", delay=2.0)
        with pytest.raises(Exception) as raised:
            model.invoke(PROMPT)
        message = str(port.explain(raised.value))
    assert proxy.chat_requests() == 1  # QWENVL_VLM_MAX_RETRIES=2, but the server may still be generating
    assert "timed out after 0.5 s" in message and "not retried" in message


def test_a_refused_connection_is_retried(vllm_server, proxy: FaultProxy) -> None:
    with ModelPort.from_settings(settings(vllm_server, proxy)) as port:
        model = port.chat_model("chat", max_tokens=8)
        proxy.set_mode("refuse")
        threading.Timer(0.3, proxy.set_mode, ("pass",)).start()  # listening again before the retries run out
        answer = model.invoke(PROMPT)
    assert isinstance(answer, AIMessage) and proxy.chat_requests() == 1


def test_three_503s_are_one_too_many_with_max_retries_two(vllm_server, proxy: FaultProxy) -> None:
    with ModelPort.from_settings(settings(vllm_server, proxy)) as port:
        model = AgentResources(port.settings, models=port).vision_model(AgentContext(max_tokens=8))
        proxy.set_mode("http_500", times=3, status=503, retry_after="0.05")
        with pytest.raises(Exception, match="503"):
            model.invoke(PROMPT)
    assert proxy.chat_requests() == 3


def test_the_extractor_retries_with_the_same_policy(vllm_server, proxy: FaultProxy) -> None:
    s = settings(vllm_server, proxy, extractor="vlm", vlm_max_model_len=vllm_server.max_model_len)
    extractor = make_extractor(s, ocr=False)
    proxy.set_mode("http_500", times=2, status=503, retry_after="0.05")
    result = asyncio.run(extractor.aextract(page()))  # type: ignore[attr-defined]
    assert result.status == "ok"
    assert proxy.faults["http_500"] == 2 and proxy.chat_requests() == 3


def test_concurrency_is_bounded_over_all_roles(vllm_server, proxy: FaultProxy) -> None:
    with ModelPort.from_settings(settings(vllm_server, proxy)) as port:
        models = list(consumers_models(port).values())[:6]
        proxy.set_mode("slow", delay=0.3)  # each request holds its place long enough to queue the others
        answers = models[0].batch([PROMPT] * 6, config={"max_concurrency": 6})
        assert all(isinstance(a, AIMessage) for a in answers)
        assert proxy.chat_requests() == 6 and proxy.max_in_flight == 2
        proxy.reset_counts()

        async def all_roles() -> list[object]:
            return list(await asyncio.gather(*(m.ainvoke(PROMPT) for m in models)))

        answers = asyncio.run(all_roles())
        assert all(isinstance(a, AIMessage) for a in answers)
        assert proxy.chat_requests() == 6 and proxy.max_in_flight == 2
        assert port.client.gate is not None and port.client.gate.in_flight == 0
