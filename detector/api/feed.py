"""Server-sent events of the evidence feed: `id:` is the violation row id, so a client that
reconnects with `Last-Event-ID` resumes exactly after the last event it saw."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from detector.store.queries import FeedQueries

KEEPALIVE_S = 15.0
PAGE = 100


def format_event(event_id: int, data: str, event: str = "violation") -> str:
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n"


async def sse_events(
    request: Request, feed: FeedQueries, after: int, *, follow: bool, poll_s: float
) -> AsyncIterator[str]:
    """Backlog after `after`, then (with `follow`) new violations as they are ingested."""
    last = after
    idle = 0.0
    yield "retry: 3000\n\n"
    while True:
        page = await run_in_threadpool(feed.page, last, PAGE)
        for v in page:
            yield format_event(v.id, v.model_dump_json())
            last = v.id
        if len(page) == PAGE:
            continue
        if not follow or await request.is_disconnected():
            return
        await anyio.sleep(poll_s)
        idle += poll_s
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": keepalive\n\n"
