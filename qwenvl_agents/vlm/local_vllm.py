"""``ChatQwenVLLM``: vLLM's offline engine (``vllm.LLM``) in this process, as a LangChain chat model.

Why it batches: vLLM's throughput comes from generating many sequences together. ``batch()`` / ``abatch()``
send every conversation in one ``LLM.chat(conversations, sampling_params)`` call, and concurrent
``invoke`` / ``ainvoke`` calls (the extractor keeps many pages in flight) are gathered by a micro-batcher:
one worker thread owns the engine, and requests queued within ``batch_window_ms`` of each other go in one
call. Callers get batched generation without knowing it.

- Images are sized with the pixel budget and sent as data URLs; ``mm_processor_kwargs`` carries the same
  caps to vLLM's processor. Videos go natively (``video_url`` data URL of the file, decoded by vLLM, at most
  ``video_max_frames`` frames) after our own decode check, so an undecodable video fails with its name.
- The image/video limit (``limit_mm_per_prompt``) is checked per conversation before generating: one
  over-full prompt gets its own error while the rest of the batch is answered.
- ``response_format`` json_schema becomes vLLM structured outputs (decoding is constrained).
- Answers carry ``usage_metadata`` and ``response_metadata["finish_reason"]`` (``stop`` / ``length``).
- Tools are not supported (``bind_tools`` raises): use the OpenAI server backend for the agent.

``batch()`` skips LangChain's per-call callbacks (one engine call serves every input).

Example (loads a model; needs a vLLM build for your hardware):
    >>> chat = ChatQwenVLLM(model="Qwen/Qwen2.5-VL-7B-Instruct", max_model_len=16384)  # doctest: +SKIP
    >>> prompts = [[HumanMessage([{"type": "image_url", "image_url": p}, "Title?"])] for p in pages]  # doctest: +SKIP
    >>> answers = chat.batch(prompts)  # doctest: +SKIP
    >>> chat.stats.chat_calls  # doctest: +SKIP
    1
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import PrivateAttr

from qwenvl_agents.errors import MissingDependencyError, QwenVLError, VLMError, VLMRequestError
from qwenvl_agents.vlm.backends import GenerationOptions, LocalChatModel
from qwenvl_agents.vlm.content import Conversation


@dataclass
class BatchStats:
    """How the engine was called: ``batch_sizes[i]`` conversations went in ``LLM.chat`` call ``i``."""

    batch_sizes: list[int] = field(default_factory=list)

    @property
    def chat_calls(self) -> int:
        return len(self.batch_sizes)

    @property
    def prompts(self) -> int:
        return sum(self.batch_sizes)


@dataclass
class _Job:
    messages: list[dict[str, Any]]
    options: GenerationOptions
    future: Future[Any] = field(default_factory=Future)


def explain_engine_error(exc: BaseException) -> VLMError:
    """A vLLM exception as a :class:`VLMRequestError` that says what to change."""
    if isinstance(exc, VLMError):
        return exc
    from qwenvl_agents.vlm.client import explain_bad_request

    return VLMRequestError(explain_bad_request(f"{type(exc).__name__}: {exc}").replace("the server", "vLLM"))


class ChatQwenVLLM(LocalChatModel):
    """Qwen2.5-VL on vLLM's offline engine with batched generation; the engine starts on first use."""

    dtype: str = "auto"
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = 0.9
    limit_mm_per_prompt: dict[str, int] | None = None
    """Default: ``{"image": max_images_per_prompt or 4, "video": 1}``."""
    mm_processor_kwargs: dict[str, Any] | None = None
    """Default: this model's ``min_pixels`` / ``max_pixels``."""
    enforce_eager: bool = False
    skip_mm_profiling: bool = False
    native_video: bool = True
    """False sends a video's sampled frames as images instead (counts against the image limit)."""
    engine_kwargs: dict[str, Any] | None = None
    """Anything else for ``vllm.LLM`` (``seed``, ``max_num_seqs``, ``allowed_local_media_path``...)."""
    batch_window_ms: float = 5.0
    max_batch_size: int = 256

    _queue: queue.Queue[list[_Job] | None] = PrivateAttr(default_factory=queue.Queue)
    _worker: threading.Thread | None = PrivateAttr(default=None)
    _start_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _llm: Any = PrivateAttr(default=None)
    _stats: BatchStats = PrivateAttr(default_factory=BatchStats)

    @property
    def _llm_type(self) -> str:
        return "qwen2.5-vl-vllm-offline"

    @property
    def stats(self) -> BatchStats:
        return self._engine()._stats

    def _engine(self) -> ChatQwenVLLM:
        """The model that runs the engine and its batching worker (the owner of a :meth:`variant`)."""
        owner = self.owner
        assert isinstance(owner, ChatQwenVLLM)
        return owner

    @property
    def limits(self) -> dict[str, int]:
        return self.limit_mm_per_prompt or {"image": self.max_images_per_prompt or 4, "video": 1}

    # --- the engine and its worker -------------------------------------------------------------------

    def engine_arguments(self) -> dict[str, Any]:
        """The keyword arguments given to ``vllm.LLM``."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "dtype": self.dtype,
            "tensor_parallel_size": self.tensor_parallel_size,
            "limit_mm_per_prompt": self.limits,
            "mm_processor_kwargs": self.mm_processor_kwargs
            or {"min_pixels": self.min_pixels, "max_pixels": self.max_pixels},
            "media_io_kwargs": {"video": {"num_frames": self.video_max_frames}},
            "enforce_eager": self.enforce_eager,
        }
        if self.max_model_len is not None:
            kwargs["max_model_len"] = self.max_model_len
        if self.gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = self.gpu_memory_utilization
        if self.skip_mm_profiling:
            kwargs["skip_mm_profiling"] = True
        for key, value in (self.engine_kwargs or {}).items():  # None removes one of ours (vLLM's default)
            if value is None:
                kwargs.pop(key, None)
            else:
                kwargs[key] = value
        return kwargs

    def _create_engine(self) -> Any:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise MissingDependencyError(
                f"the vllm backend needs vLLM ({exc}): pip install 'qwenvl-agents[vllm]'"
            ) from exc
        return LLM(**self.engine_arguments())

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, name="qwenvl-vllm-batcher", daemon=True)
                self._worker.start()

    def load(self) -> Any:
        """Start the engine now (it otherwise starts with the first request) and return the ``vllm.LLM``."""
        if self._engine() is not self:
            return self._engine().load()
        self._ensure_worker()
        job = _Job([], GenerationOptions(0.0, 1))
        self._queue.put([job])
        job.future.result()
        return self._llm

    def close(self) -> None:
        """Stop the worker and release the engine (a :meth:`variant` leaves that to its owner)."""
        if self._engine() is not self:
            return
        worker = self._worker
        if worker is not None and worker.is_alive():
            self._queue.put(None)
            worker.join(timeout=60)
        self._llm = None

    def _loop(self) -> None:
        while True:
            group = self._queue.get()
            if group is None:
                return
            batch = list(group)
            deadline = time.monotonic() + self.batch_window_ms / 1000
            stop = False
            while len(batch) < self.max_batch_size:
                wait = deadline - time.monotonic()
                try:
                    more = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.extend(more)
            self._serve(batch)
            if stop:
                return

    def _serve(self, batch: list[_Job]) -> None:
        if self._llm is None:
            try:
                self._llm = self._create_engine()
            except BaseException as exc:  # every waiting caller learns why, the next request tries again
                error = exc if isinstance(exc, QwenVLError) else VLMError(f"vLLM could not start {self.model}: {exc}")
                for job in batch:
                    job.future.set_exception(error)
                return
        real = [job for job in batch if job.messages]
        for job in batch:
            if not job.messages:
                job.future.set_result(None)
        if real:
            self._run(real)

    def _run(self, jobs: list[_Job]) -> None:
        try:
            params = [self._sampling_params(job.options) for job in jobs]
            outputs = self._llm.chat([job.messages for job in jobs], params, use_tqdm=False)
        except Exception as exc:
            if len(jobs) > 1:  # find the conversation vLLM refused; the others are answered
                for job in jobs:
                    self._run([job])
                return
            jobs[0].future.set_exception(explain_engine_error(exc))
            return
        self._stats.batch_sizes.append(len(jobs))
        for job, output in zip(jobs, outputs, strict=True):
            job.future.set_result(output)

    @staticmethod
    def _sampling_params(options: GenerationOptions) -> Any:
        from vllm import SamplingParams

        kwargs: dict[str, Any] = {
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_tokens": options.max_tokens,
            "stop": list(options.stop) or None,
        }
        if options.json_schema is not None:
            try:
                from vllm.sampling_params import StructuredOutputsParams
            except ImportError:  # vLLM < 0.11 named it guided decoding
                from vllm.sampling_params import GuidedDecodingParams

                kwargs["guided_decoding"] = GuidedDecodingParams(json=options.json_schema)
            else:
                kwargs["structured_outputs"] = StructuredOutputsParams(json=options.json_schema)
        return SamplingParams(**kwargs)

    # --- requests --------------------------------------------------------------------------------------

    def _job(self, messages: Sequence[BaseMessage], options: GenerationOptions) -> _Job:
        conversation = self.conversation(messages)
        self._check_limits(conversation)
        video: Literal["native", "frames"] = "native" if self.native_video else "frames"
        return _Job(conversation.openai_messages(video), options)

    def _check_limits(self, conversation: Conversation) -> None:
        images = conversation.image_count + (
            0 if self.native_video else sum(len(v.frames) for v in conversation.videos)
        )
        counts = {"image": images, "video": len(conversation.videos) if self.native_video else 0}
        for kind, count in counts.items():
            limit = self.limits.get(kind, 1 if kind == "video" else 4)
            if count > limit:
                raise VLMRequestError(
                    f"{count} {kind}s in one prompt, but this vLLM engine accepts at most {limit} "
                    f"(limit_mm_per_prompt={self.limits}); send them in smaller groups"
                )

    def _answer(self, output: Any) -> AIMessage:
        completion = output.outputs[0]
        return self.answer(
            completion.text,
            len(output.prompt_token_ids or ()),
            len(completion.token_ids),
            completion.finish_reason or "stop",
        )

    def _submit(self, jobs: list[_Job]) -> None:
        if self._engine() is not self:
            # Jobs carry their own sampling options: a variant's join the owner's batches.
            self._engine()._submit(jobs)
            return
        self._ensure_worker()
        self._queue.put(jobs)

    def generate_one(self, conversation: Conversation, options: GenerationOptions) -> AIMessage:
        self._check_limits(conversation)
        video: Literal["native", "frames"] = "native" if self.native_video else "frames"
        job = _Job(conversation.openai_messages(video), options)
        self._submit([job])
        return self._answer(job.future.result())

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        options = self.options(stop, kwargs)
        job = await asyncio.to_thread(self._job, messages, options)  # images load and resize off the loop
        self._submit([job])
        return self.result(self._answer(await asyncio.wrap_future(job.future)))

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """All inputs in one ``LLM.chat`` call; a bad input gets its own error, the others their answers."""
        results: list[Any] = [None] * len(inputs)
        jobs: list[tuple[int, _Job]] = []
        for i, item in enumerate(inputs):
            try:
                messages = self._convert_input(item).to_messages()
                jobs.append((i, self._job(messages, self.options(kwargs.get("stop"), kwargs))))
            except Exception as exc:
                results[i] = exc
        if jobs:
            self._submit([job for _, job in jobs])
        for i, job in jobs:
            try:
                results[i] = self._answer(job.future.result())
            except Exception as exc:
                results[i] = exc
        if not return_exceptions:
            for r in results:
                if isinstance(r, Exception):
                    raise r
        return results

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """The asynchronous :meth:`batch` (same single engine call)."""
        return await asyncio.to_thread(self.batch, inputs, config, return_exceptions=return_exceptions, **kwargs)
