"""The LangGraph agent: answers questions about indexed documents by searching pages, looking at their images
again with Qwen2.5-VL, computing over stored fields, and citing document and page.

- :func:`build_agent_graph`: the tool-calling agent (``search_pages``, ``look_at_pages``, ``lookup_fields``,
  ``list_documents``, ``answer``).
- :func:`build_rag_graph`: retrieve → look → answer, without tool calling.
- :class:`DocumentChat`: the Python API with memory per thread; :class:`Answer` is its result.
- :class:`AgentContext`: per-run knobs of both graphs (LangGraph ``context_schema``).

Example:
    >>> from qwenvl_agents.agent import AgentContext, build_agent_graph
    >>> graph = build_agent_graph()  # nothing opens until the first run
    >>> graph.name, sorted(graph.nodes)
    ('agent', ['__start__', 'agent', 'finalize', 'tools'])
"""

from qwenvl_agents.agent.chat import Answer, ChatEvent, DocumentChat, StepEvent, TokenEvent
from qwenvl_agents.agent.citations import check_citations, inline_citations
from qwenvl_agents.agent.context import AgentContext
from qwenvl_agents.agent.fields import FieldResult, FieldRow, compute, read_rows
from qwenvl_agents.agent.graph import build_agent_graph
from qwenvl_agents.agent.rag import build_rag_graph
from qwenvl_agents.agent.resources import AgentResources
from qwenvl_agents.agent.state import AgentState, PageRef
from qwenvl_agents.agent.tools import AgentTools, ToolResult
from qwenvl_agents.parsing import to_decimal

__all__ = [
    "AgentContext",
    "AgentResources",
    "AgentState",
    "AgentTools",
    "Answer",
    "ChatEvent",
    "DocumentChat",
    "FieldResult",
    "FieldRow",
    "PageRef",
    "StepEvent",
    "TokenEvent",
    "ToolResult",
    "build_agent_graph",
    "build_rag_graph",
    "check_citations",
    "compute",
    "inline_citations",
    "read_rows",
    "to_decimal",
]
