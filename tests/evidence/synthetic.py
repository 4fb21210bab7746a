"""Generated scenes for evidence tests and benchmarks: frames with drawn vehicles, tracked detections.

No randomness without a seed, no files: everything is built in memory from the arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from detector.measures import RedLightMeasures
from detector.types import (
    Detections,
    EvidenceFrames,
    Frame,
    PlateCandidate,
    PlateRead,
    Violation,
    ViolationType,
)


@dataclass(frozen=True, slots=True)
class SceneFrame:
    frame: Frame
    detections: Detections


def scene(
    n: int,
    *,
    width: int = 320,
    height: int = 240,
    fps: float = 10.0,
    camera_id: str = "cam1",
    wall_time0: float | None = None,
    seed: int = 0,
) -> Iterator[SceneFrame]:
    """A car (track 7) driving right across a textured road, a parked car (track 8) with a 'plate'."""
    rng = np.random.default_rng(seed)
    road = rng.integers(60, 110, size=(height, width, 3), dtype=np.uint8)
    cv2.line(road, (width // 2, 0), (width // 2, height), (255, 255, 255), 2)
    for i in range(n):
        img = road.copy()
        x = int(i * width / max(n, 1))
        bw, bh = width // 6, height // 6
        car = (x, height // 2, x + bw, height // 2 + bh)
        parked = (width - bw - 10, 10, width - 10, 10 + bh)
        cv2.rectangle(img, car[:2], car[2:], (40, 40, 220), -1)
        cv2.rectangle(img, parked[:2], parked[2:], (220, 120, 40), -1)
        cv2.rectangle(
            img, (parked[0] + 4, parked[3] - 10), (parked[2] - 4, parked[3] - 2), (255, 255, 255), -1
        )
        cv2.putText(img, "29A1234", (parked[0] + 5, parked[3] - 3), cv2.FONT_HERSHEY_PLAIN, 0.6, (0, 0, 0), 1)
        dets = Detections(
            xyxy=np.array([car, parked], dtype=np.float32),
            confidence=np.array([0.9, 0.8]),
            class_id=np.array([2, 2]),
            tracker_id=np.array([7, 8]),
        )
        wall = None if wall_time0 is None else wall_time0 + i / fps
        yield SceneFrame(
            Frame(image=img, index=i, timestamp=i / fps, source_id=camera_id, wall_time=wall), dets
        )


def violation(
    at: int, fps: float = 10.0, camera_id: str = "cam1", track_id: int = 7, gap: int = 3
) -> Violation:
    return Violation(
        violation_type=ViolationType.RED_LIGHT,
        camera_id=camera_id,
        track_id=track_id,
        vehicle_class="car",
        frame_index=at,
        timestamp=at / fps,
        evidence_frames=EvidenceFrames(before=max(at - gap, 0), at=at, after=at + gap),
        measured=RedLightMeasures(
            phase="red",
            time_into_red_s=1.25,
            time_into_red_behind_line_s=1.05,
            preceding_amber_s=3.0,
            distance_behind_line_px=12.0,
            distance_past_line_px=40.0,
            lane_id="lane_1",
        ),
        rule_version="red_light/1",
        zone_id="stop_line_1",
    )


def plate_read() -> PlateRead:
    return PlateRead(
        text="51F-123.45",
        normalized="51F12345",
        confidence=0.91,
        candidates=(PlateCandidate("51F-123.45", 0.91), PlateCandidate("51F-128.45", 0.05)),
        colour="white",
        country="VN",
        needs_review=False,
        frames_used=(10, 11, 12),
    )


def camera_info(camera_id: str = "cam1"):  # noqa: ANN201 - keeps imports lazy
    from detector.evidence.manifest import CameraInfo, GPSInfo

    return CameraInfo(
        camera_id=camera_id,
        name="Ngã tư Hàng Xanh",
        location="Quận Bình Thạnh, TP.HCM",
        gps=GPSInfo(lat=10.8017, lon=106.7113),
        detecting_unit="CSGT",
    )


def models():  # noqa: ANN201
    from detector.evidence.manifest import ModelInfo

    return [ModelInfo(name="yolo11n", role="detector", sha256="1" * 64, file="yolo11n.onnx")]


def write_bundles(writer, n: int, *, frames_per: int = 16, fps: float = 10.0, start: int = 0) -> list:  # noqa: ANN001
    """Write `n` bundles with `writer` (a BundleWriter) from one generated scene; returns their paths."""
    total = start + n * frames_per + frames_per
    sfs = list(scene(total, fps=fps, camera_id=writer.camera.camera_id, wall_time0=1.8e9))
    out = []
    for k in range(n):
        at = start + k * frames_per + frames_per // 2
        window = sfs[at - 4 : at + 5]
        v = violation(at, fps=fps, camera_id=writer.camera.camera_id)
        crop = window[4].frame.image[120:140, 10:50]
        out.append(
            writer.write(
                v,
                [s.frame for s in window],
                plate=plate_read(),
                plate_crop=crop,
                detections_by_frame={s.frame.index: s.detections for s in window},
            )
        )
    return out
