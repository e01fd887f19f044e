"""Test-only vLLM server tooling; see README in this package."""
