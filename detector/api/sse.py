"""Server-sent events of a store table read by id: `id:` is the row id, so a client that reconnects
with `Last-Event-ID` resumes exactly after the last event it saw. The evidence feed (`violation`
events) and hotlist alerts (`hotlist` events) both stream this way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

import anyio
from fastapi import Request
from fastapi.concurrency import run_in_threadpool

KEEPALIVE_S = 15.0
PAGE = 100


class Row(Protocol):
    """A view with an id, serialised as the event's data."""

    @property
    def id(self) -> int: ...

    def model_dump_json(self) -> str: ...


def format_event(event_id: int, data: str, event: str = "violation") -> str:
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n"


async def sse_events(
    request: Request,
    page_after: Callable[[int, int], Sequence[Row]],
    after: int,
    *,
    follow: bool,
    poll_s: float,
    event: str = "violation",
) -> AsyncIterator[str]:
    """Rows after `after` (`page_after(last_id, page_size)`), then (with `follow`) new rows as they
    are stored, with a keepalive comment every `KEEPALIVE_S` of quiet."""
    last = after
    idle = 0.0
    yield "retry: 3000\n\n"
    while True:
        page = await run_in_threadpool(page_after, last, PAGE)
        for row in page:
            yield format_event(row.id, row.model_dump_json(), event)
            last = row.id
        if len(page) == PAGE:
            continue
        if not follow or await request.is_disconnected():
            return
        await anyio.sleep(poll_s)
        idle += poll_s
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": keepalive\n\n"
