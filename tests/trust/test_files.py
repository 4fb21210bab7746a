"""Issue 15, failure 8: file modes of the store and evidence, the development key outside the run
folder, and `plates read` reporting a bad file in its own record while reading the others."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.plates.support import VN, need
from tests.store.support import Keys, make_bundles, make_store


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_store_and_evidence_are_private(tmp_path: Path, keys: Keys, bundles: list[Path]) -> None:
    st = make_store(f"sqlite:///{tmp_path / 'db' / 'store.db'}", tmp_path, keys)
    assert st.services.ingest.ingest_path(bundles[0]).status == "accepted"
    db = tmp_path / "db" / "store.db"
    assert _mode(db) == 0o600, oct(_mode(db))
    for p in [tmp_path / "evidence", *(tmp_path / "evidence").rglob("*")]:
        assert _mode(p) == (0o700 if p.is_dir() else 0o600), (p, oct(_mode(p)))
    st.services.close()
    root = tmp_path / "edge"
    made = make_bundles(root, keys.signer, 1)
    for p in [root, *root.rglob("*")]:
        if p.name.endswith(".lock"):
            continue
        assert _mode(p) == (0o700 if p.is_dir() else 0o600), (p, oct(_mode(p)))
    assert made


def test_development_key_is_outside_the_run_folder(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from detector.evidence.keys import PRIVATE_NAME, dev_key_dir

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    d = dev_key_dir()
    assert d == tmp_path / "state" / "detector" / "dev-key"
    monkeypatch.setenv("DETECTOR_DEV_KEY_DIR", str(tmp_path / "k"))
    assert dev_key_dir() == tmp_path / "k"
    # the runtime uses it: a replay without a key makes its key there and leaves none under --out
    from detector.config import load_camera_config
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest, RunSession

    config = REPO / "configs" / "sample_scene.yaml"
    cfg = load_camera_config(config)
    assert cfg.evidence.key_path is None, "the sample config names a key: this check needs one without"
    out = tmp_path / "run"
    req = RunRequest(cfg, config, out, preview=False, store=False, loop=LoopOptions(max_frames=1))
    session = RunSession.open(req)
    session.close()
    assert (tmp_path / "k" / PRIVATE_NAME).is_file()
    assert any(str(tmp_path / "k") in note for note in session.notes), session.notes
    assert not [p for p in out.rglob("*") if p.name == PRIVATE_NAME]


def test_plates_read_reports_a_bad_file_and_goes_on(tmp_path: Path) -> None:
    images = sorted(need(VN).glob("*.jpg"))[:4]
    assert len(images) == 4
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    args = [str(images[0]), str(images[1]), str(bad), str(images[2]), str(images[3])]
    r = subprocess.run(
        [sys.executable, "-m", "detector", "plates", "read", "--crop", "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["image"] for rec in recs] == args
    assert recs[2]["error"] == "not an image OpenCV can read" and recs[2]["text"] is None
    assert all("error" not in rec for i, rec in enumerate(recs) if i != 2)
    assert sum(rec["text"] is not None for rec in recs) >= 3
    assert "1 image(s) could not be read" in r.stderr and "broken.jpg" in r.stderr
