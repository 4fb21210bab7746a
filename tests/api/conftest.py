"""Fixtures of the API tests: an app over a real SQLite store with tokens of every role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.config import RateLimitConfig
from tests.api.support import Api, make_api
from tests.store.support import Keys


@pytest.fixture()
def api(tmp_path: Path, keys: Keys) -> Iterator[Api]:
    """The app over a fresh SQLite store; the public lookup allows 3 requests, then 1 a second."""
    a = make_api(
        f"sqlite:///{tmp_path / 'api.db'}",
        tmp_path,
        keys,
        lookup_rate_limit=RateLimitConfig(capacity=3, refill_per_s=1.0),
    )
    yield a
    a.client.close()
    a.store.services.close()
