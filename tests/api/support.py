"""Fixtures of the API tests: an app over a real store, tokens of every role, a hand-driven clock."""

# ruff: noqa: F811  (pytest fixtures are imported from the support modules by name)
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from detector.api.app import create_app
from detector.store.config import RateLimitConfig
from tests.store.support import FakeMonotonic, Keys, Store, keys, make_store  # noqa: F401


@dataclass
class Api:
    client: TestClient
    store: Store
    tokens: dict[str, str]
    monotonic: FakeMonotonic

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_api(url: str, tmp: Path, keys: Keys, **overrides: object) -> Api:
    store = make_store(url, tmp, keys, **overrides)
    tokens = {
        role: store.services.tokens.create(f"{role}-user", role, timedelta(days=1)).secret
        for role in ("viewer", "reviewer", "payments", "ingest")
    }
    mono = FakeMonotonic()
    client = TestClient(create_app(store.services, monotonic=mono), raise_server_exceptions=False)
    return Api(client, store, tokens, mono)


@pytest.fixture()
def api(tmp_path: Path, keys: Keys) -> Iterator[Api]:
    a = make_api(
        f"sqlite:///{tmp_path / 'api.db'}",
        tmp_path,
        keys,
        lookup_rate_limit=RateLimitConfig(capacity=3, refill_per_s=1.0),
    )
    yield a
    a.client.close()
    a.store.services.close()
