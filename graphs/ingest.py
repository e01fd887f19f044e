"""The ingest graph served by ``langgraph dev`` (see langgraph.json); compiled without a checkpointer."""

from qwenvl_agents.ingest.graph import build_ingest_graph

graph = build_ingest_graph()
