"""Ingest documents into a knowledge base: render, extract, embed and index, incrementally and crash-safe."""

from qwenvl_agents.ingest.pipeline import Ingestor, ingest
from qwenvl_agents.ingest.summary import IngestError, IngestProgress, IngestSummary

__all__ = ["IngestError", "IngestProgress", "IngestSummary", "Ingestor", "ingest"]
