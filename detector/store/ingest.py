"""Ingest evidence bundles into the store.

A bundle is accepted only when (1) its hashes and Ed25519 signature verify against a trusted key
and (2) it continues its camera's hash chain as this store knows it (sequence = last + 1 and
prev_manifest_sha256 = sha256 of the last manifest; a camera never seen before anchors its chain at
whatever sequence arrives first). Ingest is idempotent on the event id: the same bundle again is a
"duplicate"; a different manifest under a known event id is a rejection.

The bundle is copied into a staging folder first and the *copy* is verified, so nothing can change
between the check and what the store keeps. Accepted: the copy is renamed to
`<evidence_dir>/<camera_id>/<sequence:08d>-<event_id>` (the evidence module's layout) and the
violation, its files, an MQTT outbox row, a forward-queue row (edge boxes) and an audit row are
written in one transaction. Rejected: the copy goes to `<quarantine_dir>/<stamp>-<id>/` with a
REASON.txt, and a quarantine row records why. Nothing is ever lost.

PostgreSQL: one transaction-scoped advisory lock serialises ingests, so violation ids commit in
increasing order and the feed cursor (row id) never skips a late-committing row. SQLite writers
are serialised by `BEGIN IMMEDIATE` already.
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from detector.config import StoreConfig
from detector.evidence.chain import BUNDLE_DIR_RE, CHAIN_DIR
from detector.evidence.manifest import MANIFEST_NAME, ManifestError, parse_manifest, sha256_hex
from detector.evidence.registry import KeyRegistry
from detector.evidence.verify import find_bundles
from detector.fsutil import rename_synced
from detector.store import audit
from detector.store.bundles import BundleFacts, check_bundle
from detector.store.db import Clock, Database
from detector.store.errors import InvalidRequest
from detector.store.ingest_rows import IngestRefused, advance_chain, insert_passage, insert_violation
from detector.store.keyring import load_db_registry
from detector.store.models import CameraChain, QuarantineEntry, ViolationRow
from detector.store.network_models import PassageRow
from detector.store.unpack import UnpackError, UnpackLimits, copy_bundle_folder, extract_bundle_tar

log = logging.getLogger(__name__)

PASSAGE = "passage"  # detector.types.ViolationType.PASSAGE (the store does not import the vision types)
INGEST_LOCK_KEY = 0x6465_7465_6374  # pg_advisory_xact_lock key of the ingest critical section
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class IngestResult:
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: str | None
    violation_id: int | None = None
    reason: str = ""
    quarantine_id: int | None = None
    passage_id: int | None = None  # set instead of violation_id for a section camera's passage bundle


class _Duplicate(Exception):
    def __init__(self, violation_id: int) -> None:
        super().__init__(violation_id)
        self.violation_id = violation_id


class IngestService:
    def __init__(
        self,
        db: Database,
        config: StoreConfig,
        keys: Mapping[str, Ed25519PublicKey],
        clock: Clock,
    ) -> None:
        self.db = db
        self.config = config
        self.keys = keys
        self.clock = clock
        self.evidence_dir = Path(config.evidence_dir)
        self.quarantine_dir = Path(config.quarantine_dir)
        self.limits = UnpackLimits(
            config.max_unpacked_bytes, config.max_archive_members, config.max_compression_ratio
        )

    # ------------------------------------------------------------------ entry points
    def ingest_path(self, path: str | Path, *, actor: str = "cli", source: str | None = None) -> IngestResult:
        """Ingest a bundle folder (left in place; the store keeps its own copy)."""
        src = Path(path)
        if not src.is_dir():
            raise InvalidRequest(f"{src}: not a bundle folder")
        known = self._already_ingested(src)
        if known is not None:
            return known
        staging = self._staging()
        try:
            copy_bundle_folder(src, staging, self.limits)
        except UnpackError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            return self._quarantine(staging, source or str(src), None, None, exc.reason, actor)
        return self._ingest_staged(staging, actor=actor, source=source or str(src))

    def ingest_root(self, root: str | Path, *, actor: str = "cli") -> list[IngestResult]:
        """Every bundle under an evidence root (the edge box's own), per camera in sequence order."""
        bundles, _temps = find_bundles(Path(root))
        return [
            self.ingest_path(b, actor=actor) for b in sorted(bundles, key=lambda p: (p.parent.name, p.name))
        ]

    def cut_tails(self, root: str | Path) -> list[str]:
        """Cameras whose chain in this evidence root ends before the head this store recorded: the
        root's newest bundles were removed after the store saw them (a cut tail)."""
        newest: dict[str, int] = {}
        bundles, _ = find_bundles(Path(root))
        for b in bundles:
            m = BUNDLE_DIR_RE.match(b.name)
            if m:
                newest[b.parent.name] = max(newest.get(b.parent.name, 0), int(m["seq"]))
        cams = set(newest) | {p.stem for p in (Path(root) / CHAIN_DIR).glob("*.json") if "." not in p.stem}
        out = []
        with self.db.session() as s:
            for cam in sorted(cams):
                head = s.get(CameraChain, cam)
                if head is not None and head.last_sequence > newest.get(cam, 0):
                    out.append(
                        f"camera {cam}: this store recorded sequence {head.last_sequence} but {root} ends at "
                        f"{newest.get(cam, 0)}: bundles were removed from the evidence root (a cut tail)"
                    )
        return out

    def _already_ingested(self, src: Path) -> IngestResult | None:
        """Fast path for re-runs: the same manifest bytes under a known event id is a duplicate.

        Only an exact match short-cuts (nothing is trusted from the folder: the stored copy was
        verified when it was accepted); anything else takes the full verify path.
        """
        try:
            data = (src / MANIFEST_NAME).read_bytes()
            event_id = parse_manifest(data, str(src / MANIFEST_NAME)).event_id
        except (OSError, ManifestError):
            return None
        with self.db.session() as s:
            row = s.execute(
                select(ViolationRow.id, ViolationRow.manifest_sha256).where(ViolationRow.event_id == event_id)
            ).first()
            prow = s.execute(
                select(PassageRow.id, PassageRow.manifest_sha256).where(PassageRow.event_id == event_id)
            ).first()
        if prow is not None and prow.manifest_sha256 == sha256_hex(data):
            return IngestResult("duplicate", event_id, None, passage_id=prow.id)
        if row is None or row.manifest_sha256 != sha256_hex(data):
            return None
        return IngestResult("duplicate", event_id, row.id)

    def ingest_tar(self, stream: IO[bytes], *, actor: str, source: str) -> IngestResult:
        """Ingest a bundle sent as a tar (optionally gzip) of its files, flat or in one folder."""
        staging = self._staging()
        try:
            extract_bundle_tar(stream, staging, self.limits)
        except UnpackError as exc:
            shutil.rmtree(staging, ignore_errors=True)  # keep nothing of a refused archive but the reason
            return self._quarantine(staging, source, None, None, f"bad_archive: {exc.reason}", actor)
        return self._ingest_staged(staging, actor=actor, source=source)

    # ------------------------------------------------------------------ internals
    def _staging(self) -> Path:
        root = self.evidence_dir / ".staging"
        self.evidence_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        root.mkdir(mode=0o700, exist_ok=True)
        return root / uuid.uuid4().hex

    def registry(self) -> KeyRegistry:
        """The config's trusted keys (unbound) overlaid with the store's key registry (bound)."""
        with self.db.session() as s:
            return KeyRegistry.unbound(self.keys).merged(load_db_registry(s))

    def _ingest_staged(self, staging: Path, *, actor: str, source: str) -> IngestResult:
        check = check_bundle(staging, self.registry(), fallback_time=self.clock())
        if not check.ok or check.facts is None:
            return self._quarantine(staging, source, check.event_id, check.camera_id, check.reason, actor)
        facts = check.facts
        for label, value in (("camera_id", facts.camera_id), ("event_id", facts.event_id)):
            if not _SAFE_ID.match(value):
                return self._quarantine(
                    staging,
                    source,
                    None,
                    None,
                    f"unsafe_id: {label} {value[:80]!r} is not a safe folder name",
                    actor,
                )
        passage = facts.violation_type == PASSAGE
        try:
            vid = self._commit(staging, facts, actor=actor, source=source)
        except _Duplicate as dup:
            shutil.rmtree(staging, ignore_errors=True)
            log.info("bundle %s already ingested as %d", facts.event_id, dup.violation_id)
            if passage:
                return IngestResult("duplicate", facts.event_id, None, passage_id=dup.violation_id)
            return IngestResult("duplicate", facts.event_id, dup.violation_id)
        except IngestRefused as rej:
            return self._quarantine(staging, source, facts.event_id, facts.camera_id, rej.reason, actor)
        log.info(
            "accepted bundle %s (camera %s seq %d) as violation %d",
            facts.event_id,
            facts.camera_id,
            facts.sequence,
            vid,
        )
        if passage:
            return IngestResult("accepted", facts.event_id, None, passage_id=vid)
        return IngestResult("accepted", facts.event_id, vid)

    def _final_dir(self, facts: BundleFacts) -> Path:
        return self.evidence_dir / facts.camera_id / f"{facts.sequence:08d}-{facts.event_id}"

    def _commit(self, staging: Path, facts: BundleFacts, *, actor: str, source: str) -> int:
        for attempt in range(2):
            try:
                return self._commit_once(staging, facts, actor=actor, source=source)
            except IntegrityError:
                if attempt:
                    raise
                log.info("ingest of %s raced another writer; retrying", facts.event_id)
        raise AssertionError("unreachable")

    def _commit_once(self, staging: Path, facts: BundleFacts, *, actor: str, source: str) -> int:
        final = self._final_dir(facts)
        moved = False
        try:
            with self.db.write() as s:
                if self.db.dialect == "postgresql":
                    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK_KEY})
                existing = s.execute(
                    select(ViolationRow.id, ViolationRow.manifest_sha256).where(
                        ViolationRow.event_id == facts.event_id
                    )
                ).first()
                if existing is None:
                    existing = s.execute(
                        select(PassageRow.id, PassageRow.manifest_sha256).where(
                            PassageRow.event_id == facts.event_id
                        )
                    ).first()
                if existing is not None:
                    if existing.manifest_sha256 == facts.manifest_sha256:
                        raise _Duplicate(existing.id)
                    raise IngestRefused(
                        f"event_conflict: event {facts.event_id} was ingested as violation {existing.id} "
                        "with a different manifest"
                    )
                now = self.clock()
                advance_chain(s, facts, now)
                bundle_dir = str(final.relative_to(self.evidence_dir))
                row: ViolationRow | PassageRow
                if facts.violation_type == PASSAGE:
                    row = insert_passage(s, facts, self.config, bundle_dir, now)
                else:
                    row = insert_violation(s, facts, self.config, bundle_dir, now)
                final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                if final.exists():  # left by an earlier attempt that did not commit
                    shutil.rmtree(final)
                rename_synced(staging, final)
                moved = True
                s.flush()
                audit.record(
                    s,
                    at=now,
                    actor=actor,
                    action="ingest",
                    entity="passage" if isinstance(row, PassageRow) else "violation",
                    entity_id=row.id,
                    before=None,
                    after={
                        "event_id": facts.event_id,
                        "status": "recorded" if isinstance(row, PassageRow) else row.status,
                        "source": source,
                    },
                )
                return row.id
        except BaseException:
            if moved and final.exists():
                final.rename(staging)
            raise

    def _quarantine(
        self, staging: Path, source: str, event_id: str | None, camera_id: str | None, reason: str, actor: str
    ) -> IngestResult:
        now = self.clock()
        self.quarantine_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        dest = self.quarantine_dir / f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
        if staging.exists():
            shutil.move(str(staging), dest)
        else:
            dest.mkdir(mode=0o700, parents=True)
        reason_file = dest / "REASON.txt"
        reason_file.write_text(f"source: {source}\nactor: {actor}\nreason: {reason}\n", encoding="utf-8")
        reason_file.chmod(0o600)
        size = sum(p.stat().st_size for p in dest.iterdir() if p.is_file())
        with self.db.write() as s:
            q = QuarantineEntry(
                at=now,
                source=source,
                event_id=event_id,
                camera_id=camera_id,
                reason=reason,
                path=str(dest),
                size_bytes=size,
            )
            s.add(q)
            s.flush()
            audit.record(
                s,
                at=now,
                actor=actor,
                action="quarantine",
                entity="bundle",
                entity_id=event_id or f"quarantine:{q.id}",
                before=None,
                after={"reason": reason, "path": str(dest), "source": source},
            )
            qid = q.id
        log.warning(
            "rejected bundle from %s (event %s): %s; quarantined in %s", source, event_id, reason, dest
        )
        self.prune_quarantine()
        return IngestResult("rejected", event_id, None, reason, qid)

    def prune_quarantine(self) -> int:
        """Delete quarantined files older than the retention period, then the oldest above the size cap.

        The rows stay (with `pruned_at`), so the reason and the audit trail of every rejection remain."""
        now = self.clock()
        cutoff = now - timedelta(days=self.config.quarantine_retention_days)
        pruned = 0
        with self.db.write() as s:
            rows = list(
                s.scalars(
                    select(QuarantineEntry)
                    .where(QuarantineEntry.pruned_at.is_(None))
                    .order_by(QuarantineEntry.at.desc(), QuarantineEntry.id.desc())
                )
            )
            total = 0
            for q in rows:  # newest first: keep while under the cap and within retention
                total += q.size_bytes
                if q.at >= cutoff and total <= self.config.quarantine_max_bytes:
                    continue
                shutil.rmtree(q.path, ignore_errors=True)
                q.pruned_at = now
                pruned += 1
        if pruned:
            log.warning("quarantine: deleted the files of %d old or over-cap rejected uploads", pruned)
        return pruned
