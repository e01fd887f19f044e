"""LangGraph Studio's side of the project: a real ``langgraph dev`` serving langgraph.json, driven with langgraph-sdk.

Studio's UI is a hosted web page; what it talks to is this server's REST API, so that is what is tested:
the assistants it lists, their context schemas, and a thread run on each graph with its streamed events.
The server runs the repository's graphs as ``make studio`` does (analytics and version check off), with a
data folder in a temporary directory and the VLM settings pointing at the session's vLLM test server. It
runs from a temporary folder with a copy of langgraph.json whose paths point back at the repository, so a
developer's ``.env`` (which langgraph.json loads, overriding the environment) cannot redirect it. Every
HTTP(S) request that is not for 127.0.0.1/localhost goes to a trap, so an outbound attempt fails the module.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from qwenvl_agents.samples import write_samples
from tests.support.langgraph_dev import LangGraphDev, OutboundTrap

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = {"agent", "rag", "ingest"}


def served_config(workdir: Path) -> Path:
    """langgraph.json with its paths made absolute and without ``env`` (the test sets the environment)."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config.pop("env", None)
    config["dependencies"] = [str((ROOT / dep).resolve()) for dep in config.get("dependencies", [])]
    config["graphs"] = {
        name: f"{(ROOT / spec.rsplit(':', 1)[0]).resolve()}:{spec.rsplit(':', 1)[1]}"
        for name, spec in config["graphs"].items()
    }
    path = workdir / "langgraph.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def server_env(data_dir: Path, vllm: Any, trap: OutboundTrap) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QWENVL_", "LANGSMITH_", "LANGCHAIN_", "OPENAI_")) and "proxy" not in k.lower()
    }
    return {
        **keep,
        **trap.proxy_env(),
        # What `make studio` sets: no analytics, no version check, no onnxruntime telemetry.
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "ORT_DISABLE_TELEMETRY": "1",
        "LOG_COLOR": "false",  # a plain log for failure messages
        "QWENVL_DATA_DIR": str(data_dir),
        "QWENVL_VLM_BASE_URL": vllm.base_url,
        "QWENVL_VLM_MODEL": vllm.model,
        "QWENVL_VLM_MAX_IMAGES_PER_PROMPT": str(vllm.max_images),
        # A small pixel budget keeps the CPU server quick; the plumbing is the same at any size.
        "QWENVL_MIN_PIXELS": str(16 * 784),
        "QWENVL_MAX_PIXELS": str(96 * 784),
        "QWENVL_VLM_TIMEOUT": "60",
        "QWENVL_VLM_MAX_RETRIES": "1",
    }


@pytest.fixture(scope="module")
def trap() -> Iterator[OutboundTrap]:
    with OutboundTrap() as t:
        yield t


@pytest.fixture(scope="module")
def dev(vllm_server, trap, tmp_path_factory) -> Iterator[LangGraphDev]:
    workdir = tmp_path_factory.mktemp("langgraph-dev")
    server = LangGraphDev(
        Path(sys.executable).parent / "langgraph",
        served_config(workdir),
        cwd=workdir,
        env=server_env(workdir / "data", vllm_server, trap),
        log=workdir / "langgraph-dev.log",
        extra_args=("--allow-blocking",),  # as `make studio`: the ingest pipeline blocks in its own loop
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()  # the whole process group, also when a test or the start failed


@pytest.fixture(scope="module")
def client(dev) -> SyncLangGraphClient:
    return get_sync_client(url=dev.url, timeout=300)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    write_samples(folder)
    return folder


def run_streamed(client: SyncLangGraphClient, graph: str, **kwargs: Any) -> tuple[dict, list[tuple[str, Any]]]:
    """Create a thread, stream one run of ``graph`` on it; the thread and the (event, data) parts in order."""
    thread = client.threads.create()
    parts = [(p.event, p.data) for p in client.runs.stream(thread["thread_id"], graph, **kwargs)]
    return thread, parts


def events(parts: list[tuple[str, Any]], name: str) -> list[Any]:
    return [data for event, data in parts if event == name]


def finished_run(client: SyncLangGraphClient, thread: dict, parts: list[tuple[str, Any]]) -> dict:
    """The run announced by the stream's ``metadata`` event, checked to have ended with success."""
    assert parts and parts[0][0] == "metadata", parts[:3]
    assert not events(parts, "error"), events(parts, "error")
    run = client.runs.get(thread["thread_id"], parts[0][1]["run_id"])
    assert run["status"] == "success", run
    return run


@pytest.fixture(scope="module")
def ingested(client, samples, dev) -> tuple[dict, list[tuple[str, Any]]]:
    """The samples ingested through the server's ``ingest`` graph (the text layer; receipts left out)."""
    with dev.log_on_failure():
        return run_streamed(
            client,
            "ingest",
            input={"paths": [str(samples)]},
            context={"extractor": "text", "exclude": ["*.jpg"]},
            stream_mode=["updates", "custom"],
        )


def test_langgraph_json_exposes_agent_rag_and_ingest() -> None:
    from langgraph_cli.config import validate_config_file

    config = validate_config_file(ROOT / "langgraph.json")
    assert set(config["graphs"]) == GRAPHS
    for spec in config["graphs"].values():
        path, attr = spec.rsplit(":", 1)
        assert (ROOT / path).is_file() and attr == "graph", spec


def test_the_server_lists_an_assistant_per_graph(client, dev) -> None:
    with dev.log_on_failure():
        graph_ids = {a["graph_id"] for a in client.assistants.search(limit=100)}
    assert graph_ids >= GRAPHS, sorted(graph_ids)


SCHEMAS = {  # graph: keys of its input, context and output schemas that Studio's forms and state view need
    "ingest": ({"paths"}, {"extractor", "knowledge_base", "include", "exclude"}, {"summary"}),
    "agent": ({"messages"}, {"k", "knowledge_base", "documents", "tools"}, {"answer", "citations"}),
    "rag": ({"messages"}, {"k", "knowledge_base", "documents"}, {"answer", "citations"}),
}


@pytest.mark.parametrize(
    "graph",
    [
        "ingest",
        "agent",
        "rag",
    ],
)
def test_each_assistant_has_the_schemas_studio_builds_its_forms_from(client, dev, graph) -> None:
    inputs, context, outputs = SCHEMAS[graph]
    with dev.log_on_failure():
        (assistant,) = client.assistants.search(graph_id=graph, limit=10)
        schemas = client.assistants.get_schemas(assistant["assistant_id"])
    missing = {
        kind: sorted(keys - set((schemas.get(kind) or {}).get("properties") or {}))
        for kind, keys in (("input_schema", inputs), ("context_schema", context), ("output_schema", outputs))
    }
    assert not any(missing.values()), missing


def test_ingest_run_streams_progress_then_the_summary(client, dev, samples, ingested) -> None:
    thread, parts = ingested
    docs = [d for d in json.loads((samples / "samples.json").read_text())["documents"] if d["kind"] != "receipt"]
    pages = sum(d["page_count"] for d in docs)
    with dev.log_on_failure():
        finished_run(client, thread, parts)
        progress = [c["progress"] for c in events(parts, "custom")]
        assert progress, [e for e, _ in parts]
        done = [p["pages_done"] for p in progress]
        assert done == sorted(done) and done[-1] == pages, done
        assert all({"documents_seen", "pages_planned", "elapsed"} <= set(p) for p in progress)
        updates = events(parts, "updates")
        assert [list(u) for u in updates] == [["ingest"]], updates
        summary = updates[0]["ingest"]["summary"]
        assert summary["extractor"]["name"] == "text"
        assert summary["documents_new"] == len(docs) and summary["documents_failed"] == 0
        assert summary["pages_new"] == pages and summary["pages_failed"] == 0 and summary["records"] >= pages
        # The summary arrives after the last progress event, and is what the thread's state holds.
        assert parts.index(("updates", updates[0])) > max(i for i, (e, _) in enumerate(parts) if e == "custom")
        state = client.threads.get_state(thread["thread_id"])
        assert state["values"]["summary"]["pages_new"] == pages


def invoice_question(samples: Path) -> tuple[str, str]:
    """The demo's first question about the English invoice, and that invoice's file name."""
    docs = json.loads((samples / "samples.json").read_text())["documents"]
    invoice = next(d for d in docs if d["path"] == "invoice-en.pdf")
    return invoice["questions"][0]["question"], invoice["path"]


# Small and quick on the CPU server, whose context is 2,048 tokens: the random model's words mean nothing,
# the plumbing is what is checked. The agent is offered two tools (their schemas fill the prompt).
RAG_CONTEXT = {"k": 3, "look_pages": 1, "max_tokens": 96}
AGENT_CONTEXT = {**RAG_CONTEXT, "max_steps": 3, "tools": ["search_pages", "look_at_pages"]}


def assert_answer_state(values: dict[str, Any]) -> None:
    """An answer text, ``found``, and citations that are pages of the samples shown during the run."""
    assert isinstance(values["answer"], str) and values["answer"].strip(), values.get("answer")
    assert isinstance(values["found"], bool)
    assert isinstance(values["citations"], list)
    seen = {(p["document"], p["page"]) for p in values.get("pages_seen") or []}
    for cite in values["citations"]:
        assert set(cite) >= {"document", "page", "document_id"}, cite
        assert (cite["document"], cite["page"]) in seen, (cite, seen)
    assert values["messages"][0]["type"] == "human" and values["messages"][-1]["type"] == "ai"


def test_agent_run_streams_steps_and_tokens_and_ends_with_an_answer(client, dev, samples, ingested) -> None:
    question, _ = invoice_question(samples)
    with dev.log_on_failure():
        thread, parts = run_streamed(
            client,
            "agent",
            input={"messages": [{"role": "user", "content": question}]},
            context=AGENT_CONTEXT,
            stream_mode=["updates", "messages-tuple"],
        )
        finished_run(client, thread, parts)
        steps = [next(iter(u)) for u in events(parts, "updates")]
        assert steps[0] == "agent" and steps[-1] == "finalize" and set(steps) <= {"agent", "tools", "finalize"}, steps
        assert steps.count("agent") <= AGENT_CONTEXT["max_steps"], steps
        # messages-tuple: (message chunk, metadata) as the model streams, tagged with the node it ran in.
        tokens = events(parts, "messages")
        assert tokens, [e for e, _ in parts]
        assert {meta["langgraph_node"] for _, meta in tokens} <= {"agent", "tools", "finalize"}
        assert any(meta["langgraph_node"] == "agent" and chunk["type"] == "AIMessageChunk" for chunk, meta in tokens)
        final = events(parts, "updates")[-1]["finalize"]
        assert set(final) >= {"answer", "found", "citations"}, final
        values = client.threads.get_state(thread["thread_id"])["values"]
        assert_answer_state(values)
        assert values["answer"] == final["answer"]


def test_rag_run_retrieves_looks_and_answers_with_citations(client, dev, samples, ingested) -> None:
    question, invoice = invoice_question(samples)
    with dev.log_on_failure():
        thread, parts = run_streamed(
            client,
            "rag",
            input={"messages": [{"role": "user", "content": question}]},
            context=RAG_CONTEXT,
            stream_mode=["updates", "messages-tuple"],
        )
        finished_run(client, thread, parts)
        updates = events(parts, "updates")
        assert [next(iter(u)) for u in updates] == ["retrieve", "look", "finish"], updates
        retrieved = updates[0]["retrieve"]["retrieved"]
        assert 1 <= len(retrieved) <= RAG_CONTEXT["k"]
        # The question names the invoice number printed on the English invoice: retrieval must find it.
        assert invoice in [r["document"] for r in retrieved], retrieved
        assert all(r["image_path"] for r in retrieved), retrieved  # ingest stored every page's image
        tokens = events(parts, "messages")
        assert any(meta["langgraph_node"] == "look" for _, meta in tokens), [e for e, _ in parts]
        values = client.threads.get_state(thread["thread_id"])["values"]
        assert_answer_state(values)
        assert len(values["pages_looked_at"]) == RAG_CONTEXT["look_pages"]
        if values["found"]:
            assert values["citations"], values
            looked = {(p["document"], p["page"]) for p in values["pages_looked_at"]}
            assert {(c["document"], c["page"]) for c in values["citations"]} <= looked


def test_a_failing_run_tells_studio_why(client, dev, samples, ingested) -> None:
    # The server hides the message of exceptions it does not know as safe ("An internal error occurred");
    # Studio shows the error event, so what the user must change has to reach it.
    question, _ = invoice_question(samples)
    with dev.log_on_failure():
        thread, parts = run_streamed(
            client,
            "rag",
            input={"messages": [{"role": "user", "content": question}]},
            context={**RAG_CONTEXT, "model": "no-such-model"},
            stream_mode=["updates"],
        )
        (error,) = events(parts, "error")
        assert "no-such-model" in error["message"] and "QWENVL_VLM_MODEL" in error["message"], error
        assert client.runs.get(thread["thread_id"], parts[0][1]["run_id"])["status"] == "error"


def test_the_server_made_no_outbound_connection_attempts(client, trap, ingested) -> None:
    assert client.assistants.search(limit=1)  # the server is still up after the runs
    assert not trap.attempts, "\n".join(trap.attempts)
