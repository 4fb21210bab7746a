"""Traffic statistics against the sample scene's ground truth. The expected counts are derived
here from the generator's exact motion (each vehicle's ground point crossing world y = 20 m in the
direction of travel, its lane from its x there), not typed in. This module feeds the generator's
exact boxes as track records; test_e2e_sample.py feeds the real detector's and tracker's."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.network.stats import ALL
from detector.sample.groundtruth import GroundTruth, load_ground_truth
from tests.network.support import (
    ROOT,
    counts_of,
    stats_of,
    truth_counts,
    truth_queue_m,
)


@pytest.fixture(scope="module")
def truth() -> GroundTruth:
    return load_ground_truth(ROOT / "sample_videos" / "ground_truth.json")


def test_counts_speeds_queue_from_exact_tracks(truth: GroundTruth) -> None:
    records = [
        {
            "frame": b.frame,
            "t": b.t,
            "track_id": v.id,
            "class": v.vehicle_class,
            "box": [b.x1, b.y1, b.x2, b.y2],
        }
        for v in truth.vehicles
        for b in v.boxes
        if b.visible >= 0.9
    ]
    stats = stats_of(records)
    expected = truth_counts(truth)
    assert sum(expected.values()) == 10  # all but the wrong-way car cross the line with the traffic
    assert counts_of(stats) == expected
    lane1 = [s for s in stats if s.lane_id == "lane_1" and s.vehicle_class == ALL]
    # lane 1 carries cars at 40 and 45 km/h only
    assert all(s.speed_median_kmh is None or 39.0 <= s.speed_median_kmh <= 46.0 for s in lane1)
    q = max(s.queue_max_m or 0.0 for s in stats)
    assert q == pytest.approx(truth_queue_m(truth), abs=0.5)
    jam = [s for s in stats if s.lane_id == "lane_0" and s.vehicle_class == ALL]
    assert jam[0].occupancy is not None and jam[1].occupancy is not None
    assert jam[1].occupancy > jam[0].occupancy and jam[1].congestion in ("heavy", "jammed")


def test_cli_computes_stores_and_api_serves(truth: GroundTruth, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from detector.cli import main_group
    from detector.evidence.keys import write_key_pair
    from tests.api.support import make_api

    kp = write_key_pair(tmp_path / "k")
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    (trusted / "k.pub").write_bytes(kp.public.read_bytes())
    tracks = tmp_path / "tracks.jsonl"
    tracks.write_text(
        "".join(
            json.dumps(
                {
                    "frame": b.frame,
                    "t": b.t,
                    "track_id": v.id,
                    "class": v.vehicle_class,
                    "box": [b.x1, b.y1, b.x2, b.y2],
                }
            )
            + "\n"
            for v in truth.vehicles
            for b in v.boxes
            if b.visible >= 0.9
        )
    )
    cfg = tmp_path / "store.yaml"
    cfg.write_text(
        f"url: sqlite:///{tmp_path / 's.db'}\nevidence_dir: ev\nquarantine_dir: q\ntrusted_keys: {trusted}\n"
    )
    runner = CliRunner()
    assert runner.invoke(main_group, ["db", "upgrade", "--store-config", str(cfg)]).exit_code == 0
    args = [
        "stats",
        "compute",
        "--store-config",
        str(cfg),
        "--camera-config",
        str(ROOT / "configs" / "sample_scene.yaml"),
        "--tracks",
        str(tracks),
        "--count-line",
        "0",
        "20",
        "12.5",
        "20",
        "--interval",
        "14",
    ]
    for _ in range(2):  # recomputing replaces the rows, never counts twice
        r = runner.invoke(main_group, args, catch_exceptions=False)
        assert r.exit_code == 0, r.output
    printed = json.loads(r.stdout)
    assert sum(s["count"] for s in printed if s["vehicle_class"] != ALL) == 10
    from tests.store.support import Keys

    api = make_api(f"sqlite:///{tmp_path / 's.db'}", tmp_path, Keys(None, trusted, None))  # type: ignore[arg-type]
    rows = api.client.get(
        "/v1/stats", params={"camera_id": "sample-ql1a-km1234"}, headers=api.h("viewer")
    ).json()
    assert len(rows) == len(printed) and sum(s["count"] for s in rows if s["vehicle_class"] != ALL) == 10
    assert (
        api.client.get(
            "/v1/stats", params={"since": "2026-11-20T00:00:00"}, headers=api.h("viewer")
        ).status_code
        == 422
    )
    api.client.close()
    api.store.services.close()
