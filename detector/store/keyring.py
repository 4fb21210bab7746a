"""The store's key registry: which signing key may sign for which cameras, from when, until when.

Ingest trusts a key for a camera only as its registry row says (`detector registry add`). Keys in
the config's `trusted_keys` folder without a row are unbound (any camera), but each camera's chain
is pinned to the key of its first bundle: a different key needs a signed rotation (ingest.py).
`detector registry export` writes the file form `detector verify --registry` reads; `detector heads
export` writes the heads this store recorded, for `detector verify --checkpoint`.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from detector.evidence.keys import key_id_of
from detector.evidence.registry import KeyGrant, KeyRegistry
from detector.store import audit
from detector.store.db import Clock, Database
from detector.store.errors import InvalidRequest, NotFound
from detector.store.models import CameraChain, SigningKey


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    cameras: tuple[str, ...]
    valid_from: datetime | None
    valid_to: datetime | None
    revoked: bool


def _record(row: SigningKey) -> KeyRecord:
    return KeyRecord(
        row.key_id, tuple(json.loads(row.cameras_json)), row.valid_from, row.valid_to, row.revoked
    )


def registry_from_rows(rows: Sequence[SigningKey]) -> KeyRegistry:
    grants = []
    for r in rows:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(r.public_key_b64))
        grants.append(
            KeyGrant(
                r.key_id, key, frozenset(json.loads(r.cameras_json)), r.valid_from, r.valid_to, r.revoked
            )
        )
    return KeyRegistry(grants)


def load_db_registry(s: Session) -> KeyRegistry:
    return registry_from_rows(list(s.scalars(select(SigningKey))))


class KeyringService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def register(
        self,
        public_key: Ed25519PublicKey,
        cameras: Sequence[str],
        *,
        actor: str,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> KeyRecord:
        """Add a key or replace its grant (cameras and window); a revoked key stays revoked."""
        if not cameras:
            raise InvalidRequest("a key must be granted at least one camera")
        for t in (valid_from, valid_to):
            if t is not None and t.tzinfo is None:
                raise InvalidRequest(f"{t.isoformat()}: give validity times with a time zone (UTC)")
        if valid_from and valid_to and valid_to <= valid_from:
            raise InvalidRequest("valid_to must be after valid_from")
        kid = key_id_of(public_key)
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        now = self.clock()
        with self.db.write() as s:
            row = s.get(SigningKey, kid)
            before = None if row is None else {"cameras": list(_record(row).cameras), "revoked": row.revoked}
            if row is None:
                row = SigningKey(key_id=kid, revoked=False, added_at=now, added_by=actor[:100])
                s.add(row)
            row.public_key_b64 = base64.b64encode(raw).decode("ascii")
            row.cameras_json = json.dumps(sorted(set(cameras)))
            row.valid_from, row.valid_to = valid_from, valid_to
            s.flush()
            rec = _record(row)
            audit.record(
                s,
                at=now,
                actor=actor,
                action="register_key",
                entity="signing_key",
                entity_id=kid,
                before=before,
                after={"cameras": list(rec.cameras), "valid_from": valid_from, "valid_to": valid_to},
            )
        return rec

    def revoke(self, key_id: str, *, actor: str) -> KeyRecord:
        now = self.clock()
        with self.db.write() as s:
            row = s.get(SigningKey, key_id)
            if row is None:
                raise NotFound(f"signing key {key_id} is not in the registry")
            row.revoked = True
            audit.record(
                s,
                at=now,
                actor=actor,
                action="revoke_key",
                entity="signing_key",
                entity_id=key_id,
                before={"revoked": False},
                after={"revoked": True},
            )
            return _record(row)

    def list(self) -> list[KeyRecord]:
        with self.db.session() as s:
            return [_record(r) for r in s.scalars(select(SigningKey).order_by(SigningKey.key_id))]

    def registry(self) -> KeyRegistry:
        with self.db.session() as s:
            return load_db_registry(s)

    def heads(self) -> builtins.list[dict[str, object]]:
        """The chain head this store recorded per camera, as `detector verify --checkpoint` reads them."""
        with self.db.session() as s:
            rows = s.scalars(select(CameraChain).order_by(CameraChain.camera_id))
            return [
                {
                    "camera_id": r.camera_id,
                    "last_sequence": r.last_sequence,
                    "last_manifest_sha256": r.last_manifest_sha256,
                    "key_id": r.key_id,
                }
                for r in rows
            ]
