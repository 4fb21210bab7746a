"""Token-bucket rate limiting with an injectable monotonic clock (tests step time by hand)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """`capacity` requests in a burst, refilled at `refill_per_s`; one bucket per key (LRU-bounded)."""

    def __init__(
        self, capacity: int, refill_per_s: float, clock: Callable[[], float], max_keys: int = 10_000
    ) -> None:
        self.capacity = float(capacity)
        self.refill_per_s = refill_per_s
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when allowed (a token is spent); else the seconds until the next token."""
        now = self.clock()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = _Bucket(self.capacity, now)
                self._buckets[key] = b
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                b.tokens = min(self.capacity, b.tokens + (now - b.updated) * self.refill_per_s)
                b.updated = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / self.refill_per_s
