"""Fines: lookup by plate (rate limited per token and per client address), one fine, and payment
(idempotent by key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from detector.api.auth import Looker, Payer
from detector.api.deps import (
    CONFLICT,
    ERRORS,
    NOT_FOUND,
    ClientAddress,
    FineId,
    Limiter,
    Services,
    actor,
    refuse_if_waiting,
)
from detector.api.ratelimit import Charge
from detector.api.schemas import IDEMPOTENCY_PATTERN, ErrorBody, PayRequest
from detector.store.views import NoticeView, ReceiptView

router = APIRouter()


@router.get(
    "/v1/fines",
    response_model=list[NoticeView],
    responses={**ERRORS, 429: {"model": ErrorBody, "description": "Rate limited"}},
    tags=["fines"],
)
def lookup(
    svc: Services,
    limiter: Limiter,
    ip: ClientAddress,
    t: Looker,
    plate: Annotated[str, Query(min_length=1, max_length=40, description="Plate in any form: 51F-123.45")],
    unpaid_only: Annotated[bool, Query(description="Only fines still to pay")] = False,
) -> list[NoticeView]:
    rl = svc.config.lookup_rate_limit
    ip_capacity, ip_refill = rl.ip_capacity or 4 * rl.capacity, rl.ip_refill_per_s or 4 * rl.refill_per_s
    refuse_if_waiting(
        limiter.take_all(
            [
                Charge(f"token:{t.id}", rl.capacity, rl.refill_per_s),
                Charge(f"ip:{ip}", ip_capacity, ip_refill),
            ]
        )
    )
    return svc.payments.lookup(plate, include_closed=not unpaid_only)


@router.get(
    "/v1/fines/{fine_id}", response_model=NoticeView, responses={**ERRORS, **NOT_FOUND}, tags=["fines"]
)
def fine(fine_id: FineId, svc: Services, _t: Looker) -> NoticeView:
    return svc.payments.get_fine(fine_id)


@router.post(
    "/v1/fines/{fine_id}/pay",
    response_model=ReceiptView,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT},
    tags=["fines"],
)
def pay(
    fine_id: FineId,
    body: PayRequest,
    svc: Services,
    t: Payer,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_PATTERN)],
) -> ReceiptView:
    return svc.payments.pay(fine_id, idempotency_key, body.amount_vnd, actor=actor(t))
