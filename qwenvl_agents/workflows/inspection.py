"""Structured visual inspection: a pydantic schema of questions, one validated answer per image.

The schema's fields are the questions (their descriptions become the prompt, see
:mod:`~qwenvl_agents.workflows.inspection_prompts`); the answer is constrained by the schema's JSON schema
(``response_format`` ``json_schema``, vLLM structured outputs) and still validated here: the answer must
have finished (``finish_reason`` ``stop``), parse, validate against the schema, and hold no degenerate
repetition. An invalid or truncated answer is asked again with a slightly higher temperature; after the
last attempt the result has ``status="error"``, the reason and the raw text. An image that cannot be read
(a URL that times out, a corrupt file) or a request the server refuses gives that image an error result:
one bad image never stops a batch.

Example (needs a running server; see ``examples/safety_inspection.py``):
    >>> from typing import Literal
    >>> from pydantic import BaseModel, Field
    >>> class Smoke(BaseModel):
    ...     smoke: Literal["yes", "no", "unsure"] = Field(description="Is there smoke anywhere?")
    ...     details: str = Field(description="Where, in a few words.")
    >>> from qwenvl_agents.vlm import ModelPort  # doctest: +SKIP
    >>> inspector = VisualInspector.from_port(ModelPort.from_settings(), Smoke)  # doctest: +SKIP
    >>> result = inspector.invoke("camera-3.jpg")  # doctest: +SKIP
    >>> result.status, result.answer.smoke  # doctest: +SKIP
    ('ok', 'no')
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from qwenvl_agents.errors import QwenVLError
from qwenvl_agents.extract.chat import content_text, usage_tokens
from qwenvl_agents.extract.validate import BadOutput, RepeatedText, find_repetition, parse_answer
from qwenvl_agents.types import PageImage
from qwenvl_agents.vlm.client import explain_error
from qwenvl_agents.vlm.images import (
    DEFAULT_FETCH_TIMEOUT,
    ImageInput,
    PreparedImage,
    image_name,
    prepare_image,
)
from qwenvl_agents.vlm.media_rules import MediaRules, media_rules_of
from qwenvl_agents.workflows.inspection_prompts import build_prompt

if TYPE_CHECKING:
    from qwenvl_agents.vlm.client import VLMClient
    from qwenvl_agents.vlm.port import ModelPort

S = TypeVar("S", bound=BaseModel)

InspectionInput = ImageInput | PageImage | PreparedImage
"""What can be inspected: any image input (path, URL, bytes, data URL, PIL image), a document page or
video frame (:class:`~qwenvl_agents.types.PageImage`), or an already prepared image."""

_DATA_URL = re.compile(r"data:[\w/+.-]*(?:;[\w=.-]+)*;base64,[A-Za-z0-9+/=]{24,}")


@dataclass(frozen=True)
class InspectionResult(Generic[S]):
    """The inspection of one image.

    ``image`` names the input (a path or URL, never a whole data URL); ``answer`` is the validated schema
    instance when ``status`` is ``"ok"``; ``error`` says why not otherwise, and ``raw`` holds the model's
    last text (``None`` when no answer came back).
    """

    image: str
    status: Literal["ok", "error"]
    answer: S | None = None
    error: str | None = None
    raw: str | None = None
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    visual_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the answer as plain JSON values).

        >>> InspectionResult("a.png", "error", error="a.png: no such file").to_dict()["error"]
        'a.png: no such file'
        """
        return {
            "image": self.image,
            "status": self.status,
            "answer": self.answer.model_dump(mode="json") if self.answer is not None else None,
            "error": self.error,
            "raw": self.raw,
            "attempts": self.attempts,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "visual_tokens": self.visual_tokens,
        }


def short_text(text: str) -> str:
    """``text`` with every embedded base64 data URL shortened, so no message carries a whole image.

    >>> short_text("bad image data:image/png;base64," + "A" * 500 + " here")
    'bad image data:image/png;base64,AAAAAAAAAAAA… (522 chars) here'
    """
    return _DATA_URL.sub(lambda m: image_name(m.group(0)), text)


def input_name(item: object) -> str:
    """The name an input gets in results: a path or URL, a page or frame of a document, or a short label.

    >>> input_name("photos/site-1.jpg"), input_name(b"1234")
    ('photos/site-1.jpg', '<4 bytes>')
    """
    if isinstance(item, PageImage):
        if item.timestamp is not None:
            return f"{item.document.source}@{item.timestamp:.2f}s"
        return f"{item.document.source}#page={item.page}" if item.document.page_count > 1 else item.document.source
    if isinstance(item, PreparedImage):
        return item.source or image_name(item.data_url)
    return image_name(item)


def validate_output(content: str, finish_reason: str | None, schema: type[S]) -> S:
    """The answer as a ``schema`` instance, or the :class:`~qwenvl_agents.extract.validate.BadOutput` saying why not.

    >>> from pydantic import BaseModel
    >>> class Yes(BaseModel):
    ...     ok: bool
    >>> validate_output('{"ok": true}', "stop", Yes)
    Yes(ok=True)
    >>> try:
    ...     validate_output('{"ok": tr', "length", Yes)
    ... except BadOutput as bad:
    ...     print(bad.reason)
    truncated
    """
    answer = parse_answer(content, finish_reason, schema)
    for key, value in answer.model_dump(mode="json").items():
        found = find_repetition(value) if isinstance(value, str) else None
        if found:
            raise RepeatedText(f"{key}: {found}", content)
    return answer


class VisualInspector(Generic[S]):
    """Answers a fixed set of questions (a pydantic ``schema``) about each image, validated.

    Args:
        chat_model: any LangChain chat model (``VLMClient.chat_model()``, a local backend, a fake in tests).
        schema: a pydantic model; each field is a question (its ``description``), its type the answers allowed.
        instructions: context put before the questions (what the images are, what matters).
        attempts: tries per image when the answer is invalid or cut (the temperature rises each time).
        temperatures: (first, step) — 0.0 then +0.3 by default: a greedy decode that failed once fails again.
        max_tokens: output cap per answer.
        max_concurrency: images in flight at once in :meth:`batch` / :meth:`abatch`.
        prepare: turns an input into a sized image; default :func:`~qwenvl_agents.vlm.images.prepare_image`
            with ``min_pixels``/``max_pixels``/``fetch_timeout`` (``from_client`` uses the client's).

    Example (runs with a fake model that always answers the same JSON):
        >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
        >>> from PIL import Image
        >>> from pydantic import BaseModel, Field
        >>> class Exit(BaseModel):
        ...     blocked: bool = Field(description="Is an emergency exit blocked?")
        >>> inspector = VisualInspector(FakeListChatModel(responses=['{"blocked": false}']), Exit)
        >>> inspector.invoke(Image.new("RGB", (64, 64))).answer
        Exit(blocked=False)
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        schema: type[S],
        *,
        instructions: str | None = None,
        attempts: int = 2,
        temperatures: tuple[float, float] = (0.0, 0.3),
        max_tokens: int = 512,
        max_concurrency: int = 8,
        prepare: Callable[[Any], PreparedImage] | None = None,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        fetch_timeout: float = DEFAULT_FETCH_TIMEOUT,
        media_rules: MediaRules | None = None,
    ) -> None:
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise TypeError(f"schema must be a pydantic BaseModel class, got {schema!r}")
        if attempts < 1 or max_concurrency < 1:
            raise ValueError("attempts and max_concurrency must be at least 1")
        self.chat_model = chat_model
        self.schema = schema
        self.instructions = instructions
        self.attempts = attempts
        self.temperature_start, self.temperature_step = temperatures
        self.max_tokens = max_tokens
        self.max_concurrency = max_concurrency
        self.json_schema = schema.model_json_schema()
        self.system_prompt, self.user_prompt = build_prompt(self.json_schema, instructions)
        self.response_format = {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(schema), "schema": self.json_schema, "strict": True},
        }
        rules = media_rules or media_rules_of(chat_model)
        self._prepare = prepare or (
            lambda item: prepare_image(
                item,
                min_pixels=min_pixels,
                max_pixels=max_pixels,
                fetch_timeout=fetch_timeout,
                format="jpeg",
                rules=rules,
            )
        )

    @classmethod
    def from_port(cls, port: ModelPort, schema: type[S], **kwargs: Any) -> VisualInspector[S]:
        """An inspector on the port's ``inspection`` model, with the port's pixel budget and URL limits."""
        return cls(port.chat_model("inspection"), schema, prepare=port.prepare, **kwargs)

    @classmethod
    def from_client(cls, client: VLMClient, schema: type[S], **kwargs: Any) -> VisualInspector[S]:
        """An inspector on a :class:`~qwenvl_agents.vlm.VLMClient`: its chat model, pixel budget and URL limits.

        A thin wrapper over :meth:`from_port` with ``ModelPort.from_client(client)``.
        """
        from qwenvl_agents.vlm.port import ModelPort

        return cls.from_port(ModelPort.from_client(client), schema, **kwargs)

    # --- one image ------------------------------------------------------------------------------

    def _image(self, item: InspectionInput) -> PreparedImage:
        if isinstance(item, PreparedImage):
            return item
        return self._prepare(item.image if isinstance(item, PageImage) else item)

    def messages(self, image: PreparedImage) -> list[BaseMessage]:
        """The messages sent for one image: the system prompt, then the image and the questions."""
        content: list[str | dict[str, Any]] = [image.content_part(), {"type": "text", "text": self.user_prompt}]
        return [SystemMessage(self.system_prompt), HumanMessage(content=content)]

    def _bound(self, attempt: int) -> Any:
        # response_format as extra body: the plain create endpoint (no SDK parse step that raises on a cut
        # answer); the answer is validated here, the same for every backend.
        return self.chat_model.bind(
            extra_body={"response_format": self.response_format},
            temperature=min(1.0, self.temperature_start + self.temperature_step * attempt),
            max_tokens=self.max_tokens,
        )

    def _finish(self, name: str, image: PreparedImage, replies: list[AIMessage | BaseException]) -> InspectionResult[S]:
        inp = out = 0
        raw: str | None = None
        bad: list[BadOutput] = []
        for reply in replies:
            if isinstance(reply, BaseException):
                error = short_text(str(explain_error(reply)))
                return InspectionResult(name, "error", None, error, raw, len(replies), inp, out, image.tokens)
            i, o = usage_tokens(reply.usage_metadata)
            inp, out = inp + i, out + o
            raw = content_text(reply)
            try:
                answer = validate_output(raw, reply.response_metadata.get("finish_reason"), self.schema)
            except BadOutput as exc:
                bad.append(exc)
                continue
            return InspectionResult(name, "ok", answer, None, raw, len(replies), inp, out, image.tokens)
        n = len(replies)
        error = f"{bad[-1].reason} output after {n} attempt{'s' if n != 1 else ''}: {bad[-1].detail}"
        return InspectionResult(name, "error", None, error, raw, n, inp, out, image.tokens)

    @staticmethod
    def _settled(replies: list[AIMessage | BaseException], schema: type[BaseModel]) -> bool:
        last = replies[-1]
        if isinstance(last, BaseException):
            return True
        try:
            validate_output(content_text(last), last.response_metadata.get("finish_reason"), schema)
        except BadOutput:
            return False
        return True

    def invoke(self, image: InspectionInput) -> InspectionResult[S]:
        """Inspect one image. Never raises for a bad image or a failed request: see ``status``/``error``."""
        name = input_name(image)
        try:
            prepared = self._image(image)
        except Exception as exc:
            return InspectionResult(name, "error", error=_unreadable(name, exc))
        messages = self.messages(prepared)
        replies: list[AIMessage | BaseException] = []
        for attempt in range(self.attempts):
            try:
                replies.append(self._bound(attempt).invoke(messages))
            except Exception as exc:
                replies.append(exc)
            if self._settled(replies, self.schema):
                break
        return self._finish(name, prepared, replies)

    async def ainvoke(self, image: InspectionInput) -> InspectionResult[S]:
        """The asynchronous :meth:`invoke` (images are read and encoded off the event loop)."""
        name = input_name(image)
        try:
            prepared = await asyncio.to_thread(self._image, image)
        except Exception as exc:
            return InspectionResult(name, "error", error=_unreadable(name, exc))
        messages = self.messages(prepared)
        replies: list[AIMessage | BaseException] = []
        for attempt in range(self.attempts):
            try:
                replies.append(await self._bound(attempt).ainvoke(messages))
            except Exception as exc:
                replies.append(exc)
            if self._settled(replies, self.schema):
                break
        return self._finish(name, prepared, replies)

    # --- many images ----------------------------------------------------------------------------

    def batch_as_completed(self, images: Iterable[InspectionInput]) -> Iterator[tuple[int, InspectionResult[S]]]:
        """``(index, result)`` pairs as each image finishes, ``max_concurrency`` at a time."""
        items = list(images)
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, max(1, len(items)))) as pool:
            futures = {pool.submit(self.invoke, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                yield futures[future], future.result()

    def batch(self, images: Iterable[InspectionInput]) -> list[InspectionResult[S]]:
        """One result per image, in input order."""
        items = list(images)
        results: list[InspectionResult[S] | None] = [None] * len(items)
        for i, result in self.batch_as_completed(items):
            results[i] = result
        return [r for r in results if r is not None]

    async def abatch_as_completed(
        self, images: Iterable[InspectionInput]
    ) -> AsyncIterator[tuple[int, InspectionResult[S]]]:
        """The asynchronous :meth:`batch_as_completed`."""
        sem = asyncio.Semaphore(self.max_concurrency)

        async def one(i: int, item: InspectionInput) -> tuple[int, InspectionResult[S]]:
            async with sem:
                return i, await self.ainvoke(item)

        for next_done in asyncio.as_completed([one(i, item) for i, item in enumerate(images)]):
            yield await next_done

    async def abatch(self, images: Sequence[InspectionInput]) -> list[InspectionResult[S]]:
        """The asynchronous :meth:`batch`, in input order."""
        results: dict[int, InspectionResult[S]] = {}
        async for i, result in self.abatch_as_completed(images):
            results[i] = result
        return [results[i] for i in range(len(results))]


_JSON_TYPES: dict[str, Any] = {"string": str, "boolean": bool, "integer": int, "number": float}
_LIMITS = {
    "maxLength": "max_length",
    "minLength": "min_length",
    "minimum": "ge",
    "maximum": "le",
    "maxItems": "max_length",
    "minItems": "min_length",
}


def schema_from_json_schema(json_schema: dict[str, Any], name: str | None = None) -> type[BaseModel]:
    """A pydantic model for a JSON schema of questions (flat: enums, strings, booleans, numbers, lists).

    For schemas kept as JSON files (``qwenvl vlm inspect --schema questions.json``).

    >>> Model = schema_from_json_schema({"title": "Smoke", "type": "object", "required": ["smoke"],
    ...     "properties": {"smoke": {"enum": ["yes", "no"], "description": "Smoke?"}, "note": {"type": "string"}}})
    >>> Model.model_validate({"smoke": "no"})
    Smoke(smoke='no', note=None)
    >>> Model.model_fields["smoke"].description
    'Smoke?'
    """
    from pydantic import create_model

    properties = json_schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise ValueError("the JSON schema has no 'properties': give one property per question")
    defs = json_schema.get("$defs", {})
    required = set(json_schema.get("required", []))
    fields: dict[str, Any] = {}
    for key, node in properties.items():
        annotation = _annotation(node, defs, key)
        limits = {ours: node[theirs] for theirs, ours in _LIMITS.items() if theirs in node}
        if key in required:
            fields[key] = (annotation, Field(description=node.get("description"), **limits))
        else:
            fields[key] = (annotation | None, Field(default=None, description=node.get("description"), **limits))
    title = re.sub(r"\W", "", str(name or json_schema.get("title") or "Inspection")) or "Inspection"
    return create_model(title, **fields)


def _annotation(node: dict[str, Any], defs: dict[str, Any], key: str) -> Any:
    ref = node.get("$ref")
    if isinstance(ref, str):
        node = {**defs.get(ref.rsplit("/", 1)[-1], {}), **node}
    if "enum" in node:
        return Literal[tuple(node["enum"])]
    kind = node.get("type")
    if kind == "array":
        return list[_annotation(node.get("items", {}), defs, key)]  # type: ignore[misc]
    if kind == "object":
        return dict[str, Any]
    if kind in _JSON_TYPES:
        return _JSON_TYPES[kind]
    raise ValueError(f"question {key!r}: type {kind!r} is not supported (use enum, string, boolean, number, array)")


def _unreadable(name: str, exc: Exception) -> str:
    if isinstance(exc, QwenVLError):  # already names the input and says what to do
        return short_text(str(exc))
    return short_text(f"{name}: cannot be read ({type(exc).__name__}: {exc})")


def _schema_name(schema: type[BaseModel]) -> str:
    # OpenAI-style names: letters, digits, _ and -, at most 64 characters.
    return re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64] or "inspection"
