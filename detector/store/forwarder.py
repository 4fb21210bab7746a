"""Edge to central: POST accepted bundles to the central API's ingest endpoint, with retries.

Ingest (on an edge box with `forward.enabled`) writes a `forward_queue` row in the violation's
transaction. `Forwarder.forward_due()` sends the due rows as tar archives to `<url>/v1/ingest` with
the central ingest token; the row records attempts, the last error, the next attempt time
(exponential backoff) and, once the central store answers accepted/duplicate, `forwarded_at`.
A bundle the central store rejects (HTTP 422) is marked failed with its reason: retrying cannot
help, and the central store has quarantined it. Network errors and 5xx are retried.
"""

from __future__ import annotations

import io
import logging
import tarfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from detector.config import ForwardConfig
from detector.store.db import Clock, Database
from detector.store.models import ForwardItem, ForwardState, ViolationRow
from detector.store.network_models import PassageRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ForwardStats:
    forwarded: int
    retrying: int
    failed: int


def bundle_tar(folder: Path) -> bytes:
    """A tar of the bundle's files, flat (what the ingest endpoint accepts)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(folder.iterdir()):
            if p.is_file():
                tar.add(p, arcname=p.name, recursive=False)
    return buf.getvalue()


class Forwarder:
    def __init__(
        self,
        db: Database,
        config: ForwardConfig,
        evidence_dir: str | Path,
        client: httpx.Client,
        token: str,
        clock: Clock,
    ) -> None:
        self.db = db
        self.config = config
        self.evidence_dir = Path(evidence_dir)
        self.client = client
        self.token = token
        self.clock = clock

    def _backoff(self, attempts: int) -> timedelta:
        delay = min(self.config.backoff_initial_s * (2 ** max(attempts - 1, 0)), self.config.backoff_max_s)
        return timedelta(seconds=delay)

    def forward_due(self, limit: int = 20) -> ForwardStats:
        now = self.clock()
        with self.db.session() as s:
            due = list(
                s.execute(
                    select(
                        ForwardItem.id,
                        func.coalesce(ViolationRow.bundle_dir, PassageRow.bundle_dir),
                        func.coalesce(ViolationRow.event_id, PassageRow.event_id),
                    )
                    .outerjoin(ViolationRow, ViolationRow.id == ForwardItem.violation_id)
                    .outerjoin(PassageRow, PassageRow.id == ForwardItem.passage_id)
                    .where(
                        ForwardItem.state == ForwardState.PENDING.value, ForwardItem.next_attempt_at <= now
                    )
                    .order_by(ForwardItem.id)
                    .limit(limit)
                )
            )
        done = retrying = failed = 0
        for item_id, bundle_dir, event_id in due:
            outcome, detail = self._send(self.evidence_dir / bundle_dir)
            with self.db.write() as s:
                item = s.get(ForwardItem, item_id)
                assert item is not None
                item.attempts += 1
                if outcome == "ok":
                    item.state = ForwardState.FORWARDED.value
                    item.forwarded_at = self.clock()
                    item.remote_status = detail
                    item.last_error = None
                    done += 1
                elif outcome == "rejected" or item.attempts >= self.config.max_attempts:
                    item.state = ForwardState.FAILED.value
                    item.last_error = detail
                    failed += 1
                    log.error("forwarding %s failed for good: %s", event_id, detail)
                else:
                    item.last_error = detail
                    item.next_attempt_at = self.clock() + self._backoff(item.attempts)
                    retrying += 1
                    log.warning(
                        "forwarding %s failed (attempt %d), retry at %s: %s",
                        event_id,
                        item.attempts,
                        item.next_attempt_at,
                        detail,
                    )
        return ForwardStats(done, retrying, failed)

    def _send(self, folder: Path) -> tuple[str, str]:
        """("ok", remote status) | ("rejected", reason) | ("retry", error)."""
        try:
            body = bundle_tar(folder)
        except OSError as exc:
            return "rejected", f"bundle folder {folder} unreadable: {exc}"
        url = self.config.url.rstrip("/") + "/v1/ingest"
        try:
            r = self.client.post(
                url,
                content=body,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/x-tar"},
                timeout=self.config.timeout_s,
            )
        except httpx.HTTPError as exc:
            return "retry", f"{type(exc).__name__}: {exc}"
        if r.status_code == 200:
            try:
                return "ok", str(r.json().get("status", "accepted"))
            except ValueError:
                return "ok", "accepted"
        if r.status_code == 422:
            return "rejected", f"central store rejected the bundle: {r.text[:500]}"
        return "retry", f"HTTP {r.status_code}: {r.text[:200]}"
