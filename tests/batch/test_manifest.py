"""What `detector replay-batch` plans from a manifest or a folder, and the errors it gives before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from detector.batch.manifest import folder_entries, plan_jobs
from detector.config import ManifestEntry, load_batch_manifest
from detector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CFG = REPO / "configs" / "sample_scene.yaml"


def test_manifest_paths_resolve_beside_it_and_jobs_get_their_folders(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    m = tmp_path / "batch.yaml"
    m.write_text(
        yaml.safe_dump(
            {
                "videos": [
                    {"video": "rec/a.mp4", "config": str(SAMPLE_CFG)},
                    {"video": "rec/b.mp4", "config": str(SAMPLE_CFG), "camera_id": "cam-b", "max_frames": 5},
                ]
            }
        )
    )
    entries = load_batch_manifest(m)
    assert entries[0].video == str((tmp_path / "rec" / "a.mp4").resolve())
    jobs = plan_jobs(entries, ["cam-a", "cam-a"], tmp_path / "out", tmp_path / "keys", max_frames=50)
    assert [(j.name, j.camera_id, j.max_frames, j.out) for j in jobs] == [
        ("a", None, 50, tmp_path / "out" / "a"),
        ("b", "cam-b", 5, tmp_path / "out" / "b"),
    ]


def test_a_video_named_like_the_batch_folders_does_not_write_into_them() -> None:
    entries = [
        ManifestEntry(config="x.yaml", video="/v/store.mp4"),
        ManifestEntry(config="x.yaml", name="keys"),
    ]
    jobs = plan_jobs(entries, ["a", "b"], Path("out"), Path("out/keys"))
    assert [j.out for j in jobs] == [Path("out/store-video"), Path("out/keys-video")]


def test_two_entries_on_one_camera_chain_are_refused() -> None:
    entries = [
        ManifestEntry(config="x.yaml", video="/v/a.mp4"),
        ManifestEntry(config="x.yaml", video="/v/b.mp4"),
    ]
    with pytest.raises(ConfigError, match=r"entries 1 and 2: both replay camera 'cam'.*camera_id"):
        plan_jobs(entries, ["cam", "cam"], Path("out"), Path("keys"))
    entries = [
        ManifestEntry(config="x.yaml", video="/v/a.mp4", camera_id="c1"),
        ManifestEntry(config="y.yaml", video="/w/a.mp4", camera_id="c2"),
    ]
    with pytest.raises(ConfigError, match=r"entries 1 and 2: both write to .*a \(set `name`\)"):
        plan_jobs(entries, ["cam", "cam"], Path("out"), Path("keys"))


def test_folder_mode_gives_each_video_its_own_camera_and_needs_a_config(tmp_path: Path) -> None:
    for name in ("0800.mp4", "0900.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ConfigError, match=r"0800.mp4: no camera config"):
        folder_entries(tmp_path, None)
    entries = folder_entries(tmp_path, SAMPLE_CFG)
    jobs = plan_jobs(entries, ["cam1", "cam1"], tmp_path / "out", tmp_path / "k", folder_mode=True)
    assert [j.camera_id for j in jobs] == ["cam1-0800", "cam1-0900"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no video files"):
        folder_entries(empty, SAMPLE_CFG)


def test_cli_names_the_bad_field_and_exits_2(tmp_path: Path) -> None:
    m = tmp_path / "batch.yaml"
    m.write_text(yaml.safe_dump({"videos": [{"config": str(SAMPLE_CFG), "max_frame": 3}]}))
    r = subprocess.run(
        [sys.executable, "-m", "detector", "replay-batch", str(m), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 2
    assert "invalid batch manifest" in r.stderr and "videos.0.max_frame" in r.stderr
    assert not (tmp_path / "o").exists()  # nothing made before the manifest is valid
