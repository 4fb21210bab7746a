"""What a printed notice shows, gathered from the store: its evidence pictures, each checked against
the hash it was signed with (both cameras' for a section violation, entry first), and the
`NoticePrint` of a notice with its fine and violation, which `notice_html` renders."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from detector.config import NoticeConfig
from detector.evidence.manifest import MANIFEST_NAME, ManifestError, parse_manifest
from detector.store.errors import InvalidRequest
from detector.store.models import EvidenceFile, Fine, ViolationRow
from detector.store.network_models import NoticeRow
from detector.store.notice_html import PICTURE_ORDER, NoticePrint, measure_rows

Pictures = tuple[tuple[str, bytes], ...]


def violation_pictures(s: Session, evidence_dir: Path, violation_id: int, bundle_dir: str) -> Pictures:
    """The violation's pictures in print order, each matching the sha256 stored at ingest."""
    files = {
        f.name: f.sha256
        for f in s.scalars(select(EvidenceFile).where(EvidenceFile.violation_id == violation_id))
    }
    root = (evidence_dir / bundle_dir).resolve()
    out = []
    for name in PICTURE_ORDER:
        if name not in files:
            continue
        try:
            data = (root / name).read_bytes()
        except OSError as exc:
            raise InvalidRequest(
                f"violation {violation_id}: evidence file {name} cannot be read: {exc}"
            ) from exc
        if hashlib.sha256(data).hexdigest() != files[name]:
            raise InvalidRequest(
                f"violation {violation_id}: evidence file {name} does not match its signed hash"
            )
        out.append((name, data))
    return tuple(out)


def entry_pictures(evidence_dir: Path, section: dict[str, Any]) -> Pictures:
    """A section violation's entry-camera pictures, from its signed bundle: the manifest must hash
    to the sha256 the violation records, each picture to the hash in that manifest."""
    folder, sha = section.get("entry_bundle_dir"), section.get("entry_manifest_sha256")
    if not isinstance(folder, str) or not isinstance(sha, str):
        return ()
    root = (evidence_dir / folder).resolve()
    try:
        data = (root / MANIFEST_NAME).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise InvalidRequest(f"entry bundle {folder}: manifest does not match its recorded sha256")
        files = {f.name: f.sha256 for f in parse_manifest(data).files}
        out = []
        for name in ("overview.jpg", "plate.jpg"):
            if name in files:
                pic = (root / name).read_bytes()
                if hashlib.sha256(pic).hexdigest() != files[name]:
                    raise InvalidRequest(f"entry bundle {folder}: {name} does not match its signed hash")
                out.append((f"entry-{name}", pic))
    except (OSError, ManifestError) as exc:
        raise InvalidRequest(f"entry bundle {folder} cannot be read: {exc}") from exc
    return tuple(out)


def notice_pictures(s: Session, evidence_dir: Path, v: ViolationRow, section: dict[str, Any]) -> Pictures:
    """The pictures a notice prints: the violation's own, and for a section violation both cameras',
    entry first."""
    pictures = violation_pictures(s, evidence_dir, v.id, v.bundle_dir)
    if not section:
        return pictures
    both = dict(entry_pictures(evidence_dir, section)) | dict(pictures)
    order = ("entry-overview.jpg", "overview.jpg", "entry-plate.jpg", "plate.jpg")
    return tuple((k, both[k]) for k in order if k in both)


def notice_print(
    s: Session,
    evidence_dir: Path,
    config: NoticeConfig,
    n: NoticeRow,
    f: Fine,
    v: ViolationRow,
    *,
    notified_at: datetime,
    come_by: datetime,
) -> NoticePrint:
    """Everything the printed notice of `n` (its fine `f`, violation `v`) shows, sent at `notified_at`."""
    measured = json.loads(v.measured_json)
    section = json.loads(v.review_hints_json or "{}").get("section") or {}
    return NoticePrint(
        decision_no=n.decision_no or "",
        payment_ref=n.payment_ref,
        owner_name=n.owner_name or "",
        owner_address=n.owner_address or "",
        unit_name=n.unit_name or "",
        unit_address=n.unit_address or "",
        plate_text=f.plate_text,
        plate_colour=f.plate_colour,
        vehicle_type=f.vehicle_type,
        occurred_at=f.occurred_at,
        place=f.place,
        violation_text=f.violation_text,
        legal_basis=f.legal_basis,
        detecting_unit=f.detecting_unit,
        amount_min_vnd=f.amount_min_vnd,
        amount_max_vnd=f.amount_max_vnd,
        amount_due_vnd=f.amount_due_vnd,
        points=f.points,
        notified_at=notified_at,
        come_by=come_by,
        portal_url=config.payment_portal_url,
        evidence_event_id=v.event_id,
        manifest_sha256=v.manifest_sha256,
        pictures=notice_pictures(s, evidence_dir, v, section),
        measures=measure_rows(measured, section),
        published_with_notice=config.publish_with_notice,
        evidence_refs=tuple(
            (label, str(section[f"{end}_event_id"]), str(section[f"{end}_manifest_sha256"]))
            for label, end in (("camera đầu đoạn", "entry"), ("camera cuối đoạn", "exit"))
            if section.get(f"{end}_event_id") and section.get(f"{end}_manifest_sha256")
        ),
    )
