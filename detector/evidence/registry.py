"""Key registry: which signing key may sign for which cameras, when, and whether it is revoked.

A key is only trusted for what its grant says. `detector verify --registry keys.yaml` reads the file
form below; the store keeps the same facts in its `signing_keys` table (see detector/store/keyring.py).

    keys:
      - public_key: edge-1/evidence_signing.pub   # .pub PEM or .pub.json, relative to this file
        # or public_key_b64: <32 raw bytes, base64>
        key_id: 3f2a9c0d11e4b7a8                  # optional; must match the public key when given
        cameras: [hanoi-cam-07, hanoi-cam-08]     # required, at least one
        valid_from: 2026-01-01T00:00:00Z          # optional (UTC ISO 8601)
        valid_to: null                            # optional
        revoked: false                            # a revoked key verifies nothing, whenever signed

`grant.problem(camera_id, at)` says why a key may not sign a bundle of `camera_id` made at `at`
(None: it may). A bundle's time is its manifest's wall time; a bundle without one (a replay) is
checked against the caller's fallback time, or only for camera and revocation when there is none.
Keys given with `--key` are "unbound" (any camera, no window): the chain still refuses a key switch
that is not a signed rotation (see verify.py), but only a registry binds a key to its cameras.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, ValidationError

from detector.base import FrozenModel
from detector.errors import ConfigError
from detector.evidence.keys import KeyFileError, key_id_of, load_public_key, verify_signature
from detector.evidence.manifest import KeyRotation, rotation_statement_bytes
from detector.safeyaml import read_config_mapping

MAX_REGISTRY_BYTES = 1024 * 1024


def parse_utc(text: str | None) -> datetime | None:
    """An aware datetime from ISO 8601 text; None for None/empty or text without a zone."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What one key may sign. `cameras` None: any camera (an unbound `--key`)."""

    key_id: str
    public_key: Ed25519PublicKey
    cameras: frozenset[str] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    revoked: bool = False

    def problem(self, camera_id: str, at: datetime | None) -> tuple[str, str] | None:
        """(code, message) when this key may not sign for `camera_id` at `at`; None when it may."""
        if self.revoked:
            return "key_revoked", f"key {self.key_id} is revoked"
        if self.cameras is not None and camera_id not in self.cameras:
            allowed = ", ".join(sorted(self.cameras)) or "none"
            return (
                "key_not_for_camera",
                f"key {self.key_id} may not sign for camera {camera_id} (only {allowed})",
            )
        if at is not None and self.valid_from is not None and at < self.valid_from:
            return (
                "key_not_yet_valid",
                f"key {self.key_id} valid from {self.valid_from.isoformat()}, bundle time {at.isoformat()}",
            )
        if at is not None and self.valid_to is not None and at >= self.valid_to:
            return (
                "key_expired",
                f"key {self.key_id} valid until {self.valid_to.isoformat()}, bundle time {at.isoformat()}",
            )
        return None


class KeyRegistry:
    """Grants indexed by key id."""

    def __init__(self, grants: Iterable[KeyGrant]) -> None:
        self.grants: dict[str, KeyGrant] = {}
        for g in grants:
            if g.key_id in self.grants:
                raise ConfigError(f"key registry: key {g.key_id} is listed twice")
            self.grants[g.key_id] = g

    @classmethod
    def unbound(cls, keys: Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey]) -> KeyRegistry:
        values = keys.values() if isinstance(keys, Mapping) else keys
        seen: dict[str, KeyGrant] = {}
        for k in values:
            seen[key_id_of(k)] = KeyGrant(key_id_of(k), k)
        return cls(seen.values())

    def merged(self, other: KeyRegistry) -> KeyRegistry:
        """Both sets of grants; where a key is in both, the bound (non-unbound) grant wins."""
        out = dict(self.grants)
        for kid, g in other.grants.items():
            if kid not in out or out[kid].cameras is None:
                out[kid] = g
        return KeyRegistry(out.values())

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {kid: g.public_key for kid, g in self.grants.items()}

    def get(self, key_id: str) -> KeyGrant | None:
        return self.grants.get(key_id)

    def __len__(self) -> int:
        return len(self.grants)


def check_rotation(rotation: KeyRotation, camera_id: str, public_key: Ed25519PublicKey | None) -> str | None:
    """Why a rotation record does not hand `camera_id` over (None when it does)."""
    if rotation.camera_id != camera_id:
        return f"rotation is for camera {rotation.camera_id}, not {camera_id}"
    if public_key is None:
        return f"previous key {rotation.previous_key_id} of the rotation is not known"
    try:
        raw = base64.b64decode(rotation.signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return "rotation signature is not base64"
    data = rotation_statement_bytes(
        rotation.camera_id, rotation.previous_key_id, rotation.new_key_id, rotation.issued_at
    )
    if not verify_signature(public_key, raw, data):
        return f"rotation is not signed by the previous key {rotation.previous_key_id}"
    return None


class _GrantEntry(FrozenModel):
    public_key: str | None = Field(default=None, description="Public key file (.pub or .pub.json)")
    public_key_b64: str | None = Field(default=None, description="32 raw public-key bytes, base64")
    key_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$", description="Expected key id")
    cameras: tuple[str, ...] = Field(min_length=1, description="Cameras this key may sign for")
    valid_from: datetime | None = Field(default=None, description="First moment the key may sign")
    valid_to: datetime | None = Field(default=None, description="Moment the key stops being valid")
    revoked: bool = Field(default=False, description="A revoked key verifies nothing")


class _RegistryFile(FrozenModel):
    keys: tuple[_GrantEntry, ...] = Field(description="One grant per key")


def _entry_key(e: _GrantEntry, base: Path, where: str) -> Ed25519PublicKey:
    if (e.public_key is None) == (e.public_key_b64 is None):
        raise ConfigError(f"{where}: give exactly one of public_key and public_key_b64")
    try:
        if e.public_key is not None:
            p = Path(e.public_key)
            return load_public_key(p if p.is_absolute() else base / p)
        raw = base64.b64decode(e.public_key_b64 or "", validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (KeyFileError, ValueError, binascii.Error) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _aware(t: datetime | None, where: str) -> datetime | None:
    if t is not None and t.tzinfo is None:
        raise ConfigError(f"{where}: {t.isoformat()} has no time zone; write it in UTC with a Z")
    return t


def load_registry(path: str | Path) -> KeyRegistry:
    """Read a key registry file (YAML or JSON); ConfigError names the file and the bad entry."""
    p = Path(path)
    raw = read_config_mapping(p, "key registry", max_bytes=MAX_REGISTRY_BYTES)
    try:
        doc = _RegistryFile.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        raise ConfigError(f"{p}: invalid key registry at {loc}: {e['msg']}") from exc
    grants = []
    for i, entry in enumerate(doc.keys):
        where = f"{p}: keys[{i}]"
        key = _entry_key(entry, p.parent, where)
        kid = key_id_of(key)
        if entry.key_id is not None and entry.key_id != kid:
            raise ConfigError(f"{where}: key_id {entry.key_id} does not match the public key ({kid})")
        grants.append(
            KeyGrant(
                key_id=kid,
                public_key=key,
                cameras=frozenset(entry.cameras),
                valid_from=_aware(entry.valid_from, where),
                valid_to=_aware(entry.valid_to, where),
                revoked=entry.revoked,
            )
        )
    return KeyRegistry(grants)


def registry_json(registry: KeyRegistry) -> str:
    """The file form of a registry (public keys inline), e.g. exported from the store for verify."""
    from cryptography.hazmat.primitives import serialization

    entries = []
    for g in registry.grants.values():
        raw = g.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        entries.append(
            {
                "key_id": g.key_id,
                "public_key_b64": base64.b64encode(raw).decode("ascii"),
                "cameras": sorted(g.cameras or ()),
                "valid_from": g.valid_from.isoformat() if g.valid_from else None,
                "valid_to": g.valid_to.isoformat() if g.valid_to else None,
                "revoked": g.revoked,
            }
        )
    return json.dumps({"keys": entries}, indent=2, sort_keys=True) + "\n"


__all__ = [
    "KeyGrant",
    "KeyRegistry",
    "check_rotation",
    "load_registry",
    "parse_utc",
    "registry_json",
]
