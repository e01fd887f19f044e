"""The ingest pipeline as a LangGraph graph, for LangGraph Studio and graph-based applications.

Input ``{"paths": [...]}``; per-run knobs come from :class:`IngestContext` (shown in Studio); progress is
streamed as custom events (``stream_mode="custom"``); the result is ``{"summary": {...}}``.

Example:
    >>> import asyncio, tempfile
    >>> from qwenvl_agents.samples import write_samples
    >>> data = tempfile.mkdtemp()
    >>> _ = write_samples(f"{data}/s")
    >>> graph = build_ingest_graph(Settings(data_dir=data))
    >>> out = graph.invoke({"paths": [f"{data}/s/invoice-en.pdf"]}, context=IngestContext(extractor="text"))
    >>> out["summary"]["pages_new"]
    1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict  # typing.TypedDict has no pydantic schema before 3.12: Studio needs one

from qwenvl_agents.documents import RenderOptions
from qwenvl_agents.ingest.pipeline import Ingestor
from qwenvl_agents.ingest.summary import IngestProgress
from qwenvl_agents.settings import Settings


@dataclass
class IngestContext:
    """Per-run knobs of the ingest graph. ``None`` means: the value from ``QWENVL_*`` settings."""

    extractor: Literal["auto", "vlm", "ocr", "text"] | None = field(
        default=None, metadata={"description": "Which reader: auto, vlm, ocr or text."}
    )
    knowledge_base: str | None = field(default=None, metadata={"description": "Chroma collection to write."})
    dpi: float | None = field(default=None, metadata={"description": "Resolution for PDFs and office files."})
    retry_failed: bool = field(default=True, metadata={"description": "Re-extract pages that failed before."})
    include: list[str] = field(default_factory=list, metadata={"description": "Globs of files to take."})
    exclude: list[str] = field(default_factory=list, metadata={"description": "Globs of files to leave out."})


class IngestState(TypedDict, total=False):
    paths: list[str]
    summary: dict[str, Any]


def build_ingest_graph(settings: Settings | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the ingest graph (no checkpointer: ingest keeps its own ledger and resumes from it)."""

    # A plain function: LangGraph runs it in a worker thread under ainvoke (Studio), so both paths work.
    def ingest(state: IngestState, runtime: Runtime[IngestContext]) -> dict[str, Any]:
        ctx = runtime.context or IngestContext()
        s = settings or Settings()
        overrides: dict[str, Any] = {"cache_dir": s.cache_dir}
        if ctx.dpi:
            overrides["dpi"] = ctx.dpi
        writer = get_stream_writer()

        def on_progress(progress: IngestProgress) -> None:
            writer({"progress": dataclasses.asdict(progress)})

        ingestor = Ingestor(
            s,
            extractor=ctx.extractor,
            knowledge_base=ctx.knowledge_base,
            render_options=RenderOptions.from_settings(s, **overrides),
        )
        paths = state.get("paths") or []
        if not paths:
            raise ValueError('the ingest graph needs input {"paths": ["file, folder or URL", ...]}')
        summary = ingestor.run(
            paths, include=ctx.include, exclude=ctx.exclude, retry_failed=ctx.retry_failed, on_progress=on_progress
        )
        return {"summary": summary.to_dict()}

    builder = StateGraph(IngestState, context_schema=IngestContext)
    builder.add_node("ingest", ingest)
    builder.add_edge(START, "ingest")
    builder.add_edge("ingest", END)
    return builder.compile(name="ingest")
