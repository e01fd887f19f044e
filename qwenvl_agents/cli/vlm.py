"""``qwenvl vlm ...``: the vision-language model server.

``check`` checks the configured server(s); ``ask`` asks about zero or more images in one prompt (files or
URLs), streamed or not, with token usage and each image's visual tokens in ``--json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from qwenvl_agents.cli.common import BaseUrl, JsonFlag, ModelName, emit_json, print_error, vlm_app, vlm_settings

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, BaseMessage

    from qwenvl_agents.vlm.images import PreparedImage
    from qwenvl_agents.vlm.port import ModelPort


@vlm_app.command("check")
def vlm_check(
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    model: ModelName = None,
) -> None:
    """Check the configured vLLM server(s): health, served models, and one image round trip."""
    from qwenvl_agents.errors import VLMError
    from qwenvl_agents.vlm.port import ModelPort

    port = ModelPort.from_settings(vlm_settings(base_url, model))
    try:
        client = port.client
    except VLMError as exc:
        if as_json:
            emit_json({"type": "check", "name": "configuration", "ok": False, "detail": str(exc)})
        else:
            print_error(f"✗ configuration: {exc}")
        raise typer.Exit(1) from exc
    with port:
        report = client.check()
    for step in report.steps:
        if as_json:
            emit_json({"type": "check", "name": step.name, "ok": step.ok, "detail": step.detail})
        elif step.ok:
            typer.echo(f"✓ {step.name}: {step.detail}")
        else:
            print_error(f"✗ {step.name}: {step.detail}")
    raise typer.Exit(0 if report.ok else 1)


ImageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--image", "-i", help="An image file, http(s):// or file:// URL (repeatable: several images, one prompt)."
    ),
]


def _port_or_exit(base_url: str | None, model: str | None, as_json: bool) -> ModelPort:
    """The model port of a command, its server client built now so a configuration error ends it early."""
    from qwenvl_agents.errors import VLMError
    from qwenvl_agents.vlm.port import ModelPort

    try:
        return ModelPort.from_settings(vlm_settings(base_url, model)).check_configuration()
    except VLMError as exc:
        _fail(str(exc), as_json)
        raise AssertionError("unreachable") from exc


def _fail(message: str, as_json: bool, **extra: Any) -> NoReturn:
    if as_json:
        emit_json({"type": "error", "error": message, **extra})
    else:
        print_error(f"error: {message}")
    raise typer.Exit(1)


def _image_record(p: PreparedImage) -> dict[str, Any]:
    return {
        "source": p.source,
        "width": p.width,
        "height": p.height,
        "original_width": p.original_width,
        "original_height": p.original_height,
        "visual_tokens": p.tokens,
    }


@vlm_app.command("ask")
def vlm_ask(
    prompt: Annotated[str, typer.Argument(help="The question or instruction.")],
    image: ImageOpt = None,
    system: Annotated[str | None, typer.Option(help="A system message.")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most tokens in the answer.")] = 512,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0, help="Sampling temperature (0: greedy).")] = 0.0,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated.")] = False,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    model: ModelName = None,
) -> None:
    """Ask the model about zero or more images in one prompt.

    qwenvl vlm ask -i before.jpg -i https://example.org/after.jpg "What changed between these pictures?"

    Images are sized within QWENVL_MIN_PIXELS/QWENVL_MAX_PIXELS on this machine (URLs are fetched here). With
    QWENVL_VLM_MAX_IMAGES_PER_PROMPT set, too many images are refused before anything is sent. --json prints
    one object: answer, token usage, model, and each image's size and visual tokens (with --stream, a
    {"type": "token"} line per piece first).
    """
    from langchain_core.messages import SystemMessage

    from qwenvl_agents.errors import QwenVLError, VLMError
    from qwenvl_agents.vlm import explain_error

    sources = list(image or [])
    port = _port_or_exit(base_url, model, as_json)
    client = port.client
    with port:
        try:
            client.check_image_count(len(sources))
        except VLMError as exc:
            _fail(str(exc), as_json)
        prepared: list[PreparedImage] = []
        problems: list[str] = []
        for source in sources:  # every unreadable image is reported, not only the first
            try:
                prepared.append(client.prepare(source))
            except QwenVLError as exc:
                problems.append(str(exc))
        if problems:
            _fail("; ".join(problems), as_json, images=len(sources), unreadable=len(problems))
        messages: list[BaseMessage] = [SystemMessage(system)] if system else []
        messages.append(client.message(prompt, prepared))
        chat = port.chat_model("chat", max_tokens=max_tokens, temperature=temperature, stream_usage=True)
        try:
            answer = _stream(chat, messages, as_json) if stream else chat.invoke(messages)
        except Exception as exc:  # explained: unreachable server, too many images, prompt too long
            _fail(str(explain_error(exc, client.base_urls)), as_json)
    text = answer.text
    usage = dict(answer.usage_metadata or {})
    usage = {k: usage.get(k, 0) for k in ("input_tokens", "output_tokens", "total_tokens")}
    finish = answer.response_metadata.get("finish_reason")
    if as_json:
        emit_json(
            {
                "type": "answer",
                "answer": text,
                "model": client.model,
                "finish_reason": finish,
                "usage": usage,
                "images": [_image_record(p) for p in prepared],
            }
        )
        return
    if stream:
        typer.echo()
    else:
        typer.echo(text)
    shown = ", ".join(f"{p.source} {p.width}x{p.height} = {p.tokens} tokens" for p in prepared)
    summary = f"{usage['input_tokens']} input + {usage['output_tokens']} output tokens"
    typer.secho(f"[{client.model}: {summary}{'; images: ' + shown if shown else ''}]", err=True, dim=True)


def _stream(chat: Any, messages: list[BaseMessage], as_json: bool) -> AIMessage:
    from langchain_core.messages import AIMessage, AIMessageChunk

    total: AIMessageChunk | None = None
    for chunk in chat.stream(messages):
        piece = chunk.text
        if piece:
            if as_json:
                emit_json({"type": "token", "text": piece})
            else:
                typer.echo(piece, nl=False)
        total = chunk if total is None else total + chunk
    if total is None:
        return AIMessage(content="")
    return AIMessage(
        content=total.content,
        usage_metadata=total.usage_metadata,
        response_metadata=total.response_metadata,
    )


def load_schema(spec: str) -> type[Any]:
    """The inspection schema named on the command line: ``module:Class``, ``file.py:Class`` or ``file.json``."""
    import importlib
    import importlib.util
    import json
    import sys
    from pathlib import Path

    from pydantic import BaseModel

    from qwenvl_agents.workflows.inspection import schema_from_json_schema

    if spec.endswith(".json"):
        path = Path(spec)
        try:
            return schema_from_json_schema(json.loads(path.read_text(encoding="utf-8")), name=None)
        except (OSError, json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{spec}: {exc}") from exc
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ValueError(f"{spec!r}: give module:Class, path/to/file.py:Class or a JSON-schema file (.json)")
    try:
        if target.endswith(".py"):
            module_spec = importlib.util.spec_from_file_location(Path(target).stem, target)
            if module_spec is None or module_spec.loader is None or not Path(target).is_file():
                raise ValueError(f"{target}: no such Python file")
            module = importlib.util.module_from_spec(module_spec)
            # Registered first: pydantic resolves postponed annotations through sys.modules.
            sys.modules[module_spec.name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ImportError as exc:
        raise ValueError(f"{spec}: cannot import {target} ({exc})") from exc
    schema = getattr(module, attr, None)
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise ValueError(f"{spec}: {attr} is not a pydantic model class in {target}")
    return schema


@vlm_app.command("inspect")
def vlm_inspect(
    images: Annotated[list[str], typer.Argument(help="Image files, folders or http(s) URLs.")],
    schema: Annotated[
        str, typer.Option("--schema", "-s", help="The questions: module:Class, file.py:Class or a JSON schema file.")
    ],
    instructions: Annotated[str | None, typer.Option(help="Context put before the questions.")] = None,
    attempts: Annotated[int, typer.Option(min=1, help="Tries per image when the answer is invalid.")] = 2,
    concurrency: Annotated[int, typer.Option(min=1, help="Images in flight at once.")] = 8,
    max_tokens: Annotated[int, typer.Option(min=16, help="Most tokens in one answer.")] = 512,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    model: ModelName = None,
) -> None:
    """Answer a fixed schema of questions about each image: one validated answer per image.

    qwenvl vlm inspect --schema myapp.checks:SafetyReport photos/ https://cams.example.org/gate.jpg

    Each field of the schema is a question (its description); the answer follows the schema's JSON schema and
    is validated. Lines come as images finish; an image that cannot be read or answered gets an error line
    and the others go on. Exit status 1 when any image failed.
    """
    from pathlib import Path

    from qwenvl_agents.workflows.inspection import VisualInspector

    try:
        model_class = load_schema(schema)
    except ValueError as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    inputs: list[str] = []
    for item in images:
        path = Path(item)
        if "://" not in item and path.is_dir():
            inputs += [str(p) for p in sorted(path.iterdir()) if p.suffix.lower() in _IMAGE_SUFFIXES]
        else:
            inputs.append(item)
    port = _port_or_exit(base_url, model, as_json)
    failed = 0
    with port:
        inspector = VisualInspector.from_port(
            port,
            model_class,
            instructions=instructions,
            attempts=attempts,
            max_concurrency=concurrency,
            max_tokens=max_tokens,
        )
        for _, result in inspector.batch_as_completed(inputs):
            failed += not result.ok
            if as_json:
                emit_json({"type": "inspection", **result.to_dict()})
            elif result.answer is not None:
                typer.echo(f"✓ {result.image}: {result.answer.model_dump_json()}")
            else:
                print_error(f"✗ {result.image}: {result.error}")
    if not as_json:
        typer.secho(f"{len(inputs) - failed} of {len(inputs)} images answered", err=True, dim=True)
    raise typer.Exit(1 if failed or not inputs else 0)


_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
