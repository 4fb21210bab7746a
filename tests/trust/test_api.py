"""Issue 15, failure 6: the lookup limiter refunds a rejected request and keys its buckets per token
and per client address; X-Forwarded-For is believed only from configured proxies (not loopback)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from detector.api.app import create_app
from detector.api.ratelimit import Charge, TokenBucketLimiter, client_ip, parse_networks
from detector.config import RateLimitConfig
from tests.store.support import FakeMonotonic, Keys, make_store


def test_rejected_request_spends_no_bucket() -> None:
    t = [0.0]
    lim = TokenBucketLimiter(2, 0.5, lambda: t[0])
    tok, ip = Charge("token:1", 2, 0.5), Charge("ip:a", 1, 0.5)
    assert lim.take_all([tok, ip]) == 0.0
    assert lim.take_all([tok, ip]) == 2.0  # the ip bucket is empty: rejected
    assert lim.take_all([tok, ip]) > 0
    t[0] = 2.0  # the ip bucket refills one; the token bucket still holds its untouched second token
    assert lim.take_all([tok, ip]) == 0.0
    assert lim.take("solo") == 0.0


def test_client_ip_trusts_forwarded_for_only_from_configured_proxies() -> None:
    none: tuple = ()
    lo = parse_networks(["127.0.0.1/32", "10.0.0.0/8"])
    assert client_ip("127.0.0.1", "1.2.3.4", none) == "127.0.0.1"  # default: loopback is not a proxy
    assert client_ip("127.0.0.1", "1.2.3.4", lo) == "1.2.3.4"
    assert client_ip("127.0.0.1", "9.9.9.9, 1.2.3.4, 10.1.1.1", lo) == "1.2.3.4"  # right-most untrusted hop
    assert client_ip("8.8.8.8", "1.2.3.4", lo) == "8.8.8.8"  # not from a proxy
    assert client_ip("127.0.0.1", "not-an-ip", lo) == "127.0.0.1"
    assert client_ip(None, None, lo) == "unknown"


def _app(tmp: Path, keys: Keys, peer: str, **cfg: object) -> tuple[TestClient, dict[str, str], FakeMonotonic]:
    store = make_store(f"sqlite:///{tmp / 'api.db'}", tmp, keys, **cfg)
    toks = {n: store.services.tokens.create(n, "viewer", timedelta(days=1)).secret for n in ("a", "b")}
    mono = FakeMonotonic()
    client = TestClient(create_app(store.services, monotonic=mono), client=(peer, 50000))
    return client, toks, mono


def _get(c: TestClient, tok: str, xff: str | None = None) -> int:
    h = {"Authorization": f"Bearer {tok}"}
    if xff:
        h["X-Forwarded-For"] = xff
    return c.get("/v1/fines", params={"plate": "51F12345"}, headers=h).status_code


def test_api_refund_and_per_token_buckets(tmp_path: Path, keys: Keys) -> None:
    rl = RateLimitConfig(capacity=2, refill_per_s=0.5, ip_capacity=3, ip_refill_per_s=0.5)
    c, tok, mono = _app(tmp_path, keys, "203.0.113.7", lookup_rate_limit=rl)
    assert [_get(c, tok["a"]) for _ in range(3)] == [200, 200, 429]  # a's own bucket
    assert _get(c, tok["b"]) == 200  # b has its own bucket; the address bucket now is empty
    assert [_get(c, tok["b"]) for _ in range(5)] == [429] * 5  # rejected: b's bucket is not spent
    mono.t += 2.0  # one address token back
    assert _get(c, tok["b"]) == 200  # b still had its second token


def test_forwarded_for_from_loopback_is_not_trusted_by_default(tmp_path: Path, keys: Keys) -> None:
    rl = RateLimitConfig(capacity=100, refill_per_s=0.01, ip_capacity=3, ip_refill_per_s=0.01)
    c, tok, _ = _app(tmp_path / "a", keys, "127.0.0.1", lookup_rate_limit=rl)
    codes = [_get(c, tok["a"], f"198.51.100.{i}") for i in range(6)]
    assert codes == [200, 200, 200, 429, 429, 429]  # rotating the header does not escape the bucket
    c2, tok2, _ = _app(
        tmp_path / "b", keys, "127.0.0.1", lookup_rate_limit=rl, trusted_proxies=("127.0.0.1",)
    )
    assert [_get(c2, tok2["a"], f"198.51.100.{i}") for i in range(6)] == [200] * 6  # a real proxy's clients
