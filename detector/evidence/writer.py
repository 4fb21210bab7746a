"""Write one signed evidence bundle atomically and extend the camera's hash chain.

Steps of `BundleWriter.write` (under a per-camera lock, threads and processes):
  1. next sequence and prev hash from chain/<camera>.json (adopting a bundle a crash left unrecorded);
  2. a temp folder `<root>/<camera>/.tmp-...` beside the target; every file written and fsynced;
  3. manifest.json (hashes and sizes of all files) and manifest.sig written and fsynced, dir fsynced;
  4. rename the temp folder to `<root>/<camera>/<seq:08d>-<event_id>`, fsync the camera folder;
  5. the chain state replaced atomically.
A crash before 4 leaves only a `.tmp-` folder (never verified as a bundle, removed on next start);
a crash between 4 and 5 leaves a whole bundle that the next start adopts.
What goes into the temp folder and the manifest (step 2 and 3) is `detector.evidence.contents`.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import logging
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from detector import __version__
from detector.config import CameraConfig, EvidenceConfig
from detector.diskguard import DiskGuard, DiskLevel
from detector.errors import DetectorError
from detector.evidence import images as im
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
from detector.evidence.contents import BundleIdentity, BundleRequest, WriterSetup, fill_bundle
from detector.evidence.keys import Signer
from detector.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    CalibrationInfo,
    CameraInfo,
    GPSInfo,
    KeyRotation,
    ModelInfo,
    SignatureFile,
    SoftwareInfo,
    event_id_for,
    manifest_bytes,
    parse_manifest,
    sha256_hex,
    signature_bytes,
)
from detector.evidence.packets import PacketSlice
from detector.evidence.ring import PendingBundle
from detector.fsutil import fsync_dir, rename_synced, write_file_synced
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


def _pending_reasons(pending: PendingBundle) -> tuple[str, ...]:
    """Why the frame buffer's evidence of a violation needs a person's look."""
    flags = (
        (pending.truncated, "clip truncated at end of stream"),
        (pending.late, "decided after its moment left the frame buffer: frames are the vehicle's newest"),
        (pending.packets is not None and pending.packets.reconnect_cut, "clip cut at a camera reconnection"),
    )
    return tuple(reason for flag, reason in flags if flag)


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
        self._setup = WriterSetup(camera, self.models, config_sha256, self.config, calibration, self.software)
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
        rename_synced(tmp, final)

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
            review_reasons=_pending_reasons(pending),
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
        req = BundleRequest(
            violation,
            sorted(frames, key=lambda f: f.index),
            plate,
            plate_crop,
            detections_by_frame or {},
            annotate,
            review_reasons,
            wall_time_source,
            clip_packets,
        )
        with self._locked():
            done = self.existing(violation)
            if done is not None:
                log.info("%s: bundle exists already at %s", violation.event_key, done)
                return done
            self._check_floor(violation)
            final = self._write_locked(req)
        log.info("%s: evidence bundle %s", violation.event_key, final)
        return final

    # -- internals ------------------------------------------------------------------------------
    def _check_floor(self, violation: Violation) -> None:
        if self.guard is not None and self.guard.level(fresh=True) >= DiskLevel.FLOOR:
            self.guard.note_refused()
            raise BundleError(
                f"{violation.event_key}: free space on {self.root} is below the floor: bundle not written "
                "(the violation is still decided and listed)"
            )

    def _write_locked(self, req: BundleRequest) -> Path:
        """Under the lock: fill a temp folder, sign, publish it under its final name, advance the head."""
        self.state = reconcile(self.root, self.camera.camera_id, self.state, self.signer)
        ident = BundleIdentity(
            event_id=event_id_for(req.violation.event_key),
            sequence=self.state.last_sequence + 1,
            prev_manifest_sha256=self.state.last_manifest_sha256,
            key_id=self.signer.key_id,
            rotation=self._rotation(),
        )
        final = self.camera_dir / bundle_dir_name(ident.sequence, ident.event_id)
        tmp = self.camera_dir / f"{TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(mode=0o700)
        try:
            body = manifest_bytes(fill_bundle(tmp, self._write_file, req, self._setup, ident))
            self._sign_into(tmp, body)
            self._publish(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # nothing published, the chain is unchanged
            if exc.errno == errno.ENOSPC:
                raise BundleError(
                    f"{req.violation.event_key}: disk full while writing the bundle: {exc}"
                ) from exc
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._advance_head(ident.sequence, body, final)
        return final

    def _sign_into(self, tmp: Path, body: bytes) -> None:
        """manifest.json and its detached signature, then the folder itself, flushed to disk."""
        self._write_file(tmp, MANIFEST_NAME, body)
        sig = SignatureFile(
            key_id=self.signer.key_id,
            signature_b64=base64.b64encode(self.signer.sign(body)).decode("ascii"),
            manifest_sha256=sha256_hex(body),
        )
        self._write_file(tmp, SIGNATURE_NAME, signature_bytes(sig))
        fsync_dir(tmp)

    def _advance_head(self, seq: int, body: bytes, final: Path) -> None:
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
