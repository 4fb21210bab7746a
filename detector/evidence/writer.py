"""Write one signed evidence bundle atomically and extend the camera's hash chain.

Steps of `BundleWriter.write` (under a per-camera lock, threads and processes):
  1. next sequence and prev hash from chain/<camera>.json (adopting a bundle a crash left unrecorded);
  2. a temp folder `<root>/<camera>/.tmp-...` beside the target; every file written and fsynced;
  3. manifest.json (hashes and sizes of all files) and manifest.sig written and fsynced, dir fsynced;
  4. rename the temp folder to `<root>/<camera>/<seq:08d>-<event_id>`, fsync the camera folder;
  5. the chain state replaced atomically.
A crash before 4 leaves only a `.tmp-` folder (never verified as a bundle, removed on next start);
a crash between 4 and 5 leaves a whole bundle that the next start adopts.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import logging
import math
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from detector import __version__
from detector.config import CameraConfig, EvidenceConfig
from detector.diskguard import DiskGuard, DiskLevel
from detector.errors import DetectorError
from detector.evidence import images as im
from detector.evidence.atomic import fsync_dir, write_file_synced
from detector.evidence.chain import (
    CHAIN_DIR,
    TMP_PREFIX,
    ChainState,
    bundle_dir_name,
    load_chain_state,
    reconcile,
    rotation_path,
    save_chain_state,
    sign_head,
)
from detector.evidence.clip import write_clip
from detector.evidence.keys import Signer
from detector.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    CalibrationInfo,
    CameraInfo,
    ClipInfo,
    EvidenceManifest,
    FileEntry,
    FrameTime,
    GPSInfo,
    KeyRotation,
    ModelInfo,
    PlateCandidateInfo,
    PlateInfo,
    SignatureFile,
    SoftwareInfo,
    TimeInfo,
    ViolationInfo,
    event_id_for,
    manifest_bytes,
    parse_manifest,
    sha256_hex,
    signature_bytes,
)
from detector.evidence.packets import PacketSlice, remux_clip
from detector.evidence.ring import PendingBundle
from detector.types import Detections, Frame, PlateRead, Violation

log = logging.getLogger(__name__)


class BundleError(DetectorError):
    """A bundle could not be written (nothing was published; the chain is unchanged)."""


def camera_info_from_config(cfg: CameraConfig) -> CameraInfo:
    """The manifest's camera block from the camera config."""
    gps = cfg.gps
    return CameraInfo(
        camera_id=cfg.camera_id,
        name=cfg.name,
        location=cfg.location,
        gps=GPSInfo(lat=gps.lat, lon=gps.lon) if gps is not None else None,
        detecting_unit=cfg.detecting_unit,
    )


def _clean_measured(measured: Mapping[str, object]) -> dict[str, float | int | str | bool | None]:
    out: dict[str, float | int | str | bool | None] = {}
    for k, v in measured.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        if v is not None and not isinstance(v, bool | int | float | str):
            v = str(v)
        out[str(k)] = v
    return out


def _plate_info(plate: PlateRead) -> PlateInfo:
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


def _nearest(frames: Sequence[Frame], index: int) -> Frame:
    return min(frames, key=lambda f: (abs(f.index - index), f.index))


def _violator_box(dets: Detections | None, track_id: int) -> tuple[float, float, float, float] | None:
    if dets is None or dets.tracker_id is None:
        return None
    hits = np.flatnonzero(dets.tracker_id == track_id)
    if hits.size == 0:
        return None
    x1, y1, x2, y2 = (float(v) for v in dets.xyxy[int(hits[0])])
    return (x1, y1, x2, y2)


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _overview_lines(v: Violation, plate: PlateRead | None) -> tuple[str, ...]:
    m = v.measured
    lines: list[str] = []
    signal = m.get("signal_state", m.get("signal"))
    into = _num(m.get("time_into_red_s"))
    if signal is not None or into is not None:
        lines.append(
            f"signal: {signal or 'red'}" + (f" (+{into:.2f} s into red)" if into is not None else "")
        )
    speed = _num(m.get("speed_kmh"))
    if speed is not None:
        unc, limit = _num(m.get("speed_uncertainty_kmh")), _num(m.get("speed_limit_kmh", m.get("limit_kmh")))
        s = f"speed: {speed:.0f} km/h" + (f" +/- {unc:.0f}" if unc is not None else "")
        lines.append(s + (f" (limit {limit:.0f})" if limit is not None else ""))
    if plate is not None:
        lines.append(
            f"plate: {plate.text} ({plate.confidence:.2f})" + (" [review]" if plate.needs_review else "")
        )
    else:
        lines.append("plate: not read [review]")
    return tuple(lines)


COPYABLE_CODECS = frozenset({"h264"})  # played by every browser the console supports, unchanged


class BundleWriter:
    """Writes bundles of one camera under `root`. Thread-safe; one chain per camera across processes."""

    def __init__(
        self,
        root: Path | str,
        signer: Signer,
        camera: CameraInfo,
        models: Sequence[ModelInfo],
        config_sha256: str,
        *,
        config: EvidenceConfig | None = None,
        calibration: CalibrationInfo | None = None,
        software_version: str = __version__,
        guard: DiskGuard | None = None,
    ) -> None:
        self.root = Path(root)
        self.guard = guard
        self.signer = signer
        self.camera = camera
        self.models = tuple(models)
        self.config_sha256 = config_sha256
        self.config = config or EvidenceConfig()
        self.calibration = calibration
        self.software = SoftwareInfo(version=software_version)
        self.camera_dir = self.root / camera.camera_id
        self._lock = threading.Lock()
        for d in (self.root, self.camera_dir, self.root / CHAIN_DIR):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            self._remove_stale_temps()
            state = load_chain_state(self.root, camera.camera_id)
            self.state = reconcile(self.root, camera.camera_id, state, signer)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, open(self.root / CHAIN_DIR / f"{self.camera.camera_id}.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _remove_stale_temps(self) -> None:
        for p in self.camera_dir.glob(f"{TMP_PREFIX}*"):
            log.warning("removing unfinished bundle %s left by an interrupted write", p)
            shutil.rmtree(p, ignore_errors=True)

    # -- hooks (tests patch these to simulate crashes) ------------------------------------------
    def _write_file(self, folder: Path, name: str, data: bytes) -> None:
        write_file_synced(folder / name, data)

    def _publish(self, tmp: Path, final: Path) -> None:
        tmp.rename(final)
        fsync_dir(final.parent)

    def _previous_key_id(self) -> str | None:
        if self.state.key_id is not None or self.state.last_bundle is None:
            return self.state.key_id
        try:  # a head written before heads were signed: the newest manifest names its key
            return parse_manifest(
                (self.camera_dir / self.state.last_bundle / MANIFEST_NAME).read_bytes()
            ).key_id
        except (OSError, DetectorError):
            return None

    def _rotation(self) -> KeyRotation | None:
        """The signed hand-over to embed when this writer's key is not the one that signed the chain."""
        prev = self._previous_key_id()
        if self.state.last_sequence == 0 or prev is None or prev == self.signer.key_id:
            return None
        p = rotation_path(self.root, self.camera.camera_id)
        try:
            rot = KeyRotation.model_validate_json(p.read_bytes())
        except (OSError, ValueError) as exc:
            log.error(
                "camera %s: key changed from %s to %s without a signed rotation (%s); the chain will not "
                "verify across this bundle: run `detector keys rotate`",
                self.camera.camera_id,
                prev,
                self.signer.key_id,
                exc,
            )
            return None
        if (rot.previous_key_id, rot.new_key_id, rot.camera_id) != (
            prev,
            self.signer.key_id,
            self.camera.camera_id,
        ):
            log.error(
                "%s: rotation %s->%s does not match this key change %s->%s",
                p,
                rot.previous_key_id,
                rot.new_key_id,
                prev,
                self.signer.key_id,
            )
            return None
        return rot

    # -- public ---------------------------------------------------------------------------------
    def existing(self, violation: Violation) -> Path | None:
        """The bundle already written for this violation's event id (replays are idempotent)."""
        eid = event_id_for(violation.event_key)
        found = [p for p in self.camera_dir.glob(f"*-{eid}") if (p / MANIFEST_NAME).is_file()]
        return found[0] if found else None

    def write_pending(
        self,
        pending: PendingBundle,
        *,
        plate: PlateRead | None = None,
        plate_crop: np.ndarray | None = None,
        annotate: im.Annotate | None = None,
    ) -> Path:
        return self.write(
            pending.violation,
            pending.frames,
            plate=plate,
            plate_crop=plate_crop,
            detections_by_frame=pending.detections_by_frame,
            annotate=annotate,
            review_reasons=tuple(
                reason
                for flag, reason in (
                    (pending.truncated, "clip truncated at end of stream"),
                    (
                        pending.late,
                        "decided after its moment left the frame buffer: frames are the vehicle's newest",
                    ),
                    (
                        pending.packets is not None and pending.packets.reconnect_cut,
                        "clip cut at a camera reconnection",
                    ),
                )
                if flag
            ),
            clip_packets=pending.packets,
        )

    def write(
        self,
        violation: Violation,
        frames: Sequence[Frame],
        *,
        plate: PlateRead | None = None,
        plate_crop: np.ndarray | None = None,
        detections_by_frame: Mapping[int, Detections] | None = None,
        annotate: im.Annotate | None = None,
        review_reasons: Sequence[str] = (),
        wall_time_source: str | None = None,
        clip_packets: PacketSlice | None = None,
    ) -> Path:
        """Write, sign and chain the bundle of `violation`; returns the bundle folder.

        With `clip_packets` (the camera's own packets of these frames) the clip is a stream copy of
        them, not an encoding of `frames`."""
        if violation.camera_id != self.camera.camera_id:
            raise BundleError(
                f"violation {violation.event_key} is for camera {violation.camera_id}, writer is {self.camera.camera_id}"
            )
        if not frames:
            raise BundleError(f"{violation.event_key}: no frames to make evidence from")
        frames = sorted(frames, key=lambda f: f.index)
        dets = detections_by_frame or {}
        with self._locked():
            done = self.existing(violation)
            if done is not None:
                log.info("%s: bundle exists already at %s", violation.event_key, done)
                return done
            if self.guard is not None and self.guard.level(fresh=True) >= DiskLevel.FLOOR:
                self.guard.note_refused()
                raise BundleError(
                    f"{violation.event_key}: free space on {self.root} is below the floor: bundle not written "
                    "(the violation is still decided and listed)"
                )
            self.state = reconcile(self.root, self.camera.camera_id, self.state, self.signer)
            seq = self.state.last_sequence + 1
            rotation = self._rotation()
            eid = event_id_for(violation.event_key)
            final = self.camera_dir / bundle_dir_name(seq, eid)
            tmp = self.camera_dir / f"{TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir(mode=0o700)
            try:
                body = self._build(
                    tmp,
                    violation,
                    frames,
                    plate,
                    plate_crop,
                    dets,
                    annotate,
                    review_reasons,
                    wall_time_source,
                    seq,
                    eid,
                    rotation,
                    clip_packets,
                )
                self._write_file(tmp, MANIFEST_NAME, body)
                sig = SignatureFile(
                    key_id=self.signer.key_id,
                    signature_b64=base64.b64encode(self.signer.sign(body)).decode("ascii"),
                    manifest_sha256=sha256_hex(body),
                )
                self._write_file(tmp, SIGNATURE_NAME, signature_bytes(sig))
                fsync_dir(tmp)
                self._publish(tmp, final)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)  # nothing published, the chain is unchanged
                if exc.errno == errno.ENOSPC:
                    raise BundleError(
                        f"{violation.event_key}: disk full while writing the bundle: {exc}"
                    ) from exc
                raise
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            head = ChainState(
                camera_id=self.camera.camera_id,
                last_sequence=seq,
                last_manifest_sha256=sha256_hex(body),
                last_bundle=final.name,
                time=parse_manifest(body).time.wall_time,
            )
            self.state = sign_head(head, self.signer)
            try:
                save_chain_state(self.root, self.state)
            except OSError as exc:  # the bundle is published; the next start adopts it (reconcile)
                if exc.errno != errno.ENOSPC:
                    raise
                log.error(
                    "%s: disk full: chain head not updated (the next start adopts %s)",
                    self.camera.camera_id,
                    final.name,
                )
        log.info("%s: evidence bundle %s", violation.event_key, final)
        return final

    # -- internals ------------------------------------------------------------------------------
    def _clip(self, tmp: Path, frames: Sequence[Frame], packets: PacketSlice | None) -> ClipInfo:
        """The camera's packets copied (from the keyframe before the first frame) when browsers and
        players can show them as they are (COPYABLE_CODECS), else the frames encoded to H.264 (a camera
        or file in MPEG-4 part 2, MJPEG, ...: the sample scene is MPEG-4 part 2)."""
        if packets is not None and packets.codec in COPYABLE_CODECS:
            res = remux_clip(packets, tmp / "clip.mp4")
            first = frames[0]
            lead = packets.frame_pts.get(first.index, packets.start_pts) - packets.start_pts
            start = first.timestamp - float(lead * packets.time_base)
            return ClipInfo(
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
        enc = write_clip(
            frames,
            tmp / "clip.mp4",
            codec=self.config.clip_codec,
            crf=self.config.clip_crf,
            max_width=self.config.clip_max_width,
        )
        return ClipInfo(
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

    def _build(
        self,
        tmp: Path,
        v: Violation,
        frames: Sequence[Frame],
        plate: PlateRead | None,
        plate_crop: np.ndarray | None,
        dets: Mapping[int, Detections],
        annotate: im.Annotate | None,
        review_reasons: Sequence[str],
        wall_time_source: str | None,
        seq: int,
        eid: str,
        rotation: KeyRotation | None = None,
        clip_packets: PacketSlice | None = None,
    ) -> bytes:
        q = self.config.jpeg_quality
        files: list[FileEntry] = []
        reasons = list(review_reasons)

        def add(name: str, role: str, media: str, data: bytes, frame: Frame | None = None) -> None:
            self._write_file(tmp, name, data)
            files.append(
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

        ev = v.evidence_frames
        chosen: dict[str, Frame] = {}
        for role, idx in (("before", ev.before), ("at", ev.at), ("after", ev.after)):
            f = _nearest(frames, idx)
            if f.index != idx:
                reasons.append(f"{role} frame {idx} not buffered; nearest {f.index} used")
            chosen[role] = f
            add(f"{role}.jpg", role, "image/jpeg", im.encode_jpeg(f.image, q), f)
        at = chosen["at"]
        box = _violator_box(dets.get(at.index), v.track_id)
        if box is not None:
            vc = im.crop(at.image, box, pad=0.05)
            if vc is not None:
                add("vehicle.jpg", "vehicle", "image/jpeg", im.encode_jpeg(vc, q), at)
        if plate is not None and plate_crop is not None and plate_crop.size:
            add("plate.jpg", "plate", "image/jpeg", im.encode_jpeg(np.ascontiguousarray(plate_crop), q))
        text = im.OverviewText(
            camera_name=self.camera.name,
            camera_id=self.camera.camera_id,
            location=self.camera.location,
            violation=f"{v.violation_type.value.replace('_', ' ').upper()}  #{v.track_id} {v.vehicle_class}",
            lines=_overview_lines(v, plate),
        )
        ov, masked = im.overview(
            at,
            v.track_id,
            box,
            dets.get(at.index),
            text,
            privacy_mask=self.config.privacy_mask,
            annotate=annotate,
        )
        add("overview.jpg", "overview", "image/jpeg", im.encode_jpeg(ov, q), at)
        clip_info = None
        if self.config.clip_enabled and len(frames) >= 2:
            clip_info = self._clip(tmp, frames, clip_packets)
            (tmp / "clip.mp4").chmod(
                0o600
            )  # the encoder honours the umask; evidence is private like the rest
            data = (tmp / "clip.mp4").read_bytes()
            files.append(
                FileEntry(
                    name="clip.mp4",
                    role="clip",
                    media_type="video/mp4",
                    sha256=sha256_hex(data),
                    size=len(data),
                )
            )
        if plate is None:
            reasons.append("no plate reading")
        elif plate.needs_review:
            reasons.append("plate reading needs review")
        manifest = EvidenceManifest(
            event_id=eid,
            event_key=v.event_key,
            camera=self.camera,
            violation=ViolationInfo(
                violation_type=v.violation_type.value,
                rule_version=v.rule_version,
                zone_id=v.zone_id,
                track_id=v.track_id,
                vehicle_class=v.vehicle_class,
                measured=_clean_measured(v.measured),
                riders=v.riders,
            ),
            plate=_plate_info(plate) if plate is not None else None,
            needs_review=bool(reasons) or bool(v.measured.get("needs_review")),
            review_reasons=tuple(reasons),
            time=TimeInfo(
                frame_index=v.frame_index,
                stream_time_s=v.timestamp,
                timestamp_source=at.timestamp_source,
                wall_time=(
                    datetime.fromtimestamp(at.wall_time, tz=UTC).isoformat()
                    if at.wall_time is not None
                    else None
                ),
                wall_time_source=(wall_time_source or "source") if at.wall_time is not None else None,
                before=FrameTime(frame_index=chosen["before"].index, timestamp_s=chosen["before"].timestamp),
                at=FrameTime(frame_index=at.index, timestamp_s=at.timestamp),
                after=FrameTime(frame_index=chosen["after"].index, timestamp_s=chosen["after"].timestamp),
            ),
            calibration=self.calibration,
            models=self.models,
            config_sha256=self.config_sha256,
            software=self.software,
            files=tuple(files),
            clip=clip_info,
            privacy_masked=self.config.privacy_mask and masked > 0,
            key_id=self.signer.key_id,
            sequence=seq,
            prev_manifest_sha256=self.state.last_manifest_sha256,
            key_rotation=rotation,
        )
        return manifest_bytes(manifest)
