"""HTTP API over a real SQLite store: auth and roles, feed (cursor and SSE resume), evidence files,
review, lookup with rate limit, payment, ingest upload."""

from __future__ import annotations

import io
import shutil
import tarfile
from datetime import timedelta
from pathlib import Path

from detector.store.forwarder import bundle_tar
from tests.api.support import Api


def _ingest(api: Api, bundles: list[Path], n: int) -> list[int]:
    out = []
    for b in bundles[:n]:
        r = api.client.post(
            "/v1/ingest",
            content=bundle_tar(b),
            headers={**api.h("ingest"), "Content-Type": "application/x-tar"},
        )
        assert r.status_code == 200, r.text
        out.append(r.json()["violation_id"])
    return out


def test_auth_missing_wrong_role_expired(api: Api) -> None:
    c = api.client
    r = c.get("/v1/violations")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert c.get("/v1/violations", headers={"Authorization": "Bearer dtk_nope"}).status_code == 401
    assert c.get("/v1/violations", headers={"Authorization": "Basic abc"}).status_code == 401
    r = c.get("/v1/violations", headers=api.h("payments"))
    assert r.status_code == 403 and "role payments" in r.json()["error"]["message"]
    assert (
        c.post("/v1/violations/1/review", json={"decision": "confirm"}, headers=api.h("viewer")).status_code
        == 403
    )
    assert (
        c.post(
            "/v1/ingest", content=b"x", headers={**api.h("reviewer"), "Content-Type": "application/x-tar"}
        ).status_code
        == 403
    )
    assert c.get("/v1/violations", headers=api.h("viewer")).status_code == 200
    short = api.store.services.tokens.create("temp", "viewer", timedelta(minutes=5)).secret
    hdr = {"Authorization": f"Bearer {short}"}
    assert c.get("/v1/violations", headers=hdr).status_code == 200
    api.store.clock.advance(301)
    r = c.get("/v1/violations", headers=hdr)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_feed_cursor_and_sse_resume(api: Api, bundles: list[Path]) -> None:
    ids = _ingest(api, bundles, 3)
    c, h = api.client, api.h("viewer")
    p1 = c.get("/v1/violations", params={"limit": 2}, headers=h).json()
    assert [v["id"] for v in p1["items"]] == ids[:2] and p1["has_more"]
    p2 = c.get("/v1/violations", params={"after": p1["next_cursor"], "limit": 2}, headers=h).json()
    assert [v["id"] for v in p2["items"]] == ids[2:] and not p2["has_more"]
    p3 = c.get("/v1/violations", params={"after": p2["next_cursor"]}, headers=h).json()
    assert p3 == {"items": [], "next_cursor": p2["next_cursor"], "has_more": False}

    r = c.get("/v1/violations/stream", params={"follow": "false"}, headers=h)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert [int(line[4:]) for line in r.text.splitlines() if line.startswith("id: ")] == ids
    r = c.get(
        "/v1/violations/stream", params={"follow": "false"}, headers={**h, "Last-Event-ID": str(ids[0])}
    )
    assert [int(line[4:]) for line in r.text.splitlines() if line.startswith("id: ")] == ids[1:]
    assert "event: violation" in r.text
    bad = c.get("/v1/violations/stream", params={"follow": "false"}, headers={**h, "Last-Event-ID": "x1"})
    assert bad.status_code == 422


def test_evidence_files_only_for_listed_names(api: Api, bundles: list[Path]) -> None:
    vid = _ingest(api, bundles, 1)[0]
    c, h = api.client, api.h("viewer")
    v = c.get(f"/v1/violations/{vid}", headers=h).json()
    at = next(f for f in v["files"] if f["name"] == "at.jpg")
    r = c.get(f"/v1/violations/{vid}/files/at.jpg", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == (bundles[0] / "at.jpg").read_bytes() and r.headers["etag"] == f'"{at["sha256"]}"'
    assert c.get(f"/v1/violations/{vid}/files/at.jpg").status_code == 401
    sig = c.get(f"/v1/violations/{vid}/files/manifest.sig", headers=h)
    assert sig.status_code == 200 and sig.content == (bundles[0] / "manifest.sig").read_bytes()
    for evil in ("chain", "..%2F..%2Fapi.db", "%2E%2E", "at.jpg%00", "%2Fetc%2Fpasswd", "REASON.txt"):
        r = c.get(f"/v1/violations/{vid}/files/{evil}", headers=h)
        assert r.status_code == 404, (evil, r.status_code)
    assert c.get("/v1/violations/999/files/at.jpg", headers=h).status_code == 404


def test_review_lookup_pay_flow(api: Api, bundles: list[Path]) -> None:
    vid = _ingest(api, bundles, 1)[0]
    c = api.client
    r = c.post(f"/v1/violations/{vid}/review", json={"decision": "reject"}, headers=api.h("reviewer"))
    assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
    r = c.post(
        f"/v1/violations/{vid}/review",
        json={"decision": "confirm", "reason": "seen"},
        headers=api.h("reviewer"),
    )
    assert r.status_code == 200, r.text
    fine = r.json()["fine"]
    assert fine["amount_due_vnd"] == 19_000_000 and fine["points"] == 4
    again = c.post(f"/v1/violations/{vid}/review", json={"decision": "confirm"}, headers=api.h("reviewer"))
    assert again.status_code == 409
    found = c.get("/v1/fines", params={"plate": "51f 123 45"}, headers=api.h("payments")).json()
    assert [f["fine_id"] for f in found] == [fine["fine_id"]]
    pay_url = f"/v1/fines/{fine['fine_id']}/pay"
    assert c.post(pay_url, json={"amount_vnd": 19_000_000}, headers=api.h("payments")).status_code == 422
    hdr = {**api.h("payments"), "Idempotency-Key": "order-1"}
    r1 = c.post(pay_url, json={"amount_vnd": 19_000_000}, headers=hdr)
    r2 = c.post(pay_url, json={"amount_vnd": 19_000_000}, headers=hdr)
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["receipt_no"] == r2.json()["receipt_no"] and r2.json()["replayed"]
    r3 = c.post(
        pay_url, json={"amount_vnd": 19_000_000}, headers={**api.h("payments"), "Idempotency-Key": "o-2"}
    )
    assert r3.status_code == 409
    assert c.get(f"/v1/fines/{fine['fine_id']}", headers=api.h("viewer")).json()["status"] == "paid"
    audit = c.get("/v1/audit", params={"entity": "fine"}, headers=api.h("reviewer")).json()
    assert [a["action"] for a in audit] == ["issue_fine", "pay"]
    assert c.post("/v1/fines/99/pay", json={"amount_vnd": 1}, headers=hdr).status_code == 404


def test_lookup_rate_limit_per_token_with_injected_clock(api: Api) -> None:
    c, h = api.client, api.h("viewer")
    for _ in range(3):
        assert c.get("/v1/fines", params={"plate": "51F12345"}, headers=h).status_code == 200
    r = c.get("/v1/fines", params={"plate": "51F12345"}, headers=h)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    api.monotonic.t += 1.0  # one token back
    assert c.get("/v1/fines", params={"plate": "51F12345"}, headers=h).status_code == 200
    assert c.get("/v1/fines", params={"plate": "51F12345"}, headers=h).status_code == 429


def test_ingest_upload_duplicate_and_tampered(api: Api, bundles: list[Path], tmp_path: Path) -> None:
    c, h = api.client, {**api.h("ingest"), "Content-Type": "application/x-tar"}
    body = bundle_tar(bundles[0])
    first = c.post("/v1/ingest", content=body, headers=h).json()
    assert first["status"] == "accepted"
    dup = c.post("/v1/ingest", content=body, headers=h).json()
    assert dup["status"] == "duplicate" and dup["violation_id"] == first["violation_id"]
    bad = tmp_path / "bad"
    shutil.copytree(bundles[1], bad)
    (bad / "plate.jpg").write_bytes(b"\xff\xd8 not the plate")
    r = c.post("/v1/ingest", content=bundle_tar(bad), headers=h)
    assert r.status_code == 422 and r.json()["status"] == "rejected" and r.json()["quarantine_id"]
    assert (
        c.post(
            "/v1/ingest", content=b"{}", headers={**api.h("ingest"), "Content-Type": "application/json"}
        ).status_code
        == 415
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    r = c.post("/v1/ingest", content=buf.getvalue(), headers=h)
    assert r.status_code == 422 and "not a regular file" in r.json()["reason"]


def test_malformed_requests_are_4xx_json(api: Api) -> None:
    c = api.client
    cases = [
        c.get("/v1/violations", params={"after": -1}, headers=api.h("viewer")),
        c.get("/v1/violations", params={"after": 2**70}, headers=api.h("viewer")),
        c.get("/v1/violations/abc", headers=api.h("viewer")),
        c.post(
            "/v1/violations/1/review",
            content=b"{not json",
            headers={**api.h("reviewer"), "Content-Type": "application/json"},
        ),
        c.post(
            "/v1/violations/1/review",
            json={"decision": "confirm", "reason": "a\x00b"},
            headers=api.h("reviewer"),
        ),
        c.post(
            "/v1/fines/1/pay", json={"amount_vnd": 1}, headers={**api.h("payments"), "Idempotency-Key": "a b"}
        ),
        c.get("/v1/fines", params={"plate": "...."}, headers=api.h("viewer")),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        assert "error" in r.json()


def test_support_app_has_openapi(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert "/v1/fines/{fine_id}/pay" in spec["paths"]
