"""The agent on a backend that cannot call tools says so and names ``--graph rag``, which needs no tools."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from qwenvl_agents.agent import AgentContext, build_agent_graph
from qwenvl_agents.agent.resources import AgentResources
from qwenvl_agents.errors import VLMRequestError
from qwenvl_agents.vlm import ChatQwenTransformers


def test_agent_graph_on_the_transformers_backend_names_the_rag_graph(samples_index, tmp_path: Path) -> None:
    # The model comes from the port of the settings (QWENVL_VLM_BACKEND=transformers); it is never loaded,
    # because binding the tools fails first.
    local = samples_index.settings.model_copy(update={"vlm_backend": "transformers", "vlm_model": str(tmp_path)})
    resources = AgentResources(local)
    assert isinstance(resources.chat_model(AgentContext()), ChatQwenTransformers)
    graph = build_agent_graph(local, search=samples_index.search())
    with pytest.raises(VLMRequestError, match=r"cannot call tools.*`qwenvl ask --graph rag`"):
        graph.invoke({"messages": [HumanMessage("What is the total of INV-2026-0042?")]}, context=AgentContext())
    resources.close()


def test_cli_ask_with_the_agent_graph_on_a_local_backend_points_at_rag(monkeypatch, tmp_path: Path) -> None:
    from qwenvl_agents.cli import app

    monkeypatch.setenv("QWENVL_VLM_BACKEND", "transformers")
    monkeypatch.setenv("QWENVL_VLM_MODEL", str(tmp_path))
    result = CliRunner().invoke(app, ["ask", "What is the total?"])
    assert result.exit_code == 2
    assert "cannot call tools" in result.output and "--graph rag" in result.output
