"""The notice's life after a fine (issue 18): owner from the vehicle registry, the case routed to
the owner's traffic-police unit, the printed notice sent within the legal time, publication and the
inspection flag when the owner does not come, payment through the portal's signed callback.

Every transition goes through `notice_states.next_state` and writes an audit row (entity "notice")
in the same transaction. Deadlines are computed from the stored times (`detected_at`,
`notified_at`) and the injected clock; nothing here reads the wall clock.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from detector.config import NoticeConfig
from detector.fsutil import atomic_write_bytes
from detector.platetext import o_zero_spellings
from detector.store import audit
from detector.store.db import Clock, Database
from detector.store.errors import InvalidRequest, NotFound
from detector.store.inspection import InspectionRegistry, StoreInspectionRegistry
from detector.store.models import Fine, FineStatus, ViolationRow
from detector.store.network_models import NoticeRow, NoticeState
from detector.store.network_views import NoticeCaseView, PublicNoticeView, TransitionView
from detector.store.notice_html import render_notice_html
from detector.store.notice_print import notice_print
from detector.store.notice_states import (
    OPEN_STATES,
    TRANSITIONS,
    NoticeEvent,
    add_working_days,
    limitation_end,
    next_state,
    publish_due,
)
from detector.store.payments import PaymentService, plate_key
from detector.store.portal import SignatureRefused, verify_callback
from detector.store.registry import RoutingTable, VehicleRegistry

log = logging.getLogger(__name__)

PORTAL_ACTOR = "payment-portal"
S, E = NoticeState, NoticeEvent


def _state(n: NoticeRow) -> dict[str, Any]:
    return {
        "state": n.state,
        "decision_no": n.decision_no,
        "unit_code": n.unit_code,
        "notified_at": n.notified_at.isoformat() if n.notified_at else None,
        "published_at": n.published_at.isoformat() if n.published_at else None,
    }


@dataclass(frozen=True)
class NoticeService:
    db: Database
    config: NoticeConfig
    evidence_dir: Path
    clock: Clock
    payments: PaymentService
    registry: VehicleRegistry
    routing: RoutingTable
    inspection: InspectionRegistry = StoreInspectionRegistry()  # noqa: RUF009 - stateless
    secret: bytes | None = None

    # ------------------------------------------------------------------ helpers
    def _get(self, s: Session, notice_id: int) -> NoticeRow:
        n = s.scalars(select(NoticeRow).where(NoticeRow.id == notice_id).with_for_update()).first()
        if n is None:
            raise NotFound(f"notice {notice_id} not found")
        return n

    def _move(
        self, s: Session, n: NoticeRow, event: NoticeEvent, actor: str, now: datetime, **extra: Any
    ) -> TransitionView:
        before = _state(n)
        target = next_state(n.state, event, n.id)
        n.state = target.value
        n.updated_at = now
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor,
            action=f"notice_{event.value}",
            entity="notice",
            entity_id=n.id,
            before=before,
            after=_state(n) | extra,
        )
        log.info("notice %d: %s -> %s (%s)", n.id, before["state"], target.value, event.value)
        return TransitionView(
            notice_id=n.id, event=event.value, from_state=before["state"], to_state=target.value
        )

    # ------------------------------------------------------------------ steps
    def open_new(self, actor: str) -> list[TransitionView]:
        """A notice (state opened) for every unpaid fine that has none yet."""
        out = []
        with self.db.write() as s:
            have = select(NoticeRow.fine_id)
            fines = list(
                s.scalars(
                    select(Fine)
                    .where(Fine.status == FineStatus.UNPAID.value, Fine.id.not_in(have))
                    .order_by(Fine.id)
                )
            )
            now = self.clock()
            for f in fines:
                n = NoticeRow(
                    fine_id=f.id,
                    state=S.OPENED.value,
                    payment_ref=f"VP{f.id:012d}",
                    plate_normalized=f.plate_normalized,
                    detected_at=f.occurred_at,
                    notify_deadline=add_working_days(f.occurred_at, self.config.notify_within_working_days),
                    expires_at=limitation_end(f.occurred_at, self.config.limitation_years),
                    updated_at=now,
                )
                s.add(n)
                s.flush()
                audit.record(
                    s,
                    at=now,
                    actor=actor,
                    action="notice_open",
                    entity="notice",
                    entity_id=n.id,
                    before=None,
                    after=_state(n)
                    | {
                        "fine_id": f.id,
                        "notify_deadline": n.notify_deadline.isoformat(),
                        "expires_at": n.expires_at.isoformat(),
                    },
                )
                out.append(TransitionView(notice_id=n.id, event="open", from_state="", to_state=n.state))
        return out

    def route(self, notice_id: int, actor: str) -> TransitionView | None:
        """Owner from the registry, unit from the routing table; None if still unknown (no change)."""
        with self.db.write() as s:
            n = self._get(s, notice_id)
            now = self.clock()
            rec = self.registry.lookup(n.plate_normalized)
            unit = self.routing.route(rec.province, rec.district) if rec is not None else None
            if rec is None or unit is None:
                if n.state == S.OWNER_UNKNOWN.value:
                    return None
                why = (
                    "plate not in the vehicle registry"
                    if rec is None
                    else (f"no unit for {rec.province} / {rec.district} in the routing table")
                )
                return self._move(s, n, E.OWNER_NOT_FOUND, actor, now, reason=why)
            n.owner_name, n.owner_address = rec.owner_name, f"{rec.address}, {rec.district}, {rec.province}"
            n.owner_district, n.owner_province = rec.district, rec.province
            n.unit_code, n.unit_name, n.unit_address = unit.code, unit.name, unit.address
            n.decision_no = f"{n.id:06d}/TB-{unit.code}"
            return self._move(s, n, E.ROUTE, actor, now, unit_code=unit.code, owner_province=rec.province)

    def notify(self, notice_id: int, actor: str) -> TransitionView:
        """Print the notice (HTML with the evidence pictures) and send it; late sends are audited as such."""
        with self.db.write() as s:
            n = self._get(s, notice_id)
            next_state(n.state, E.NOTIFY, n.id)  # fail before printing anything
            f = s.get(Fine, n.fine_id)
            v = s.get(ViolationRow, f.violation_id) if f is not None else None
            if f is None or v is None:
                raise NotFound(f"notice {notice_id}: its fine or violation is missing")
            now = self.clock()
            come_by = publish_due(now, self.config.publish_after_days)
            page = render_notice_html(
                notice_print(s, self.evidence_dir, self.config, n, f, v, notified_at=now, come_by=come_by)
            ).encode("utf-8")
            path = Path(self.config.notices_dir or ".") / f"{n.payment_ref}.html"
            atomic_write_bytes(path, page, mode=0o644)
            n.notified_at, n.publish_due_at = now, come_by
            n.notice_file, n.notice_sha256 = str(path), hashlib.sha256(page).hexdigest()
            late = now > n.notify_deadline
            if late:
                log.warning("notice %d sent after its deadline %s", n.id, n.notify_deadline.isoformat())
            return self._move(
                s,
                n,
                E.NOTIFY,
                actor,
                now,
                notice_sha256=n.notice_sha256,
                notify_deadline=n.notify_deadline.isoformat(),
                late=late,
            )

    def acknowledge(self, notice_id: int, actor: str) -> TransitionView:
        """The owner came to the unit (or answered online): no publication."""
        with self.db.write() as s:
            n = self._get(s, notice_id)
            now = self.clock()
            n.acknowledged_at = now
            return self._move(s, n, E.ACKNOWLEDGE, actor, now)

    def cancel(self, notice_id: int, actor: str, reason: str) -> TransitionView:
        if not reason.strip():
            raise InvalidRequest(f"notice {notice_id}: a cancellation needs a reason")
        with self.db.write() as s:
            n = self._get(s, notice_id)
            now = self.clock()
            next_state(n.state, E.CANCEL, n.id)
            f = s.get(Fine, n.fine_id)
            if f is not None and f.status == FineStatus.UNPAID.value:  # the case is dropped: so is its fine
                before = audit.fine_state(f)
                f.status = FineStatus.CANCELLED.value
                audit.record(
                    s,
                    at=now,
                    actor=actor,
                    action="cancel_fine",
                    entity="fine",
                    entity_id=f.id,
                    before=before,
                    after=audit.fine_state(f) | {"reason": reason.strip(), "notice": n.id},
                )
            cleared = self.inspection.clear(s, n.id, now)
            n.closed_at = now
            return self._move(s, n, E.CANCEL, actor, now, reason=reason.strip(), flag_cleared=cleared)

    def _due(self, state: NoticeState) -> list[int]:
        with self.db.session() as s:
            return list(
                s.scalars(select(NoticeRow.id).where(NoticeRow.state == state.value).order_by(NoticeRow.id))
            )

    def _publish_and_flag(self, notice_id: int, actor: str) -> list[TransitionView]:
        with self.db.write() as s:
            n = self._get(s, notice_id)
            now = self.clock()
            out = []
            if n.state == S.NOTIFIED.value:
                if n.publish_due_at is None or now < n.publish_due_at:
                    return []
                n.published_at = now
                out.append(
                    self._move(s, n, E.PUBLISH, actor, now, publish_due_at=n.publish_due_at.isoformat())
                )
            if n.state == S.PUBLISHED.value:
                reason = f"thông báo {n.decision_no} chưa được giải quyết"
                self.inspection.flag(s, n.plate_normalized, n.id, reason, now)
                out.append(self._move(s, n, E.FLAG, actor, now, inspection_flag=reason))
            return out

    def _expire(self, notice_id: int, actor: str) -> TransitionView | None:
        with self.db.write() as s:
            n = self._get(s, notice_id)
            now = self.clock()
            if now <= n.expires_at:  # usable to the end of the last day (Art. 4(2))
                return None
            return self._move(s, n, E.EXPIRE, actor, now, expires_at=n.expires_at.isoformat())

    def _follow_fines(self, actor: str) -> list[TransitionView]:
        """Open notices whose fine was paid or cancelled another way (`detector fines pay|cancel`,
        the API) are closed or cancelled with it, and their flag cleared."""
        out = []
        with self.db.session() as s:
            q = (
                select(NoticeRow.id, Fine.status)
                .join(Fine, Fine.id == NoticeRow.fine_id)
                .where(
                    NoticeRow.state.in_([st.value for st in OPEN_STATES]),
                    Fine.status != FineStatus.UNPAID.value,
                )
            )
            settled = list(s.execute(q).all())
        for nid, status in settled:
            with self.db.write() as s:
                n = self._get(s, nid)
                now = self.clock()
                event = E.PAY if status == FineStatus.PAID.value else E.CANCEL
                if (NoticeState(n.state), event) not in TRANSITIONS:
                    continue
                cleared = self.inspection.clear(s, n.id, now)
                n.closed_at = now
                out.append(self._move(s, n, event, actor, now, fine_status=status, flag_cleared=cleared))
        return out

    def advance(self, actor: str = "scheduler") -> list[TransitionView]:
        """Everything due at the clock's now: follow settled fines, open, route, notify, publish + flag,
        expire."""
        out = self._follow_fines(actor)
        out += self.open_new(actor)
        for state in (S.OPENED, S.OWNER_UNKNOWN, S.ROUTED):
            for nid in self._due(state):
                t = self._expire(nid, actor)
                if t is not None:
                    out.append(t)
        for nid in self._due(S.OPENED) + self._due(S.OWNER_UNKNOWN):
            t = self.route(nid, actor)
            if t is not None:
                out.append(t)
        for nid in self._due(S.ROUTED):
            try:
                out.append(self.notify(nid, actor))
            except (InvalidRequest, NotFound) as exc:  # one broken case must not hold up the others
                log.error("notice %d not sent: %s", nid, exc)
        for nid in self._due(S.NOTIFIED) + self._due(S.PUBLISHED):
            out.extend(self._publish_and_flag(nid, actor))
        return out

    # ------------------------------------------------------------------ payment
    def _refuse(self, body: bytes, why: str) -> None:
        with self.db.write() as s:
            audit.record(
                s,
                at=self.clock(),
                actor=PORTAL_ACTOR,
                action="payment_callback_refused",
                entity="notice",
                entity_id="-",
                before=None,
                after={"reason": why, "body_sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)},
            )

    def payment_callback(self, body: bytes, signature: str | None) -> TransitionView:
        """The portal says a notice was paid: pay the fine (exactly once), close, clear the flag."""
        try:
            cb = verify_callback(self.secret, body, signature, self.clock(), self.config.callback_max_skew_s)
        except SignatureRefused as exc:
            self._refuse(body, str(exc))
            raise
        with self.db.session() as s:
            n = s.scalars(select(NoticeRow).where(NoticeRow.payment_ref == cb.payment_ref)).first()
            if n is None:
                raise NotFound(f"payment callback: no notice with payment_ref {cb.payment_ref[:64]!r}")
            if n.state != S.CLOSED.value:  # a repeated callback of a closed case replays its receipt below
                next_state(n.state, E.PAY, n.id)  # refuse before any money moves
            notice_id, fine_id = n.id, n.fine_id
        receipt = self.payments.pay(fine_id, f"portal:{cb.transaction_id}", cb.amount_vnd, actor=PORTAL_ACTOR)
        with self.db.write() as s:
            n = self._get(s, notice_id)
            if n.state == S.CLOSED.value:  # a repeated callback for the same payment
                return TransitionView(notice_id=n.id, event="pay", from_state=n.state, to_state=n.state)
            now = self.clock()
            cleared = self.inspection.clear(s, n.id, now)
            n.closed_at = now
            return self._move(
                s,
                n,
                E.PAY,
                PORTAL_ACTOR,
                now,
                receipt_no=receipt.receipt_no,
                transaction_id=cb.transaction_id,
                paid_at=cb.paid_at.isoformat(),
                flag_cleared=cleared,
            )

    # ------------------------------------------------------------------ reads
    def get(self, notice_id: int) -> NoticeCaseView:
        with self.db.session() as s:
            n = s.get(NoticeRow, notice_id)
            if n is None:
                raise NotFound(f"notice {notice_id} not found")
            return NoticeCaseView.of(n)

    def list(self, state: str | None = None, limit: int = 200) -> list[NoticeCaseView]:
        with self.db.session() as s:
            q = select(NoticeRow).order_by(NoticeRow.id).limit(limit)
            if state is not None:
                q = q.where(NoticeRow.state == state)
            return [NoticeCaseView.of(n) for n in s.scalars(q)]

    def notice_html(self, notice_id: int) -> bytes:
        """The printed notice, checked against the sha256 stored when it was sent."""
        with self.db.session() as s:
            n = s.get(NoticeRow, notice_id)
            if n is None or n.notice_file is None:
                raise NotFound(f"notice {notice_id} has not been printed")
            path, sha = Path(n.notice_file), n.notice_sha256
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise InvalidRequest(
                f"notice {notice_id}: {path} does not match the sha256 stored when it was sent"
            )
        return data

    def public_lookup(self, plate: str) -> builtins.list[PublicNoticeView]:
        """Published notices of a plate, as the public lookup shows them: every open case whose notice
        was sent (Decree 168/2024 Art. 47(8)(a)), or with `publish_with_notice` off only the cases
        past the date on their notice (published, flagged)."""
        keys = o_zero_spellings(plate_key(plate))
        shown = [S.PUBLISHED.value, S.FLAGGED.value]
        if self.config.publish_with_notice:
            shown += [S.NOTIFIED.value, S.ACKNOWLEDGED.value]
        with self.db.session() as s:
            q = (
                select(NoticeRow, Fine)
                .join(Fine, Fine.id == NoticeRow.fine_id)
                .where(
                    NoticeRow.plate_normalized.in_(keys),
                    NoticeRow.state.in_(shown),
                )
                .order_by(NoticeRow.detected_at.desc())
            )
            return [
                PublicNoticeView(
                    decision_no=n.decision_no,
                    plate_normalized=n.plate_normalized,
                    detected_at=n.detected_at,
                    place=f.place,
                    violation_text=f.violation_text,
                    amount_due_vnd=f.amount_due_vnd,
                    unit_name=n.unit_name,
                    payment_ref=n.payment_ref,
                    published_at=n.notified_at if self.config.publish_with_notice else n.published_at,
                )
                for n, f in s.execute(q).all()
            ]

    def audit_trail(self, notice_id: int) -> builtins.list[dict[str, Any]]:
        with self.db.session() as s:
            return [json.loads(a.model_dump_json()) for a in audit.entries(s, "notice", str(notice_id), 1000)]
