import hashlib
import threading
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.settings import Settings
from qwenvl_agents.store import PageImageStore


def test_store_is_content_addressed_and_idempotent(tmp_path) -> None:
    store = PageImageStore(tmp_path)
    a = store.put(Image.new("RGB", (40, 30), "white"))
    b = store.put(Image.new("RGB", (40, 30), "white"))
    c = store.put(Image.new("RGB", (40, 30), "black"))
    assert a == b and a.sha256 != c.sha256
    assert hashlib.sha256(Path(a.path).read_bytes()).hexdigest() == a.sha256
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 2
    assert store.open(a.sha256).size == (40, 30)
    assert a.sha256 in store and "0" * 64 not in store


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_formats(tmp_path, fmt) -> None:
    ref = PageImageStore(tmp_path, format=fmt, quality=70).put(Image.new("RGB", (64, 64), "red"))
    assert ref.format == fmt and ref.path.endswith({"png": ".png", "jpeg": ".jpg", "webp": ".webp"}[fmt])
    with Image.open(ref.path) as im:
        assert im.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]


def test_unknown_format_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="format"):
        PageImageStore(tmp_path, format="gif")  # type: ignore[arg-type]


def test_concurrent_writers_leave_one_complete_file(tmp_path) -> None:
    store = PageImageStore(tmp_path)
    image = Image.effect_noise((300, 300), 50).convert("RGB")
    refs = []
    threads = [threading.Thread(target=lambda: refs.append(store.put(image))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.sha256 for r in refs}) == 1
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and not files[0].name.startswith(".tmp-")


def test_store_from_settings_lives_under_data_dir(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, page_image_format="jpeg")
    ref = PageImageStore.from_settings(settings).put(Image.new("RGB", (10, 10)))
    assert ref.path.startswith(str(tmp_path / "page-images")) and ref.format == "jpeg"
