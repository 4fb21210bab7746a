"""A stored violation's evidence checked again, as the console's violation page shows it.

At ingest the store accepted the bundle only if its hashes and signature verified and it continued
its camera's chain (ingest.py). `verify_stored` repeats the first check on the copy the store keeps
(so a file changed on disk since shows) and says how the bundle links to its neighbours in the chain
as the store recorded them: the previous bundle's manifest sha256 must be the one this manifest
names, and the next bundle must name this one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field
from sqlalchemy import select

from detector.base import FrozenModel
from detector.evidence.manifest import MANIFEST_NAME, sha256_hex
from detector.evidence.verify import verify_bundle
from detector.store.db import Database
from detector.store.errors import NotFound
from detector.store.models import ViolationRow
from detector.store.network_models import PassageRow

Link = Literal["linked", "broken", "missing", "none"]


class VerificationView(FrozenModel):
    violation_id: int
    camera_id: str
    sequence: int = Field(description="Position in the camera's hash chain")
    accepted_at: datetime = Field(description="When ingest verified and accepted the bundle")
    signature_ok: bool = Field(description="Hashes and Ed25519 signature verify now, on the stored copy")
    key_id: str | None = Field(description="Key that signed the manifest")
    files_checked: int = Field(description="Files whose sha256 was checked")
    problems: tuple[str, ...] = Field(description="What fails, naming the file (empty when all verify)")
    manifest_matches: bool = Field(description="The stored manifest is the one ingest accepted")
    prev_manifest_sha256: str | None = Field(
        description="The previous bundle's manifest, as this one names it"
    )
    prev_link: Link = Field(
        description="linked: the store's bundle at sequence-1 has that manifest; broken: it has another; "
        "missing: the store has no bundle there; none: this bundle starts the chain"
    )
    next_link: Link = Field(
        description="linked: the store's bundle at sequence+1 names this manifest; none: this is the head"
    )


def _prev_of(bundle: Path) -> str | None:
    try:
        value = json.loads((bundle / MANIFEST_NAME).read_bytes()).get("prev_manifest_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def verify_stored(
    db: Database, evidence_dir: Path, keys: Mapping[str, Ed25519PublicKey], violation_id: int
) -> VerificationView:
    with db.session() as s:
        row = s.get(ViolationRow, violation_id)
        if row is None:
            raise NotFound(f"violation {violation_id} not found")
        near = [row.sequence - 1, row.sequence + 1]
        # a camera's chain holds its violations and, on a section camera, its passages
        neighbours = {
            n.sequence: n
            for model in (ViolationRow, PassageRow)
            for n in s.execute(
                select(model.sequence, model.manifest_sha256, model.bundle_dir).where(
                    model.camera_id == row.camera_id, model.sequence.in_(near)
                )
            )
        }
    bundle = (evidence_dir / row.bundle_dir).resolve()
    report = verify_bundle(bundle, keys)
    try:
        stored_sha = sha256_hex((bundle / MANIFEST_NAME).read_bytes())
    except OSError:
        stored_sha = ""
    prev_sha = _prev_of(bundle)
    prev = neighbours.get(row.sequence - 1)
    if prev_sha is None or (prev is None and row.sequence <= 1):
        prev_link: Link = "none"
    elif prev is None:
        prev_link = "missing"
    else:
        prev_link = "linked" if prev.manifest_sha256 == prev_sha else "broken"
    nxt = neighbours.get(row.sequence + 1)
    if nxt is None:
        next_link: Link = "none"
    else:
        named = _prev_of((evidence_dir / nxt.bundle_dir).resolve())
        next_link = "linked" if named == row.manifest_sha256 else "broken"
    return VerificationView(
        violation_id=row.id,
        camera_id=row.camera_id,
        sequence=row.sequence,
        accepted_at=row.ingested_at,
        signature_ok=report.ok,
        key_id=report.key_id,
        files_checked=report.files_checked,
        problems=tuple(f"{p.code}: {p.message} ({p.where})" for p in report.problems),
        manifest_matches=stored_sha == row.manifest_sha256,
        prev_manifest_sha256=prev_sha,
        prev_link=prev_link,
        next_link=next_link,
    )
