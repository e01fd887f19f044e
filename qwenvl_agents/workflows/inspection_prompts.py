"""Prompt texts of :mod:`qwenvl_agents.workflows.inspection`: the questions come from the schema.

Each field of the inspection schema is one question: its ``description`` is the question, its type says
what may be answered (the values of a ``Literal`` or ``Enum``, yes/no for a bool, free text for a string).
The answer format itself is enforced by the JSON schema sent with the request; the prompt repeats the
keys and choices so that a backend without schema-constrained decoding still knows what is asked.

Example (the JSON schema of a pydantic model with ``fire: Literal["yes", "no", "unsure"]`` and
``details: str``, each with a ``Field(description=...)``):
    >>> schema = {"properties": {
    ...     "fire": {"enum": ["yes", "no", "unsure"], "type": "string", "description": "Is there fire or flames?"},
    ...     "details": {"type": "string", "description": "What you see, in one sentence."}}}
    >>> print(questions_text(schema))
    - fire: Is there fire or flames? Answer one of: "yes", "no", "unsure".
    - details: What you see, in one sentence. Answer in free text.
"""

from __future__ import annotations

import json
from typing import Any

SYSTEM_PROMPT = (
    "You are a careful visual inspector. Look at the image and answer every question about what it shows. "
    "Answer only from what is visible; when the image does not show enough to decide, choose the uncertain "
    'option ("unsure", "unknown", "no people" ...) instead of guessing. Reply with one JSON object that has '
    "exactly the keys asked for, and nothing else."
)

USER_PROMPT = """{instructions}Questions about the image:
{questions}

Reply with one JSON object with the keys {keys}."""

INSTRUCTIONS_PREFIX = "{instructions}\n\n"


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**defs.get(ref.rsplit("/", 1)[-1], {}), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _answer_kind(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """How a question may be answered, from its JSON schema."""
    node = _resolve(node, defs)
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        kinds = [_answer_kind(o, defs) for o in options if _resolve(o, defs).get("type") != "null"]
        nullable = len(kinds) < len(options)
        text = " or ".join(kinds) if kinds else "null"
        return f"{text} (or null when it does not apply)" if nullable else text
    if "enum" in node:
        return "one of: " + ", ".join(json.dumps(v, ensure_ascii=False) for v in node["enum"])
    if "const" in node:
        return f"exactly {json.dumps(node['const'], ensure_ascii=False)}"
    kind = node.get("type")
    if kind == "boolean":
        return "true or false"
    if kind in ("integer", "number"):
        low, high = node.get("minimum"), node.get("maximum")
        word = "a whole number" if kind == "integer" else "a number"
        if low is not None and high is not None:
            return f"{word} from {low} to {high}"
        return word
    if kind == "array":
        return "a list of " + _answer_kind(node.get("items", {}), defs).removeprefix("one of: ")
    if kind == "object":
        return "an object with the keys " + ", ".join(node.get("properties", {}))
    return "free text"


def questions_text(json_schema: dict[str, Any]) -> str:
    """One line per field: the question (its description, else its name) and what may be answered."""
    defs = json_schema.get("$defs", {})
    lines = []
    for key, node in json_schema.get("properties", {}).items():
        question = str(node.get("description") or _resolve(node, defs).get("description") or "").strip()
        question = question or key.replace("_", " ").capitalize() + "?"
        kind = _answer_kind(node, defs)
        lines.append(f"- {key}: {question} Answer {'in ' if kind == 'free text' else ''}{kind}.")
    return "\n".join(lines)


def build_prompt(json_schema: dict[str, Any], instructions: str | None = None) -> tuple[str, str]:
    """The system prompt and the user text (questions and keys) for one inspection.

    >>> system, user = build_prompt({"properties": {"smoke": {"type": "boolean", "description": "Smoke?"}}})
    >>> print(user)
    Questions about the image:
    - smoke: Smoke? Answer true or false.
    <BLANKLINE>
    Reply with one JSON object with the keys "smoke".
    """
    keys = ", ".join(json.dumps(k) for k in json_schema.get("properties", {}))
    prefix = INSTRUCTIONS_PREFIX.format(instructions=instructions.strip()) if instructions else ""
    return SYSTEM_PROMPT, USER_PROMPT.format(instructions=prefix, questions=questions_text(json_schema), keys=keys)
