"""Every command that loads a config file names the file, then the field, in its error (exit 2)."""

from pathlib import Path

import pytest

from detector.errors import ConfigError, naming
from tests.cli.support import run_detector


def test_naming_puts_the_file_first_once():
    with pytest.raises(ConfigError, match=r"^cam\.yaml: rules\.x: bad$"), naming("cam.yaml"):
        raise ConfigError("rules.x: bad")
    with pytest.raises(ConfigError, match=r"^cam\.yaml: rules\.x: bad$"), naming("cam.yaml"):
        raise ConfigError("cam.yaml: rules.x: bad")


def test_store_command_names_the_store_config_of_a_bad_url(tmp_path: Path):
    cfg = tmp_path / "store.yaml"
    cfg.write_text("url: 'nowhere-db'\n", encoding="utf-8")
    r = run_detector("review", "list", "--store-config", str(cfg))
    assert r.returncode == 2, r.stderr
    assert f"--store-config {cfg}" in r.stderr and "store url" in r.stderr


def test_plates_names_the_camera_config_of_a_bad_region(tmp_path: Path):
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(
        "camera_id: c1\nname: x\nsource: {uri: 'x.mp4'}\nplates: {country: us, region: zz}\n",
        encoding="utf-8",
    )
    r = run_detector("plates", "read", "--config", str(cfg), str(tmp_path / "none.jpg"))
    assert r.returncode == 2, r.stderr
    assert f"{cfg}: plates.region" in r.stderr


def test_models_install_of_an_unknown_model_lists_the_known(tmp_path: Path):
    r = run_detector("models", "install", "no-such-model", str(tmp_path / "x.onnx"))
    assert r.returncode == 2
    assert "unknown model 'no-such-model'; known:" in r.stderr
