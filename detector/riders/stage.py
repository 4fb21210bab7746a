"""Rider offences: no helmet (votes over a rider's frames) and more people on a motorbike than allowed.

Runs after the association, once per frame, on ridden two-wheelers only:

- **No helmet** (Decree 168/2024 Art. 7(2)(h) rider, (i) passenger): each rider's head is looked at
  in at most `max_samples` detected frames, `min_sample_gap_s` apart, and only while its two-wheeler's
  ground point is in the helmet zone; at most `max_crops_per_frame` crops a frame (the CPU budget).
  A look counts as a vote only when the head is clearly seen (see `detector.riders.helmet`). With
  `min_votes` clear votes, a rider whose votes say "no helmet" at least `min_no_helmet_fraction` of
  the time is reported, once; a report with fewer than twice `min_votes` votes or a fraction below
  `sure_fraction` is flagged for review (`needs_review`), as every report is reviewed before a fine;
  with `always_review` (the default while the helmet model misses its accuracy bar) every report is.
- **Too many riders** (Art. 7(2)(g): carrying two people, 7(3)(b): three or more): the
  two-wheeler's confirmed rider count stays at `min_riders` or more over `min_duration_s` of detected
  frames. Always flagged for review: the decree exempts carrying a sick person, a child under 12, an
  elderly or disabled person, which no camera can tell, and a person box can hold two people.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon
from shapely.prepared import prep

from detector.config import RidersConfig
from detector.measures import NoHelmetMeasures, TooManyRidersMeasures
from detector.riders.associate import RiderFrame
from detector.riders.helmet import HeadCall, HelmetClassifier
from detector.types import COCO_ROAD_USERS, EvidenceFrames, Frame, Violation, ViolationType

log = logging.getLogger(__name__)

HELMET_RULE_VERSION = "no_helmet-1"
COUNT_RULE_VERSION = "too_many_riders-1"
#: Seconds after which a two-wheeler or rider no longer seen is forgotten (the tracker has let it go).
FORGET_S = 30.0


@dataclass
class _Votes:
    calls: list[tuple[int, float, HeadCall]] = field(default_factory=list)  # (frame, time, call)
    looks: int = 0
    last_t: float = float("-inf")  # time of the last look
    seen_t: float = float("-inf")  # time the pair was last seen
    reported: bool = False


@dataclass
class _Count:
    since_t: float | None = None
    since_frame: int = 0
    seen_t: float = float("-inf")
    reported: bool = False


class RiderRules:
    """Per-frame rider offences; `process` returns the violations decided at this frame."""

    def __init__(self, cfg: RidersConfig, camera_id: str, helmet: HelmetClassifier | None = None) -> None:
        self.cfg = cfg
        self.camera_id = camera_id
        self.helmet = helmet
        zone = cfg.helmet.zone
        self._zone = prep(Polygon(zone)) if zone else None
        self._votes: dict[tuple[int, int], _Votes] = {}  # (vehicle track, rider track)
        self._counts: dict[int, _Count] = {}
        self.looks = 0

    def process(self, frame: Frame, riders: RiderFrame | None) -> list[Violation]:
        if riders is None:
            return []
        out: list[Violation] = []
        road = riders.road_users
        assert road.tracker_id is not None
        detected = {int(t): i for i, t in enumerate(road.tracker_id.tolist()) if not road.predicted[i]}
        if self.cfg.count.enabled:
            out.extend(self._count(frame, riders, detected))
        if self.helmet is not None and self.cfg.helmet.enabled:
            out.extend(self._helmets(frame, riders, detected))
        self._forget(frame.timestamp)
        return out

    def _count(self, frame: Frame, riders: RiderFrame, detected: dict[int, int]) -> list[Violation]:
        cfg = self.cfg.count
        out = []
        for vid, row in detected.items():
            n = riders.count(vid)
            st = self._counts.setdefault(vid, _Count())
            st.seen_t = frame.timestamp
            if n < cfg.min_riders:
                st.since_t = None
                continue
            if st.since_t is None:
                st.since_t, st.since_frame = frame.timestamp, frame.index
            if st.reported or frame.timestamp - st.since_t < cfg.min_duration_s:
                continue
            st.reported = True
            cls = COCO_ROAD_USERS.get(int(riders.road_users.class_id[row]), "motorcycle")
            out.append(
                self._violation(
                    ViolationType.TOO_MANY_RIDERS,
                    COUNT_RULE_VERSION,
                    vid,
                    cls,
                    frame,
                    EvidenceFrames(before=st.since_frame, at=frame.index, after=frame.index),
                    TooManyRidersMeasures(
                        riders=n, four_or_more=n >= 4, held_s=round(frame.timestamp - st.since_t, 3)
                    ),
                    n,
                )
            )
        return out

    def _helmets(self, frame: Frame, riders: RiderFrame, detected: dict[int, int]) -> list[Violation]:
        assert self.helmet is not None
        cfg = self.cfg.helmet
        road = riders.road_users
        boxes = [tuple(float(v) for v in b) for b in road.xyxy]
        all_riders = [(vid, r) for vid, rs in riders.riders.items() for r in rs]
        budget = cfg.max_crops_per_frame
        out = []
        for vid, rider in all_riders:
            row = detected.get(vid)
            if row is None or budget <= 0:
                continue
            x1, _, x2, y2 = boxes[row]
            if self._zone is not None and not self._zone.contains(ShapelyPoint((x1 + x2) / 2, y2)):
                continue
            votes = self._votes.setdefault((vid, rider.track_id), _Votes())
            votes.seen_t = frame.timestamp
            if (
                votes.reported
                or votes.looks >= cfg.max_samples
                or frame.timestamp - votes.last_t < cfg.min_sample_gap_s
            ):
                continue
            others: list[tuple[float, float, float, float]] = [
                (b[0], b[1], b[2], b[3]) for i, b in enumerate(boxes) if i != row
            ]
            others += [r.xyxy for v, r in all_riders if r.track_id != rider.track_id]
            call = self.helmet.classify(frame.image, rider.xyxy, others)
            budget -= 1
            self.looks += 1
            votes.looks += 1
            votes.last_t = frame.timestamp
            if call.clear:
                votes.calls.append((frame.index, frame.timestamp, call))
            v = self._decide(
                vid,
                rider.track_id,
                votes,
                frame,
                COCO_ROAD_USERS.get(int(road.class_id[row]), "motorcycle"),
                riders.count(vid),
            )
            if v is not None:
                out.append(v)
        return out

    def _decide(self, vid: int, rid: int, votes: _Votes, frame: Frame, cls: str, n: int) -> Violation | None:
        cfg = self.cfg.helmet
        clear = len(votes.calls)
        if clear < cfg.min_votes:
            return None
        no = [c for c in votes.calls if c[2].label == "no_helmet"]
        fraction = len(no) / clear
        if fraction < cfg.min_no_helmet_fraction:
            if votes.looks >= cfg.max_samples:
                votes.reported = True  # judged: wears a helmet (or not clearly without one)
            return None
        votes.reported = True
        best = max(no, key=lambda c: c[2].confidence)
        frames = [c[0] for c in votes.calls]
        unsure = cfg.always_review or fraction < cfg.sure_fraction or clear < 2 * cfg.min_votes
        head = best[2].head
        return self._violation(
            ViolationType.NO_HELMET,
            HELMET_RULE_VERSION,
            vid,
            cls,
            frame,
            EvidenceFrames(before=min(frames), at=best[0], after=max(max(frames), best[0])),
            NoHelmetMeasures(
                rider_track_id=rid,
                votes_no_helmet=len(no),
                votes_clear=clear,
                looks=votes.looks,
                no_helmet_fraction=round(fraction, 3),
                mean_p_no_helmet=round(float(np.mean([c[2].p_no_helmet for c in no])), 3),
                head_box=",".join(f"{v:.0f}" for v in head) if head else None,
                needs_review=unsure,
            ),
            n,
            at=best,
        )

    def _violation(
        self,
        vtype: ViolationType,
        version: str,
        vid: int,
        cls: str,
        frame: Frame,
        ev: EvidenceFrames,
        measured: NoHelmetMeasures | TooManyRidersMeasures,
        n: int,
        at: tuple[int, float, HeadCall] | None = None,
    ) -> Violation:
        return Violation(
            violation_type=vtype,
            camera_id=self.camera_id,
            track_id=vid,
            vehicle_class=cls,
            frame_index=at[0] if at else frame.index,
            timestamp=at[1] if at else frame.timestamp,
            evidence_frames=ev,
            measured=measured,
            rule_version=version,
            riders=n,
        )

    def _forget(self, now: float) -> None:
        """Drop what was last seen more than `FORGET_S` ago (a track gone that long does not come back)."""
        horizon = now - FORGET_S
        if len(self._votes) > 64:
            self._votes = {k: v for k, v in self._votes.items() if v.seen_t >= horizon}
        if len(self._counts) > 64:
            self._counts = {k: c for k, c in self._counts.items() if c.seen_t >= horizon}

    def close(self) -> None:
        if self.helmet is not None:
            self.helmet.close()
