"""Build the tiny random Qwen2.5-VL checkpoint that the test vLLM server serves (offline, deterministic).

Run with the *server venv's* python (it needs torch, transformers and tokenizers), as a script:
``python build_tiny_model.py OUT_DIR``. The package's ``build`` command does that for you.

Why each choice:
- Architecture is the real Qwen2.5-VL one, shrunk (hidden 128, 2 layers, head_dim 64 which vLLM's CPU
  attention accepts, 1 KV head; vision depth 2) so vLLM exercises its real multimodal code path in
  seconds and in ~3 GB of RAM. Patch/merge/temporal sizes stay real so image token counts match.
- The tokenizer is a byte-level BPE trained here on built-in text, with Qwen2.5-VL's special tokens in
  their real order, so config ids, chat template and tool-call markers behave like the real model's.
- Weights are random but seeded per tensor name, so every build writes byte-identical files.
- A random model never closes constrained JSON (it picks whitespace or digits until ``max_tokens``). One
  hidden dimension is made a large constant (set in every embedding row) and the output layer reads it
  as a fixed logit bias (~6 logits per tier, so it holds even at temperature 1): up for JSON closers
  (``" } ] : ,``), down for whitespace-only tokens. Then ``response_format`` json_schema and strict tool
  calls end after a few tokens with valid output; free text from this model is a run of closers.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from tiny_corpus import corpus
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers.trainers import BpeTrainer
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2Tokenizer,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
)

SEED = 20240229
BPE_VOCAB_SIZE = 3000
HIDDEN = 128
#: Hidden dimension that carries the constant used as a logit bias (see module docstring).
BIAS_DIM = 0
BIAS_ACTIVATION = 1.0
BIAS_LOGIT_WEIGHT = 0.6
JSON_CLOSERS = set('"}]:,')
#: Qwen2.5-VL's added tokens in their real order (ids 151643.. in the real model, len(bpe).. here).
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip
NON_SPECIAL_ADDED = ["<tool_call>", "</tool_call>"]
FIM_TOKENS = [
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]  # fmt: skip
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"""
    r"""|\s+(?!\S)|\s+"""
)
MIN_PIXELS = 4 * 28 * 28  # 3136: four image tokens after the 2x2 merge
MAX_PIXELS = 12845056  # the real default, so the server keeps whatever size the client chose
HERE = Path(__file__).resolve().parent


def train_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train the byte-level BPE with Qwen2's normalizer and pre-tokenizer; returns vocab and merges."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    merges: list[tuple[str, str]] = []
    for merge in model["merges"]:  # ["a", "b"] pairs in recent tokenizers, "a b" strings in older ones
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        merges.append((left, right))
    return dict(model["vocab"]), merges


def build_tokenizer() -> Qwen2Tokenizer:
    """The trained BPE wrapped as transformers' Qwen2Tokenizer plus the added tokens in the real order."""
    vocab, merges = train_bpe()
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
    )
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in NON_SPECIAL_ADDED])
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in FIM_TOKENS])
    ids = tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS + NON_SPECIAL_ADDED + FIM_TOKENS)
    assert ids == list(range(len(vocab), len(vocab) + len(ids))), ids
    tokenizer.eos_token = "<|im_end|>"  # set only now so that <|endoftext|> keeps the first added id
    tokenizer.chat_template = (HERE / "chat_template.jinja").read_text()
    return tokenizer


def build_config(tokenizer: Qwen2Tokenizer) -> Qwen2_5_VLConfig:
    """Shrunk Qwen2.5-VL config whose token ids point at this tokenizer's special tokens."""
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
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [8, 12, 12]},
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
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [1],
        "out_hidden_size": HIDDEN,
        "tokens_per_second": 2,
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
        tie_word_embeddings=False,
        dtype="bfloat16",
    )


def init_weights(model: torch.nn.Module) -> None:
    """Seeded per-tensor init (independent of transformers' init code and of parameter order)."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            digest = hashlib.sha256(f"{SEED}:{name}".encode()).digest()
            gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
            if name.endswith(".bias"):
                param.zero_()
            elif param.ndim == 1:  # RMSNorm / LayerNorm weights
                param.fill_(1.0)
            else:
                values = torch.randn(param.shape, generator=gen, dtype=torch.float32) * 0.02
                param.copy_(values.to(param.dtype))


def json_preference(text: str) -> int:
    """Tier of a token's fixed logit preference: 3 closes strings, 2 closes containers, 1 separates.

    ``"`` must rank highest because every other closer is valid *inside* a string and would otherwise
    grow it forever; ``}``/``]`` beat ``,``/``:`` so objects and arrays end as soon as the grammar allows.
    Whitespace-only tokens get -3, so JSON never pads itself with blanks until ``max_tokens``.
    """
    if not text:
        return 0
    if set(text) <= JSON_CLOSERS:
        return 3 if '"' in text else 2 if set(text) <= {"}", "]"} else 1
    return -3 if not text.strip() else 0


def add_json_bias(model: Qwen2_5_VLForConditionalGeneration, tokenizer: Qwen2Tokenizer) -> None:
    """Constant hidden dimension -> fixed logit preference per :func:`json_preference` tier."""
    with torch.no_grad():
        embed = model.get_input_embeddings().weight
        embed[:, BIAS_DIM] = BIAS_ACTIVATION
        head = model.get_output_embeddings().weight
        head[:, BIAS_DIM] = 0.0
        for token_id in range(len(tokenizer)):
            head[token_id, BIAS_DIM] = BIAS_LOGIT_WEIGHT * json_preference(tokenizer.decode([token_id]))
        head[len(tokenizer) :, BIAS_DIM] = -3 * BIAS_LOGIT_WEIGHT  # padding rows: never chosen


def build(out: Path) -> None:
    """Write config, weights, tokenizer, processors and generation config into ``out``."""
    torch.manual_seed(SEED)
    tokenizer = build_tokenizer()
    config = build_config(tokenizer)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16)
    init_weights(model)
    add_json_bias(model, tokenizer)
    model.generation_config.update(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), config.text_config.pad_token_id],
        pad_token_id=config.text_config.pad_token_id,
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    image_processor = Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    video_processor = Qwen2VLVideoProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=tokenizer.chat_template,
    )
    processor.save_pretrained(out)
    # Older loaders (and qwen_vl_utils users) look for the standalone processor files too.
    image_processor.save_pretrained(out)
    video_processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    padded = config.text_config.vocab_size
    print(f"built tiny Qwen2.5-VL: {n_params} parameters, vocab {len(tokenizer)} (padded to {padded})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_tiny_model.py OUT_DIR")
    build(Path(sys.argv[1]))
