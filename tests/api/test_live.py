"""The live server-sent-event stream over real HTTP (uvicorn on a free port): backlog, a violation
ingested while the client listens, and resume with Last-Event-ID after a reconnect."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from detector.api.app import create_app
from tests.api.support import Api, make_api
from tests.store.support import Keys


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def live(tmp_path: Path, keys: Keys) -> Iterator[tuple[Api, str]]:
    api = make_api(f"sqlite:///{tmp_path / 'live.db'}", tmp_path, keys, sse_poll_s=0.05)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(api.store.services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(200):  # readiness wait
        if server.started:
            ready.set()
            break
        threading.Event().wait(0.05)
    assert ready.is_set(), "uvicorn did not start"
    yield api, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    api.client.close()
    api.store.services.close()


def _events(lines: Iterator[str], n: int) -> list[int]:
    ids: list[int] = []
    for line in lines:
        if line.startswith("id: "):
            ids.append(int(line[4:]))
            if len(ids) == n:
                break
    return ids


def test_sse_pushes_new_violations_and_resumes(live: tuple[Api, str], bundles: list[Path]) -> None:
    api, base = live
    ingest = api.store.services.ingest
    first = ingest.ingest_path(bundles[0]).violation_id
    headers = api.h("viewer")
    with (
        httpx.Client(base_url=base, timeout=httpx.Timeout(15.0)) as client,
        client.stream("GET", "/v1/violations/stream", headers=headers) as r,
    ):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert _events(lines, 1) == [first]  # backlog
        second = ingest.ingest_path(bundles[1]).violation_id
        assert _events(lines, 1) == [second]  # pushed while listening
    third = ingest.ingest_path(bundles[2]).violation_id
    with (
        httpx.Client(base_url=base, timeout=httpx.Timeout(15.0)) as client,
        client.stream("GET", "/v1/violations/stream", headers={**headers, "Last-Event-ID": str(second)}) as r,
    ):
        assert _events(r.iter_lines(), 1) == [third]  # resumes after the last event seen
    rq = httpx.get(f"{base}/v1/quarantine", headers=api.h("reviewer"))
    assert rq.status_code == 200 and rq.json() == []
