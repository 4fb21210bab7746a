"""Read side: the evidence feed (cursor = violation row id), one violation, its evidence files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from detector.store.db import Database
from detector.store.errors import NotFound
from detector.store.models import EvidenceFile, QuarantineEntry, ViolationRow
from detector.store.views import QuarantineView, ViolationView


class FeedQueries:
    def __init__(self, db: Database, evidence_dir: str | Path) -> None:
        self.db = db
        self.evidence_dir = Path(evidence_dir).resolve()

    def page(
        self, after: int = 0, limit: int = 100, status: str | None = None, camera_id: str | None = None
    ) -> list[ViolationView]:
        """Violations with id > `after`, oldest first: the next page of the feed."""
        with self.db.session() as s:
            q = select(ViolationRow).where(ViolationRow.id > after)
            if status is not None:
                q = q.where(ViolationRow.status == status)
            if camera_id is not None:
                q = q.where(ViolationRow.camera_id == camera_id)
            rows = list(s.scalars(q.order_by(ViolationRow.id).limit(limit)))
            files: dict[int, list[EvidenceFile]] = {}
            if rows:
                fq = select(EvidenceFile).where(EvidenceFile.violation_id.in_([r.id for r in rows]))
                for f in s.scalars(fq.order_by(EvidenceFile.id)):
                    files.setdefault(f.violation_id, []).append(f)
            return [ViolationView.of(r, files.get(r.id, [])) for r in rows]

    def latest(self, limit: int = 50) -> list[ViolationView]:
        """The newest `limit` violations, newest first (the console's feed before it follows the stream)."""
        with self.db.session() as s:
            ids = list(s.scalars(select(ViolationRow.id).order_by(ViolationRow.id.desc()).limit(limit)))
        return list(reversed(self.page(ids[-1] - 1, limit))) if ids else []

    def get(self, violation_id: int) -> ViolationView:
        with self.db.session() as s:
            row = s.get(ViolationRow, violation_id)
            if row is None:
                raise NotFound(f"violation {violation_id} not found")
            files = list(s.scalars(select(EvidenceFile).where(EvidenceFile.violation_id == violation_id)))
            return ViolationView.of(row, files)

    def evidence_file(self, violation_id: int, name: str) -> tuple[Path, str]:
        """(path, sha256) of a file the bundle's signed manifest lists; anything else is NotFound.

        The name is looked up in the database (never joined blindly) and the resolved path must stay
        inside the violation's bundle folder, so `../` and absolute names cannot escape.
        """
        with self.db.session() as s:
            row = s.get(ViolationRow, violation_id)
            if row is None:
                raise NotFound(f"violation {violation_id} not found")
            f = s.scalars(
                select(EvidenceFile).where(
                    EvidenceFile.violation_id == violation_id, EvidenceFile.name == name
                )
            ).first()
            if f is None:
                raise NotFound(f"violation {violation_id} has no evidence file {name[:80]!r}")
            bundle = (self.evidence_dir / row.bundle_dir).resolve()
            file_name, sha = f.name, f.sha256
        path = (bundle / file_name).resolve()
        if bundle not in path.parents or not path.is_file():
            raise NotFound(f"violation {violation_id}: evidence file {name[:80]!r} is not available")
        return path, sha

    def quarantined(self, after: int = 0, limit: int = 100) -> list[QuarantineView]:
        """Rejected bundles, oldest first, with id > `after`."""
        with self.db.session() as s:
            q = select(QuarantineEntry).where(QuarantineEntry.id > after).order_by(QuarantineEntry.id)
            return [QuarantineView.of(e) for e in s.scalars(q.limit(limit))]
