"""Section (point-to-point) average speed between cameras on one road.

A `Passage` is a vehicle crossing a camera's timing line: the camera's clock time, the class, the
plate reading (all candidates) and a reference to the camera's signed bundle. `SectionRule.check`
pairs the passages of consecutive cameras by plate (`plate_match.match_readings`), one exit per
entry and one entry per exit (best matches first), and computes the average speed

    v = d / dt,   v_low = (d - e_d) / (dt + e_clock_a + e_clock_b + e_timing_a + e_timing_b)

with d the surveyed distance (chainage difference), e_d its error bound, and each camera's clock
and crossing-time error bounds. A pair is a violation when v_low > limit + tolerance; it may be
fined only when the plates match by their candidates with confidence >= `fine_match_min`, the match
is not ambiguous and the classes agree; any doubt sends it to review, never to a fine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from detector.config import SectionConfig
from detector.errors import ConfigError
from detector.measures import SectionSpeedMeasures
from detector.network.plate_match import PlateMatch, Reading, match_readings
from detector.types import majority

MS_TO_KMH = 3.6
Decision = Literal["fine", "review"]


@dataclass(frozen=True, slots=True)
class BundleRef:
    """A camera's signed evidence bundle, by reference (the bundle stays where it was stored)."""

    camera_id: str
    event_id: str
    manifest_sha256: str


@dataclass(frozen=True, slots=True)
class Passage:
    camera_id: str
    track_id: int
    time: datetime  # the camera's clock (aware UTC) when the vehicle crossed its timing line
    vehicle_class: str
    reading: Reading
    bundle: BundleRef | None = None
    # the camera's own bounds as its signed passage records them; the rule takes the larger of
    # these and the section config's
    clock_uncertainty_s: float | None = None
    timing_uncertainty_s: float | None = None


@dataclass(frozen=True, slots=True)
class SectionViolation:
    section_id: str
    entry: Passage
    exit: Passage
    distance_m: float
    travel_s: float
    speed_kmh: float
    speed_low_kmh: float
    limit_kmh: float
    tolerance_kmh: float
    match: PlateMatch
    decision: Decision
    reasons: tuple[str, ...]

    @property
    def measured(self) -> SectionSpeedMeasures:
        """Values for the fine schedule (speed, its uncertainty, the limit) and the reviewer."""
        return SectionSpeedMeasures(
            speed_kmh=round(self.speed_kmh, 2),
            speed_uncertainty_kmh=round(self.speed_kmh - self.speed_low_kmh, 2),
            limit_kmh=self.limit_kmh,
            tolerance_kmh=self.tolerance_kmh,
            distance_m=round(self.distance_m, 2),
            travel_s=round(self.travel_s, 3),
            plate_match=self.match.kind,
            plate_match_confidence=round(self.match.confidence, 3),
            entry_camera=self.entry.camera_id,
            exit_camera=self.exit.camera_id,
            entry_event_id=self.entry.bundle.event_id if self.entry.bundle else None,
            exit_event_id=self.exit.bundle.event_id if self.exit.bundle else None,
        )


class SectionRule:
    def __init__(self, cfg: SectionConfig) -> None:
        self.cfg = cfg

    def _pairs(self, a: int, entries: Sequence[Passage], exits: Sequence[Passage]) -> list[SectionViolation]:
        cfg = self.cfg
        ca, cb = cfg.cameras[a], cfg.cameras[a + 1]
        cands: list[tuple[float, int, int, PlateMatch]] = []
        for i, p in enumerate(entries):
            for j, q in enumerate(exits):
                dt = (q.time - p.time).total_seconds()
                if not cfg.min_travel_s <= dt <= cfg.max_travel_s:
                    continue
                m = match_readings(p.reading, q.reading)
                if m.kind == "tolerant" or (m.kind != "none" and m.confidence >= cfg.review_match_min):
                    cands.append((m.confidence, i, j, m))
        cands.sort(key=lambda c: -c[0])
        used_i: set[int] = set()
        used_j: set[int] = set()
        out = []
        for conf, i, j, m in cands:
            if i in used_i or j in used_j:
                continue
            used_i.add(i)
            used_j.add(j)
            rivals = [c for c in cands if (c[1] == i) != (c[2] == j) and c[0] >= conf - cfg.ambiguity_margin]
            v = self._judge(entries[i], exits[j], ca.chainage_m, cb.chainage_m, m, bool(rivals), a)
            if v is not None:
                out.append(v)
        return out

    def _judge(
        self, p: Passage, q: Passage, xa: float, xb: float, m: PlateMatch, ambiguous: bool, a: int
    ) -> SectionViolation | None:
        cfg = self.cfg
        ca, cb = cfg.cameras[a], cfg.cameras[a + 1]
        d = xb - xa
        dt = (q.time - p.time).total_seconds()
        e_t = (
            max(ca.clock_uncertainty_s, p.clock_uncertainty_s or 0.0)
            + max(cb.clock_uncertainty_s, q.clock_uncertainty_s or 0.0)
            + max(ca.timing_uncertainty_s, p.timing_uncertainty_s or 0.0)
            + max(cb.timing_uncertainty_s, q.timing_uncertainty_s or 0.0)
        )
        speed = d / dt * MS_TO_KMH
        low = max(0.0, d - cfg.distance_uncertainty_m) / (dt + e_t) * MS_TO_KMH
        limit = cfg.limit_for(p.vehicle_class)
        if low <= limit + cfg.tolerance_kmh:
            return None
        reasons = []
        if m.kind == "tolerant":
            reasons.append(f"plates match only tolerantly: {m.detail}")
        elif m.confidence < cfg.fine_match_min:
            reasons.append(
                f"plate match confidence {m.confidence:.2f} < {cfg.fine_match_min:.2f}: {m.detail}"
            )
        if ambiguous:
            reasons.append("another passage matches nearly as well")
        if p.vehicle_class != q.vehicle_class:
            reasons.append(f"class {p.vehicle_class} at entry, {q.vehicle_class} at exit")
        if p.bundle is None or q.bundle is None:
            reasons.append("a passage has no signed bundle")
        return SectionViolation(
            section_id=cfg.id,
            entry=p,
            exit=q,
            distance_m=d,
            travel_s=dt,
            speed_kmh=speed,
            speed_low_kmh=low,
            limit_kmh=limit,
            tolerance_kmh=cfg.tolerance_kmh,
            match=m,
            decision="review" if reasons else "fine",
            reasons=tuple(reasons),
        )

    def check(self, passages: Iterable[Passage]) -> list[SectionViolation]:
        """Violations over consecutive camera pairs of the section, ordered by entry time."""
        by_cam: dict[str, list[Passage]] = {c.camera_id: [] for c in self.cfg.cameras}
        for p in passages:
            if p.camera_id in by_cam:
                by_cam[p.camera_id].append(p)
        out = []
        for a in range(len(self.cfg.cameras) - 1):
            entries = by_cam[self.cfg.cameras[a].camera_id]
            exits = by_cam[self.cfg.cameras[a + 1].camera_id]
            out.extend(self._pairs(a, entries, exits))
        return sorted(out, key=lambda v: v.entry.time)


# ---------------------------------------------------------------------------- line crossings
@dataclass(frozen=True, slots=True)
class Crossing:
    track_id: int
    t: float  # stream seconds, interpolated between the two frames around the crossing
    vehicle_class: str


def crossings(
    records: Iterable[dict[str, object]],
    image_to_world: npt.ArrayLike,
    line: tuple[tuple[float, float], tuple[float, float]],
) -> list[Crossing]:
    """Times at which tracks (tracks.jsonl records: t, track_id, class, box) cross a timing line
    given in world metres, from its right side to its left (travel along p1 -> p2 turned left).

    The anchor is the box's bottom centre (the ground contact of a vehicle driving away or towards
    the camera), mapped to the road plane by the camera's homography; the crossing time is
    interpolated linearly between the two observations on either side of the line."""
    h = np.asarray(image_to_world, dtype=np.float64).reshape(3, 3)
    (x1, y1), (x2, y2) = line
    tracks: dict[int, list[tuple[float, float, str]]] = {}
    for r in records:
        tid = int(r["track_id"])  # type: ignore[call-overload]
        if tid < 0:
            continue
        bx = r["box"]
        u, v = (float(bx[0]) + float(bx[2])) / 2, float(bx[3])  # type: ignore[index]
        w = h @ np.array([u, v, 1.0])
        wx, wy = w[0] / w[2], w[1] / w[2]
        side = (x2 - x1) * (wy - y1) - (y2 - y1) * (wx - x1)
        tracks.setdefault(tid, []).append((float(r["t"]), float(side), str(r["class"])))  # type: ignore[arg-type]
    out = []
    for tid, pts in tracks.items():
        pts.sort()
        cls = majority(c for _, _, c in pts)[0]
        for (ta, sa, _), (tb, sb, _) in zip(pts, pts[1:], strict=False):
            if sa < 0 <= sb:
                out.append(Crossing(tid, ta + (tb - ta) * (-sa) / (sb - sa), cls))
                break
    return sorted(out, key=lambda c: c.t)


def load_passages(path: str | Path) -> list[Passage]:
    """Passages from JSON lines: {"camera_id", "track_id", "time" (ISO 8601 with zone), "class",
    "candidates": [[text, confidence], ...], "bundle": {"event_id", "manifest_sha256"} (optional)}."""
    p = Path(path)
    out = []
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{p}: passages cannot be read: {exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            t = datetime.fromisoformat(d["time"])
            if t.tzinfo is None:
                raise ValueError(f"time {d['time']!r} has no time zone")
            b = d.get("bundle")
            out.append(
                Passage(
                    str(d["camera_id"]),
                    int(d["track_id"]),
                    t,
                    str(d["class"]),
                    Reading.of((str(c[0]), float(c[1])) for c in d["candidates"]),
                    BundleRef(str(d["camera_id"]), str(b["event_id"]), str(b["manifest_sha256"]))
                    if b
                    else None,
                )
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ConfigError(f"{p}:{n}: not a passage record ({exc!r})") from exc
    return out


def passage_record(p: Passage) -> dict[str, object]:
    """The JSON line `load_passages` reads."""
    rec: dict[str, object] = {
        "camera_id": p.camera_id,
        "track_id": p.track_id,
        "time": p.time.isoformat(),
        "class": p.vehicle_class,
        "candidates": [list(c) for c in p.reading.candidates],
    }
    if p.bundle is not None:
        rec["bundle"] = {"event_id": p.bundle.event_id, "manifest_sha256": p.bundle.manifest_sha256}
    return rec
