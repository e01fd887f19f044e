"""What every ``qwenvl`` sub-command shares: the Typer apps, JSON lines, error lines, common options.

Every sub-command has ``--json`` for scripts: one JSON object per line, errors included, so a caller can
tell which file failed without parsing prose. Exit status is non-zero when anything failed.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from qwenvl_agents.settings import Settings

app = typer.Typer(
    name="qwenvl",
    help="Ask questions about your documents with Qwen2.5-VL, and get answers you can check.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
vlm_app = typer.Typer(help="Work with the vision-language model server.", no_args_is_help=True)
app.add_typer(vlm_app, name="vlm")
video_app = typer.Typer(help="Ask about videos, search them, and watch them for something.", no_args_is_help=True)
app.add_typer(video_app, name="video")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object per line, for scripts.")]

KnowledgeBase = Annotated[
    str | None, typer.Option("--kb", "--knowledge-base", help="Knowledge base (default: QWENVL_KNOWLEDGE_BASE).")
]


BaseUrl = Annotated[str | None, typer.Option(help="VLM endpoint(s), comma-separated (default: QWENVL_VLM_BASE_URL).")]
ModelName = Annotated[str | None, typer.Option(help="Model name (default: QWENVL_VLM_MODEL).")]


def vlm_settings(base_url: str | None = None, model: str | None = None) -> Settings:
    """The settings with a command's ``--base-url``/``--model`` over ``QWENVL_VLM_*``."""
    overrides = {k: v for k, v in {"vlm_base_url": base_url, "vlm_model": model}.items() if v}
    return Settings(**overrides)  # type: ignore[arg-type]


def emit_json(obj: dict[str, Any]) -> None:
    """Write ``obj`` as one JSON line on stdout (the ``--json`` output of every command)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_error(message: str) -> None:
    """Print ``message`` in red on stderr."""
    typer.secho(message, fg=typer.colors.RED, err=True)
