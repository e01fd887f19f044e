"""Ask Qwen2.5-VL about a video: "describe this video" and "what happens when", within the server's limits.

    python examples/video_ask.py                        # a generated 6 s clip (a red disc appears at 3 s)
    python examples/video_ask.py clip.mp4 [more.mp4 ...]
    python examples/video_ask.py --native clip.mp4      # vLLM decodes the video itself (video_url)

The recipe sends a whole video and hopes it fits. Here the frames are sampled evenly over the video, sized
so the whole video costs at most ``max_video_tokens`` visual tokens, and (frames mode) each frame is
labelled with its time, so the model can say *when*; more frames than the server's image limit is refused
before anything is sent. One broken file does not stop the others. Needs a vLLM server with Qwen2.5-VL
(QWENVL_VLM_BASE_URL, QWENVL_VLM_MODEL; QWENVL_VLM_MAX_IMAGES_PER_PROMPT = its image limit).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from qwenvl_agents import Settings
from qwenvl_agents.samples import write_sample_video
from qwenvl_agents.vlm import ModelPort
from qwenvl_agents.workflows.video_qa import ask_videos

QUESTIONS = [
    "Describe this video.",
    "What happens in the video, and at what time (in seconds) does it happen?",
]


def main() -> None:
    args = sys.argv[1:]
    native = "--native" in args
    videos = [a for a in args if a != "--native"]
    settings = Settings()
    if not settings.vlm_base_urls:
        sys.exit("Set QWENVL_VLM_BASE_URL to your vLLM server (e.g. http://127.0.0.1:8000/v1).")
    if not videos:
        videos = [str(write_sample_video(Path(tempfile.mkdtemp()) / "demo-clip.mp4"))]

    failed = False
    with ModelPort.from_settings(settings) as port:
        for question in QUESTIONS:
            print(f"Q: {question}")
            answers = ask_videos(port, videos, question, mode="native" if native else "frames", max_tokens=256)
            for answer in answers:
                if not answer.ok:
                    failed = True
                    print(f"  {answer.video}: ERROR {answer.error}")
                    continue
                times = ", ".join(f"{t:.1f}" for t in answer.timestamps)
                cost = f"{answer.visual_tokens} visual tokens, {answer.input_tokens} prompt tokens"
                print(f"  {Path(answer.video).name} ({answer.mode}: frames at {times} s; {cost})")
                print(f"  A: {answer.answer}\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
