"""Token-bucket rate limiting with an injectable monotonic clock (tests step time by hand), and the
client address a request counts against.

A request may be charged to several buckets at once (its token's and its client address's): it is
admitted only if every bucket holds a token, and then each pays one; a rejected request pays
nothing, so one full bucket cannot drain the others. Each bucket has its own capacity and refill
(an address is shared by every token behind one NAT, so its bucket is larger than a token's).

`client_ip` believes `X-Forwarded-For` only when the connection comes from a configured trusted
proxy (none by default, loopback included): otherwise a client could name any address it likes.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Charge:
    """One bucket a request is charged to: its key, burst size and refill rate."""

    key: str
    capacity: float
    refill_per_s: float


class TokenBucketLimiter:
    """Buckets by key (LRU-bounded); `take` charges one bucket, `take_all` several atomically."""

    def __init__(
        self, capacity: int, refill_per_s: float, clock: Callable[[], float], max_keys: int = 10_000
    ) -> None:
        self.capacity = float(capacity)
        self.refill_per_s = refill_per_s
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _bucket(self, c: Charge, now: float) -> _Bucket:
        b = self._buckets.get(c.key)
        if b is None:
            b = _Bucket(c.capacity, now)
            self._buckets[c.key] = b
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(c.key)
            b.tokens = min(c.capacity, b.tokens + (now - b.updated) * c.refill_per_s)
            b.updated = now
        return b

    def take_all(self, charges: Sequence[Charge]) -> float:
        """0.0 when every bucket had a token (each pays one); else the seconds until all will, and
        no bucket pays."""
        now = self.clock()
        with self._lock:
            buckets = [(c, self._bucket(c, now)) for c in charges]
            waits = [(1.0 - b.tokens) / c.refill_per_s for c, b in buckets if b.tokens < 1.0]
            if waits:
                return max(waits)
            for _c, b in buckets:
                b.tokens -= 1.0
            return 0.0

    def take(self, key: str) -> float:
        """0.0 when allowed (a token is spent); else the seconds until the next token."""
        return self.take_all([Charge(key, self.capacity, self.refill_per_s)])


def parse_networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR blocks (ValueError names a bad one)."""
    out = []
    for e in entries:
        try:
            out.append(ipaddress.ip_network(e.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"trusted proxy {e!r}: not an IP address or network ({exc})") from exc
    return tuple(out)


def _in(addr: str, nets: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The address a request counts against: the peer, unless the peer is a trusted proxy; then the
    right-most address in X-Forwarded-For that is not itself a trusted proxy."""
    peer = peer or "unknown"
    if not forwarded_for or not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",")[:32] if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the client side of the proxy: count against the proxy
    return peer
