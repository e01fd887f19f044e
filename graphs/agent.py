"""The agent graph served by ``langgraph dev`` (see langgraph.json); compiled without a checkpointer."""

from qwenvl_agents.agent import build_agent_graph

graph = build_agent_graph()
