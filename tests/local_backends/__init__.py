"""Probe scripts for the local backends, run with the vLLM server venv's python (it has torch,
transformers and vLLM; the project venv has no torchvision). Each prints one JSON object as its last
stdout line; ``tests/integration/test_local_backends.py`` runs them and asserts on that JSON.
"""
