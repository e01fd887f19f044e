"""Ingest documents into a knowledge base: render, extract, embed and index, incrementally and crash-safe."""

from qwenvl_agents.ingest.graph import IngestContext, build_ingest_graph
from qwenvl_agents.ingest.pipeline import Ingestor, ingest
from qwenvl_agents.ingest.summary import IngestError, IngestProgress, IngestSummary

__all__ = [
    "IngestContext",
    "IngestError",
    "IngestProgress",
    "IngestSummary",
    "Ingestor",
    "build_ingest_graph",
    "ingest",
]
