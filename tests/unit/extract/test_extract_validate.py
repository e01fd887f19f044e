"""Validation of one model answer: truncation, JSON, schema, repetition."""

from __future__ import annotations

import json

import pytest

from qwenvl_agents.extract.schemas import PROMPT_VERSION, page_reading_schema, response_format
from qwenvl_agents.extract.validate import (
    BadOutput,
    EmptyOutput,
    InvalidJson,
    RefusedOutput,
    RepeatedText,
    SchemaViolation,
    TruncatedOutput,
    compression_ratio,
    find_repetition,
    validate_answer,
)


def answer(**over: object) -> str:
    data: dict[str, object] = {
        "page_kind": "invoice",
        "language": "en",
        "markdown": "# Invoice 42\n\n| Item | Amount |\n|---|---|\n| Widget | 12.50 |\n\n**Total** 12.50 EUR",
        "tables": [{"caption": None, "header": ["Item", "Amount"], "rows": [["Widget", "12.50"]]}],
        "invoice": {
            "document_number": "42",
            "issue_date": "2023-05-01",
            "due_date": None,
            "seller": "ACME",
            "buyer": None,
            "currency": "EUR",
            "subtotal": None,
            "tax": None,
            "total": 12.5,
            "line_items": [{"description": "Widget", "quantity": 1, "unit_price": 12.5, "amount": 12.5}],
        },
        "slide": None,
        "other": None,
    }
    data.update(over)
    return json.dumps(data)


def test_good_answer_is_accepted() -> None:
    reading = validate_answer(answer(), "stop")
    assert reading.page_kind.value == "invoice"
    assert reading.to_fields().total == 12.5
    assert reading.to_tables()[0].header == ("Item", "Amount")


def test_finish_reason_length_is_truncated_even_when_json_parses() -> None:
    with pytest.raises(TruncatedOutput) as raised:
        validate_answer(answer(), "length")
    assert raised.value.reason == "truncated"
    assert isinstance(raised.value, BadOutput)


def test_other_finish_reason_is_refused_and_missing_one_is_accepted() -> None:
    with pytest.raises(RefusedOutput):
        validate_answer(answer(), "content_filter")
    assert validate_answer(answer(), None).markdown.startswith("# Invoice")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", EmptyOutput),
        ("   ", EmptyOutput),
        ('{"page_kind": "invoice", "markdown": "cut', InvalidJson),
        ("Here is the JSON: {}", InvalidJson),
        ("[1, 2, 3]", SchemaViolation),
        (answer(page_kind="poem"), SchemaViolation),
        (answer(extra_key=1), SchemaViolation),
        (json.dumps({"page_kind": "other"}), SchemaViolation),
        (answer(tables=[{"caption": None, "header": ["a"], "rows": "not rows"}]), SchemaViolation),
    ],
)
def test_malformed_answers_have_their_own_error(content: str, error: type[BadOutput]) -> None:
    with pytest.raises(error) as raised:
        validate_answer(content, "stop")
    assert raised.value.raw == content
    assert str(raised.value).startswith(raised.value.reason + ":")


def test_degenerate_loops_are_rejected() -> None:
    looping = "# Report\n\nThe results are shown below. " + "The results are shown below. " * 40
    with pytest.raises(RepeatedText) as raised:
        validate_answer(answer(markdown=looping), "stop")
    assert "markdown" in raised.value.detail and "repeated" in raised.value.detail


def test_looping_table_rows_are_rejected() -> None:
    rows = [["Widget", "12.50"]] * 60
    with pytest.raises(RepeatedText, match="table 1"):
        validate_answer(answer(tables=[{"caption": None, "header": ["Item", "Amount"], "rows": rows}]), "stop")


@pytest.mark.parametrize(
    "text",
    [
        "Contents\nIntroduction " + "." * 200 + " 1\nMethods " + "." * 200 + " 7",
        "Name: " + "_" * 300,
        "| a | b | c | d | e | f | g | h |\n|" + "---|" * 40,
        "\n".join(f"| {i} | Widget {i} | {i * 3}.00 | 0.00 |" for i in range(200)),
        "零件 " + "，".join(f"编号{i}" for i in range(100)),
    ],
)
def test_legitimate_repetitive_pages_pass(text: str) -> None:
    assert find_repetition(text) is None


def test_low_compression_ratio_is_caught_without_a_short_unit() -> None:
    paragraph = (
        "Revenue grew in every region, led by strong demand for cloud services and devices, while costs "
        "fell as the new plant reached full capacity in the third quarter and logistics contracts were "
        "renegotiated. "
    )
    assert len(paragraph) > 120  # longer than the unit scan looks for
    text = paragraph * 40
    assert compression_ratio(text) > 12
    assert "compresses" in (find_repetition(text) or "")


def test_schema_uses_only_plain_keywords() -> None:
    schema = page_reading_schema()
    blob = json.dumps(schema)
    for forbidden in ('"$ref"', '"oneOf"', '"format"', '"pattern"', '"default"', '"allOf"', '"$defs"'):
        assert forbidden not in blob

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node["additionalProperties"] is False
                assert set(node["required"]) == set(node["properties"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert "title" in schema["properties"]["slide"]["anyOf"][0]["properties"]
    rf = response_format()
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True


def test_prompt_version_follows_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwenvl_agents.extract import prompts, schemas

    before = schemas._fingerprint()
    monkeypatch.setattr(prompts, "USER_EN", prompts.USER_EN + " Be brief.")
    assert schemas._fingerprint() != before
    assert PROMPT_VERSION.endswith(before)
