"""Several images in one prompt: what changed between these pictures?

    python examples/compare_images.py                          # two generated pictures (before / after)
    python examples/compare_images.py before.jpg after.jpg     # your own: files or http(s) URLs, 2 or more
    python examples/compare_images.py a.png b.png c.png --prompt "Which picture shows the open door?"

Each image is sized within Qwen2.5-VL's pixel budget here (QWENVL_MIN_PIXELS / QWENVL_MAX_PIXELS) and its
visual tokens are printed; with QWENVL_VLM_MAX_IMAGES_PER_PROMPT set (vLLM's --limit-mm-per-prompt), too many
images are refused before anything is sent. Needs a vLLM server with Qwen2.5-VL (QWENVL_VLM_BASE_URL,
QWENVL_VLM_MODEL). The same from the command line:

    qwenvl vlm ask -i before.jpg -i after.jpg "What changed between these pictures?"
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from qwenvl_agents import Settings
from qwenvl_agents.errors import QwenVLError
from qwenvl_agents.vlm import ModelPort

PROMPT = "These pictures show the same place at different times. What changed between them? Be specific."


def write_pictures(folder: Path) -> list[Path]:
    """A room before and after: the box moved, a ladder appeared in front of the door."""
    paths = []
    for name, box_x, ladder in (("before.png", 80, False), ("after.png", 420, True)):
        image = Image.new("RGB", (640, 420), (214, 214, 206))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 330, 640, 420), fill=(120, 110, 100))  # floor
        draw.rectangle((270, 120, 370, 330), fill=(40, 120, 60))  # door
        draw.text((300, 100), "EXIT", fill=(0, 140, 0))
        draw.rectangle((box_x, 250, box_x + 110, 330), fill=(170, 120, 60), outline=(90, 60, 30), width=3)
        if ladder:
            for x in (285, 355):
                draw.line((x, 140, x, 330), fill=(200, 170, 0), width=6)
            for y in range(160, 330, 30):
                draw.line((285, y, 355, y), fill=(200, 170, 0), width=4)
        path = folder / name
        image.save(path)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", help="two or more image files or URLs (default: generated pictures)")
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()

    settings = Settings()
    if not settings.vlm_base_urls:
        sys.exit("Set QWENVL_VLM_BASE_URL to your vLLM server (e.g. http://127.0.0.1:8000/v1).")
    if len(args.images) == 1:
        sys.exit("Give two or more images to compare.")
    with tempfile.TemporaryDirectory() as tmp, ModelPort.from_settings(settings) as port:
        client = port.client  # the server client: image checks, sizing and ``ask``
        images: list[str | Path] = list(args.images) or list(write_pictures(Path(tmp)))
        try:
            client.check_image_count(len(images))  # before reading or sending anything
            prepared = [client.prepare(image) for image in images]
        except QwenVLError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for i, p in enumerate(prepared, 1):
            print(
                f"image {i}: {p.source} {p.original_width}x{p.original_height} -> "
                f"{p.width}x{p.height} = {p.tokens} visual tokens"
            )
        try:
            answer = client.ask(args.prompt, prepared, max_tokens=args.max_tokens)
        except QwenVLError as exc:  # unreachable server, too many images for the server, prompt too long
            print(f"error: {exc}", file=sys.stderr)
            return 1
    usage = answer.usage_metadata or {}
    print(f"\nQ: {args.prompt}\nA: {answer.text}")
    print(
        f"\n{usage.get('input_tokens', 0)} input tokens ({sum(p.tokens for p in prepared)} of them visual), "
        f"{usage.get('output_tokens', 0)} output tokens"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
