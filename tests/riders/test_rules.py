"""Rider offences: the rider count held over time, and the helmet votes (with a scripted head judge)."""

from __future__ import annotations

import numpy as np

from detector.config import HelmetConfig, RiderCountConfig, RidersConfig
from detector.measures import TooManyRidersMeasures
from detector.riders.associate import Rider, RiderFrame
from detector.riders.helmet import HeadCall
from detector.riders.stage import RiderRules
from detector.store.fines import FineSchedule
from detector.types import Detections, Frame, ViolationType

IMAGE = np.zeros((480, 640, 3), np.uint8)


def frame(i: int, fps: float = 30.0) -> Frame:
    return Frame(image=IMAGE, index=i, timestamp=i / fps, source_id="test")


def rider_frame(i: int, riders: int) -> RiderFrame:
    road = Detections(
        xyxy=np.array([[100, 200, 160, 300]], np.float32),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([3]),
        tracker_id=np.array([7]),
        data={"riders": np.array([riders])},
    )
    boxes = tuple(Rider(10 + k, (100.0 + 5 * k, 140.0, 150.0 + 5 * k, 260.0), 0.8) for k in range(riders))
    return RiderFrame(
        frame_index=i,
        road_users=road,
        riders={7: boxes},
        counts={7: riders},
        rider_ids=frozenset(r.track_id for r in boxes),
    )


class ScriptedJudge:
    """Stands in for the helmet model: answers each look from a script (the voting is under test)."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = list(labels)

    def classify(self, image, rider, others=()):
        label = self.labels.pop(0) if self.labels else "unclear"
        if label == "unclear":
            return HeadCall("unclear", 0.0, 0.0, None, "small")
        p_no = 0.9 if label == "no_helmet" else 0.1
        return HeadCall(label, 0.8, p_no, (110.0, 140.0, 140.0, 170.0))

    def close(self) -> None:
        pass


def test_three_people_on_a_motorbike_held_half_a_second_is_reported_once_for_review():
    rules = RiderRules(RidersConfig(count=RiderCountConfig(min_riders=3, min_duration_s=0.5)), "cam")
    out = []
    for i in range(10):
        out += rules.process(frame(i), rider_frame(i, 2))
    assert out == []
    for i in range(10, 40):
        out += rules.process(frame(i), rider_frame(i, 3))
    assert len(out) == 1
    v = out[0]
    assert v.violation_type == ViolationType.TOO_MANY_RIDERS
    assert isinstance(v.measured, TooManyRidersMeasures)
    assert v.riders == 3 and v.measured.needs_review is True and v.measured.four_or_more is False
    assert v.evidence_frames.before == 10 and v.frame_index >= 25
    fine = FineSchedule.load().choose(v.measured, v.vehicle_class)
    assert fine.rule_id == "motorbike.too_many_riders" and "7(2)(g)" in fine.legal_basis


def test_a_count_that_flickers_to_three_is_not_reported():
    rules = RiderRules(RidersConfig(count=RiderCountConfig(min_riders=3, min_duration_s=0.5)), "cam")
    out = []
    for i in range(60):
        out += rules.process(frame(i), rider_frame(i, 3 if i % 5 == 0 else 2))
    assert out == []


def helmet_rules(script: list[str], **kw) -> RiderRules:
    cfg = RidersConfig(helmet=HelmetConfig(enabled=True, min_sample_gap_s=0.0, **kw))
    return RiderRules(cfg, "cam", helmet=ScriptedJudge(script))  # type: ignore[arg-type]


def run(rules: RiderRules, frames: int) -> list:
    out = []
    for i in range(frames):
        out += rules.process(frame(i), rider_frame(i, 1))
    return out


def test_no_helmet_needs_enough_clear_votes_and_unclear_looks_never_vote():
    # eight looks, only two of them clear: never judged
    out = run(helmet_rules(["unclear"] * 6 + ["no_helmet"] * 2, min_votes=3), 20)
    assert out == []
    out = run(helmet_rules(["no_helmet", "unclear", "no_helmet", "no_helmet"], min_votes=3), 20)
    assert len(out) == 1
    v = out[0]
    assert v.violation_type == ViolationType.NO_HELMET and v.measured.votes_clear == 3
    assert v.measured.needs_review is True  # fewer than 2 x min_votes clear votes
    assert FineSchedule.load().choose(v.measured, "motorcycle").rule_id == "motorbike.no_helmet"


def test_a_rider_seen_with_a_helmet_is_not_reported():
    assert (
        run(helmet_rules(["helmet", "no_helmet", "helmet", "helmet", "no_helmet", "helmet"], min_votes=3), 20)
        == []
    )
    # one helmet vote among six clear ones keeps the 'no helmet' share below 0.9: reported, flagged for review
    out = run(helmet_rules(["no_helmet"] * 5 + ["helmet"], min_votes=6, min_no_helmet_fraction=0.8), 20)
    assert len(out) == 1 and out[0].measured.needs_review is True


def test_every_no_helmet_report_is_reviewed_while_the_model_misses_its_bar():
    # one helmet vote, then four "no helmet": reported at 4 of 5 (0.8), which these settings call sure
    # (5 >= 2 x min_votes, 0.8 >= sure_fraction); a review item all the same by default (always_review)
    script = ["helmet"] + ["no_helmet"] * 4
    sure = {"min_votes": 1, "min_no_helmet_fraction": 0.8, "sure_fraction": 0.8}
    out = run(helmet_rules(script, **sure), 20)
    assert len(out) == 1 and out[0].measured.votes_clear == 5
    assert out[0].measured.needs_review is True and out[0].measured.review_reasons
    out = run(helmet_rules(script, always_review=False, **sure), 20)
    assert len(out) == 1 and out[0].measured.needs_review is False


def test_the_helmet_budget_and_zone_are_kept():
    rules = helmet_rules(
        ["helmet"] * 100, max_crops_per_frame=1, max_samples=4, zone=[(0, 0), (50, 0), (50, 50), (0, 50)]
    )
    run(rules, 20)
    assert rules.looks == 0  # the motorbike is outside the zone: nothing is looked at
    rules = helmet_rules(["helmet"] * 100, max_samples=4)
    run(rules, 20)
    assert rules.looks == 4
