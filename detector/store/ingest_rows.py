"""What the ingest transaction writes for a verified bundle: its camera's chain head advanced (or the
bundle refused when it does not continue the chain), then either the violation row with its files,
its outbox message and its forward-queue row, or a section camera's passage row.

Each function runs inside `IngestService`'s write transaction; a refusal raises `IngestRefused` and
the transaction (and so every row here) is rolled back, the bundle quarantined with the reason.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from detector.config import StoreConfig
from detector.measures import PassageMeasures, measures_json
from detector.store.bundles import BundleFacts
from detector.store.models import (
    CameraChain,
    EvidenceFile,
    ForwardItem,
    ForwardState,
    ViolationRow,
    ViolationStatus,
)
from detector.store.network_models import PassageRow
from detector.store.outbox import queue_violation_created

log = logging.getLogger(__name__)


class IngestRefused(Exception):
    """A verified bundle this store cannot take (its reason starts with a short kind: chain_gap, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def advance_chain(s: Session, facts: BundleFacts, now: datetime) -> None:
    """The camera's chain head moves to this bundle; refused unless it is the next one, chained to the
    last manifest and signed by the camera's key (or by a key rotated from it)."""
    head = s.get(CameraChain, facts.camera_id)
    if head is None:
        if facts.sequence != 1:
            log.warning(
                "camera %s first seen at sequence %d: anchoring its chain there",
                facts.camera_id,
                facts.sequence,
            )
        s.add(
            CameraChain(
                camera_id=facts.camera_id,
                last_sequence=facts.sequence,
                last_manifest_sha256=facts.manifest_sha256,
                updated_at=now,
                key_id=facts.key_id,
            )
        )
        return
    expected = head.last_sequence + 1
    if facts.sequence != expected:
        kind = "chain_gap" if facts.sequence > expected else "chain_replay"
        raise IngestRefused(
            f"{kind}: camera {facts.camera_id} expects sequence {expected}, bundle has {facts.sequence}"
        )
    if facts.prev_manifest_sha256 != head.last_manifest_sha256:
        raise IngestRefused(
            f"chain_broken: camera {facts.camera_id} sequence {facts.sequence}: prev_manifest_sha256 "
            f"{facts.prev_manifest_sha256} is not the last manifest {head.last_manifest_sha256}"
        )
    if head.key_id is not None and facts.key_id != head.key_id and facts.rotated_from_key_id != head.key_id:
        raise IngestRefused(
            f"key_switch: camera {facts.camera_id} is signed by key {head.key_id}; sequence {facts.sequence} "
            f"is signed by {facts.key_id} without a signed rotation from it"
        )
    head.last_sequence = facts.sequence
    head.last_manifest_sha256 = facts.manifest_sha256
    head.key_id = facts.key_id
    head.updated_at = now


def insert_violation(
    s: Session, facts: BundleFacts, config: StoreConfig, bundle_dir: str, now: datetime
) -> ViolationRow:
    """The violation (pending review), its files, its `violation.created` message and, on an edge box
    that forwards, its forward-queue row."""
    occurred = facts.wall_time
    if occurred is None:
        log.warning("bundle %s carries no wall time (a replay): using the ingest time", facts.event_id)
        occurred = now
    row = ViolationRow(
        event_id=facts.event_id,
        camera_id=facts.camera_id,
        sequence=facts.sequence,
        manifest_sha256=facts.manifest_sha256,
        violation_type=facts.violation_type,
        vehicle_class=facts.vehicle_class,
        plate_text=facts.plate_text,
        plate_normalized=facts.plate_normalized,
        plate_colour=facts.plate_colour,
        plate_confidence=facts.plate_confidence,
        occurred_at=occurred,
        location=facts.location or config.location,
        detecting_unit=facts.detecting_unit or config.detecting_unit,
        measured_json=json.dumps(measures_json(facts.measured), sort_keys=True),
        needs_review=facts.needs_review,
        review_hints_json=json.dumps(
            {
                "reasons": list(facts.review_reasons),
                "plate_candidates": [{"text": t, "confidence": c} for t, c in facts.plate_candidates],
            },
            ensure_ascii=False,
        ),
        bundle_dir=bundle_dir,
        status=ViolationStatus.PENDING.value,
        ingested_at=now,
    )
    s.add(row)
    s.flush()
    for f in facts.files:
        s.add(EvidenceFile(violation_id=row.id, name=f.name, sha256=f.sha256, size=f.size))
    queue_violation_created(s, row, facts.measured, config.mqtt.topic_prefix, now, sequence=facts.sequence)
    if config.forward.enabled:
        s.add(
            ForwardItem(
                violation_id=row.id, state=ForwardState.PENDING.value, attempts=0, next_attempt_at=now
            )
        )
    return row


def insert_passage(
    s: Session, facts: BundleFacts, config: StoreConfig, bundle_dir: str, now: datetime
) -> PassageRow:
    """A section camera's passage: kept for pairing, never a violation or a review item."""
    m = facts.measured
    if not isinstance(m, PassageMeasures):
        raise IngestRefused(f"passage_invalid: {facts.event_id}: carries {m.kind} measurements")
    try:
        crossed = datetime.fromisoformat(m.crossing_utc)
        if crossed.tzinfo is None:
            raise ValueError("no time zone")
    except ValueError as exc:
        raise IngestRefused(f"passage_invalid: {facts.event_id}: crossing time unreadable ({exc!r})") from exc
    cands = [[t, c] for t, c in facts.plate_candidates]
    if not cands and facts.plate_text:
        cands = [[facts.plate_text, facts.plate_confidence or 0.0]]
    row = PassageRow(
        event_id=facts.event_id,
        camera_id=facts.camera_id,
        sequence=facts.sequence,
        manifest_sha256=facts.manifest_sha256,
        section_id=m.section_id,
        track_id=m.track_id,
        crossed_at=crossed,
        clock_uncertainty_s=m.clock_uncertainty_s,
        timing_uncertainty_s=m.timing_uncertainty_s,
        vehicle_class=facts.vehicle_class,
        plate_text=facts.plate_text,
        plate_normalized=facts.plate_normalized,
        candidates_json=json.dumps(cands, ensure_ascii=False),
        location=facts.location or config.location,
        bundle_dir=bundle_dir,
        ingested_at=now,
    )
    s.add(row)
    s.flush()
    if config.forward.enabled:  # the central store needs it to keep the camera's chain whole
        s.add(
            ForwardItem(passage_id=row.id, state=ForwardState.PENDING.value, attempts=0, next_attempt_at=now)
        )
    return row
