"""``qwenvl vlm ...``: the vision-language model server."""

from __future__ import annotations

from typing import Annotated

import typer

from qwenvl_agents.cli.common import JsonFlag, _emit, _err, vlm_app
from qwenvl_agents.settings import Settings


@vlm_app.command("check")
def vlm_check(
    as_json: JsonFlag = False,
    base_url: Annotated[
        str | None, typer.Option(help="Endpoint(s) to check, comma-separated (default: QWENVL_VLM_BASE_URL).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name (default: QWENVL_VLM_MODEL).")] = None,
) -> None:
    """Check the configured vLLM server(s): health, served models, and one image round trip."""
    from qwenvl_agents.errors import VLMError
    from qwenvl_agents.vlm import VLMClient

    overrides = {k: v for k, v in {"vlm_base_url": base_url, "vlm_model": model}.items() if v}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        client = VLMClient.from_settings(settings)
    except VLMError as exc:
        if as_json:
            _emit({"type": "check", "name": "configuration", "ok": False, "detail": str(exc)})
        else:
            _err(f"✗ configuration: {exc}")
        raise typer.Exit(1) from exc
    with client:
        report = client.check()
    for step in report.steps:
        if as_json:
            _emit({"type": "check", "name": step.name, "ok": step.ok, "detail": step.detail})
        elif step.ok:
            typer.echo(f"✓ {step.name}: {step.detail}")
        else:
            _err(f"✗ {step.name}: {step.detail}")
    raise typer.Exit(0 if report.ok else 1)
