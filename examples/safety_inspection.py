"""Safety inspection with a fixed answer format: one validated JSON line per image, errors included.

    python examples/safety_inspection.py                           # generated site pictures
    python examples/safety_inspection.py photos/ https://cams.example.org/gate.jpg

The questions are the fields of ``SafetyReport`` (their descriptions are the prompt); the answer is
constrained by its JSON schema and validated, an invalid answer is asked again, and an image that cannot be
read (a missing file, a URL that does not answer in time) gets an error line while the others go on. Exit
status 1 when any image failed. Needs a vLLM server with Qwen2.5-VL (QWENVL_VLM_BASE_URL, QWENVL_VLM_MODEL).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw
from pydantic import BaseModel, Field

from qwenvl_agents import Settings
from qwenvl_agents.vlm import ModelPort
from qwenvl_agents.workflows.inspection import VisualInspector

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class HardHats(str, Enum):
    all = "all"
    some = "some"
    none = "none"
    no_people = "no people"


class SafetyReport(BaseModel):
    """What a site inspector checks on each camera picture."""

    fire: Literal["yes", "no", "unsure"] = Field(description="Is there fire or are there flames anywhere?")
    smoke: Literal["yes", "no", "unsure"] = Field(description="Is there smoke anywhere?")
    hard_hats: HardHats = Field(description="Do the people in the picture wear hard hats?")
    blocked_exit: Literal["yes", "no", "no exit visible"] = Field(
        description="Is an emergency exit or escape route blocked by something?"
    )
    details: str = Field(description="What you see that matters for safety, in one short sentence.")


INSTRUCTIONS = "The pictures come from cameras on a construction site and in its warehouse."


def write_scenes(folder: Path) -> list[Path]:
    """Simple drawn scenes: a fire, a worker with a hard hat, a blocked exit."""
    scenes = []
    for name in ("fire", "worker", "blocked-exit"):
        image = Image.new("RGB", (640, 420), (200, 205, 210))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 320, 640, 420), fill=(110, 100, 90))
        if name == "fire":
            draw.polygon([(250, 320), (300, 170), (330, 250), (360, 150), (410, 320)], fill=(240, 110, 20))
            draw.polygon([(290, 320), (320, 230), (350, 320)], fill=(255, 220, 40))
            draw.ellipse((230, 40, 450, 160), fill=(90, 90, 90))
        elif name == "worker":
            draw.ellipse((300, 120, 340, 160), fill=(230, 190, 160))  # head
            draw.chord((292, 105, 348, 150), 180, 360, fill=(250, 210, 0))  # hard hat
            draw.rectangle((300, 160, 340, 250), fill=(255, 140, 0))  # vest
            draw.line((310, 250, 300, 320), fill=(40, 40, 90), width=8)
            draw.line((330, 250, 340, 320), fill=(40, 40, 90), width=8)
        else:
            draw.rectangle((260, 110, 380, 320), fill=(30, 130, 60))  # door
            draw.text((300, 90), "EXIT", fill=(0, 150, 0))
            for x, y in ((240, 250), (320, 250), (280, 190)):
                draw.rectangle((x, y, x + 80, y + 70), fill=(170, 120, 60), outline=(90, 60, 30), width=3)
        path = folder / f"{name}.png"
        image.save(path)
        scenes.append(path)
    return scenes


def expand(inputs: list[str]) -> list[str]:
    """Files and URLs as given; a folder becomes its image files, sorted."""
    out: list[str] = []
    for item in inputs:
        path = Path(item)
        if "://" not in item and path.is_dir():
            out += [str(p) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        else:
            out.append(item)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", help="image files, folders or URLs (default: generated scenes)")
    parser.add_argument("--concurrency", type=int, default=8, help="images in flight at once")
    args = parser.parse_args()

    settings = Settings()
    if not settings.vlm_base_urls:
        sys.exit("Set QWENVL_VLM_BASE_URL to your vLLM server (e.g. http://127.0.0.1:8000/v1).")
    with tempfile.TemporaryDirectory() as tmp, ModelPort.from_settings(settings) as port:
        images = expand(args.images) if args.images else [str(p) for p in write_scenes(Path(tmp))]
        inspector = VisualInspector.from_port(
            port, SafetyReport, instructions=INSTRUCTIONS, max_concurrency=args.concurrency
        )
        failed = 0
        # Lines come as images finish; each names its image, so the order does not matter.
        for _, result in inspector.batch_as_completed(images):
            record = result.to_dict()
            if result.ok:
                record.pop("raw")  # the validated answer says it all
            failed += not result.ok
            print(json.dumps(record, ensure_ascii=False), flush=True)
    print(f"{len(images) - failed} of {len(images)} images inspected, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
