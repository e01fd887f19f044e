"""The only code that talks to a vision-language model: the model port, the server client, local backends,
image sizing, health. Everything else takes its chat models from :class:`ModelPort`."""

from qwenvl_agents.vlm.backends import chat_model_from_settings
from qwenvl_agents.vlm.client import CheckReport, CheckStep, VLMClient, explain_error
from qwenvl_agents.vlm.images import PreparedImage, prepare_image, smart_resize, visual_tokens
from qwenvl_agents.vlm.local_transformers import ChatQwenTransformers
from qwenvl_agents.vlm.local_vllm import ChatQwenVLLM
from qwenvl_agents.vlm.port import MODEL_ROLES, ModelPort, ModelRole

__all__ = [
    "MODEL_ROLES",
    "ChatQwenTransformers",
    "ChatQwenVLLM",
    "CheckReport",
    "CheckStep",
    "ModelPort",
    "ModelRole",
    "PreparedImage",
    "VLMClient",
    "chat_model_from_settings",
    "explain_error",
    "prepare_image",
    "smart_resize",
    "visual_tokens",
]
