"""VisualInspector with fake chat models: the prompt, validation, retries, per-image errors."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from enum import Enum
from typing import Any, Literal

import pytest
from langchain_core.messages import AIMessage
from PIL import Image
from pydantic import BaseModel, Field

from qwenvl_agents.cli.vlm import load_schema
from qwenvl_agents.types import DocumentInfo, PageImage
from qwenvl_agents.vlm.images import smart_resize, visual_tokens
from qwenvl_agents.workflows.inspection import (
    InspectionResult,
    VisualInspector,
    input_name,
    schema_from_json_schema,
)
from tests.support.fakes import ScriptedChatModel, reply

PIXELS = {"min_pixels": 4 * 784, "max_pixels": 16 * 784}


class HardHats(str, Enum):
    all = "all"
    some = "some"
    none = "none"
    no_people = "no people"


class SafetyReport(BaseModel):
    fire: Literal["yes", "no", "unsure"] = Field(description="Is there fire or are there flames?")
    smoke: Literal["yes", "no", "unsure"] = Field(description="Is there smoke?")
    hard_hats: HardHats = Field(description="Do the people in the picture wear hard hats?")
    details: str = Field(description="What you see that matters for safety, in one sentence.")


GOOD = {"fire": "no", "smoke": "unsure", "hard_hats": "no people", "details": "An empty corridor."}


def png(color: str = "red", size: tuple[int, int] = (90, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def test_prompt_lists_every_question_and_the_allowed_answers() -> None:
    model = ScriptedChatModel.of(reply(GOOD))
    inspector = VisualInspector(model, SafetyReport, instructions="Photos of a warehouse.", **PIXELS)
    result = inspector.invoke(Image.new("RGB", (200, 100), "gray"))
    assert result.status == "ok" and result.answer == SafetyReport.model_validate(GOOD)
    [call] = model.calls
    system, user = call["messages"]
    assert system.type == "system" and "JSON" in system.content
    image_part, text_part = user.content
    assert image_part["image_url"]["url"].startswith("data:image/")
    text = text_part["text"]
    assert text.startswith("Photos of a warehouse.")
    for name, field in SafetyReport.model_fields.items():
        assert f"- {name}: {field.description}" in text
    assert '"all", "some", "none", "no people"' in text
    assert '"yes", "no", "unsure"' in text
    # The answer is constrained by the schema's JSON schema, greedy on the first attempt.
    fmt = call["extra_body"]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == SafetyReport.model_json_schema()
    assert call["temperature"] == 0.0
    assert (result.attempts, result.input_tokens, result.output_tokens) == (1, 100, 20)
    assert result.visual_tokens == visual_tokens(*smart_resize(100, 200, **PIXELS))


def test_invalid_output_is_retried_hotter_then_accepted() -> None:
    model = ScriptedChatModel.of(reply('{"fire": "no", "smoke"'), reply(GOOD))
    result = VisualInspector(model, SafetyReport, **PIXELS).invoke(png())
    assert result.status == "ok" and result.answer is not None and result.answer.hard_hats is HardHats.no_people
    assert result.attempts == 2
    assert [c["temperature"] for c in model.calls] == [0.0, pytest.approx(0.3)]
    # Tokens of every attempt are counted.
    assert (result.input_tokens, result.output_tokens) == (200, 40)
    assert result.raw == json.dumps(GOOD)


@pytest.mark.parametrize(
    ("replies", "reason"),
    [
        ([reply('{"fire": "no", "smo', finish="length")] * 2, "truncated"),
        ([reply({**GOOD, "fire": "maybe"})] * 2, "schema"),
        ([reply("")] * 2, "empty"),
        ([reply("The image shows a corridor.")] * 2, "invalid_json"),
        ([reply({**GOOD, "details": "fire " * 80})] * 2, "repetition"),
    ],
)
def test_bad_output_after_the_last_attempt_is_an_error_with_the_raw_text(replies: list[AIMessage], reason: str) -> None:
    model = ScriptedChatModel.of(*replies)
    result = VisualInspector(model, SafetyReport, attempts=2, **PIXELS).invoke(png())
    assert result.status == "error" and result.answer is None
    assert result.error is not None and result.error.startswith(f"{reason} output after 2 attempts")
    assert result.raw == replies[-1].content
    assert len(model.calls) == 2


def test_one_bad_image_never_stops_the_batch(tmp_path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(png("green"))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(png("blue")[:40])
    garbage_url = "data:image/png;base64," + base64.b64encode(b"not an image" * 500).decode()
    inputs: list[Any] = [good, tmp_path / "missing.png", corrupt, garbage_url, png("white")]
    model = ScriptedChatModel.always(reply(GOOD))
    results = VisualInspector(model, SafetyReport, max_concurrency=3, **PIXELS).batch(inputs)
    assert [r.status for r in results] == ["ok", "error", "error", "error", "ok"]
    assert [r.image for r in results[:3]] == [str(good), str(tmp_path / "missing.png"), str(corrupt)]
    assert results[1].error is not None and "no such file" in results[1].error
    assert results[2].error is not None and "corrupt.jpg" in results[2].error
    assert results[3].error is not None and "is not an image" in results[3].error
    assert results[4].image == f"<{len(png('white'))} bytes>"
    # Only the readable images were sent.
    assert len(model.calls) == 2
    # No result carries a whole data URL: not as the name, not in an error.
    dumped = json.dumps([r.to_dict() for r in results])
    assert garbage_url[22:200] not in dumped
    assert f"({len(garbage_url)} chars)" in results[3].image
    with pytest.raises(AttributeError):
        results[0].status = "error"  # type: ignore[misc]


def test_a_failed_request_is_that_image_error_and_the_rest_go_on() -> None:
    # The first request fails, the next ones are answered.
    model = ScriptedChatModel.always(reply(GOOD), errors=[ConnectionError("refused")])
    inspector = VisualInspector(model, SafetyReport, max_concurrency=1, **PIXELS)
    first, second = inspector.batch([png("red"), png("green")])
    assert first.status == "error" and first.error is not None
    assert "ConnectionError: refused" in first.error and first.attempts == 1  # a server error is not retried
    assert second.status == "ok"


def test_abatch_matches_batch_and_keeps_order(tmp_path) -> None:
    inputs: list[Any] = [png("red"), tmp_path / "nope.png", png("green"), png("blue")]
    sync = VisualInspector(ScriptedChatModel.always(reply(GOOD)), SafetyReport, **PIXELS).batch(inputs)
    inspector = VisualInspector(ScriptedChatModel.always(reply(GOOD)), SafetyReport, max_concurrency=2, **PIXELS)
    result = asyncio.run(inspector.abatch(inputs))
    assert [(r.image, r.status, r.answer) for r in result] == [(r.image, r.status, r.answer) for r in sync]
    assert [r.status for r in result] == ["ok", "error", "ok", "ok"]


def test_video_frames_and_pages_are_named_by_source_and_position() -> None:
    info = DocumentInfo("0" * 64, "/videos/site.mp4", "site.mp4", "video", "mp4", 1000, 30)
    frame = PageImage(info, 13, Image.new("RGB", (64, 48)), timestamp=12.0)
    assert input_name(frame) == "/videos/site.mp4@12.00s"
    pdf = DocumentInfo("1" * 64, "/docs/plan.pdf", "plan.pdf", "pdf", "pdf", 1000, 3)
    assert input_name(PageImage(pdf, 2, Image.new("RGB", (64, 48)))) == "/docs/plan.pdf#page=2"
    result = VisualInspector(ScriptedChatModel.always(reply(GOOD)), SafetyReport, **PIXELS).invoke(frame)
    assert result.status == "ok" and result.image == "/videos/site.mp4@12.00s"


def test_result_to_dict_is_json_ready() -> None:
    result: InspectionResult[SafetyReport] = InspectionResult(
        "a.png", "ok", SafetyReport.model_validate(GOOD), raw=json.dumps(GOOD), attempts=1
    )
    assert json.loads(json.dumps(result.to_dict()))["answer"]["hard_hats"] == "no people"


def test_schema_must_be_a_pydantic_model() -> None:
    with pytest.raises(TypeError, match="pydantic BaseModel"):
        VisualInspector(ScriptedChatModel.always(reply(GOOD)), dict)  # type: ignore[type-var]


def test_json_schema_file_becomes_a_validating_model(tmp_path) -> None:
    spec = {
        "title": "Gate check",
        "type": "object",
        "required": ["open", "people"],
        "properties": {
            "open": {"enum": ["yes", "no", "unsure"], "description": "Is the gate open?"},
            "people": {"type": "integer", "minimum": 0, "maximum": 50, "description": "How many people?"},
            "note": {"type": "string", "maxLength": 20},
        },
    }
    model = schema_from_json_schema(spec)
    assert model.__name__ == "Gatecheck"
    assert model.model_validate({"open": "no", "people": 3}).model_dump() == {"open": "no", "people": 3, "note": None}
    for bad in ({"open": "maybe", "people": 3}, {"open": "no", "people": 99}, {"open": "no"}, {"note": "x" * 21}):
        with pytest.raises(ValueError):
            model.model_validate(bad)
    result = VisualInspector(ScriptedChatModel.of(reply({"open": "yes", "people": 2})), model, **PIXELS).invoke(png())
    assert (
        result.status == "ok"
        and "- open: Is the gate open?" in VisualInspector(ScriptedChatModel.always(reply("")), model).user_prompt
    )
    with pytest.raises(ValueError, match="no 'properties'"):
        schema_from_json_schema({"type": "object"})
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(spec))
    assert set(load_schema(str(path)).model_fields) == {"open", "people", "note"}


def test_schema_named_as_module_or_file(tmp_path) -> None:
    from qwenvl_agents.extract.schemas import PageReading

    assert load_schema("qwenvl_agents.extract.schemas:PageReading") is PageReading
    source = tmp_path / "checks.py"
    source.write_text(
        "from __future__ import annotations\nfrom typing import Literal\nfrom pydantic import BaseModel\n"
        "class Door(BaseModel):\n    closed: Literal['yes', 'no']\n"
    )
    door = load_schema(f"{source}:Door")
    assert (
        VisualInspector(ScriptedChatModel.always(reply({"closed": "no"})), door, **PIXELS).invoke(png()).status == "ok"
    )
    for spec, message in [
        ("qwenvl_agents.extract.schemas", "give module:Class"),
        ("no_such_module_x:Thing", "cannot import"),
        (f"{source}:Window", "not a pydantic model"),
        (f"{tmp_path / 'gone.py'}:Door", "no such Python file"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_schema(spec)
