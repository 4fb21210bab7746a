"""Helpers of the API tests: an app over a real store, tokens of every role, a hand-driven clock
(the `api` fixture is in tests/api/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from detector.api.app import create_app
from tests.store.support import FakeMonotonic, Keys, Store, make_store


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
