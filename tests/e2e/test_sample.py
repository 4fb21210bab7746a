"""End to end on the generated sample scene: the real detector, tracker, rules, plate reader,
evidence writer and embedded store, checked against the scene's ground truth.

One replay (about a minute on 2 cores) feeds every test in this module.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from detector.config import load_camera_config
from detector.evidence.keys import load_public_key, trusted_keys, write_key_pair
from detector.evidence.manifest import MANIFEST_NAME, parse_manifest
from detector.evidence.verify import verify_chain
from detector.measures import RedLightMeasures, SpeedingMeasures
from detector.pipeline import FrameResult, RunSummary
from detector.runtime.loop import LoopOptions
from detector.runtime.session import RunRequest, RunSession
from detector.sample.groundtruth import GroundTruth, load_ground_truth
from detector.types import Violation
from tests.conftest import REPO
from tests.detect.support import iou

CONFIG = REPO / "configs" / "sample_scene.yaml"
TRUTH = REPO / "sample_videos" / "ground_truth.json"


@dataclass
class Replay:
    summary: RunSummary
    truth: GroundTruth
    tracks_by_frame: dict[int, list[tuple[int, tuple[float, float, float, float]]]]
    bundles: list[Path]
    evidence_root: Path
    key_dir: Path
    store_root: Path
    ingest_statuses: Sequence[str]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """The sample through the runtime `detector replay` runs (RunSession: capture thread, frame loop,
    outputs thread, evidence worker, embedded store)."""
    out = tmp_path_factory.mktemp("sample_replay")
    cfg = load_camera_config(CONFIG)
    keys = write_key_pair(out / "keys")
    by_frame: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = defaultdict(list)

    def on_result(result: FrameResult) -> None:
        d = result.detections
        assert d.tracker_id is not None
        for i in range(len(d)):
            x1, y1, x2, y2 = (float(v) for v in d.xyxy[i])
            by_frame[result.frame.index].append((int(d.tracker_id[i]), (x1, y1, x2, y2)))

    session = RunSession.open(
        RunRequest(cfg, CONFIG, out, preview=False, key=keys.private, loop=LoopOptions(on_result=on_result))
    )
    try:
        session.run()
    finally:
        session.close()
    assert session.built.evidence is not None
    statuses = [r.status for r in session.ingested]
    return Replay(
        session.summary,
        load_ground_truth(TRUTH),
        by_frame,
        [p for _, p in session.built.evidence.written],
        out / "evidence",
        out / "keys",
        out / "store",
        statuses,
    )


def _match_tracks(r: Replay) -> dict[int, Counter[int]]:
    """For each ground-truth vehicle, how often each track id covered it (IoU > 0.5)."""
    cover: dict[int, Counter[int]] = defaultdict(Counter)
    for v in r.truth.vehicles:
        for b in v.boxes:
            if b.visible < 0.95 or b.occluded > 0.1 or b.x2 - b.x1 < 30:
                continue
            best = max(r.tracks_by_frame.get(b.frame, []), key=lambda t: iou(b.xyxy, t[1]), default=None)
            if best is not None and iou(b.xyxy, best[1]) > 0.5:
                cover[v.id][best[0]] += 1
            else:
                cover[v.id][-1] += 1
    return cover


def test_every_vehicle_is_tracked_under_one_id(replay: Replay):
    cover = _match_tracks(replay)
    assert set(cover) == {v.id for v in replay.truth.vehicles}
    for vid, ids in cover.items():
        total = sum(ids.values())
        main_id, main_n = max(
            ((k, n) for k, n in ids.items() if k >= 0), key=lambda kn: kn[1], default=(-1, 0)
        )
        assert main_n / total >= 0.85, (
            f"vehicle {vid}: main track {main_id} covers {main_n}/{total} frames ({ids})"
        )
    mains = [max((k for k in ids if k >= 0), key=lambda k: ids[k]) for ids in cover.values()]
    assert len(set(mains)) == len(mains), "two vehicles share one track id"


def _violation_owner(r: Replay, v: Violation) -> int | None:
    """The ground-truth vehicle whose box the violating track covered at the violation frame."""
    box = next((b for tid, b in r.tracks_by_frame.get(v.frame_index, []) if tid == v.track_id), None)
    if box is None:
        return None
    best = max(
        r.truth.vehicles,
        key=lambda gv: iou(b.xyxy, box) if (b := gv.box_at(v.frame_index)) is not None else 0.0,
    )
    gb = best.box_at(v.frame_index)
    return best.id if gb is not None and iou(gb.xyxy, box) > 0.5 else None


def test_every_ground_truth_violation_found_and_no_false_one(replay: Replay):
    expected = {(vid, t.type) for vid, t in replay.truth.violations()}
    found = [(_violation_owner(replay, v), v.violation_type.value) for v in replay.summary.violations]
    assert len(found) == len(set(found)), f"a violation was reported twice: {found}"
    assert set(found) == expected, f"missing {expected - set(found)}, false {set(found) - expected}"


def test_violation_times_and_measurements_agree_with_truth(replay: Replay):
    truth = {(vid, t.type): t for vid, t in replay.truth.violations()}
    fps = replay.truth.scene.fps
    for v in replay.summary.violations:
        owner = _violation_owner(replay, v)
        assert owner is not None, f"no ground-truth vehicle under {v}"
        t = truth[(owner, v.violation_type.value)]
        assert v.evidence_frames.before <= v.frame_index <= v.evidence_frames.after
        if v.violation_type.value in {"red_light", "speeding", "solid_line"}:
            assert abs(v.frame_index - t.frame) <= 0.5 * fps, (v, t)
        m = v.measured
        if v.violation_type.value == "red_light":
            assert isinstance(m, RedLightMeasures)
            assert m.time_into_red_s == pytest.approx(t.measured["time_into_red_s"], abs=0.3)
        if v.violation_type.value == "speeding":
            assert isinstance(m, SpeedingMeasures)
            true_kmh = t.measured["speed_kmh"]
            assert isinstance(true_kmh, int | float), t
            assert m.speed_kmh == pytest.approx(true_kmh, rel=0.1)
            assert m.speed_kmh - m.speed_uncertainty_kmh > m.limit_kmh


def test_bundles_verify_and_the_store_accepts_each_once(replay: Replay):
    assert len(replay.bundles) == len(replay.summary.violations) == 6
    keys = trusted_keys([load_public_key(replay.key_dir)])
    report = verify_chain(replay.evidence_root / "sample-ql1a-km1234", keys)
    assert report.ok, report.to_dict()
    assert replay.ingest_statuses == ["accepted"] * 6


def test_clips_of_a_camera_in_mpeg4_part2_are_encoded_to_h264(replay: Replay):
    """The sample file is MPEG-4 part 2, which browsers do not play: its bundles' clips are the frames
    encoded to H.264 (a camera's own H.264 would be copied unchanged: tests/evidence/test_packets.py)."""
    import av

    with av.open(str(replay.bundles[0] / "clip.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    for path in replay.bundles:
        m = parse_manifest((path / MANIFEST_NAME).read_bytes())
        assert m.clip is not None and (m.clip.codec, m.clip.source) == ("h264", "encoded"), path


def test_plates_read_are_right_or_flagged(replay: Replay):
    plates = {}
    for bundle in replay.bundles:
        m = json.loads((bundle / "manifest.json").read_text())
        plates[m["violation"]["track_id"]] = m.get("plate")
    owner = {v.track_id: _violation_owner(replay, v) for v in replay.summary.violations}
    gt_plate = {v.id: v.plate for v in replay.truth.vehicles}
    read_right = 0
    for tid, plate in plates.items():
        if not plate:
            continue
        vehicle = owner[tid]
        assert vehicle is not None, f"track {tid} has a plate but no ground-truth vehicle"
        right = plate["text"] == gt_plate[vehicle]
        read_right += right
        assert right or plate["needs_review"], f"track {tid}: confidently wrong plate {plate['text']}"
    assert read_right >= 4, f"only {read_right} of 6 violators' plates read right: {plates}"


def test_traffic_statistics_match_the_ground_truth(replay: Replay):
    """Counts per interval, lane and class from the replay's tracks.jsonl (the real detector and
    tracker) equal the ground truth's exactly; the red-light queue is within a metre of the truth."""
    from detector.network.stats import load_track_records
    from tests.network.support import counts_of, stats_of, truth_counts, truth_queue_m

    stats = stats_of(load_track_records(replay.evidence_root.parent / "tracks.jsonl"))
    assert counts_of(stats) == truth_counts(replay.truth)
    assert max(s.queue_max_m or 0.0 for s in stats) == pytest.approx(truth_queue_m(replay.truth), abs=1.0)
