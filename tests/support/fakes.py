"""The fake chat models and SDK errors of the tests: one home, built on LangChain's ``GenericFakeChatModel``.

``ScriptedChatModel``
    The chat model of every test that needs one (the agent's reasoning model and its vision model, the VLM
    extractor, the inspector, video questions, the detector). It

    * answers from a script: ``ScriptedChatModel.of(*replies)`` in order, once each (running out is an error);
      ``.always(reply)`` the same reply to every request; ``.cycle(*replies)`` round and round, like
      LangChain's ``FakeMessagesListChatModel``; ``.failing(error)`` raises ``error`` on every request;
    * fails on request: ``errors=[None, RuntimeError("no")]`` is one entry per request, ``None`` answers;
      a failed request is recorded and uses up no reply;
    * records every request: ``calls`` (the messages and the keyword arguments, e.g. ``temperature`` and
      ``extra_body``), ``prompts`` (only the messages), ``bound`` (every ``bind_tools``, the tools as OpenAI
      tool schemas) and ``structured_calls`` (every ``with_structured_output``: ``(method, include_raw)``);
    * streams like a real server: content word by word, each tool call's JSON arguments in pieces, the
      finish reason and the usage last (see :func:`stream_message`);
    * parses like ``ChatOpenAI.with_structured_output(Model, include_raw=True)`` (a dict of ``raw``,
      ``parsed`` and ``parsing_error``), or, with ``raw_structured_output=False``, like the local backends:
      ``include_raw`` is refused with ``NotImplementedError`` and a bad answer raises.

    A test that must choose the reply by the prompt (the detector's answer per frame) or refuse some prompts
    (a server's context limit) subclasses it and overrides :meth:`ScriptedChatModel.respond`.

``fake_vision(text, error=None)``
    A ``ScriptedChatModel`` that looks at pages: the same reply (with usage) to every request, or ``error``.

Messages to script and to read back: :func:`reply` (content, finish reason, usage), :func:`tool_call`,
:func:`text_of`, :func:`image_parts`.

SDK errors built the way the ``openai`` SDK builds them, over a real ``httpx2`` request and response (the
transport the SDK uses): :func:`connection_error` and :func:`status_error`.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx2
import openai
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field
from typing_extensions import Self

CHAT_URL = "http://127.0.0.1:9/v1/chat/completions"
"""Where the fake requests of the SDK errors went (port 9, discard: nothing listens there)."""

VISION_REPLY = "The page shows a total of USD 2,587.72."


class ScriptedChatModel(GenericFakeChatModel):
    """Answers from a script, fails on request, records every request; see the module docstring."""

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    """The replies still to give (a str becomes an ``AIMessage``)."""
    errors: Iterator[BaseException | None] = Field(default_factory=lambda: iter(()))
    """One entry per request, before the reply: an exception is raised, ``None`` (or none left) answers."""
    raw_structured_output: bool = True
    """``with_structured_output(include_raw=True)`` is supported (``ChatOpenAI``), or refused (local backends)."""
    calls: list[dict[str, Any]] = Field(default_factory=list)
    """Every request: ``{"messages": [...], **keyword arguments}``, failed ones too."""
    bound: list[dict[str, Any]] = Field(default_factory=list)
    """Every ``bind_tools``: ``{"tools": [OpenAI tool schemas], "tool_choice": ..., **keyword arguments}``."""
    structured_calls: list[tuple[Any, bool]] = Field(default_factory=list)
    """Every ``with_structured_output`` accepted: ``(method, include_raw)``."""

    @classmethod
    def of(cls, *replies: AIMessage | str, errors: Iterable[BaseException | None] = (), **fields: Any) -> Self:
        """Gives ``replies`` in order, once each."""
        return cls(messages=iter(replies), errors=iter(errors), **fields)

    @classmethod
    def always(cls, reply: AIMessage | str, errors: Iterable[BaseException | None] = (), **fields: Any) -> Self:
        """Gives ``reply`` to every request."""
        return cls(messages=itertools.repeat(reply), errors=iter(errors), **fields)

    @classmethod
    def cycle(cls, *replies: AIMessage | str, errors: Iterable[BaseException | None] = (), **fields: Any) -> Self:
        """Gives ``replies`` in order, starting over after the last (``FakeMessagesListChatModel``'s way)."""
        return cls(messages=itertools.cycle(replies), errors=iter(errors), **fields)

    @classmethod
    def failing(cls, error: BaseException, **fields: Any) -> Self:
        """Raises ``error`` on every request (after recording it)."""
        return cls(errors=itertools.repeat(error), **fields)

    @property
    def prompts(self) -> list[list[BaseMessage]]:
        """The messages of every request, in order."""
        return [call["messages"] for call in self.calls]

    def respond(self, messages: list[BaseMessage]) -> AIMessage | str:
        """The reply to one request: the script's next one. Override to choose it by the prompt, or raise."""
        return next(self.messages)

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Self:
        strict = kwargs.get("strict")
        self.bound.append(
            {"tools": [convert_to_openai_tool(t, strict=strict) for t in tools], "tool_choice": tool_choice, **kwargs}
        )
        return self

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Any:
        """Parse the reply into ``schema`` (a pydantic model) like ``ChatOpenAI`` or a local backend."""
        if include_raw and not self.raw_structured_output:
            raise NotImplementedError("include_raw=True is not supported")
        self.structured_calls.append((kwargs.get("method"), include_raw))
        parser: PydanticOutputParser[Any] = PydanticOutputParser(pydantic_object=schema)
        if not include_raw:
            return self | parser

        def parse(message: AIMessage) -> dict[str, Any]:
            try:
                return {"raw": message, "parsed": parser.invoke(message), "parsing_error": None}
            except Exception as exc:
                return {"raw": message, "parsed": None, "parsing_error": exc}

        return self | RunnableLambda(parse)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append({"messages": list(messages), **kwargs})
        error = next(self.errors, None)
        if error is not None:
            raise error
        answer = self.respond(messages)
        message = AIMessage(content=answer) if isinstance(answer, str) else answer
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._generate(messages, stop=stop, run_manager=run_manager, **kwargs).generations[0].message
        assert isinstance(message, AIMessage)
        yield from stream_message(message, run_manager)


def stream_message(message: AIMessage, run_manager: CallbackManagerForLLMRun | None) -> Iterator[ChatGenerationChunk]:
    """Stream a message like a real server: content word by word, each tool call's JSON arguments in pieces,
    the finish reason (``response_metadata``) and the usage last."""
    pieces: list[AIMessageChunk] = [AIMessageChunk(content=w, id=message.id) for w in message.text.split(" ") if w]
    for n, piece in enumerate(pieces[:-1]):
        pieces[n] = AIMessageChunk(content=piece.text + " ", id=message.id)
    for index, tc in enumerate(message.tool_calls):
        args = json.dumps(tc["args"], ensure_ascii=False)
        parts = [args[i : i + 7] for i in range(0, len(args), 7)] or [""]
        for n, part in enumerate(parts):
            first = n == 0
            pieces.append(
                AIMessageChunk(
                    content="",
                    id=message.id,
                    tool_call_chunks=[
                        {
                            "name": tc["name"] if first else None,
                            "args": part,
                            "id": tc["id"] if first else None,
                            "index": index,
                            "type": "tool_call_chunk",
                        }
                    ],
                )
            )
    if message.response_metadata:
        pieces.append(AIMessageChunk(content="", id=message.id, response_metadata=message.response_metadata))
    if message.usage_metadata:
        pieces.append(AIMessageChunk(content="", id=message.id, usage_metadata=message.usage_metadata))
    for piece in pieces:
        chunk = ChatGenerationChunk(message=piece)
        if run_manager:
            run_manager.on_llm_new_token(piece.text, chunk=chunk)
        yield chunk


def fake_vision(text: str = VISION_REPLY, *, error: BaseException | None = None) -> ScriptedChatModel:
    """A vision model that answers ``text`` to every request (100 tokens in, 10 out), or raises ``error``."""
    if error is not None:
        return ScriptedChatModel.failing(error)
    usage = UsageMetadata(input_tokens=100, output_tokens=10, total_tokens=110)
    return ScriptedChatModel.always(AIMessage(text, usage_metadata=usage))


# --- messages ----------------------------------------------------------------------------------------------


def reply(
    content: str | dict[str, Any], finish: str | None = "stop", tokens: tuple[int, int] | None = (100, 20)
) -> AIMessage:
    """A server's answer: ``content`` (a dict is sent as JSON), its finish reason and its token usage."""
    return AIMessage(
        content=content if isinstance(content, str) else json.dumps(content),
        response_metadata={"finish_reason": finish} if finish is not None else {},
        usage_metadata=(
            {"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)}
            if tokens is not None
            else None
        ),
    )


def tool_call(name: str, **args: Any) -> AIMessage:
    """An AI message making one tool call."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}"}])


def image_parts(message: BaseMessage) -> list[dict[str, Any]]:
    """The ``image_url`` parts of a message's content."""
    content = message.content
    return (
        [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
        if isinstance(content, list)
        else []
    )


def text_of(message: BaseMessage) -> str:
    """A message's text: its content, or its text parts joined."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


# --- SDK errors --------------------------------------------------------------------------------------------

_STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


def chat_request(url: str = CHAT_URL) -> httpx2.Request:
    """The request a chat completion sends (``httpx2``: the SDK's transport)."""
    return httpx2.Request("POST", url)


def connection_error(url: str = CHAT_URL) -> openai.APIConnectionError:
    """What the SDK raises when the server cannot be reached."""
    return openai.APIConnectionError(request=chat_request(url))


def status_error(
    status: int, message: str = "refused", headers: Mapping[str, str] | None = None
) -> openai.APIStatusError:
    """What the SDK raises for an HTTP error answer with an OpenAI-style body ``{"error": {"message": ...}}``.

    The class is the SDK's for the status (``BadRequestError`` for 400, ``RateLimitError`` for 429,
    ``InternalServerError`` for 5xx, ...), the message ``"Error code: <status> - <message>"`` and ``body`` the
    inner error object, as ``OpenAI._make_status_error`` makes them from a real response.
    """
    error = {"message": message}
    response = httpx2.Response(status, request=chat_request(), json={"error": error}, headers=headers)
    cls = _STATUS_ERRORS.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return cls(f"Error code: {status} - {message}", response=response, body=error)
