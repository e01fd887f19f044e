"""``ChatQwenTransformers``: Qwen2.5-VL loaded with Hugging Face transformers, as a LangChain chat model.

The classic recipe (``Qwen2_5_VLForConditionalGeneration`` + ``AutoProcessor`` with min/max pixels,
flash attention 2, ``device_map="auto"``, bfloat16) behind the same interface as the vLLM server, so
``VLMExtractor``, ``VLMClient``-style prompts and the workflows run on it unchanged.

Choices made for you, each overridable:

- ``attn_implementation="auto"``: ``flash_attention_2`` when ``flash_attn`` is importable and CUDA is
  available, else ``sdpa``;
- ``dtype="auto"``: bfloat16 on CUDA, float32 on a CPU (CPU bfloat16 matmuls are slow or missing);
- ``device_map="auto"`` (needs ``accelerate``); on a machine without CUDA and without accelerate the model
  simply loads on the CPU;
- greedy decoding unless ``temperature > 0``.

``response_format`` json_schema cannot constrain transformers' decoding: the schema is accepted and the
model generates freely; callers that need valid JSON validate and retry (the extractor does), or use the
``vllm`` backend or server, which constrain decoding. Tools are not supported here (``bind_tools``
raises): use the OpenAI server backend for the agent.

Example (loads a model):
    >>> from langchain_core.messages import HumanMessage
    >>> chat = ChatQwenTransformers(model="Qwen/Qwen2.5-VL-3B-Instruct", max_pixels=512 * 28 * 28)  # doctest: +SKIP
    >>> question = HumanMessage([{"type": "image_url", "image_url": "page.png"}, "What is the total?"])
    >>> chat.invoke([question])  # doctest: +SKIP
    AIMessage(content='The total is 717.97 EUR.', ...)
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any, Literal

from langchain_core.messages import AIMessage
from pydantic import PrivateAttr

from qwenvl_agents.errors import MissingDependencyError, VLMRequestError
from qwenvl_agents.vlm.backends import GenerationOptions, LocalChatModel
from qwenvl_agents.vlm.content import Conversation, ImagePart, TextPart


def resolve_attn_implementation(requested: str, cuda: bool) -> str:
    """``auto`` → flash attention 2 when ``flash_attn`` is installed and CUDA is there, else sdpa.

    >>> resolve_attn_implementation("auto", cuda=False)
    'sdpa'
    >>> resolve_attn_implementation("eager", cuda=True)
    'eager'
    """
    if requested != "auto":
        return requested
    return "flash_attention_2" if cuda and importlib.util.find_spec("flash_attn") is not None else "sdpa"


def resolve_dtype_name(requested: str, cuda: bool) -> str:
    """``auto`` → bfloat16 on CUDA, float32 on a CPU.

    >>> resolve_dtype_name("auto", cuda=False), resolve_dtype_name("auto", cuda=True)
    ('float32', 'bfloat16')
    """
    if requested != "auto":
        return requested
    return "bfloat16" if cuda else "float32"


class ChatQwenTransformers(LocalChatModel):
    """Qwen2.5-VL in this process via transformers; model and processor load once, on first use."""

    device_map: str | None = "auto"
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = "auto"
    trust_remote_code: bool = False

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _loaded: tuple[Any, Any] | None = PrivateAttr(default=None)
    _resolved: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "qwen2.5-vl-transformers"

    @property
    def resolved(self) -> dict[str, Any]:
        """What was actually loaded (attention, dtype, device map, device), after the first request."""
        return dict(self._weights()._resolved)

    def _weights(self) -> ChatQwenTransformers:
        """The model that loads and runs the weights (the owner of a :meth:`variant`)."""
        owner = self.owner
        assert isinstance(owner, ChatQwenTransformers)
        return owner

    def load(self) -> tuple[Any, Any]:
        """Load (once) and return ``(model, processor)``."""
        if self._weights() is not self:
            return self._weights().load()
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any]:
        try:
            import torch
            import transformers
            from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
        except ImportError as exc:
            raise MissingDependencyError(
                f"the transformers backend needs transformers, torch and torchvision ({exc}): "
                "pip install 'qwenvl-agents[transformers]'"
            ) from exc
        cuda = torch.cuda.is_available()
        attn = resolve_attn_implementation(self.attn_implementation, cuda)
        dtype = getattr(torch, resolve_dtype_name(self.dtype, cuda))
        device_map = self.device_map
        if device_map and importlib.util.find_spec("accelerate") is None:
            if cuda:
                raise MissingDependencyError(
                    f"device_map={device_map!r} needs accelerate: pip install 'qwenvl-agents[transformers]'"
                )
            device_map = None  # without a GPU there is nothing to place: load on the CPU
        kwargs: dict[str, Any] = {"attn_implementation": attn, "trust_remote_code": self.trust_remote_code}
        kwargs["dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"] = dtype
        if device_map:
            kwargs["device_map"] = device_map
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(self.model, **kwargs)
        model.eval()
        if int(transformers.__version__.split(".")[0]) >= 5:
            budget: dict[str, Any] = {"size": {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}}
        else:
            budget = {"min_pixels": self.min_pixels, "max_pixels": self.max_pixels}
        processor = AutoProcessor.from_pretrained(self.model, trust_remote_code=self.trust_remote_code, **budget)
        self._resolved = {
            "attn_implementation": attn,
            "dtype": str(dtype).removeprefix("torch."),
            "device_map": device_map,
            "device": str(model.device),
        }
        return model, processor

    def _inputs(self, conversation: Conversation, processor: Any) -> Any:
        import numpy as np

        messages: list[dict[str, Any]] = []
        images: list[Any] = []
        videos: list[Any] = []
        metadata: list[dict[str, Any]] = []
        for turn in conversation.turns:
            content: list[dict[str, Any]] = []
            for part in turn.parts:
                if isinstance(part, TextPart):
                    content.append({"type": "text", "text": part.text})
                elif isinstance(part, ImagePart):
                    content.append({"type": "image"})
                    images.append(part.image)
                else:
                    content.append({"type": "video"})
                    videos.append(np.stack([np.asarray(f) for f in part.frames]))
                    metadata.append({"fps": part.fps, "total_num_frames": len(part.frames)})
            messages.append({"role": turn.role, "content": content})
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt", "padding": True}
        if images:
            kwargs["images"] = images
        if videos:
            kwargs["videos"] = videos
            try:
                from transformers.video_utils import VideoMetadata
            except ImportError:  # transformers 4.x: the frame rate is a processor argument
                kwargs["fps"] = [m["fps"] for m in metadata]
            else:
                # Frames are already sampled (content.decode_video); the processor must not sample again.
                kwargs["video_metadata"] = [VideoMetadata(**m) for m in metadata]
                kwargs["do_sample_frames"] = False
        return processor(**kwargs)

    def generate_one(self, conversation: Conversation, options: GenerationOptions) -> AIMessage:
        import torch

        model, processor = self.load()
        inputs = self._inputs(conversation, processor).to(model.device)
        prompt_len = int(inputs["input_ids"].shape[1])
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        gen: dict[str, Any] = {"max_new_tokens": options.max_tokens, "do_sample": options.temperature > 0}
        if options.temperature > 0:
            gen.update(temperature=options.temperature, top_p=options.top_p)
        else:  # silence generation_config sampling defaults that greedy decoding ignores
            gen.update(temperature=None, top_p=None, top_k=None)
        if options.stop:
            gen.update(stop_strings=list(options.stop), tokenizer=processor.tokenizer)
        # One generation at a time on the weights, whichever variant asks.
        with self._weights()._lock, torch.inference_mode():
            try:
                output = model.generate(**inputs, **gen)
            except (ValueError, RuntimeError) as exc:  # e.g. more image tokens than the context holds
                raise VLMRequestError(f"generation failed for {self.model}: {exc}") from exc
        new = output[0, prompt_len:].tolist()
        ended = bool(new) and new[-1] in eos_ids
        text = processor.tokenizer.decode(new, skip_special_tokens=True)
        stopped = False
        for s in options.stop:
            cut = text.find(s)
            if cut >= 0:
                text, stopped = text[:cut], True
        finish = "stop" if ended or stopped or len(new) < options.max_tokens else "length"
        return self.answer(text, prompt_len, len(new), finish)
