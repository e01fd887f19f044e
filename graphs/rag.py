"""The RAG graph (retrieve → look → answer, no tool calling) served by ``langgraph dev``; no checkpointer."""

from qwenvl_agents.agent import build_rag_graph

graph = build_rag_graph()
