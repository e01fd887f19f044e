"""Helpers shared by the unit and integration tests: fake chat models and SDK errors (``fakes``), test
documents (``documents``), synthetic pages (``pages``), videos (``videos``), the evaluation corpus (``corpus``), a
fault-injecting HTTP proxy for the VLM server (``fault_proxy``) and ``langgraph dev`` (``langgraph_dev``)."""
