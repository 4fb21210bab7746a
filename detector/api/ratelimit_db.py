"""Token buckets kept in the store's database: one budget however many API workers serve it.

`detector/api/ratelimit.py`'s `TokenBucketLimiter` keeps its buckets in the process, so N uvicorn
workers would grant N times the configured rate. `DbBucketLimiter` has the same interface
(`take_all(charges)`, `take(key)`) and the same rules (a request charged to several buckets is
admitted only if each holds a token, and a rejected request pays nothing), but each call is one
short write transaction on the `rate_buckets` table: the rows are created if missing, locked in key
order (`SELECT ... FOR UPDATE` on PostgreSQL, so two workers never deadlock; SQLite's
`BEGIN IMMEDIATE` serialises writers already), refilled by the time since their last update, and
charged.

A bucket that has refilled to its capacity is the same as no bucket, so every `prune_every` calls
the limiter deletes the rows that are full again (`full_at` passed): the table holds only the keys
spent recently, as the in-process limiter's LRU does.

Time comes from the clock passed in: the wall clock by default, because a monotonic clock is not
comparable between hosts. A clock that steps back is treated as no time passing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from detector.api.ratelimit import Charge
from detector.store.db import Database
from detector.store.ratelimit_models import RateBucket


class BucketLimiter(Protocol):
    """What the API needs of a limiter: `TokenBucketLimiter` (one process) or `DbBucketLimiter`."""

    def take_all(self, charges: Sequence[Charge]) -> float: ...

    def take(self, key: str) -> float: ...


class DbBucketLimiter:
    """Token buckets in the database, shared by every process that uses the same store."""

    def __init__(
        self,
        db: Database,
        capacity: int,
        refill_per_s: float,
        clock: Callable[[], float] = time.time,
        prune_every: int = 1000,
    ) -> None:
        self.db = db
        self.capacity = float(capacity)
        self.refill_per_s = refill_per_s
        self.clock = clock
        self._insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        self.prune_every = prune_every
        self._calls = 0

    def take_all(self, charges: Sequence[Charge]) -> float:
        """0.0 when every bucket had a token (each pays one); else the seconds until all will, and
        no bucket pays."""
        by_key = {c.key: c for c in charges}
        keys = sorted(by_key)
        now = self.clock()
        with self.db.write() as s:
            s.execute(
                self._insert(RateBucket)
                .values(
                    [{"key": k, "tokens": by_key[k].capacity, "updated": now, "full_at": now} for k in keys]
                )
                .on_conflict_do_nothing(index_elements=["key"])
            )
            rows = s.execute(
                select(RateBucket.key, RateBucket.tokens, RateBucket.updated)
                .where(RateBucket.key.in_(keys))
                .order_by(RateBucket.key)
                .with_for_update()
            ).all()
            # a key without a row (a concurrent prune took a full bucket) is a full bucket
            level: dict[str, tuple[float, float]] = {k: (by_key[k].capacity, now) for k in keys}
            for key, tokens, updated in rows:
                c = by_key[key]
                level[key] = (
                    min(c.capacity, tokens + max(0.0, now - updated) * c.refill_per_s),
                    max(now, updated),
                )
            waits = [(1.0 - t) / by_key[k].refill_per_s for k, (t, _u) in level.items() if t < 1.0]
            if waits:
                return max(waits)
            for key, (tokens, at) in level.items():
                c = by_key[key]
                left = tokens - 1.0
                values = {"tokens": left, "updated": at, "full_at": at + (c.capacity - left) / c.refill_per_s}
                stmt = self._insert(RateBucket).values(key=key, **values)
                s.execute(stmt.on_conflict_do_update(index_elements=["key"], set_=values))
        self._calls += 1
        if self._calls % self.prune_every == 0:
            self.prune(now)
        return 0.0

    def prune(self, now: float | None = None) -> int:
        """Delete the buckets that are full again (as good as absent); returns how many."""
        at = self.clock() if now is None else now
        with self.db.write() as s:
            result = s.execute(delete(RateBucket).where(RateBucket.full_at < at))
            return int(getattr(result, "rowcount", 0) or 0)

    def take(self, key: str) -> float:
        """0.0 when allowed (a token is spent); else the seconds until the next token."""
        return self.take_all([Charge(key, self.capacity, self.refill_per_s)])
