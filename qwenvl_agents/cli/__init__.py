"""The ``qwenvl`` command: one module per group of sub-commands, all registered on :data:`app`.

Example:
    >>> from typer.testing import CliRunner
    >>> "search" in CliRunner().invoke(app, ["--help"]).output
    True
"""

from qwenvl_agents.cli import ask, demo, documents, evaluate, serve, video, video_detect, vlm  # noqa: F401  (registers the sub-commands)
from qwenvl_agents.cli.common import app
from qwenvl_agents.cli.documents import list_pages

__all__ = ["app", "list_pages"]
