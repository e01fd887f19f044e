"""Finding the fonts the samples are drawn with.

Nothing is bundled: the repository must not carry third-party font files, and every Linux distribution
packages DejaVu and WenQuanYi. The fonts found decide the exact bytes of the output, so output is
byte-identical between runs on one machine, not necessarily across machines with different fonts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from qwenvl_agents.errors import MissingDependencyError

CJK_FONT_ENV = "QWENVL_CJK_FONT"

CJK_INSTALL_HINT = (
    "Install one with `sudo apt-get install fonts-wqy-microhei` (Debian/Ubuntu; `dnf install "
    "wqy-microhei-fonts` on Fedora), or point the QWENVL_CJK_FONT environment variable at a TrueType "
    "(.ttf/.ttc with TrueType outlines) font that covers Simplified Chinese."
)
MONO_INSTALL_HINT = (
    "Install one with `sudo apt-get install fonts-dejavu-core` (Debian/Ubuntu; `dnf install "
    "dejavu-sans-mono-fonts` on Fedora)."
)

# Ordered by preference. Noto/Source Han CJK are listed last: they are OpenType with CFF outlines, which
# reportlab cannot embed, so they are only ever accepted if a future reportlab learns to load them.
_CJK_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)

_MONO_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/liberation-mono/LiberationMono-Regular.ttf",
    "/System/Library/Fonts/Menlo.ttc",
    "C:/Windows/Fonts/consola.ttf",
)

# Every Chinese character the samples print must be in the font; a handful of common ones is enough to
# tell a CJK font from a Latin font that happens to be installed under a misleading name.
_CJK_PROBE = "发票号码开票日期价税合计壹万元"


@dataclass(frozen=True, slots=True)
class FontFile:
    """A font file and, for collections (.ttc), which face in it to use."""

    path: Path
    index: int = 0


def _fc_list(pattern: str) -> list[Path]:
    """Font files fontconfig knows for ``pattern``; empty when fontconfig is not installed."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run([fc_list, pattern, "file"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = {line.strip().rstrip(":") for line in out.splitlines() if line.strip()}
    return [Path(f) for f in sorted(files) if f.lower().endswith((".ttf", ".ttc"))]


def _reportlab_can_embed(font: FontFile) -> bool:
    """Whether reportlab loads the face (TrueType outlines) and it covers the Chinese the samples use."""
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    try:
        face = TTFont("QwenVLProbe", str(font.path), subfontIndex=font.index).face
    except (TTFError, OSError, ValueError, IndexError):
        return False
    return all(ord(ch) in face.charToGlyph for ch in _CJK_PROBE)


def find_cjk_font() -> FontFile:
    """A font that can draw and embed Simplified Chinese, or :class:`MissingDependencyError`.

    ``QWENVL_CJK_FONT`` (a path) wins over the search of the usual locations and fontconfig.
    """
    override = os.environ.get(CJK_FONT_ENV, "").strip()
    if override:
        font = FontFile(Path(override).expanduser())
        if not font.path.is_file():
            raise MissingDependencyError(f"{CJK_FONT_ENV}={override} does not name a file. {CJK_INSTALL_HINT}")
        if not _reportlab_can_embed(font):
            raise MissingDependencyError(
                f"{CJK_FONT_ENV}={override} is not a TrueType font covering Simplified Chinese "
                f"(OpenType/CFF fonts such as Noto Sans CJK cannot be embedded by reportlab). "
                f"{CJK_INSTALL_HINT}"
            )
        return font
    seen: set[Path] = set()
    for path in [Path(p) for p in _CJK_CANDIDATES] + _fc_list(":lang=zh-cn"):
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        if _reportlab_can_embed(FontFile(path)):
            return FontFile(path)
    raise MissingDependencyError(f"No TrueType font for Simplified Chinese was found. {CJK_INSTALL_HINT}")


def find_mono_font() -> FontFile:
    """A monospaced TrueType font for receipt text (never PIL's bitmap default)."""
    for path in [Path(p) for p in _MONO_CANDIDATES] + _fc_list(":spacing=mono"):
        if path.is_file():
            return FontFile(path)
    raise MissingDependencyError(f"No monospaced TrueType font (DejaVu Sans Mono) was found. {MONO_INSTALL_HINT}")


def monospace_face(font: FontFile) -> FontFile:
    """The ``Mono`` face of a collection when it has one (WenQuanYi ships one), else ``font`` itself.

    Chinese till receipts are printed on a fixed grid where a character is two columns wide; the Mono
    face of WenQuanYi gives that look.
    """
    from PIL import ImageFont

    if font.path.suffix.lower() != ".ttc":
        return font
    for index in range(8):
        try:
            family, _style = ImageFont.truetype(str(font.path), 12, index=index).getname()
        except OSError:
            break
        if family and "mono" in family.lower():
            return FontFile(font.path, index)
    return font
