"""Fake chat models for the agent tests: a scripted tool-calling model and a recording vision model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


def call(name: str, **args: Any) -> AIMessage:
    """An AI message making one tool call."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}"}])


def answer(text: str, citations: Sequence[tuple[str, int]] = (), found: bool = True) -> AIMessage:
    return call("answer", text=text, citations=[{"document": d, "page": p} for d, p in citations], found=found)


class StreamingFake(GenericFakeChatModel):
    """A fake chat model that streams its answer like a real server (see :func:`stream_message`)."""

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


class ScriptedChatModel(StreamingFake):
    """Answers with the scripted messages in order; records every prompt and every ``bind_tools`` call.

    Streams like a real server (see :func:`stream_message`).
    """

    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    bound: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def of(cls, *replies: AIMessage | str) -> ScriptedChatModel:
        return cls(messages=iter(replies))

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        strict = kwargs.get("strict")
        self.bound.append(
            {"tools": [convert_to_openai_tool(t, strict=strict) for t in tools], "tool_choice": tool_choice, **kwargs}
        )
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def stream_message(message: AIMessage, run_manager: CallbackManagerForLLMRun | None) -> Iterator[ChatGenerationChunk]:
    """Stream a message like a real server: content word by word, each tool call's JSON arguments in pieces,
    the usage last."""
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
    if message.usage_metadata:
        pieces.append(AIMessageChunk(content="", id=message.id, usage_metadata=message.usage_metadata))
    for piece in pieces:
        chunk = ChatGenerationChunk(message=piece)
        if run_manager:
            run_manager.on_llm_new_token(piece.text, chunk=chunk)
        yield chunk


class RecordingVision(StreamingFake):
    """A vision model that records the messages it is shown and answers with ``reply`` (or raises ``error``)."""

    reply: str = "The page shows a total of USD 2,587.72."
    error: Exception | None = None
    received: list[list[BaseMessage]] = Field(default_factory=list)
    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.received.append(list(messages))
        if self.error is not None:
            raise self.error
        self.messages = iter(
            [AIMessage(self.reply, usage_metadata={"input_tokens": 100, "output_tokens": 10, "total_tokens": 110})]
        )
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def image_parts(message: BaseMessage) -> list[dict[str, Any]]:
    content = message.content
    return (
        [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
        if isinstance(content, list)
        else []
    )


def text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))
