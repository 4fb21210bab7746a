"""The notice's life as an explicit state machine (pure: no database, no clock).

    opened --route--> routed --notify--> notified --acknowledge--> acknowledged
       |                                    |
       +--owner_not_found--> owner_unknown  +--publish--> published --flag--> flagged
                              |
                              +--route--> routed
    routed | notified | acknowledged | published | flagged --pay--> closed (the flag is cleared)
    any open state --cancel--> cancelled (the flag is cleared)
    opened | owner_unknown | routed --expire--> expired

Periods and their basis:
- A notice goes out within `notify_within_working_days` (default 10) working days of the detection
  and, if the owner has not come `publish_after_days` (default 20) days after it was sent, the case
  is published on the public lookup and the vehicle flagged to the inspection registry until it is
  settled. These follow the 2024 procedure for camera-detected violations (Circular
  73/2024/TT-BCA); that circular is not in the project's reference folder, so the figures are
  configurable defaults (`NoticeConfig`) rather than verified citations.
- Decree 168/2024 Art. 4(1) (reference text, "Thời hiệu xử phạt ... là 01 năm"): the limitation is
  one year; Art. 4(2): what a technical device recorded may be used until the end of the last day of
  it; Art. 4(3)(b): for device-detected violations the violation ends when the device recorded it. A
  case not yet notified when the year has run out is `expired` (`limitation_end`).
- Decree 168/2024 Art. 47(8)(a): the notice to the owner goes out and, at the same time ("đồng
  thời"), the vehicle is posted on the traffic police's website: the public lookup shows a case from
  `notified` on (`NoticeConfig.publish_with_notice`). Art. 47(11): past the date the notice gives the
  owner to come, the unit notifies the inspection (đăng kiểm) and registration agencies (the
  `flagged` state, after `published`, which marks that date passing); Art. 47(11)(c): once settled,
  it tells them at once (the flag is cleared at payment). The length of that period is not in the
  Decree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from detector.store.errors import Conflict
from detector.store.network_models import NoticeState


class NoticeEvent(StrEnum):
    ROUTE = "route"
    OWNER_NOT_FOUND = "owner_not_found"
    NOTIFY = "notify"
    ACKNOWLEDGE = "acknowledge"
    PUBLISH = "publish"
    FLAG = "flag"
    PAY = "pay"
    CANCEL = "cancel"
    EXPIRE = "expire"


S, E = NoticeState, NoticeEvent
OPEN_STATES = frozenset(
    {S.OPENED, S.OWNER_UNKNOWN, S.ROUTED, S.NOTIFIED, S.ACKNOWLEDGED, S.PUBLISHED, S.FLAGGED}
)
TRANSITIONS: dict[tuple[NoticeState, NoticeEvent], NoticeState] = {
    (S.OPENED, E.ROUTE): S.ROUTED,
    (S.OPENED, E.OWNER_NOT_FOUND): S.OWNER_UNKNOWN,
    (S.OWNER_UNKNOWN, E.ROUTE): S.ROUTED,
    (S.ROUTED, E.NOTIFY): S.NOTIFIED,
    (S.NOTIFIED, E.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.NOTIFIED, E.PUBLISH): S.PUBLISHED,
    (S.PUBLISHED, E.FLAG): S.FLAGGED,
    **{(s, E.PAY): S.CLOSED for s in (S.ROUTED, S.NOTIFIED, S.ACKNOWLEDGED, S.PUBLISHED, S.FLAGGED)},
    **{(s, E.CANCEL): S.CANCELLED for s in OPEN_STATES},
    **{(s, E.EXPIRE): S.EXPIRED for s in (S.OPENED, S.OWNER_UNKNOWN, S.ROUTED)},
}


def next_state(state: str, event: NoticeEvent, notice_id: int | None = None) -> NoticeState:
    """The state `event` leads to from `state`; Conflict when the machine has no such transition."""
    try:
        target = TRANSITIONS[(NoticeState(state), event)]
    except (KeyError, ValueError):
        allowed = sorted(e.value for (s, e) in TRANSITIONS if s.value == state)
        raise Conflict(
            f"notice {notice_id}: cannot {event.value} a notice that is {state} (allowed: {', '.join(allowed) or 'none'})"
        ) from None
    return target


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` plus `days` working days (Monday-Friday) in Vietnam's time zone; public holidays are
    not modelled (a deployment that needs them shortens the period instead)."""
    from detector.store.views import VN_TIME

    local = start.astimezone(VN_TIME)
    day = local
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    # the end of that working day, local time
    end = day.replace(hour=23, minute=59, second=59, microsecond=0)
    return end.astimezone(start.tzinfo)


def publish_due(notified_at: datetime, publish_after_days: int) -> datetime:
    return notified_at + timedelta(days=publish_after_days)


def limitation_end(detected_at: datetime, years: int = 1) -> datetime:
    """Decree 168/2024 Art. 4: the limitation is one year (4(1)) from when the device recorded the
    violation (4(3)(b)), and the device's record may be used "cho đến hết ngày cuối cùng của thời hiệu"
    (4(2)): to the end of the last day. So: the same calendar date `years` later in Vietnam's time
    (29 February -> 28 February), at 23:59:59.999999 local time, not 365 x 24 hours after the moment."""
    from detector.store.views import VN_TIME

    local = detected_at.astimezone(VN_TIME)
    try:
        last = local.replace(year=local.year + years)
    except ValueError:  # 29 February, and the year `years` on has none
        last = local.replace(year=local.year + years, day=28)
    end = last.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return end.astimezone(detected_at.tzinfo)
