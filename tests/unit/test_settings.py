import os
import subprocess
import sys
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


def _model_seen_by_a_new_process(cwd: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "QWENVL_ENV_FILE"} | env
    code = "from qwenvl_agents.settings import Settings; print(Settings().vlm_model)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=environ, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_settings_file_is_dotenv_or_the_one_qwenvl_env_file_names(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("QWENVL_VLM_MODEL=from-dotenv\n")
    other = tmp_path / "prod.env"
    other.write_text("QWENVL_VLM_MODEL=from-prod-env\n")
    assert _model_seen_by_a_new_process(tmp_path) == "from-dotenv"
    assert _model_seen_by_a_new_process(tmp_path, QWENVL_ENV_FILE=str(other)) == "from-prod-env"
    assert _model_seen_by_a_new_process(tmp_path, QWENVL_ENV_FILE="") == Settings.model_fields["vlm_model"].default


def test_each_test_is_isolated_from_the_developers_setup(tmp_path_factory) -> None:
    # tests/conftest.py removes the shell's QWENVL_* variables, turns off .env and gives each test a data dir.
    leaked = {k for k in os.environ if k.startswith("QWENVL_") and not k.startswith(("QWENVL_TEST_", "QWENVL_CORPUS"))}
    assert leaked == {"QWENVL_ENV_FILE", "QWENVL_DATA_DIR"}
    assert os.environ["QWENVL_ENV_FILE"] == ""
    assert Settings().data_dir.is_relative_to(tmp_path_factory.getbasetemp())
    assert list(Settings().data_dir.iterdir()) == []
