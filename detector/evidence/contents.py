"""What goes into one evidence bundle: the request, its files (images, clip) and its manifest.

`BundleWriter` (writer.py) owns the chain, the lock and the temp folder; this module fills the temp
folder for one violation and says what the manifest claims about it:

- `BundleRequest`: a violation with its frames, plate and detections (what `BundleWriter.write` takes);
- `BundleFiles`: each file written (through the writer's hook) and listed with its hash and size;
- `write_images` / `write_overview` / `write_clip`: the evidence frames, the violator's crop, the plate,
  the annotated overview, the clip (the camera's packets copied, or the frames encoded);
- `build_manifest`: the `EvidenceManifest` of the written files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from detector.config import EvidenceConfig
from detector.evidence import images as im
from detector.evidence.clip import write_clip as encode_clip
from detector.evidence.manifest import (
    CalibrationInfo,
    CameraInfo,
    ClipInfo,
    EvidenceManifest,
    FileEntry,
    FrameTime,
    KeyRotation,
    ModelInfo,
    PlateCandidateInfo,
    PlateInfo,
    SoftwareInfo,
    TimeInfo,
    ViolationInfo,
    sha256_hex,
)
from detector.evidence.packets import PacketSlice, remux_clip
from detector.measures import (
    NoStoppingMeasures,
    PassageMeasures,
    RedLightMeasures,
    SpeedingMeasures,
    StopLineMeasures,
    TooManyRidersMeasures,
    ViolationMeasures,
)
from detector.types import Detections, Frame, PlateRead, Violation

COPYABLE_CODECS = frozenset({"h264"})  # played by every browser the console supports, unchanged
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class BundleRequest:
    """One violation to write: its frames (time order), plate reading and crop, the detections of
    those frames, the scene drawing for the overview, why a person must look, where wall time comes
    from, and the camera's own packets for the clip (stream copy) when there are."""

    violation: Violation
    frames: Sequence[Frame]
    plate: PlateRead | None = None
    plate_crop: np.ndarray | None = None
    detections: Mapping[int, Detections] = field(default_factory=dict)
    annotate: im.Annotate | None = None
    review_reasons: Sequence[str] = ()
    wall_time_source: str | None = None
    clip_packets: PacketSlice | None = None


@dataclass(frozen=True, slots=True)
class BundleIdentity:
    """Where a bundle sits in its camera's chain."""

    event_id: str
    sequence: int
    prev_manifest_sha256: str | None
    key_id: str
    rotation: KeyRotation | None


@dataclass(frozen=True, slots=True)
class WriterSetup:
    """What every bundle of one writer states: the camera, models, config, calibration, software."""

    camera: CameraInfo
    models: tuple[ModelInfo, ...]
    config_sha256: str
    config: EvidenceConfig
    calibration: CalibrationInfo | None
    software: SoftwareInfo


class BundleFiles:
    """The files of one bundle as they are written into its temp folder, with their manifest entries."""

    def __init__(self, folder: Path, write: Callable[[Path, str, bytes], None]) -> None:
        self.folder = folder
        self._write = write
        self.entries: list[FileEntry] = []

    def add(self, name: str, role: str, media: str, data: bytes, frame: Frame | None = None) -> None:
        self._write(self.folder, name, data)
        self.list(name, role, media, data, frame)

    def list(self, name: str, role: str, media: str, data: bytes, frame: Frame | None = None) -> None:
        """List a file already in the folder (written by an encoder)."""
        self.entries.append(
            FileEntry(
                name=name,
                role=role,
                media_type=media,
                sha256=sha256_hex(data),
                size=len(data),
                frame_index=frame.index if frame else None,
                timestamp_s=frame.timestamp if frame else None,
            )
        )


def nearest(frames: Sequence[Frame], index: int) -> Frame:
    return min(frames, key=lambda f: (abs(f.index - index), f.index))


def violator_box(dets: Detections | None, track_id: int) -> Box | None:
    if dets is None or dets.tracker_id is None:
        return None
    hits = np.flatnonzero(dets.tracker_id == track_id)
    if hits.size == 0:
        return None
    x1, y1, x2, y2 = (float(v) for v in dets.xyxy[int(hits[0])])
    return (x1, y1, x2, y2)


def plate_info(plate: PlateRead) -> PlateInfo:
    return PlateInfo(
        text=plate.text,
        normalized=plate.normalized,
        confidence=float(min(max(plate.confidence, 0.0), 1.0)),
        candidates=tuple(
            PlateCandidateInfo(text=c.text, confidence=float(min(max(c.confidence, 0.0), 1.0)))
            for c in plate.candidates
        ),
        colour=plate.colour,
        country=plate.country,
        rows=plate.rows,
        needs_review=plate.needs_review,
        frames_used=tuple(int(i) for i in plate.frames_used),
    )


def measured_lines(m: ViolationMeasures) -> list[str]:
    """The measurements a reader of the overview needs first, from the rule's typed fields."""
    match m:
        case RedLightMeasures() | StopLineMeasures():
            into = m.time_into_red_s
            return [f"signal: {m.phase}" + (f" (+{into:.2f} s into red)" if into is not None else "")]
        case SpeedingMeasures():
            return [
                f"speed: {m.speed_kmh:.0f} km/h +/- {m.speed_uncertainty_kmh:.0f} (limit {m.limit_kmh:.0f})"
            ]
        case NoStoppingMeasures():
            return [f"stopped: {m.dwell_s:.0f} s (limit {m.max_dwell_s:.0f} s)"]
        case TooManyRidersMeasures():
            return [f"riders: {m.riders}"]
        case PassageMeasures():  # a section camera's passage: the time it is timed by
            clock = m.clock_uncertainty_s
            return [
                f"line crossed: {m.crossing_utc[:23].replace('T', ' ')} UTC"
                + (f" +/- {clock:.2f} s" if clock else "")
            ]
    return []


def overview_lines(v: Violation, plate: PlateRead | None) -> tuple[str, ...]:
    lines = measured_lines(v.measured)
    if plate is not None:
        lines.append(
            f"plate: {plate.text} ({plate.confidence:.2f})" + (" [review]" if plate.needs_review else "")
        )
    else:
        lines.append("plate: not read [review]")
    return tuple(lines)


def write_images(
    files: BundleFiles, req: BundleRequest, quality: int, reasons: list[str]
) -> tuple[dict[str, Frame], Box | None]:
    """The before/at/after frames (the nearest buffered one where a frame is missing, noted in
    `reasons`), the violator's crop and the plate crop. Returns the frames chosen and the box."""
    v, ev = req.violation, req.violation.evidence_frames
    chosen: dict[str, Frame] = {}
    for role, idx in (("before", ev.before), ("at", ev.at), ("after", ev.after)):
        f = nearest(req.frames, idx)
        if f.index != idx:
            reasons.append(f"{role} frame {idx} not buffered; nearest {f.index} used")
        chosen[role] = f
        files.add(f"{role}.jpg", role, "image/jpeg", im.encode_jpeg(f.image, quality), f)
    at = chosen["at"]
    box = violator_box(req.detections.get(at.index), v.track_id)
    if box is not None:
        vc = im.crop(at.image, box, pad=0.05)
        if vc is not None:
            files.add("vehicle.jpg", "vehicle", "image/jpeg", im.encode_jpeg(vc, quality), at)
    crop = req.plate_crop
    if req.plate is not None and crop is not None and crop.size:
        files.add("plate.jpg", "plate", "image/jpeg", im.encode_jpeg(np.ascontiguousarray(crop), quality))
    return chosen, box


def write_overview(
    files: BundleFiles, req: BundleRequest, setup: WriterSetup, at: Frame, box: Box | None
) -> int:
    """The annotated `at` frame; returns how many other plates were masked."""
    v, cam = req.violation, setup.camera
    text = im.OverviewText(
        camera_name=cam.name,
        camera_id=cam.camera_id,
        location=cam.location,
        violation=f"{v.violation_type.value.replace('_', ' ').upper()}  #{v.track_id} {v.vehicle_class}",
        lines=overview_lines(v, req.plate),
    )
    ov, masked = im.overview(
        at,
        v.track_id,
        box,
        req.detections.get(at.index),
        text,
        privacy_mask=setup.config.privacy_mask,
        annotate=req.annotate,
    )
    files.add("overview.jpg", "overview", "image/jpeg", im.encode_jpeg(ov, setup.config.jpeg_quality), at)
    return masked


def write_clip(files: BundleFiles, req: BundleRequest, cfg: EvidenceConfig) -> ClipInfo:
    """The camera's packets copied (from the keyframe before the first frame) when browsers and
    players can show them as they are (COPYABLE_CODECS), else the frames encoded to H.264 (a camera
    or file in MPEG-4 part 2, MJPEG, ...: the sample scene is MPEG-4 part 2)."""
    path, frames, packets = files.folder / "clip.mp4", req.frames, req.clip_packets
    if packets is not None and packets.codec in COPYABLE_CODECS:
        res = remux_clip(packets, path)
        first = frames[0]
        lead = packets.frame_pts.get(first.index, packets.start_pts) - packets.start_pts
        start = first.timestamp - float(lead * packets.time_base)
        info = ClipInfo(
            file="clip.mp4",
            codec=res.codec,
            encoder="stream copy",
            source="camera",
            fps=res.fps,
            frame_count=res.frame_count,
            width=res.width,
            height=res.height,
            start_s=round(start, 6),
            end_s=round(start + res.end_s, 6),
        )
    else:
        enc = encode_clip(frames, path, codec=cfg.clip_codec, crf=cfg.clip_crf, max_width=cfg.clip_max_width)
        info = ClipInfo(
            file="clip.mp4",
            codec=enc.codec,
            encoder=enc.encoder,
            source="encoded",
            fps=enc.fps,
            frame_count=enc.frame_count,
            width=enc.width,
            height=enc.height,
            start_s=enc.start_s,
            end_s=enc.end_s,
        )
    path.chmod(0o600)  # the encoder honours the umask; evidence is private like the rest
    files.list("clip.mp4", "clip", "video/mp4", path.read_bytes())
    return info


def time_info(v: Violation, chosen: Mapping[str, Frame], wall_time_source: str | None) -> TimeInfo:
    at = chosen["at"]

    def ft(role: str) -> FrameTime:
        return FrameTime(frame_index=chosen[role].index, timestamp_s=chosen[role].timestamp)

    wall = at.wall_time
    return TimeInfo(
        frame_index=v.frame_index,
        stream_time_s=v.timestamp,
        timestamp_source=at.timestamp_source,
        wall_time=datetime.fromtimestamp(wall, tz=UTC).isoformat() if wall is not None else None,
        wall_time_source=(wall_time_source or "source") if wall is not None else None,
        before=ft("before"),
        at=ft("at"),
        after=ft("after"),
    )


def review_reasons(req: BundleRequest, reasons: Sequence[str]) -> tuple[str, ...]:
    """Why a person must look: the caller's and the files' reasons, the rule's, the plate's."""
    out = list(reasons) + list(req.violation.measured.review_reasons)
    if req.plate is None:
        out.append("no plate reading")
    elif req.plate.needs_review:
        out.append("plate reading needs review")
    return tuple(out)


def build_manifest(
    req: BundleRequest,
    setup: WriterSetup,
    ident: BundleIdentity,
    files: BundleFiles,
    chosen: Mapping[str, Frame],
    reasons: Sequence[str],
    clip: ClipInfo | None,
    masked: int,
) -> EvidenceManifest:
    v = req.violation
    why = review_reasons(req, reasons)
    return EvidenceManifest(
        event_id=ident.event_id,
        event_key=v.event_key,
        camera=setup.camera,
        violation=ViolationInfo(
            violation_type=v.violation_type.value,
            rule_version=v.rule_version,
            zone_id=v.zone_id,
            track_id=v.track_id,
            vehicle_class=v.vehicle_class,
            measured=v.measured,
            riders=v.riders,
        ),
        plate=plate_info(req.plate) if req.plate is not None else None,
        needs_review=bool(why),
        review_reasons=why,
        time=time_info(v, chosen, req.wall_time_source),
        calibration=setup.calibration,
        models=setup.models,
        config_sha256=setup.config_sha256,
        software=setup.software,
        files=tuple(files.entries),
        clip=clip,
        privacy_masked=setup.config.privacy_mask and masked > 0,
        key_id=ident.key_id,
        sequence=ident.sequence,
        prev_manifest_sha256=ident.prev_manifest_sha256,
        key_rotation=ident.rotation,
    )


def fill_bundle(
    folder: Path,
    write: Callable[[Path, str, bytes], None],
    req: BundleRequest,
    setup: WriterSetup,
    ident: BundleIdentity,
) -> EvidenceManifest:
    """Write every file of `req`'s bundle into `folder` (through `write`) and return its manifest."""
    files = BundleFiles(folder, write)
    reasons = list(req.review_reasons)
    chosen, box = write_images(files, req, setup.config.jpeg_quality, reasons)
    masked = write_overview(files, req, setup, chosen["at"], box)
    clip = None
    if setup.config.clip_enabled and len(req.frames) >= 2:
        clip = write_clip(files, req, setup.config)
    return build_manifest(req, setup, ident, files, chosen, reasons, clip, masked)
