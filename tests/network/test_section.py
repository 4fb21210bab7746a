"""Section average speed with two cameras made from the sample scene: camera A sees the near part
of the road and times vehicles at y = 14 m, camera B the far part and times them at y = 40 m (26 m
apart), each with its own clock offset. Tracks are the generator's exact boxes written as track
records (tracks.jsonl form); plates are the ground truth's, with candidate lists written here (the
misreads are made on purpose, as a reader makes them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from detector.config import SectionCamera, SectionConfig, SectionSpeedLimit
from detector.network.plate_match import Reading
from detector.network.section import BundleRef, Passage, SectionRule, crossings
from detector.plates.grammar import TO_LETTER
from detector.sample.groundtruth import GroundTruth, load_ground_truth

TRUTH = Path(__file__).resolve().parents[2] / "sample_videos" / "ground_truth.json"
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
SPLIT_Y = 27.0  # camera A's view ends and camera B's begins here (world metres along the road)
LINE_A, LINE_B = 14.0, 40.0
CLOCK_B_OFFSET_S = 0.015  # camera B's clock runs ahead of A's by this much (within its bound)


@pytest.fixture(scope="module")
def truth() -> GroundTruth:
    return load_ground_truth(TRUTH)


def _records(truth: GroundTruth, near: bool) -> list[dict[str, object]]:
    out = []
    for v in truth.vehicles:
        for b in v.boxes:
            if b.visible < 0.99 or (b.world_y < SPLIT_Y) != near:
                continue
            out.append(
                {
                    "frame": b.frame,
                    "t": b.t,
                    "track_id": v.id,
                    "class": v.vehicle_class,
                    "box": [b.x1, b.y1, b.x2, b.y2],
                    "conf": 0.9,
                }
            )
    return out


def _passages(truth: GroundTruth, near: bool, readings: dict[int, Reading]) -> list[Passage]:
    h = np.linalg.inv(np.array(truth.scene.camera.homography_world_to_image))
    y = LINE_A if near else LINE_B
    cam = "camA" if near else "camB"
    offset = 0.0 if near else CLOCK_B_OFFSET_S
    return [
        Passage(
            cam,
            c.track_id,
            T0 + timedelta(seconds=c.t + offset),
            c.vehicle_class,
            readings[c.track_id],
            BundleRef(cam, f"{cam}-{c.track_id}", f"{c.track_id:064x}"),
        )
        for c in crossings(_records(truth, near), h, ((0.0, y), (10.0, y)))
    ]


def _section() -> SectionConfig:
    return SectionConfig(
        id="ql1a-km10",
        name="QL1A km 10, northbound",
        cameras=(
            SectionCamera(camera_id="camA", chainage_m=10_000.0 + LINE_A, clock_uncertainty_s=0.02),
            SectionCamera(camera_id="camB", chainage_m=10_000.0 + LINE_B, clock_uncertainty_s=0.02),
        ),
        distance_uncertainty_m=0.2,
        limits=(SectionSpeedLimit(limit_kmh=50.0),),
        tolerance_kmh=3.0,
    )


def _sure(truth: GroundTruth) -> dict[int, Reading]:
    return {v.id: Reading.of([(v.plate, 0.93), (v.plate[:-1] + "9", 0.03)]) for v in truth.vehicles}


def _speeder(truth: GroundTruth) -> int:
    return next(v.id for v in truth.vehicles if any(x.type == "speeding" for x in v.violations))


def test_only_the_speeder_is_flagged_at_the_right_section_speed(truth: GroundTruth) -> None:
    rule = SectionRule(_section())
    a, b = _passages(truth, True, _sure(truth)), _passages(truth, False, _sure(truth))
    assert len(a) >= 8 and len(b) >= 5  # every vehicle that drives through crosses both lines
    found = rule.check(a + b)
    speeder = _speeder(truth)
    assert [(v.entry.track_id, v.exit.track_id, v.decision) for v in found] == [(speeder, speeder, "fine")]
    v = found[0]
    true_kmh = next(x.speed_kmh for x in truth.vehicles if x.id == speeder)
    # B's clock is 15 ms ahead: the nominal speed is a little low; the bound still holds it
    assert abs(v.speed_kmh - true_kmh) < 2.0 and v.speed_low_kmh < true_kmh < v.speed_kmh + 2.0
    assert v.distance_m == pytest.approx(LINE_B - LINE_A)
    m = v.measured
    assert m.entry_event_id == f"camA-{speeder}" and m.exit_event_id == f"camB-{speeder}"
    assert m.speed_uncertainty_kmh > 0 and m.plate_match == "exact"
    assert m.excess_kmh == pytest.approx(v.speed_low_kmh - v.limit_kmh, abs=0.02)


def test_misread_character_at_one_end_still_matches_but_goes_to_review(truth: GroundTruth) -> None:
    speeder = _speeder(truth)
    plate = next(v.plate for v in truth.vehicles if v.id == speeder)
    i = max(k for k, c in enumerate(plate) if c in TO_LETTER)
    wrong = plate[:i] + TO_LETTER[plate[i]] + plate[i + 1 :]  # e.g. 8 read as B: an OCR confusion
    exit_reads = _sure(truth) | {speeder: Reading.of([(wrong, 0.6), (plate, 0.35)])}
    found = SectionRule(_section()).check(
        _passages(truth, True, _sure(truth)) + _passages(truth, False, exit_reads)
    )
    assert [(v.entry.track_id, v.exit.track_id) for v in found] == [(speeder, speeder)]
    assert found[0].decision == "review" and found[0].match.kind == "candidates"
    assert "confidence 0.35" in found[0].reasons[0]
    # only the top read, no candidates: a tolerant match, review as well
    only_top = _sure(truth) | {speeder: Reading.of([(wrong, 0.9)])}
    found = SectionRule(_section()).check(
        _passages(truth, True, _sure(truth)) + _passages(truth, False, only_top)
    )
    assert [(v.exit.track_id, v.decision, v.match.kind) for v in found] == [(speeder, "review", "tolerant")]


def test_letter_o_for_zero_is_the_same_plate(truth: GroundTruth) -> None:
    speeder = _speeder(truth)
    plate = next(v.plate for v in truth.vehicles if v.id == speeder)
    o_read = plate.replace("0", "O") if "0" in plate else plate
    exit_reads = _sure(truth) | {speeder: Reading.of([(o_read, 0.93)])}
    found = SectionRule(_section()).check(
        _passages(truth, True, _sure(truth)) + _passages(truth, False, exit_reads)
    )
    assert [(v.exit.track_id, v.decision) for v in found] == [(speeder, "fine")]


def test_a_different_car_does_not_match(truth: GroundTruth) -> None:
    speeder = _speeder(truth)
    plate = next(v.plate for v in truth.vehicles if v.id == speeder)
    for other in (plate[:4] + "913.21", plate[:-1] + ("6" if plate[-1] != "6" else "3")):
        exit_reads = _sure(truth) | {speeder: Reading.of([(other, 0.95), (other[:-1] + "1", 0.02)])}
        found = SectionRule(_section()).check(
            _passages(truth, True, _sure(truth)) + _passages(truth, False, exit_reads)
        )
        assert found == [], other


def test_clock_uncertainty_is_what_keeps_a_borderline_car_out() -> None:
    reading = Reading.of([("51F12345", 0.95)])
    p = Passage("camA", 1, T0, "car", reading, None)
    q = Passage("camB", 2, T0 + timedelta(seconds=1.55), "car", reading, None)  # 26 m in 1.55 s: 60.4 km/h
    tight = _section()
    loose = tight.model_copy(
        update={"cameras": tuple(c.model_copy(update={"clock_uncertainty_s": 0.5}) for c in tight.cameras)}
    )
    assert [v.decision for v in SectionRule(tight).check([p, q])] == ["review"]  # no bundles: review
    assert SectionRule(loose).check([p, q]) == []


def test_section_config_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="increasing chainage_m"):
        SectionConfig(
            id="s",
            cameras=(
                SectionCamera(camera_id="a", chainage_m=5, clock_uncertainty_s=0),
                SectionCamera(camera_id="b", chainage_m=1, clock_uncertainty_s=0),
            ),
            limits=(SectionSpeedLimit(limit_kmh=50),),
        )


def test_cli_pairs_passage_files_stores_once_and_api_serves(truth: GroundTruth, tmp_path: Path) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from detector.cli import main_group
    from detector.network.section import passage_record
    from tests.api.support import make_api
    from tests.store.support import Keys

    for near, name in ((True, "a.jsonl"), (False, "b.jsonl")):
        lines = [json.dumps(passage_record(p)) for p in _passages(truth, near, _sure(truth))]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    (tmp_path / "net.yaml").write_text(yaml.safe_dump({"sections": [_section().model_dump(mode="json")]}))
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    cfg = tmp_path / "store.yaml"
    cfg.write_text(
        f"url: sqlite:///{tmp_path / 's.db'}\nevidence_dir: ev\nquarantine_dir: q\ntrusted_keys: {trusted}\n"
    )
    runner = CliRunner()
    assert runner.invoke(main_group, ["db", "upgrade", "--store-config", str(cfg)]).exit_code == 0
    args = [
        "section",
        "check",
        "--store-config",
        str(cfg),
        "--network",
        str(tmp_path / "net.yaml"),
        str(tmp_path / "a.jsonl"),
        str(tmp_path / "b.jsonl"),
    ]
    for _ in range(2):  # the same passages again store nothing new
        r = runner.invoke(main_group, args, catch_exceptions=False)
        assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    speeder = _speeder(truth)
    assert [(x["entry_event_id"], x["exit_event_id"], x["decision"]) for x in rows] == [
        (f"camA-{speeder}", f"camB-{speeder}", "fine")
    ]
    api = make_api(f"sqlite:///{tmp_path / 's.db'}", tmp_path, Keys(None, trusted, None))  # type: ignore[arg-type]
    served = api.client.get("/v1/sections/violations", headers=api.h("viewer")).json()
    assert [x["id"] for x in served] == [rows[0]["id"]] and served[0]["speed_low_kmh"] > 53.0
    api.client.close()
    api.store.services.close()
    (tmp_path / "bad.jsonl").write_text('{"camera_id": "camA", "time": "2026-12-07T08:00:00"}\n')
    from detector.errors import ConfigError

    with pytest.raises(ConfigError, match="bad.jsonl:1"):
        runner.invoke(main_group, [*args[:6], str(tmp_path / "bad.jsonl")], catch_exceptions=False)
