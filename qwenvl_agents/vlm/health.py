"""``qwenvl vlm check``: is the configured server usable, and if not, what is wrong.

Three steps per endpoint: ``GET /health`` (vLLM's liveness route, next to ``/v1``), ``GET /v1/models``
(is our model served under the configured name), and one chat request carrying a small image (does the
server accept images, and how many prompt tokens did it count).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx2
from PIL import Image, ImageDraw

from qwenvl_agents.errors import VLMError

if TYPE_CHECKING:
    from qwenvl_agents.vlm.client import CheckReport, CheckStep, VLMClient


def server_root(base_url: str) -> str:
    """``http://host:8000/v1`` -> ``http://host:8000`` (where vLLM serves ``/health``)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _probe_image() -> Image.Image:
    image = Image.new("RGB", (224, 112), "white")
    ImageDraw.Draw(image).text((12, 44), "qwenvl check 42", fill="black")
    return image


def _check_endpoint(client: VLMClient, base: str, http: httpx2.Client) -> list[CheckStep]:
    from qwenvl_agents.vlm.client import CheckStep, VLMClient, explain_error

    steps: list[CheckStep] = []
    try:
        r = http.get(server_root(base) + "/health")
        ok = r.status_code == 200
        steps.append(CheckStep(f"{base} health", ok, "ok" if ok else f"GET /health answered HTTP {r.status_code}"))
    except httpx2.HTTPError as exc:
        steps.append(CheckStep(f"{base} health", False, str(explain_error(exc, [base]))))
        return steps  # nothing else can work

    try:
        headers = {"Authorization": f"Bearer {client.api_key}"}
        r = http.get(base + "/models", headers=headers)
        r.raise_for_status()
        served = [m.get("id") for m in r.json().get("data", [])]
        if client.model in served:
            steps.append(CheckStep(f"{base} model", True, f"serves {client.model}"))
        else:
            steps.append(
                CheckStep(
                    f"{base} model",
                    False,
                    f"serves {served or 'no models'}, not {client.model!r}: set QWENVL_VLM_MODEL to one of them",
                )
            )
            return steps
    except (httpx2.HTTPError, ValueError) as exc:
        steps.append(CheckStep(f"{base} model", False, f"GET {base}/models failed: {exc}"))
        return steps

    single = VLMClient(
        [base],
        client.model,
        api_key=client.api_key,
        timeout=client.timeout,
        max_retries=0,
        min_pixels=client.min_pixels,
        max_pixels=min(client.max_pixels, max(client.min_pixels, 64 * client.media_rules.token_pixels)),
        media_rules=client.media_rules,
    )
    try:
        start = time.perf_counter()
        answer = single.ask("What does this image say? Answer in a few words.", [_probe_image()], max_tokens=8)
        elapsed = time.perf_counter() - start
        usage = dict(answer.usage_metadata or {})
        steps.append(
            CheckStep(
                f"{base} image round trip",
                True,
                f"answered in {elapsed * 1000:.0f} ms, {usage.get('input_tokens', '?')} prompt tokens",
            )
        )
    except VLMError as exc:
        steps.append(CheckStep(f"{base} image round trip", False, str(exc)))
    finally:
        single.close()
    return steps


def run_check(client: VLMClient) -> CheckReport:
    from qwenvl_agents.vlm.client import CheckReport

    steps: list[CheckStep] = []
    with httpx2.Client(timeout=min(client.timeout, 30.0)) as http:
        for base in client.base_urls:
            steps.extend(_check_endpoint(client, base, http))
    return CheckReport(tuple(steps))
