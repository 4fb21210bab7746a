"""The store's view of an evidence bundle, through the evidence module's reader and verifier.

`check_bundle(path, keys)` verifies hashes and signature with `detector.evidence.verify.verify_bundle`
and, when it passes, reads the signed manifest into `BundleFacts` (plain values the store keeps).
Chain continuity is the store's own check (ingest.py), against the chain heads it has recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from detector.errors import ConfigError
from detector.evidence.keys import KeyFileError, load_public_key, trusted_keys
from detector.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    ManifestError,
    parse_manifest,
    sha256_hex,
)
from detector.evidence.registry import KeyRegistry
from detector.evidence.verify import verify_bundle
from detector.measures import ViolationMeasures
from detector.platetext import normalize_plate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BundleFile:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class BundleFacts:
    event_id: str
    camera_id: str
    sequence: int
    prev_manifest_sha256: str | None
    manifest_sha256: str
    violation_type: str
    vehicle_class: str
    measured: ViolationMeasures
    plate_text: str | None
    plate_normalized: str | None
    plate_colour: str | None
    plate_confidence: float | None
    wall_time: datetime | None
    location: str
    detecting_unit: str
    files: tuple[BundleFile, ...]
    needs_review: bool = True
    review_reasons: tuple[str, ...] = ()
    plate_candidates: tuple[tuple[str, float], ...] = ()
    key_id: str = ""
    rotated_from_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class BundleCheck:
    ok: bool
    reason: str
    facts: BundleFacts | None
    event_id: str | None = None
    camera_id: str | None = None


def load_trusted_keys(path: str | Path) -> dict[str, Ed25519PublicKey]:
    """Public keys from a folder (every *.pub and *.pub.json) or one key file, indexed by key id."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(x for x in p.iterdir() if x.name.endswith((".pub", ".pub.json")))
    else:
        raise ConfigError(f"{p}: trusted keys folder or file not found")
    keys = []
    for f in files:
        try:
            keys.append(load_public_key(f))
        except KeyFileError as exc:
            raise ConfigError(f"trusted keys: {exc}") from exc
    if not keys:
        log.warning("%s: no trusted public keys; every bundle will be rejected", p)
    return trusted_keys(keys)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def _signed_files(path: Path, manifest_data: bytes) -> tuple[BundleFile, ...]:
    """manifest.json and manifest.sig themselves, so a third party can re-verify what the API serves."""
    sig = (path / SIGNATURE_NAME).read_bytes()
    return (
        BundleFile(MANIFEST_NAME, sha256_hex(manifest_data), len(manifest_data)),
        BundleFile(SIGNATURE_NAME, sha256_hex(sig), len(sig)),
    )


def check_bundle(
    path: Path, keys: Mapping[str, Ed25519PublicKey] | KeyRegistry, fallback_time: datetime | None = None
) -> BundleCheck:
    """Verify one bundle folder (signature, files, key grant for its camera and time, rotation record);
    never raises for a bad bundle (the reason says what is wrong)."""
    report = verify_bundle(path, keys, fallback_time=fallback_time)
    if not report.ok:
        reason = "; ".join(f"{p.code}: {p.message}" for p in report.problems)
        return BundleCheck(False, reason, None, report.event_id, report.camera_id)
    data = (path / MANIFEST_NAME).read_bytes()
    try:
        m = parse_manifest(data, str(path / MANIFEST_NAME))
    except ManifestError as exc:  # verify passed a moment ago; the folder changed under us
        return BundleCheck(False, f"manifest_invalid: {exc}", None)
    plate = m.plate
    normalized = normalize_plate(plate.text) if plate is not None else None
    facts = BundleFacts(
        event_id=m.event_id,
        camera_id=m.camera.camera_id,
        sequence=m.sequence,
        prev_manifest_sha256=m.prev_manifest_sha256,
        manifest_sha256=sha256_hex(data),
        violation_type=m.violation.violation_type,
        vehicle_class=m.violation.vehicle_class,
        measured=m.violation.measured,
        plate_text=plate.text if plate is not None else None,
        plate_normalized=normalized or None,
        plate_colour=plate.colour if plate is not None else None,
        plate_confidence=plate.confidence if plate is not None else None,
        wall_time=_parse_time(m.time.wall_time),
        location=m.camera.location,
        detecting_unit=m.camera.detecting_unit,
        files=tuple(BundleFile(f.name, f.sha256, f.size) for f in m.files) + _signed_files(path, data),
        needs_review=m.needs_review or (plate is not None and plate.needs_review),
        review_reasons=tuple(m.review_reasons),
        plate_candidates=tuple((c.text, c.confidence) for c in plate.candidates) if plate is not None else (),
        key_id=m.key_id,
        rotated_from_key_id=m.key_rotation.previous_key_id if m.key_rotation else None,
    )
    return BundleCheck(True, "", facts, m.event_id, m.camera.camera_id)
