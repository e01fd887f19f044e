"""Build a tiny random Qwen3-VL checkpoint for a second test vLLM server (offline, deterministic).

Run with the *server venv's* python, as a script: ``python build_tiny_qwen3_model.py OUT_DIR``;
:func:`tests.vllm_server.build.build_qwen3_model` does that for you (once per builder version), as the
integration test ``tests/integration/test_qwen3_vl.py`` does.

Qwen3-VL cuts images into 16-pixel patches (Qwen2.5-VL: 14) and merges 2x2 of them, so a visual token is
32x32 pixels. This checkpoint exists so the toolkit's sizing and token accounting can be checked against
what vLLM's own Qwen3-VL processor counts. Everything else is shared with the Qwen2.5-VL builder
(:mod:`build_tiny_model`): the tokenizer with the same special tokens, the seeded weights and the
JSON-closer logit bias, so the two tiny models behave alike apart from their vision side.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from build_tiny_model import HIDDEN, SEED, add_json_bias, build_tokenizer, init_weights
from transformers import (
    Qwen2Tokenizer,
    Qwen2VLImageProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

PATCH_SIZE = 16  # Qwen3-VL's real patch size: a visual token is 32x32 px after the 2x2 merge
MIN_PIXELS = 4 * 32 * 32  # four image tokens
MAX_PIXELS = 16777216  # the real default, so the server keeps whatever size the client chose


def build_config(tokenizer: Qwen2Tokenizer) -> Qwen3VLConfig:
    """Shrunk Qwen3-VL config whose token ids point at this tokenizer's special tokens."""
    tid = tokenizer.convert_tokens_to_ids
    vocab_size = (len(tokenizer) + 63) // 64 * 64
    text = {
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 64,
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [8, 12, 12],
            "mrope_interleaved": True,
        },
        "bos_token_id": tid("<|endoftext|>"),
        "eos_token_id": tid("<|im_end|>"),
        "pad_token_id": tid("<|endoftext|>"),
        "tie_word_embeddings": False,
        "dtype": "bfloat16",
    }
    vision = {
        "depth": 2,
        "hidden_size": HIDDEN,
        "intermediate_size": 256,
        "num_heads": 2,
        "patch_size": PATCH_SIZE,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": HIDDEN,
        "num_position_embeddings": 256,  # a 16x16 grid, interpolated to any image size
        "deepstack_visual_indexes": [1],
    }
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
        tie_word_embeddings=False,
        dtype="bfloat16",
    )


def build(out: Path) -> None:
    """Write config, weights, tokenizer, processors and generation config into ``out``."""
    torch.manual_seed(SEED)
    tokenizer = build_tokenizer()
    config = build_config(tokenizer)
    model = Qwen3VLForConditionalGeneration(config).to(torch.bfloat16)
    init_weights(model)
    add_json_bias(model, tokenizer)  # type: ignore[arg-type]
    model.generation_config.update(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), config.text_config.pad_token_id],
        pad_token_id=config.text_config.pad_token_id,
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    image_processor = Qwen2VLImageProcessor(size=size, patch_size=PATCH_SIZE, merge_size=2, temporal_patch_size=2)
    video_processor = Qwen3VLVideoProcessor(size=size, patch_size=PATCH_SIZE, merge_size=2, temporal_patch_size=2)
    processor = Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=tokenizer.chat_template,
    )
    processor.save_pretrained(out)
    image_processor.save_pretrained(out)
    video_processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"built tiny Qwen3-VL: {n_params} parameters, vocab {len(tokenizer)} (padded to {vocab_size(config)})")


def vocab_size(config: Qwen3VLConfig) -> int:
    return int(config.text_config.vocab_size)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_tiny_qwen3_model.py OUT_DIR")
    build(Path(sys.argv[1]))
