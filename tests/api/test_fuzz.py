"""Schemathesis fuzz of the API against its own OpenAPI spec: no input may cause a server error.

Runs against a real SQLite store holding one ingested, confirmed violation and its fine, with a valid
token of the role each operation needs (so requests reach the handlers, not only the auth layer).
Infinite SSE streams (every path ending in /stream) are excluded (their backlog modes are covered elsewhere).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from detector.config import RateLimitConfig
from tests.api.support import Api, make_api
from tests.store.support import Keys

#: per API operation; DETECTOR_FUZZ_API_EXAMPLES=400 gives the long run (>= 10,000 cases over the API)
MAX_EXAMPLES = int(os.environ.get("DETECTOR_FUZZ_API_EXAMPLES", "40"))
ROLE_BY_PREFIX = (
    ("POST", "/v1/ingest", "ingest"),
    ("POST", "/v1/fines/{fine_id}/pay", "payments"),
    ("POST", "", "reviewer"),
    ("GET", "/v1/audit", "reviewer"),
    ("GET", "/v1/fines", "payments"),
    ("GET", "", "viewer"),
)


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory, keys: Keys, bundles: list[Path]) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("fuzz")
    api = make_api(
        f"sqlite:///{tmp / 'fuzz.db'}",
        tmp,
        keys,
        lookup_rate_limit=RateLimitConfig(capacity=10**6, refill_per_s=1000),
    )
    r = api.store.services.ingest.ingest_path(bundles[0])
    assert r.violation_id is not None
    api.store.services.ingest.ingest_path(bundles[1])
    api.store.services.review.review(r.violation_id, "confirm", actor="fuzz", reason="")
    yield api
    api.client.close()
    api.store.services.close()


def _role(method: str, path: str) -> str:
    for m, prefix, role in ROLE_BY_PREFIX:
        if method == m and path.startswith(prefix):
            return role
    return "viewer"


def test_api_never_errors(fuzz_api: Api) -> None:
    schemathesis.serializer.alias("application/x-tar", "application/octet-stream")  # bundle uploads are bytes
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_api.client.app)
    finite = schema.exclude(path_regex=r"/stream$")  # server-sent event streams never end
    operations = []
    for r in finite.get_all_operations():
        assert isinstance(r, Ok), f"the OpenAPI spec has an invalid operation: {r}"
        operations.append(r.ok())
    assert len(operations) >= 10
    total = 0
    for op in operations:
        role = _role(op.method.upper(), op.path)
        total += _fuzz(op, {"Authorization": f"Bearer {fuzz_api.tokens[role]}"})
    print(f"schemathesis: {total} cases over {len(operations)} operations, 0 server errors")


def _fuzz(op: APIOperation, headers: dict[str, str]) -> int:
    calls = [0]

    @given(case=op.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def run(case: schemathesis.Case) -> None:
        calls[0] += 1
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()
    return calls[0]
