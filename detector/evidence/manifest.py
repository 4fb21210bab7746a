"""The evidence manifest: what one bundle claims, in a versioned, schema-checked JSON document.

`manifest.json` is written once, as the exact bytes `manifest_bytes(m)` returns (sorted keys,
2-space indent, UTF-8, trailing newline). Those bytes are what the detached Ed25519 signature
(`manifest.sig`) covers and what the next bundle of the same camera hashes into
`prev_manifest_sha256`. Readers must verify the bytes on disk, never a re-serialisation.

The JSON Schema of this model is committed as `manifest.schema.json` beside this file;
`tests/test_evidence_manifest.py` checks it equals `manifest_json_schema()`. Regenerate with
`python -m detector.evidence.manifest > detector/evidence/manifest.schema.json`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Final, Literal

from pydantic import Field, ValidationError, model_validator

from detector.base import FrozenModel
from detector.errors import DetectorError
from detector.measures import MeasuresError, ViolationMeasuresField, legacy_measures, measures_json
from detector.modelinfo import ModelInfo

#: Version of the manifest format; bump on any incompatible change and keep the reader for old ones.
MANIFEST_VERSION: Final = 3
#: version 1 has no clip.source (its clips were all encoded); versions 1 and 2 carry the rule's
#: measured values as a free dict, read into the typed measurements by field name (`legacy_measures`)
READABLE_VERSIONS = (1, 2, 3)
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
#: Namespace of deterministic event ids: uuid5(EVENT_NAMESPACE, violation.event_key).
EVENT_NAMESPACE = uuid.UUID("6f1c3a52-6d1e-5b8e-9a57-1d2c0e7a4b11")

Sha256Hex = str
_SHA256 = r"^[0-9a-f]{64}$"


class ManifestError(DetectorError):
    """A manifest that cannot be read or does not match the schema."""


class FileEntry(FrozenModel):
    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,128}$", description="File name inside the bundle (no folders)"
    )
    role: str = Field(
        description="What the file shows: before, at, after, plate, overview, clip (or another label)"
    )
    media_type: str = Field(description="MIME type, e.g. image/jpeg, video/mp4")
    sha256: Sha256Hex = Field(pattern=_SHA256, description="sha256 of the file's bytes, lowercase hex")
    size: int = Field(ge=0, description="File size in bytes")
    frame_index: int | None = Field(default=None, description="Source frame of an image, if it is one frame")
    timestamp_s: float | None = Field(default=None, description="Stream time of that frame, seconds")


class GPSInfo(FrozenModel):
    lat: float = Field(ge=-90, le=90, description="Latitude, decimal degrees (WGS84)")
    lon: float = Field(ge=-180, le=180, description="Longitude, decimal degrees (WGS84)")


class CameraInfo(FrozenModel):
    camera_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Stable camera id")
    name: str = Field(description="Human name of the camera")
    location: str = Field(default="", description="Place as written on a notice")
    gps: GPSInfo | None = Field(default=None, description="Camera position")
    detecting_unit: str = Field(default="", description="Unit that operates the camera")


class CalibrationInfo(FrozenModel):
    method: str = Field(description="How distances were measured: homography, none, ...")
    homography: tuple[tuple[float, float, float], ...] | None = Field(
        default=None, description="3x3 image-to-ground homography, row-major, if any"
    )
    image_points: tuple[tuple[float, float], ...] = Field(
        default=(), description="Calibration points, pixels"
    )
    world_points: tuple[tuple[float, float], ...] = Field(
        default=(), description="Same points on the road, metres"
    )
    reprojection_error_px: float | None = Field(
        default=None, ge=0, description="RMS reprojection error, pixels"
    )
    reprojection_error_m: float | None = Field(
        default=None, ge=0, description="RMS reprojection error, metres"
    )
    sha256: Sha256Hex | None = Field(
        default=None, pattern=_SHA256, description="sha256 of the calibration data"
    )
    description: str = Field(default="", description="Free text: points used, date, who calibrated")


class ViolationInfo(FrozenModel):
    violation_type: str = Field(description="Rule family, e.g. red_light, speeding")
    rule_version: str = Field(description="Version of the rule that decided")
    zone_id: str | None = Field(default=None, description="Zone the rule applied to")
    track_id: int = Field(description="Tracker id of the vehicle (per run)")
    vehicle_class: str = Field(description="Vehicle class: car, motorcycle, bus, truck, bicycle")
    measured: ViolationMeasuresField = Field(
        description="The rule's typed measurements, by `kind` (the violation type): signal phase and time "
        "into red, speed with its uncertainty and limit, lane, dwell, ... (since manifest_version 3; "
        "earlier versions carry a free dict with the same names, read into these fields)"
    )
    riders: int | None = Field(
        default=None,
        ge=0,
        description="People on the two-wheeler (rider and passengers) as the riders stage counted them; "
        "absent for other vehicles and in bundles written before riders were counted",
    )

    @model_validator(mode="after")
    def _kind_is_the_type(self) -> ViolationInfo:
        if self.measured.kind != self.violation_type:
            raise ValueError(f"{self.violation_type} violation carries {self.measured.kind} measurements")
        return self


class PlateCandidateInfo(FrozenModel):
    text: str
    confidence: float = Field(ge=0, le=1)


class PlateInfo(FrozenModel):
    text: str = Field(description="Display form, e.g. 51F-123.45")
    normalized: str = Field(description="Lookup key, e.g. 51F12345")
    confidence: float = Field(ge=0, le=1, description="Confidence of the chosen reading")
    candidates: tuple[PlateCandidateInfo, ...] = Field(default=(), description="Alternatives, best first")
    colour: str | None = Field(default=None, description="Plate colour (white, yellow, blue, red), if read")
    country: str = Field(default="unknown", description="Plate grammar that matched")
    rows: int = Field(default=1, ge=1, le=2, description="One- or two-row plate")
    needs_review: bool = Field(default=True, description="The reading must be checked by a person")
    frames_used: tuple[int, ...] = Field(default=(), description="Frame indices voted over")


class FrameTime(FrozenModel):
    frame_index: int = Field(ge=0)
    timestamp_s: float = Field(description="Stream time, seconds")


class TimeInfo(FrozenModel):
    frame_index: int = Field(ge=0, description="Frame of the decisive moment")
    stream_time_s: float = Field(description="Seconds from the start of the stream at the moment")
    timestamp_source: str = Field(description="Where stream time comes from: pts, fps, ...")
    wall_time: str | None = Field(
        default=None, description="UTC capture time (ISO 8601) when the source knows it; None for replays"
    )
    wall_time_source: str | None = Field(
        default=None, description="Where wall time comes from: camera, ntp, ..."
    )
    before: FrameTime | None = Field(default=None, description="Evidence frame before the moment")
    at: FrameTime | None = Field(default=None, description="Evidence frame at the moment")
    after: FrameTime | None = Field(default=None, description="Evidence frame after the moment")


class ClipInfo(FrozenModel):
    file: str = Field(description="Clip file name in the bundle")
    codec: str = Field(description="Codec actually written: h264, mpeg4, ...")
    encoder: str = Field(description="Encoder used: libx264, opencv-mp4v, ..., or 'stream copy'")
    source: Literal["encoded", "camera"] = Field(
        default="encoded",
        description="encoded: frames encoded by this software; camera: the camera's own packets copied "
        "unchanged (no re-encode), from the keyframe before the clip's window (since manifest_version 2)",
    )
    container: str = Field(default="mp4", description="Container format")
    fps: float = Field(gt=0, description="Nominal frame rate")
    frame_count: int = Field(ge=0)
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    start_s: float = Field(description="Stream time of the first frame")
    end_s: float = Field(description="Stream time of the last frame")


class KeyRotation(FrozenModel):
    """A signed key change in a camera's chain: the previous key hands the camera over to the new one.

    `signature_b64` is the previous key's Ed25519 signature over `rotation_statement_bytes` of the
    other fields; the manifest carrying this is signed by the new key, so both keys vouch for it.
    """

    camera_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Camera whose chain changes key")
    previous_key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="Key that signed the chain so far")
    new_key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="Key that signs from this bundle on")
    issued_at: str = Field(description="UTC time (ISO 8601) the rotation was prepared")
    signature_b64: str = Field(description="Previous key's signature over the statement, base64")


class SoftwareInfo(FrozenModel):
    name: str = Field(default="detector", description="Software that wrote the bundle")
    version: str = Field(description="detector.__version__")


class EvidenceManifest(FrozenModel):
    """Everything one evidence bundle claims. Signed as bytes; chained per camera."""

    manifest_version: Literal[1, 2, 3] = Field(
        default=MANIFEST_VERSION,
        description="Manifest format version (MANIFEST_VERSION; 1 and 2 are still read)",
    )
    event_id: str = Field(description="uuid5(EVENT_NAMESPACE, event_key): replays give the same id")
    event_key: str = Field(description="camera:type:track:frame, the violation's deterministic key")
    camera: CameraInfo
    violation: ViolationInfo
    plate: PlateInfo | None = Field(default=None, description="Plate reading, if any")
    needs_review: bool = Field(description="A person must review before a notice is sent")
    review_reasons: tuple[str, ...] = Field(default=(), description="Why review is needed")
    time: TimeInfo
    calibration: CalibrationInfo | None = Field(default=None, description="Calibration used for measures")
    models: tuple[ModelInfo, ...] = Field(default=(), description="Every model that contributed")
    config_sha256: Sha256Hex = Field(pattern=_SHA256, description="sha256 of the camera config file")
    software: SoftwareInfo
    files: tuple[FileEntry, ...] = Field(description="Every file of the bundle except manifest.json/.sig")
    clip: ClipInfo | None = Field(default=None, description="Video clip, if written")
    privacy_masked: bool = Field(
        default=False, description="Other vehicles' plates are blurred in the overview"
    )
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="Id of the key that signs this manifest")
    sequence: int = Field(ge=1, description="Per-camera sequence number, 1 for the first bundle")
    prev_manifest_sha256: Sha256Hex | None = Field(
        default=None,
        pattern=_SHA256,
        description="sha256 of this camera's previous manifest.json; None if first",
    )
    key_rotation: KeyRotation | None = Field(
        default=None, description="Set on the first bundle signed by a new key: the signed hand-over"
    )


class SignatureFile(FrozenModel):
    """manifest.sig: a detached signature over the exact bytes of manifest.json."""

    algorithm: Literal["ed25519"] = Field(default="ed25519", description="Signature algorithm")
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="First 16 hex of sha256 of the raw public key")
    signature_b64: str = Field(description="Base64 of the 64-byte Ed25519 signature")
    manifest_sha256: Sha256Hex = Field(
        pattern=_SHA256, description="sha256 of the signed manifest.json bytes"
    )


def rotation_statement_bytes(camera_id: str, previous_key_id: str, new_key_id: str, issued_at: str) -> bytes:
    """The exact bytes the previous key signs to hand a camera's chain to a new key."""
    statement = {
        "type": "detector.key_rotation.v1",
        "camera_id": camera_id,
        "previous_key_id": previous_key_id,
        "new_key_id": new_key_id,
        "issued_at": issued_at,
    }
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signature_bytes(sig: SignatureFile) -> bytes:
    return (json.dumps(sig.model_dump(mode="json"), sort_keys=True, indent=2) + "\n").encode("utf-8")


def event_id_for(event_key: str) -> str:
    """Deterministic event id for a violation's event key."""
    return str(uuid.uuid5(EVENT_NAMESPACE, event_key))


def manifest_bytes(manifest: EvidenceManifest) -> bytes:
    """The canonical bytes written to manifest.json (and signed). `key_rotation` appears only when set,
    so manifests without one keep the exact layout of earlier writers."""
    data = manifest.model_dump(mode="json")
    if data.get("key_rotation") is None:
        data.pop("key_rotation", None)
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_manifest(data: bytes, where: str = "manifest.json") -> EvidenceManifest:
    """Parse manifest bytes; raises ManifestError naming `where` and the bad fields."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{where}: not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    version = raw.get("manifest_version")
    if version not in READABLE_VERSIONS:
        raise ManifestError(
            f"{where}: unsupported manifest_version {version!r} (this reader knows "
            f"{', '.join(map(str, READABLE_VERSIONS))})"
        )
    if version in (1, 2):
        raw = _typed_legacy(raw, where)
    try:
        return EvidenceManifest.model_validate(raw)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]]
        raise ManifestError(f"{where}: invalid manifest: " + "; ".join(parts)) from exc


def _typed_legacy(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """A version 1/2 manifest's free `measured` dict as the typed measurements of its violation type
    (the bytes on disk stay as they are: signatures and hashes cover them, not this reading)."""
    violation = raw.get("violation")
    if not isinstance(violation, dict) or not isinstance(violation.get("measured", {}), dict):
        return raw  # the schema check names what is wrong
    try:
        typed = legacy_measures(str(violation.get("violation_type")), violation.get("measured", {}))
    except MeasuresError as exc:
        raise ManifestError(f"{where}: violation.measured: {exc}") from exc
    return {**raw, "violation": {**violation, "measured": measures_json(typed)}}


def manifest_json_schema() -> dict[str, Any]:
    """JSON Schema of the manifest (the committed manifest.schema.json must equal this)."""
    schema = EvidenceManifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:detector:evidence:manifest:{MANIFEST_VERSION}"
    return schema


def schema_text() -> str:
    return json.dumps(manifest_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - regeneration helper
    import sys

    sys.stdout.write(schema_text())
