"""The media rules of a Qwen-VL model family: visual-token grid, default pixel budgets, limits.

Every image and video frame the toolkit sends is sized here, and every visual-token count is computed here,
so the numbers follow the model actually served:

==============  ==========  ==========  ===========  =========================================
family          patch (px)  merge       token (px)   ``model_type`` in ``config.json``
==============  ==========  ==========  ===========  =========================================
``qwen2-vl``    14          2 x 2       28 x 28      ``qwen2_vl``
``qwen2.5-vl``  14          2 x 2       28 x 28      ``qwen2_5_vl``
``qwen3-vl``    16          2 x 2       32 x 32      ``qwen3_vl``, ``qwen3_vl_moe``
==============  ==========  ==========  ===========  =========================================

A side of a sized image is a multiple of the token side (patch x merge) and the image costs
``(height / side) * (width / side)`` visual tokens. The default pixel budgets are fixed in *tokens*
(256..1280 per image, 128..768 per video frame), so a Qwen3-VL image gets the same token budget as a
Qwen2.5-VL one, in more pixels. vLLM ignores a per-request ``max_pixels`` inside an image part, so the
client enforces the budget itself: that keeps a page within ``--max-model-len``.

The family comes from :func:`media_rules_for`: the ``QWENVL_VLM_MODEL_FAMILY`` setting when it is not
``auto``, else the model's ``config.json`` when the model is a local folder, else the model name
(``Qwen3-VL`` in it means Qwen3-VL), else Qwen2.5-VL.

Example:
    >>> rules = media_rules_for("Qwen/Qwen3-VL-8B-Instruct")
    >>> rules.family, rules.factor, rules.resize(1754, 1240), rules.tokens(1344, 960)  # an A4 page at 150 dpi
    ('qwen3-vl', 32, (1344, 960), 1260)
    >>> QWEN2_5_VL.resize(1754, 1240), QWEN2_5_VL.tokens(1176, 840)
    ((1176, 840), 1260)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

from qwenvl_agents.errors import VLMRequestError

ModelFamily = Literal["qwen2-vl", "qwen2.5-vl", "qwen3-vl"]
MODEL_FAMILIES: tuple[ModelFamily, ...] = get_args(ModelFamily)
FAMILY_SETTING = "QWENVL_VLM_MODEL_FAMILY"


@dataclass(frozen=True)
class MediaRules:
    """How one model family turns pixels into visual tokens, and the default budgets in tokens.

    >>> QWEN3_VL.factor, QWEN3_VL.token_pixels, QWEN3_VL.default_max_pixels
    (32, 1024, 1310720)
    """

    family: ModelFamily = "qwen2.5-vl"
    patch_size: int = 14
    """Pixels per side of one vision patch."""
    merge_size: int = 2
    """Patches merged per side into one visual token (2 x 2)."""
    temporal_patch_size: int = 2
    """Consecutive video frames merged into one grid of visual tokens."""
    min_tokens: int = 256
    max_tokens: int = 1280
    """The default image budget, in visual tokens (``QWENVL_MIN_PIXELS`` / ``QWENVL_MAX_PIXELS`` override it)."""
    video_min_tokens: int = 128
    video_max_tokens: int = 768
    """The reference per-frame video budget (qwen-vl-utils), in visual tokens."""
    max_aspect_ratio: float = 200.0
    """The vision processors refuse images more elongated than this; longer ones are padded."""

    @property
    def factor(self) -> int:
        """Pixels per side of one visual token: every sized side is a multiple of it (28 or 32)."""
        return self.patch_size * self.merge_size

    @property
    def token_pixels(self) -> int:
        """Pixels per visual token (``factor ** 2``)."""
        return self.factor * self.factor

    @property
    def default_min_pixels(self) -> int:
        return self.min_tokens * self.token_pixels

    @property
    def default_max_pixels(self) -> int:
        return self.max_tokens * self.token_pixels

    @property
    def video_min_pixels(self) -> int:
        return self.video_min_tokens * self.token_pixels

    @property
    def video_max_pixels(self) -> int:
        return self.video_max_tokens * self.token_pixels

    def resize(
        self, height: int, width: int, *, min_pixels: int | None = None, max_pixels: int | None = None
    ) -> tuple[int, int]:
        """The ``(height, width)`` the model will see: multiples of :attr:`factor` within the pixel budget.

        Follows the reference ``smart_resize`` (round to the nearest multiple, then scale down or up keeping
        the aspect ratio), so the server's own processor leaves the result unchanged.

        >>> QWEN3_VL.resize(10, 10)  # enlarged to the 256-token minimum
        (512, 512)
        """
        low = self.default_min_pixels if min_pixels is None else min_pixels
        high = self.default_max_pixels if max_pixels is None else max_pixels
        return grid_resize(height, width, factor=self.factor, min_pixels=low, max_pixels=high)

    def fit_within(self, height: int, width: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
        """Like :meth:`resize`, but never above ``max_pixels``.

        :meth:`resize` rounds *up* when it enlarges a small image to ``min_pixels``, which can land just above
        a tight ``max_pixels``; then the image is scaled to ``max_pixels`` rounding down.

        >>> QWEN2_5_VL.fit_within(30, 3000, 784, 32 * 784)
        (28, 896)
        """
        factor = self.factor
        height2, width2 = self.resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
        if height2 * width2 > max_pixels:
            beta = math.sqrt(height * width / max_pixels)
            height2 = max(factor, math.floor(height / beta / factor) * factor)
            width2 = max(factor, math.floor(width / beta / factor) * factor)
        if height2 * width2 > max_pixels:  # a very elongated image: its short side is already one token
            if height2 >= width2:
                height2 = max(factor, max_pixels // width2 // factor * factor)
            else:
                width2 = max(factor, max_pixels // height2 // factor * factor)
        return height2, width2

    def tokens(self, height: int, width: int) -> int:
        """Visual tokens an image of this (already sized) size costs."""
        return (height // self.factor) * (width // self.factor)

    def video_tokens(self, frames: int, height: int, width: int) -> int:
        """Visual tokens of ``frames`` frames of this (already sized) size; an odd count is padded by one."""
        grids = math.ceil(frames / self.temporal_patch_size)
        return grids * self.tokens(height, width)


def grid_resize(height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The reference ``smart_resize``: sides rounded to multiples of ``factor``, area within the budget.

    >>> grid_resize(1754, 1240, factor=28, min_pixels=256 * 784, max_pixels=1280 * 784)
    (1176, 840)
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


QWEN2_VL = MediaRules("qwen2-vl")
QWEN2_5_VL = MediaRules("qwen2.5-vl")
QWEN3_VL = MediaRules("qwen3-vl", patch_size=16)
DEFAULT_RULES = QWEN2_5_VL
"""The rules when nothing names the family: Qwen2.5-VL, the toolkit's default model."""

FAMILY_RULES: dict[ModelFamily, MediaRules] = {r.family: r for r in (QWEN2_VL, QWEN2_5_VL, QWEN3_VL)}
_MODEL_TYPES: dict[str, ModelFamily] = {
    "qwen2_vl": "qwen2-vl",
    "qwen2_5_vl": "qwen2.5-vl",
    "qwen3_vl": "qwen3-vl",
    "qwen3_vl_moe": "qwen3-vl",
}


def rules_from_config(config: dict[str, Any]) -> MediaRules | None:
    """The rules of a checkpoint's ``config.json`` content, ``None`` for a model type not known here.

    The vision tower's own ``patch_size`` / ``spatial_merge_size`` / ``temporal_patch_size`` win over the
    family's, so a checkpoint built with other sizes is still counted right.

    >>> rules_from_config({"model_type": "qwen3_vl", "vision_config": {"patch_size": 16}}).factor
    32
    >>> rules_from_config({"model_type": "llava"}) is None
    True
    """
    family = _MODEL_TYPES.get(str(config.get("model_type", "")))
    if family is None:
        return None
    rules = FAMILY_RULES[family]
    vision = config.get("vision_config") or {}

    def size(key: str, default: int) -> int:
        value = vision.get(key)
        return value if isinstance(value, int) and value > 0 else default

    return replace(
        rules,
        patch_size=size("patch_size", rules.patch_size),
        merge_size=size("spatial_merge_size", rules.merge_size),
        temporal_patch_size=size("temporal_patch_size", rules.temporal_patch_size),
    )


def family_from_name(model: str) -> ModelFamily | None:
    """The family a model name (hub id or folder name) says, ``None`` when it says none.

    >>> family_from_name("Qwen/Qwen3-VL-30B-A3B-Instruct"), family_from_name("Qwen/Qwen2-VL-7B-Instruct")
    ('qwen3-vl', 'qwen2-vl')
    >>> family_from_name("my-finetune") is None
    True
    """
    name = os.path.basename(model.rstrip("/\\")).lower().replace("_", "-")
    if "qwen3-vl" in name or "qwen3vl" in name:
        return "qwen3-vl"
    if "qwen2.5-vl" in name or "qwen2-5-vl" in name or "qwen25-vl" in name:
        return "qwen2.5-vl"
    if "qwen2-vl" in name:
        return "qwen2-vl"
    return None


def media_rules_for(model: str = "", family: str = "auto") -> MediaRules:
    """The media rules for ``model``: ``family`` when not ``auto``, else its config, else its name.

    ``model`` is a hub id or a local folder; a folder's ``config.json`` is read (``model_type`` and the
    vision sizes). Raises ``ValueError`` for an unknown ``family``.

    >>> media_rules_for("Qwen/Qwen2.5-VL-7B-Instruct", "qwen3-vl").family
    'qwen3-vl'
    >>> media_rules_for("tiny-model").family  # nothing says: the default
    'qwen2.5-vl'
    """
    if family != "auto":
        if family not in FAMILY_RULES:
            raise ValueError(f"unknown model family {family!r} ({FAMILY_SETTING}): auto or {', '.join(MODEL_FAMILIES)}")
        return FAMILY_RULES[family]
    config = Path(model) / "config.json" if model else None
    if config is not None and config.is_file():
        try:
            rules = rules_from_config(json.loads(config.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            rules = None  # an unreadable config says nothing; the name may still
        if rules is not None:
            return rules
    named = family_from_name(model)
    return FAMILY_RULES[named] if named else DEFAULT_RULES


def media_rules_of(chat_model: object) -> MediaRules:
    """The media rules of a bare chat model (no port, no settings): its own, else its model name's family.

    An in-process model knows its rules; a ``ChatOpenAI`` only its ``model_name``, which names the family
    for a hub id or a folder.

    >>> class Chat:
    ...     model_name = "Qwen/Qwen3-VL-4B-Instruct"
    >>> media_rules_of(Chat()).family
    'qwen3-vl'
    """
    own = getattr(chat_model, "rules", None)
    if isinstance(own, MediaRules):
        return own
    return media_rules_for(str(getattr(chat_model, "model_name", "") or ""))


def check_image_count(count: int, limit: int | None) -> None:
    """Raise :class:`~qwenvl_agents.errors.VLMRequestError` when ``count`` images are more than ``limit``.

    ``limit`` is the server's ``--limit-mm-per-prompt`` image count (``QWENVL_VLM_MAX_IMAGES_PER_PROMPT``);
    ``None`` means unknown, and nothing is checked.

    >>> check_image_count(5, 4)
    Traceback (most recent call last):
    ...
    qwenvl_agents.errors.VLMRequestError: 5 images in one prompt, but the server accepts at most 4 \
(QWENVL_VLM_MAX_IMAGES_PER_PROMPT=4, vLLM's --limit-mm-per-prompt '{"image": 4}'); send them in smaller \
groups, or start vLLM with a higher limit and raise QWENVL_VLM_MAX_IMAGES_PER_PROMPT
    """
    if limit is not None and count > limit:
        raise VLMRequestError(
            f"{count} images in one prompt, but the server accepts at most {limit} "
            f"(QWENVL_VLM_MAX_IMAGES_PER_PROMPT={limit}, vLLM's --limit-mm-per-prompt '{{\"image\": {limit}}}'); "
            "send them in smaller groups, or start vLLM with a higher limit and raise "
            "QWENVL_VLM_MAX_IMAGES_PER_PROMPT"
        )
