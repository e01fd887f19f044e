"""Prompts of the video detector (:mod:`qwenvl_agents.workflows.detector`), kept apart from the code.

The answer's shape is not described here in prose: the server constrains it by the JSON schema of
:class:`~qwenvl_agents.workflows.detector.FrameAnswer`, whose field descriptions the model sees too.

Example:
    >>> print(frame_prompt("a red ball", 3.0))
    Frame at 3.0 s. Is a red ball visible in this frame? Answer with the JSON object only.
"""

from __future__ import annotations

DETECTOR_SYSTEM_PROMPT = (
    "You watch a video one frame at a time for one thing the user names. For each frame decide only whether "
    "that thing is visible in it. Say present=false when it is absent, hidden, or you are unsure what you see; "
    "do not guess from earlier frames. Describe briefly what you see of it (or what is there instead), and "
    "rate your confidence from 1 (a guess) to 10 (certain)."
)

FRAME_PROMPT = "Frame at {timestamp:.1f} s. Is {target} visible in this frame? Answer with the JSON object only."

PRESENT_DESCRIPTION = "true when the target is visible in this frame"
DESCRIPTION_DESCRIPTION = "one short sentence: what of the target is seen, or what is seen instead"
CONFIDENCE_DESCRIPTION = "how sure the answer is, 1 (a guess) to 10 (certain)"


def frame_prompt(target: str, timestamp: float) -> str:
    """The user text sent with one frame."""
    return FRAME_PROMPT.format(target=target.strip(), timestamp=timestamp)
