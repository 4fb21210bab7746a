"""Lookup of fines by plate (normalised) and the payment stub.

`pay(fine_id, idempotency_key, amount_vnd)` charges a fine exactly once, even when the same request
is submitted twice at the same moment:
  - the fine moves unpaid -> paid by a conditional UPDATE (`... WHERE status = 'unpaid'`): of two
    concurrent payers only one updates a row (PostgreSQL re-checks the WHERE after the first commits;
    SQLite runs write transactions one at a time);
  - `payments.fine_id` and `payments.idempotency_key` are UNIQUE, a second line of defence;
  - a request whose key already paid returns the same receipt, marked `replayed`.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from detector.platetext import normalize_plate, o_zero_spellings
from detector.store import audit
from detector.store.db import Clock, Database
from detector.store.errors import Conflict, InvalidRequest, NotFound
from detector.store.models import Fine, FineStatus, Payment
from detector.store.views import NoticeView, ReceiptView

log = logging.getLogger(__name__)

MAX_KEY_LEN = 128


def plate_key(plate: str) -> str:
    key = normalize_plate(plate)
    if not key:
        raise InvalidRequest(f"plate {plate[:40]!r}: no letters or digits to look up")
    return key


class PaymentService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def lookup(self, plate: str, *, include_closed: bool = True) -> list[NoticeView]:
        """Fines (notices) of a plate in any written form: 51F-123.45, 51F12345, 51f 123 45, and with
        the letter O and the digit 0 taken for each other (one glyph on many US plates)."""
        keys = o_zero_spellings(plate_key(plate))
        with self.db.session() as s:
            q = select(Fine).where(Fine.plate_normalized.in_(keys)).order_by(Fine.occurred_at.desc(), Fine.id)
            if not include_closed:
                q = q.where(Fine.status == FineStatus.UNPAID.value)
            return [NoticeView.of(f) for f in s.scalars(q)]

    def get_fine(self, fine_id: int) -> NoticeView:
        with self.db.session() as s:
            f = s.get(Fine, fine_id)
            if f is None:
                raise NotFound(f"fine {fine_id} not found")
            return NoticeView.of(f)

    def pay(self, fine_id: int, idempotency_key: str, amount_vnd: int, *, actor: str) -> ReceiptView:
        key = idempotency_key.strip()
        if not key or len(key) > MAX_KEY_LEN:
            raise InvalidRequest(f"idempotency key must be 1..{MAX_KEY_LEN} characters")
        for attempt in range(3):
            try:
                return self._pay_once(fine_id, key, amount_vnd, actor)
            except IntegrityError:
                # a concurrent request inserted the same key or paid the same fine: look again
                log.info("payment of fine %d raced (attempt %d); re-checking", fine_id, attempt + 1)
        raise Conflict(f"fine {fine_id}: payment could not be settled after concurrent attempts")

    def _replay(self, p: Payment, fine_id: int, notice_no: str) -> ReceiptView:
        if p.fine_id != fine_id:
            raise Conflict(f"idempotency key already used to pay fine {p.fine_id}, not fine {fine_id}")
        return ReceiptView.of(p, notice_no, replayed=True)

    def _pay_once(self, fine_id: int, key: str, amount_vnd: int, actor: str) -> ReceiptView:
        with self.db.write() as s:
            fine = s.get(Fine, fine_id)
            if fine is None:
                raise NotFound(f"fine {fine_id} not found")
            prior = s.scalars(select(Payment).where(Payment.idempotency_key == key)).first()
            if prior is not None:
                return self._replay(prior, fine_id, fine.notice_no)
            if amount_vnd != fine.amount_due_vnd:
                raise InvalidRequest(
                    f"fine {fine_id}: amount {amount_vnd} VND differs from the amount due {fine.amount_due_vnd} VND"
                )
            won = cast(
                CursorResult[Any],
                s.execute(
                    update(Fine)
                    .where(Fine.id == fine_id, Fine.status == FineStatus.UNPAID.value)
                    .values(status=FineStatus.PAID.value)
                    .execution_options(synchronize_session=False)
                ),
            ).rowcount
            if won != 1:
                prior = s.scalars(select(Payment).where(Payment.idempotency_key == key)).first()
                if prior is not None:
                    return self._replay(prior, fine_id, fine.notice_no)
                s.refresh(fine)
                raise Conflict(f"fine {fine_id} is already {fine.status}")
            now = self.clock()
            p = Payment(
                fine_id=fine_id,
                idempotency_key=key,
                amount_vnd=amount_vnd,
                receipt_no=f"BL-{now:%Y%m%d}-{fine_id:010d}",
                paid_by=actor,
                paid_at=now,
            )
            s.add(p)
            s.flush()
            audit.record(
                s,
                at=now,
                actor=actor,
                action="pay",
                entity="fine",
                entity_id=fine_id,
                before={"status": FineStatus.UNPAID.value},
                after={
                    "status": FineStatus.PAID.value,
                    "receipt_no": p.receipt_no,
                    "amount_vnd": amount_vnd,
                    "idempotency_key": key,
                },
            )
            receipt = ReceiptView.of(p, fine.notice_no, replayed=False)
        log.info("fine %d paid by %s (receipt %s)", fine_id, actor, receipt.receipt_no)
        return receipt
