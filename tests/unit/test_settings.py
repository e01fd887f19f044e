from pathlib import Path

from qwenvl_agents.settings import Settings


def test_env_prefix_and_endpoint_list(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("QWENVL_VLM_BASE_URL", " http://a:8000/v1/ , http://b:8001/v1 ")
    monkeypatch.setenv("QWENVL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QWENVL_MAX_PIXELS", "50176")
    s = Settings(_env_file=None)
    assert s.vlm_base_urls == ["http://a:8000/v1", "http://b:8001/v1"]
    assert s.data_dir == tmp_path
    assert s.max_pixels == 50176
    assert s.page_image_dir == tmp_path / "page-images"


def test_defaults_need_no_server(monkeypatch) -> None:
    for key in ("QWENVL_VLM_BASE_URL", "QWENVL_DATA_DIR"):
        monkeypatch.delenv(key, raising=False)
    s = Settings(_env_file=None)
    assert s.vlm_base_urls == []
    assert s.min_pixels == 256 * 28 * 28 and s.max_pixels == 1280 * 28 * 28
    assert isinstance(s.data_dir, Path) and "qwenvl-agents" in str(s.data_dir)
    assert Settings(_env_file=None, vlm_base_url="  ").vlm_base_urls == []
