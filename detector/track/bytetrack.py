"""ByteTrack (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box",
ECCV 2022), written for this engine from the paper's algorithm, timed by stream time.

Each call takes one detected frame and its stream timestamp:

1. Every track's Kalman state (detector/track/kalman.py) is carried to the timestamp. Confirmed
   tracks lost for longer than `lost_track_s` of stream time are dropped first, so a camera that
   skips frames (or a detection schedule that runs one frame in N) ages lost tracks by real time,
   not by the number of calls.
2. High-confidence detections (>= `high_confidence`) are matched to every track, confirmed (tracked or
   lost) or not, by the IoU of the predicted boxes (>= `minimum_iou`), one-to-one and optimally
   (detector/track/assign.py).
3. Low-confidence detections are matched to the tracks still unmatched, in the same way: a weak box
   where a track is expected keeps an occluded or distant vehicle tracked (the paper's point), and
   it never starts a track.
4. An unconfirmed track (seen fewer than `minimum_consecutive_frames` detected frames in a row) that
   matched nothing is dropped; a confirmed one becomes lost.
5. High-confidence detections left over (>= `track_activation_threshold`) start unconfirmed tracks.
   On the first call of a stream there is no earlier frame to confirm them against: those start
   confirmed, so the vehicles already in view are reported from the first frame.

On a frame detected in part (a crop, detector/geometry/crop.py), only the tracks whose predicted box
lies wholly inside the crop take part, and a crop adds matches without losing a track: the tracks
outside it, and those inside it left unmatched (a crop sees less of the scene, and YOLO's confidences
move with what it sees), are carried by their motion as on a frame without detection (they neither
miss nor age in hits); a detection overlapping one of them starts no track (`carried` lists the
confirmed ones, for the track store).

A track gets its id when it is confirmed (ids count from 0 in confirmation order); every other
detection keeps tracker_id -1. The boxes returned are the detected ones, not the filter's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from detector.config import TrackerConfig
from detector.geometry.crop import Crop, whole_in_crop
from detector.track.assign import covered_share, iou_matrix, match
from detector.track.kalman import BoxKalman, xyxy_to_z, z_to_xyxy
from detector.types import Detections

log = logging.getLogger(__name__)

#: on a frame detected in a crop, a detection that much covered (its own area) by a carried track's
#: predicted box is taken for that track (its prediction drifts between detections): it starts no track
HELD_OVERLAP = 0.3


@dataclass(slots=True, eq=False)
class _Track:
    mean: np.ndarray  # (8,) Kalman state
    cov: np.ndarray  # (8, 8)
    last_seen: float  # stream time of its last detection
    hits: int = 1  # detections in a row
    track_id: int = -1  # -1 until confirmed
    tracked: bool = True  # matched at the last call (else lost)
    class_id: int = -1  # class of its last detection

    @property
    def confirmed(self) -> bool:
        return self.track_id >= 0


class ByteTracker:
    """Assigns stable `tracker_id`s to detections, frame after frame, timed by stream time."""

    def __init__(self, cfg: TrackerConfig, fps: float) -> None:
        self.cfg = cfg
        self.kalman = BoxKalman(fps)
        self._tracks: list[_Track] = []
        self._last_t: float | None = None
        self._next_id = 0
        self.carried: list[int] = []  # confirmed tracks outside the last call's crop (carried, not missed)

    @property
    def tentative(self) -> int:
        """Tracks the tracker holds but has not confirmed yet (they need more detections)."""
        return sum(1 for t in self._tracks if not t.confirmed)

    def tentative_boxes(self) -> np.ndarray:
        """The predicted boxes (N, 4) of the tracks not confirmed yet."""
        means = [t.mean for t in self._tracks if not t.confirmed]
        if not means:
            return np.empty((0, 4))
        return np.asarray(z_to_xyxy(np.stack(means)), dtype=np.float64)

    def boxes_of(self, class_ids: frozenset[int]) -> np.ndarray:
        """The predicted boxes (N, 4) of the tracks held (confirmed or not, tracked or lost) whose last
        detection was of one of `class_ids`."""
        means = [t.mean for t in self._tracks if t.class_id in class_ids]
        if not means:
            return np.empty((0, 4))
        return np.asarray(z_to_xyxy(np.stack(means)), dtype=np.float64)

    @property
    def track_count(self) -> int:
        """Tracks held: confirmed (tracked or lost) and unconfirmed."""
        return len(self._tracks)

    def update(self, detections: Detections, timestamp: float, crop: Crop | None = None) -> Detections:
        """The detections of confirmed tracks with their tracker_id; the others are dropped. `crop`: the
        detections were found in this part of the frame only."""
        assigned = self.assign(detections, timestamp, crop)
        assert assigned.tracker_id is not None
        return assigned[assigned.tracker_id >= 0]

    def assign(self, detections: Detections, timestamp: float, crop: Crop | None = None) -> Detections:
        """All detections, each with its confirmed track's id or -1."""
        first = self._last_t is None
        dt = 0.0 if self._last_t is None else timestamp - self._last_t
        if dt < 0:
            log.warning(
                "timestamp %.3f s is before the previous one (%.3f s): not predicting",
                timestamp,
                self._last_t,
            )
            dt = 0.0
        else:
            self._last_t = timestamp
        self._predict(dt)
        self._drop_expired(timestamp)
        pool, held = self._split(crop)
        ids = np.full(len(detections), -1, dtype=np.int64)
        conf = detections.confidence
        high = np.flatnonzero(conf >= self.cfg.high_confidence)
        low = np.flatnonzero(conf < self.cfg.high_confidence)
        boxes = detections.xyxy
        matched: list[tuple[_Track, int]] = []
        left, high = self._associate(pool, high, boxes, self.cfg.minimum_iou, matched)
        self._associate(left, low, boxes, self.cfg.minimum_iou, matched)

        self._correct(matched, boxes, timestamp, detections.class_id)
        for track, row in matched:
            if not track.confirmed and track.hits >= self.cfg.minimum_consecutive_frames:
                self._confirm(track)
            ids[row] = track.track_id
        seen = {id(t) for t, _ in matched}
        if crop is not None:  # a crop adds matches and never loses a track: the unmatched are carried
            held += [t for t in pool if id(t) not in seen]
        for track in pool:
            if id(track) not in seen and crop is None:
                track.tracked = False
                track.hits = 0
        # an unconfirmed track that misses a detection was not a vehicle (or not yet one): dropped
        kept = {id(t) for t in held}
        self._tracks = [t for t in self._tracks if t.confirmed or id(t) in seen or id(t) in kept]
        if held and len(high):  # a box over a carried track is that track, cut or not: no new track
            high = high[
                covered_share(boxes[high], z_to_xyxy(np.stack([t.mean for t in held]))) < HELD_OVERLAP
            ]
        self.carried = [t.track_id for t in held if t.confirmed and t.tracked]
        self._start(detections, high, timestamp, first, ids)
        out = detections[np.arange(len(detections))]
        out.tracker_id = ids
        return out

    def _split(self, crop: Crop | None) -> tuple[list[_Track], list[_Track]]:
        """(tracks that take part in this call, tracks carried): with a crop, a track takes part when
        its predicted box lies wholly inside it (frame edges aside)."""
        if crop is None or not self._tracks:
            return list(self._tracks), []
        inside = whole_in_crop(z_to_xyxy(np.stack([t.mean for t in self._tracks])), crop)
        pool = [t for t, ok in zip(self._tracks, inside.tolist(), strict=True) if ok]
        held = [t for t, ok in zip(self._tracks, inside.tolist(), strict=True) if not ok]
        return pool, held

    def _associate(
        self,
        tracks: list[_Track],
        rows: np.ndarray,
        boxes: np.ndarray,
        threshold: float,
        matched: list[tuple[_Track, int]],
    ) -> tuple[list[_Track], np.ndarray]:
        """Match `tracks` to detection `rows`; appends to `matched`, returns (unmatched tracks, rows)."""
        if not tracks or len(rows) == 0:
            return list(tracks), rows
        predicted = z_to_xyxy(np.stack([t.mean for t in tracks]))
        pairs, left_t, left_d = match(iou_matrix(predicted, boxes[rows]), threshold)
        matched.extend((tracks[i], int(rows[j])) for i, j in pairs)
        return [tracks[i] for i in left_t], rows[left_d]

    def _predict(self, dt: float) -> None:
        if not self._tracks or dt <= 0:
            return
        mean = np.stack([t.mean for t in self._tracks])
        cov = np.stack([t.cov for t in self._tracks])
        lost = np.array([not t.tracked for t in self._tracks])
        mean[lost, 6:] = 0.0  # a lost track keeps its course, not a shrinking or growing box
        mean, cov = self.kalman.predict(mean, cov, dt)
        for t, m, c in zip(self._tracks, mean, cov, strict=True):
            t.mean, t.cov = m, c

    def _drop_expired(self, now: float) -> None:
        limit = self.cfg.lost_track_s
        self._tracks = [t for t in self._tracks if t.tracked or now - t.last_seen <= limit]

    def _correct(
        self, matched: list[tuple[_Track, int]], boxes: np.ndarray, now: float, classes: np.ndarray
    ) -> None:
        if not matched:
            return
        mean = np.stack([t.mean for t, _ in matched])
        cov = np.stack([t.cov for t, _ in matched])
        z = xyxy_to_z(boxes[[row for _, row in matched]])
        mean, cov = self.kalman.update(mean, cov, z)
        for (t, row), m, c in zip(matched, mean, cov, strict=True):
            t.mean, t.cov = m, c
            t.class_id = int(classes[row])
            t.last_seen = now
            t.hits += 1
            t.tracked = True

    def _start(
        self, detections: Detections, rows: np.ndarray, now: float, first: bool, ids: np.ndarray
    ) -> None:
        rows = rows[detections.confidence[rows] >= self.cfg.track_activation_threshold]
        if len(rows) == 0:
            return
        mean, cov = self.kalman.initiate(xyxy_to_z(detections.xyxy[rows]))
        for row, m, c in zip(rows.tolist(), mean, cov, strict=True):
            track = _Track(mean=m, cov=c, last_seen=now, class_id=int(detections.class_id[row]))
            if first or self.cfg.minimum_consecutive_frames <= 1:
                self._confirm(track)
                ids[row] = track.track_id
            self._tracks.append(track)

    def _confirm(self, track: _Track) -> None:
        track.track_id = self._next_id
        self._next_id += 1

    def reset(self) -> None:
        """Forget every track and start ids from 0 (a new stream)."""
        self._tracks = []
        self._last_t = None
        self._next_id = 0

    def close(self) -> None:
        self.reset()
