"""Helpers shared by tests: synthetic pages and a fault-injecting HTTP proxy for the VLM server."""
