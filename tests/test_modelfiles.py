import hashlib
from pathlib import Path

import pytest

from detector.errors import ModelError
from detector.modelfiles import check_models, install_model, load_manifest


def test_manifest_matches_the_shipped_files():
    statuses = check_models(load_manifest(), models_dir=Path("/nonexistent"))
    by_name = {s.entry.name: s for s in statuses}
    assert by_name["yolo11n"].ok, by_name["yolo11n"]
    assert by_name["ppocrv6-rec-small"].ok
    for s in statuses:
        assert s.origin.startswith("package:") or s.origin == "missing"


def test_install_verifies_sha256_and_keeps_nothing_on_mismatch(tmp_path: Path):
    entry = load_manifest().models[0]
    src = tmp_path / "weights.bin"
    src.write_bytes(b"not the real weights")
    dest = tmp_path / "models"
    with pytest.raises(ModelError, match="does not match"):
        install_model(entry, str(src), models_dir=dest)
    assert list(dest.iterdir()) == []
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    path = install_model(entry, str(src), models_dir=dest, expected_sha256=good)
    assert path == dest / entry.file and path.read_bytes() == src.read_bytes()
    assert check_models(load_manifest(), models_dir=dest)[0].origin == "models/"
    assert not check_models(load_manifest(), models_dir=dest)[0].ok  # a different file than the manifest's


def test_install_refuses_other_schemes(tmp_path: Path):
    with pytest.raises(ModelError, match="only http"):
        install_model(load_manifest().models[0], "ftp://example.invalid/x", models_dir=tmp_path)
