"""The only code that talks to a vision-language model: clients, image sizing, health checks."""

from qwenvl_agents.vlm.client import CheckReport, CheckStep, VLMClient, explain_error
from qwenvl_agents.vlm.images import PreparedImage, prepare_image, smart_resize, visual_tokens

__all__ = [
    "CheckReport",
    "CheckStep",
    "PreparedImage",
    "VLMClient",
    "explain_error",
    "prepare_image",
    "smart_resize",
    "visual_tokens",
]
