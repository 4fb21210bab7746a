"""The edge's passage stage: a vehicle crossing the camera's timing line becomes a signed bundle.

A section (average-speed) camera does not decide anything on its own: it records, for every vehicle
that crosses its timing line, a *passage*: the crossing time on the camera's clock with that clock's
error bound and the crossing's own timing bound, the vehicle's class, and, through the evidence
stage, the plate with all its candidates, the pictures before, at and after the line and the clip,
signed and chained like any violation's bundle (`violation.violation_type` is `passage`; its
`measured` holds the times). The central store pairs two cameras' passages (`section.SectionRule`).

`PassageStage.submit(result)` runs on the frame loop's result hook: it maps each detected (not
predicted) vehicle's ground point (box bottom centre) to the road plane with the camera's
calibration, and when a track goes from the right of the line to its left it interpolates the
crossing time between the two observations and hands a `Violation` of type PASSAGE to `emit` (the
evidence sink's `add_violations`), which writes the bundle once the frames after it have arrived.

Time travels with the frame: the crossing's UTC time is the frames' wall time (a live camera) or the
configured start plus stream time (a replay), never the clock of the machine deciding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from detector.config import SectionCamera
from detector.measures import PassageMeasures
from detector.network.plate_match import Reading
from detector.network.section import BundleRef, Passage
from detector.types import COCO_ROAD_USERS, EvidenceFrames, Violation, ViolationType

if TYPE_CHECKING:
    from detector.evidence.manifest import EvidenceManifest
    from detector.pipeline import FrameResult

log = logging.getLogger(__name__)
RULE_VERSION = "passage-1"
VEHICLES = frozenset({"car", "motorcycle", "bus", "truck", "bicycle"})


@dataclass
class _TrackState:
    side: float | None = None  # signed side of the last detected observation (< 0: before the line)
    t: float = 0.0
    wall: float | None = None
    frame: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    done: bool = False  # one passage per track


@dataclass
class PassageStats:
    passages: int = 0
    emitted: list[str] = field(default_factory=list)  # event keys


class PassageStage:
    """Timing-line crossings of one camera, as PASSAGE violations handed to `emit`."""

    def __init__(
        self,
        camera_id: str,
        section_id: str,
        camera: SectionCamera,
        image_to_world: npt.ArrayLike,
        emit: Callable[[Iterable[Violation]], None],
        *,
        start: datetime,
        fps: float,
        after_s: float = 0.5,
        run_id: str = "",
    ) -> None:
        if camera.timing_line is None:
            raise ValueError(f"section {section_id}: camera {camera_id} has no timing_line")
        self.camera_id = camera_id
        self.section_id = section_id
        self.camera = camera
        self.h = np.asarray(image_to_world, dtype=np.float64).reshape(3, 3)
        self.line = camera.timing_line
        self.emit = emit
        self.start = start.astimezone(UTC)
        self.after_frames = max(1, round(after_s * fps))
        self.run_id = run_id
        self.stats = PassageStats()
        self._tracks: dict[int, _TrackState] = {}

    def _sides(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        u = (xyxy[:, 0] + xyxy[:, 2]) / 2.0
        v = xyxy[:, 3]
        w = self.h @ np.stack([u, v, np.ones_like(u)]).astype(np.float64)
        wx, wy = w[0] / w[2], w[1] / w[2]
        (x1, y1), (x2, y2) = self.line
        return np.asarray((x2 - x1) * (wy - y1) - (y2 - y1) * (wx - x1), dtype=np.float64)

    def submit(self, result: FrameResult) -> None:
        f, d = result.frame, result.detections
        if d.tracker_id is None or len(d) == 0:
            return
        keep = (d.tracker_id >= 0) & ~d.predicted
        if not keep.any():
            return
        rows = np.flatnonzero(keep)
        sides = self._sides(d.xyxy[rows])
        out = []
        for i, side in zip(rows, sides, strict=True):
            tid = int(d.tracker_id[i])
            name = COCO_ROAD_USERS.get(int(d.class_id[i]), "")
            st = self._tracks.setdefault(tid, _TrackState())
            if name:
                st.classes[name] = st.classes.get(name, 0) + 1
            if st.side is not None and not st.done and st.side < 0 <= side:
                v = self._passage(tid, st, float(side), f.index, f.timestamp, f.wall_time)
                if v is not None:
                    out.append(v)
                    st.done = True
            st.side, st.t, st.wall, st.frame = float(side), f.timestamp, f.wall_time, f.index
        if out:
            self.stats.passages += len(out)
            self.stats.emitted.extend(v.event_key for v in out)
            self.emit(out)
        if len(self._tracks) > 5_000:  # a long live run: forget the oldest tracks
            for tid in list(self._tracks)[:2_500]:
                del self._tracks[tid]

    def _passage(
        self, tid: int, st: _TrackState, side: float, frame: int, t: float, wall: float | None
    ) -> Violation | None:
        assert st.side is not None
        cls = max(st.classes, key=lambda k: st.classes[k]) if st.classes else ""
        if cls not in VEHICLES:
            return None
        frac = -st.side / (side - st.side)
        t_cross = st.t + (t - st.t) * frac
        if wall is not None and st.wall is not None:
            utc = datetime.fromtimestamp(st.wall + (wall - st.wall) * frac, UTC)
            clock_source = "camera wall time"
        else:
            utc = self.start + timedelta(seconds=t_cross)
            clock_source = "configured start + stream time"
        # the crossing lies between two observations: the bound is at least half their gap
        timing = max(self.camera.timing_uncertainty_s, (t - st.t) / 2.0)
        measured = PassageMeasures(
            section_id=self.section_id,
            track_id=tid,
            crossing_utc=utc.isoformat(),
            crossing_stream_s=round(t_cross, 4),
            clock_uncertainty_s=self.camera.clock_uncertainty_s,
            timing_uncertainty_s=round(timing, 4),
            clock_source=clock_source,
            chainage_m=self.camera.chainage_m,
        )
        return Violation(
            violation_type=ViolationType.PASSAGE,
            camera_id=self.camera_id,
            track_id=tid,
            vehicle_class=cls,
            frame_index=frame,
            timestamp=t_cross,
            evidence_frames=EvidenceFrames(before=st.frame, at=frame, after=frame + self.after_frames),
            measured=measured,
            rule_version=RULE_VERSION,
            zone_id=self.section_id,
            run_id=self.run_id,
        )


# ---------------------------------------------------------------------------- central side
def passage_from_manifest(m: EvidenceManifest, manifest_sha256: str) -> Passage:
    """The passage a verified passage bundle's manifest records (raises ValueError when it is not one)."""
    if m.violation.violation_type != ViolationType.PASSAGE.value:
        raise ValueError(f"bundle {m.event_id} is a {m.violation.violation_type}, not a passage")
    meas = m.violation.measured
    if not isinstance(meas, PassageMeasures):
        raise ValueError(f"passage {m.event_id}: carries {meas.kind} measurements")
    t = datetime.fromisoformat(meas.crossing_utc)
    if t.tzinfo is None:
        raise ValueError(f"passage {m.event_id}: crossing_utc {meas.crossing_utc!r} has no time zone")
    pairs: list[tuple[str, float]] = []
    if m.plate is not None:
        pairs = [(c.text, c.confidence) for c in m.plate.candidates] or [(m.plate.text, m.plate.confidence)]
    return Passage(
        camera_id=m.camera.camera_id,
        track_id=m.violation.track_id,
        time=t,
        vehicle_class=m.violation.vehicle_class,
        reading=Reading.of(pairs),
        bundle=BundleRef(m.camera.camera_id, m.event_id, manifest_sha256),
        clock_uncertainty_s=meas.clock_uncertainty_s,
        timing_uncertainty_s=meas.timing_uncertainty_s,
    )


def open_passage_stage(
    network_path: object,
    cfg: object,
    emit: Callable[[Iterable[Violation]], None],
    start: datetime,
    fps: float,
) -> PassageStage | None:
    """The stage for a camera run from the network file, or None when no section times this camera.
    Needs the camera's road-plane calibration (`rules.calibration`)."""
    from pathlib import Path

    from detector.config import load_network_config
    from detector.errors import ConfigError
    from detector.geometry import calibration_from_config

    net = load_network_config(Path(str(network_path)))
    found = net.timing_camera(cfg.camera_id)  # type: ignore[attr-defined]
    if found is None:
        log.warning("%s: no section in %s gives this camera a timing line", cfg.camera_id, network_path)  # type: ignore[attr-defined]
        return None
    rules = getattr(cfg, "rules", None)
    cal = getattr(rules, "calibration", None)
    if cal is None:
        raise ConfigError(
            f"{cfg.camera_id}: a section camera needs rules.calibration to place its timing line"  # type: ignore[attr-defined]
        )
    sec, cam = found
    h = calibration_from_config(cal).H
    return PassageStage(cfg.camera_id, sec.id, cam, h, emit, start=start, fps=fps)  # type: ignore[attr-defined]
