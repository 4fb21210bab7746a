"""Edge to central forwarding: durable queue, retry with backoff while the central API is down,
idempotent delivery, permanent failure when the central store rejects a bundle."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from detector.config import ForwardConfig
from detector.store.forwarder import Forwarder
from detector.store.models import ForwardItem
from tests.api.support import make_api
from tests.store.support import Keys, accepted_id, make_store


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _items(store) -> list[ForwardItem]:  # noqa: ANN001
    with store.db.session() as s:
        return list(s.scalars(select(ForwardItem).order_by(ForwardItem.id)))


def test_forward_retries_until_central_is_up(tmp_path: Path, keys: Keys, bundles: list[Path]) -> None:
    central = make_api(f"sqlite:///{tmp_path / 'central.db'}", tmp_path / "central", keys)
    fwd_cfg = ForwardConfig(enabled=True, url="http://central.example", backoff_initial_s=10)
    edge = make_store(f"sqlite:///{tmp_path / 'edge.db'}", tmp_path / "edge", keys, forward=fwd_cfg)
    try:
        ids = [accepted_id(edge.services.ingest.ingest_path(b)) for b in bundles[:2]]
        token = central.tokens["ingest"]
        down = Forwarder(
            edge.db,
            fwd_cfg,
            edge.config.evidence_dir,
            httpx.Client(transport=httpx.MockTransport(_down)),
            token,
            edge.clock,
        )
        stats = down.forward_due()
        assert (stats.forwarded, stats.retrying, stats.failed) == (0, 2, 0)
        items = _items(edge)
        assert [i.state for i in items] == ["pending", "pending"] and all(i.attempts == 1 for i in items)
        assert "ConnectError" in (items[0].last_error or "")
        assert down.forward_due().retrying == 0  # not due before the backoff elapses

        edge.clock.advance(10)
        up = Forwarder(edge.db, fwd_cfg, edge.config.evidence_dir, central.client, token, edge.clock)
        stats = up.forward_due()
        assert (stats.forwarded, stats.retrying, stats.failed) == (2, 0, 0)
        assert [(i.state, i.remote_status) for i in _items(edge)] == [("forwarded", "accepted")] * 2
        edge_events = [edge.services.feed.get(i).event_id for i in ids]
        assert [v.event_id for v in central.store.services.feed.page()] == edge_events
        assert up.forward_due().forwarded == 0  # nothing is sent twice
    finally:
        central.client.close()
        central.store.services.close()
        edge.services.close()


def test_central_rejection_is_permanent(tmp_path: Path, keys: Keys, bundles: list[Path]) -> None:
    untrusting = tmp_path / "no-keys"
    untrusting.mkdir()
    central = make_api(f"sqlite:///{tmp_path / 'central.db'}", tmp_path / "central", keys)
    central.store.services.ingest.keys = {}  # the central store trusts no edge key
    fwd_cfg = ForwardConfig(enabled=True, url="http://central.example")
    edge = make_store(f"sqlite:///{tmp_path / 'edge.db'}", tmp_path / "edge", keys, forward=fwd_cfg)
    try:
        edge.services.ingest.ingest_path(bundles[0])
        fwd = Forwarder(
            edge.db, fwd_cfg, edge.config.evidence_dir, central.client, central.tokens["ingest"], edge.clock
        )
        assert fwd.forward_due().failed == 1
        (item,) = _items(edge)
        assert item.state == "failed" and "untrusted_key" in (item.last_error or "")
        edge.clock.advance(10**6)
        assert fwd.forward_due() == type(fwd.forward_due())(0, 0, 0)
    finally:
        central.client.close()
        central.store.services.close()
        edge.services.close()
