"""Riders belong to their two-wheeler: person tracks associated to motorbike and bicycle tracks.

A COCO detector sees a motorbike and its rider as two objects (`motorcycle` and `person`), so the
tracker gives every ridden motorbike two tracks. This stage, run after tracking, decides which person
tracks ride which two-wheeler track, so that every later stage sees one road user per two-wheeler with
its riders counted and boxed, while pedestrians stay pedestrians.

A person is a rider of a two-wheeler when, frame after frame, its box sits on the upper part of the
vehicle's box (horizontally over it, its top near or above the vehicle's top, its bottom inside the
vehicle's lower part) and it moves with it (its offset from the vehicle, in vehicle heights, stays near
its running mean). Hysteresis: the geometry must hold in `confirm_frames` detected frames (a miss
takes one back) before the person becomes a rider, and a rider is released only after
`release_frames` detected frames in a row without it. Frames where either box is missing change
nothing (occlusion). Each person rides at most one vehicle (the pair with the most support).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from detector.config import AssociationConfig
from detector.types import Detections, majority

log = logging.getLogger(__name__)

PERSON = 0
#: COCO ids of the vehicles that carry riders on top of them.
TWO_WHEELERS: frozenset[int] = frozenset({1, 3})  # bicycle, motorcycle

Box = tuple[float, float, float, float]
#: Frames over which a pair's reference offset is taken (then fixed: a rider keeps it, a passer-by drifts).
ORIGIN_FRAMES = 3
#: A `person` box overlapping a two-wheeler's box this much is the same road user (a walker's tall, narrow
#: box and a motorbike's wide, low one overlap far less).
SAME_BOX_IOU = 0.6
#: The class a `person` box moving at two-wheeler speed becomes (COCO motorcycle).
SOLO_CLASS = 3


@dataclass(frozen=True, slots=True)
class Rider:
    """One rider of a two-wheeler in one frame: its person track and box."""

    track_id: int
    xyxy: Box
    confidence: float


@dataclass(frozen=True, slots=True)
class RiderFrame:
    """The association after one frame.

    `road_users`: the frame's tracked detections with the riders' rows removed (one road user per
    two-wheeler); `data["riders"]` holds each row's rider count (0 for everything but ridden
    two-wheelers). `riders`: per two-wheeler track, its riders seen in this frame (boxes).
    `counts`: per two-wheeler track, its confirmed riders (seen in this frame or not).
    `rider_ids`: every person track that is a confirmed rider now.
    """

    frame_index: int
    road_users: Detections
    riders: Mapping[int, tuple[Rider, ...]]
    counts: Mapping[int, int]
    rider_ids: frozenset[int]

    def count(self, vehicle_track_id: int) -> int:
        return self.counts.get(vehicle_track_id, 0)

    def with_carried(self, carried: RiderFrame) -> RiderFrame:
        """This frame's association (the part detected in a crop) with the road users carried outside
        the crop (`RiderAssociator.carry` of their rows)."""
        parts = []
        for part in (self.road_users, carried.road_users):
            data = {
                "predicted": part.predicted,
                "riders": part.data.get("riders", np.zeros(len(part), np.int64)),
            }
            parts.append(Detections(part.xyxy, part.confidence, part.class_id, part.tracker_id, data))
        return RiderFrame(
            frame_index=self.frame_index,
            road_users=Detections.merge(parts),
            riders={**carried.riders, **self.riders},
            counts=self.counts,
            rider_ids=self.rider_ids,
        )


class _Pair:
    __slots__ = ("hits", "misses", "confirmed", "mean", "origin", "size", "n", "first_t", "last_t")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.confirmed = False
        self.mean = np.zeros(2)  # person centre - vehicle centre, in vehicle heights
        self.origin = np.zeros(2)  # the offset over the pair's first frames (then fixed)
        self.size = np.zeros(2)  # vehicle (width, height) / person height
        self.first_t = 0.0
        self.n = 0
        self.last_t = 0.0


def rider_geometry(person: np.ndarray, vehicles: np.ndarray, cfg: AssociationConfig) -> np.ndarray:
    """Per vehicle box (M, 4): does the person box (4,) sit on it as a rider would? Pure geometry."""
    px1, py1, px2, py2 = (float(v) for v in person)
    vx1, vy1, vx2, vy2 = vehicles[:, 0], vehicles[:, 1], vehicles[:, 2], vehicles[:, 3]
    vh = np.maximum(vy2 - vy1, 1.0)
    vw = np.maximum(vx2 - vx1, 1.0)
    pw, ph = max(px2 - px1, 1.0), max(py2 - py1, 1.0)
    overlap = np.clip(np.minimum(px2, vx2) - np.maximum(px1, vx1), 0, None) / np.minimum(pw, vw)
    ratio = ph / vh
    lo, hi = cfg.height_ratio
    return (
        (overlap >= cfg.min_x_overlap)
        & (py1 <= vy1 + cfg.max_head_below_top * vh)
        & (py2 >= vy1 + cfg.min_feet_into_vehicle * vh)
        & (py2 <= vy2 + cfg.max_feet_below_vehicle * vh)
        & (ratio >= lo)
        & (ratio <= hi)
    )


def _offset(person: np.ndarray, vehicle: np.ndarray) -> np.ndarray:
    vh = max(float(vehicle[3] - vehicle[1]), 1.0)
    pc = np.array([(person[0] + person[2]) / 2, (person[1] + person[3]) / 2], dtype=np.float64)
    vc = np.array([(vehicle[0] + vehicle[2]) / 2, (vehicle[1] + vehicle[3]) / 2], dtype=np.float64)
    return (pc - vc) / vh


class RiderAssociator:
    """Keeps the person-to-two-wheeler pairs over time; `update` once per detected frame."""

    def __init__(self, cfg: AssociationConfig, forget_after_s: float = 5.0) -> None:
        self.cfg = cfg
        self.forget_after_s = forget_after_s
        self._pairs: dict[tuple[int, int], _Pair] = {}
        self._rider_of: dict[int, int] = {}
        self._class_counts: dict[int, dict[int, int]] = {}  # per track: detections per COCO class
        self._last_seen: dict[int, float] = {}
        self._vehicles: dict[int, int] = {}  # two-wheeler tracks that carried riders -> their class
        self._solo: set[int] = set()  # person tracks found to be a rider and its two-wheeler in one box
        self._motion: dict[int, list[tuple[float, float, float, float]]] = {}  # person tracks: (t, x, y, h)

    def update(self, tracked: Detections, timestamp: float, frame_index: int) -> RiderFrame:
        """Associate this frame's detected boxes; returns the frame's road users and riders."""
        assert tracked.tracker_id is not None
        tids = tracked.tracker_id
        for t, c in zip(tids.tolist(), tracked.class_id.tolist(), strict=True):
            counts = self._class_counts.setdefault(t, {})
            counts[c] = counts.get(c, 0) + 1
            self._last_seen[t] = timestamp
        # the tracker matches boxes whatever their class, so a rider's and its motorbike's tracks can each
        # carry the other's label in some frames: a track's role is its majority class so far
        role = np.array([self.role(t) for t in tids.tolist()], dtype=np.int64)
        solo = np.isin(tids, list(self._solo))
        persons = np.flatnonzero(((role == PERSON) | solo) & (tids >= 0))  # a solo box may yet prove a rider
        wheels = np.flatnonzero(np.isin(role, list(TWO_WHEELERS)) & ~solo & (tids >= 0))
        seen = {int(t) for t in tids}
        self._watch_solo(tracked, persons[~solo[persons]], timestamp)
        ok_pairs: set[tuple[int, int]] = set()
        if len(persons) and len(wheels):
            vboxes = tracked.xyxy[wheels].astype(np.float64)
            for i in persons:
                ok = rider_geometry(tracked.xyxy[i], vboxes, self.cfg)
                for j in np.flatnonzero(ok):
                    key = (int(tids[i]), int(tids[wheels[j]]))
                    off = _offset(tracked.xyxy[i], vboxes[j])
                    pair = self._pairs.get(key)
                    if (
                        pair is not None
                        and pair.n
                        and np.abs(off - pair.origin).max() > self.cfg.max_offset_drift
                    ):
                        continue  # not moving with the vehicle (a pedestrian passing it drifts across)
                    if pair is None:
                        pair = self._pairs[key] = _Pair()
                        pair.first_t = timestamp
                    pair.n += 1
                    if pair.n <= ORIGIN_FRAMES:
                        pair.origin += (off - pair.origin) / pair.n
                    k = 1.0 / min(pair.n, 10)  # running means over about 10 frames
                    pair.mean += (off - pair.mean) * k
                    ph = max(float(tracked.xyxy[i][3] - tracked.xyxy[i][1]), 1.0)
                    vb = vboxes[j]
                    pair.size += (np.array([vb[2] - vb[0], vb[3] - vb[1]]) / ph - pair.size) * k
                    ok_pairs.add(key)
        for key, pair in self._pairs.items():
            pid, vid = key
            if key in ok_pairs:
                pair.hits += 1
                pair.misses = 0
                pair.last_t = timestamp
                if pair.hits >= self.cfg.confirm_frames and timestamp - pair.first_t >= self.cfg.confirm_s:
                    pair.confirmed = True
            elif pid in seen and vid in seen:
                pair.misses += 1
                if pair.confirmed:
                    if pair.misses >= self.cfg.release_frames:
                        pair.confirmed = False
                        pair.hits = 0
                else:
                    pair.hits = max(0, pair.hits - 1)
        self._forget(timestamp)
        self._assign()
        return self._frame(tracked, frame_index)

    def _watch_solo(self, tracked: Detections, persons: np.ndarray, timestamp: float) -> None:
        """A `person` track moving faster than any walker, in its own box heights a second, is a rider
        boxed together with its two-wheeler (the detector gave one box): it becomes that two-wheeler."""
        cfg = self.cfg
        assert tracked.tracker_id is not None
        on_bikes = {p for (p, _), pair in self._pairs.items() if pair.hits > 0}
        carriers = self._carriers()
        for i in persons.tolist():
            tid = int(tracked.tracker_id[i])
            if tid in carriers or tid in self._rider_of or tid in on_bikes:
                continue  # a rider on a two-wheeler box of its own joins that box instead
            x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[i])
            hist = self._motion.setdefault(tid, [])
            hist.append((timestamp, (x1 + x2) / 2, y2, y2 - y1))
            while hist and timestamp - hist[0][0] > cfg.solo_window_s * 2:
                hist.pop(0)
            span = timestamp - hist[0][0]
            if span < cfg.solo_window_s:
                continue
            height = float(np.median([h for *_, h in hist]))
            dist = float(np.hypot(hist[-1][1] - hist[0][1], hist[-1][2] - hist[0][2]))
            if dist / span / max(height, 1.0) >= cfg.solo_speed:
                self._vehicles[tid] = SOLO_CLASS
                self._solo.add(tid)
                self._motion.pop(tid, None)
                log.debug(
                    "person track %d moves at %.1f heights/s: a rider boxed with its two-wheeler",
                    tid,
                    dist / span / height,
                )

    def carry(self, carried: Detections, frame_index: int) -> RiderFrame:
        """A frame without detection: the tracks' carried boxes, with the riders as last associated."""
        return self._frame(carried, frame_index)

    def track_class(self, track_id: int) -> int:
        """The track's majority COCO class over its detections so far (-1 if never seen)."""
        counts = self._class_counts.get(track_id)
        if not counts:
            return -1
        return majority(counts)[0]

    def _carriers(self) -> set[int]:
        """Tracks that carry riders now (their own boxed rider included)."""
        return set(self._rider_of.values()) | self._solo

    def role(self, track_id: int) -> int:
        """The track's class for the association: while a track carries riders it stays their two-wheeler
        (afterwards its majority class again: ByteTrack can hand a bike's id to its rider's box)."""
        if track_id in self._vehicles and track_id in self._carriers():
            return self._vehicles[track_id]
        return self.track_class(track_id)

    def rider_of(self, person_track_id: int) -> int | None:
        return self._rider_of.get(person_track_id)

    def count(self, vehicle_track_id: int) -> int:
        """People riding the two-wheeler track now (confirmed riders; at least 1 for a rider boxed with it)."""
        n = sum(1 for v in self._rider_of.values() if v == vehicle_track_id)
        return max(n, 1) if vehicle_track_id in self._solo else n

    def riders_of(self, vehicle_track_id: int) -> list[int]:
        return sorted(p for p, v in self._rider_of.items() if v == vehicle_track_id)

    def _assign(self) -> None:
        best: dict[int, tuple[int, int]] = {}
        for (pid, vid), pair in self._pairs.items():
            if pair.confirmed and (pid not in best or pair.hits > best[pid][1]):
                best[pid] = (vid, pair.hits)
        carriers = set(self._rider_of.values())
        new = {pid: vid for pid, (vid, _) in best.items() if pid not in carriers}
        for pid in new.keys() & self._solo:  # it sits on a two-wheeler after all: it is that one's rider
            self._solo.discard(pid)
            self._vehicles.pop(pid, None)
        for pid in new.keys() - self._rider_of.keys():
            log.debug("person track %d rides two-wheeler track %d", pid, new[pid])
        self._rider_of = new
        for vid in set(new.values()) - self._vehicles.keys():  # the class a carrier keeps while it carries
            counts = self._class_counts.get(vid, {})
            self._vehicles[vid] = max(TWO_WHEELERS, key=lambda c: (counts.get(c, 0), c))

    def _forget(self, now: float) -> None:
        stale = [
            k
            for k, p in self._pairs.items()
            if now - p.last_t > self.forget_after_s
            and p.hits == 0
            or now - p.last_t > self.forget_after_s * 2
        ]
        for k in stale:
            del self._pairs[k]
        for t in [t for t, seen in self._last_seen.items() if now - seen > self.forget_after_s * 2]:
            del self._last_seen[t]
            self._class_counts.pop(t, None)
            self._vehicles.pop(t, None)
            self._solo.discard(t)
            self._motion.pop(t, None)

    def _frame(self, dets: Detections, frame_index: int) -> RiderFrame:
        assert dets.tracker_id is not None
        tids = dets.tracker_id.tolist()
        counts: dict[int, int] = {}
        for vid in self._rider_of.values():
            counts[vid] = counts.get(vid, 0) + 1
        for tid in self._solo:  # its own box holds at least one rider
            counts[tid] = max(counts.get(tid, 0), 1)
        riders: dict[int, list[Rider]] = {}
        present = set(tids)
        carriers = self._carriers()
        candidates = {p for (p, v), pair in self._pairs.items() if pair.hits > 0 and v in present}
        keep = np.ones(len(dets), dtype=bool)
        for i, tid in enumerate(tids):
            carrier = self._rider_of.get(tid)
            if carrier is None:
                # a person on a two-wheeler in this frame, not yet confirmed as its rider, is held back from the
                # road users (the two-wheeler stands for both); it rejoins them as soon as the geometry fails
                keep[i] = tid not in candidates or tid in carriers
                continue
            keep[i] = False
            x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
            riders.setdefault(carrier, []).append(Rider(tid, (x1, y1, x2, y2), float(dets.confidence[i])))
        self._same_boxes(dets, keep, counts, riders)
        road = dets[keep]
        assert road.tracker_id is not None
        # a two-wheeler that carries riders keeps its class in frames where its box was labelled person
        for i, tid in enumerate(road.tracker_id.tolist()):
            if tid in carriers and tid in self._vehicles:
                road.class_id[i] = self._vehicles[tid]
        stand_ins = self._stand_ins(riders, set(road.tracker_id.tolist()))
        if len(stand_ins):
            road.data["predicted"] = road.predicted
            road = Detections.merge([road, stand_ins])
        assert road.tracker_id is not None
        road.data["riders"] = np.array([counts.get(t, 0) for t in road.tracker_id.tolist()], dtype=np.int64)
        return RiderFrame(
            frame_index=frame_index,
            road_users=road,
            riders={v: tuple(sorted(r, key=lambda r: r.track_id)) for v, r in riders.items()},
            counts=counts,
            rider_ids=frozenset(self._rider_of),
        )

    def _same_boxes(
        self, dets: Detections, keep: np.ndarray, counts: dict[int, int], riders: dict[int, list[Rider]]
    ) -> None:
        """A `person` box that is nearly the two-wheeler's own box (IoU >= SAME_BOX_IOU: a rider boxed with
        the bike, often on a track the tracker swapped) is that two-wheeler's rider in this frame, whatever
        the association has decided so far: never a second road user beside it."""
        assert dets.tracker_id is not None
        tids = dets.tracker_id.tolist()
        roles = [self.role(t) for t in tids]
        wheels = [j for j in range(len(tids)) if keep[j] and roles[j] in TWO_WHEELERS]
        if not wheels:
            return
        wb = dets.xyxy[wheels].astype(np.float64)
        carriers = self._carriers()
        for i in range(len(tids)):
            person_box = roles[i] == PERSON or (int(dets.class_id[i]) == PERSON and tids[i] not in carriers)
            if not keep[i] or not person_box or i in wheels:
                continue
            b = dets.xyxy[i].astype(np.float64)
            ix = np.clip(np.minimum(b[2], wb[:, 2]) - np.maximum(b[0], wb[:, 0]), 0, None)
            iy = np.clip(np.minimum(b[3], wb[:, 3]) - np.maximum(b[1], wb[:, 1]), 0, None)
            inter = ix * iy
            union = (b[2] - b[0]) * (b[3] - b[1]) + (wb[:, 2] - wb[:, 0]) * (wb[:, 3] - wb[:, 1]) - inter
            iou = inter / np.maximum(union, 1e-9)
            j = int(np.argmax(iou))
            if iou[j] < SAME_BOX_IOU:
                continue
            vid = tids[wheels[j]]
            keep[i] = False
            counts[vid] = max(counts.get(vid, 0), 1)
            x1, y1, x2, y2 = (float(v) for v in b)
            riders.setdefault(vid, []).append(Rider(tids[i], (x1, y1, x2, y2), float(dets.confidence[i])))

    def _stand_ins(self, riders: Mapping[int, list[Rider]], present: set[int]) -> Detections:
        """Rows for ridden two-wheelers the detector missed in this frame, placed from their riders.

        Each box is the vehicle's, as its rider's box and the pair's mean offset and size place it; the rows
        are marked `predicted` (an estimate, not a detection: plates and evidence skip them).
        """
        rows: list[tuple[Box, float, int, int]] = []
        for vid, rs in riders.items():
            if vid in present:
                continue
            r = max(rs, key=lambda r: r.confidence)
            pair = self._pairs.get((r.track_id, vid))
            if pair is None or not pair.n:
                continue
            x1, y1, x2, y2 = r.xyxy
            ph = max(y2 - y1, 1.0)
            vw, vh = pair.size * ph
            cx = (x1 + x2) / 2 - pair.mean[0] * vh
            cy = (y1 + y2) / 2 - pair.mean[1] * vh
            rows.append(
                (
                    (cx - vw / 2, cy - vh / 2, cx + vw / 2, cy + vh / 2),
                    r.confidence,
                    self._vehicles.get(vid, 3),
                    vid,
                )
            )
        if not rows:
            return Detections.empty()
        return Detections(
            xyxy=np.array([b for b, _, _, _ in rows], dtype=np.float32),
            confidence=np.array([c for _, c, _, _ in rows], dtype=np.float32),
            class_id=np.array([k for _, _, k, _ in rows], dtype=np.int64),
            tracker_id=np.array([t for _, _, _, t in rows], dtype=np.int64),
            data={"predicted": np.ones(len(rows), dtype=bool)},
        )

    def close(self) -> None:
        self._pairs.clear()
        self._rider_of.clear()
