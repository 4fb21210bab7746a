"""The notice routes over HTTP: the scheduler's step, the printed notice, the public lookup, the
portal's signed callback (401 on a bad signature) and roles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from detector.store.portal import sign
from tests.api.support import Api, make_api
from tests.store.support import Keys

SECRET = b"portal-shared-secret-abcdefghij"


@pytest.fixture()
def napi(tmp_path: Path, keys: Keys) -> Iterator[Api]:
    (tmp_path / "secret").write_bytes(SECRET)
    network = {
        "notices": {"notices_dir": str(tmp_path / "notices"), "payment_secret_file": str(tmp_path / "secret")}
    }
    a = make_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, keys, network=network)
    yield a
    a.client.close()
    a.store.services.close()


def test_notice_life_over_http(napi: Api, bundles: list[Path]) -> None:
    c, st = napi.client, napi.store
    vid = st.services.ingest.ingest_path(bundles[0]).violation_id
    r = c.post(f"/v1/violations/{vid}/review", json={"decision": "confirm"}, headers=napi.h("reviewer"))
    assert r.status_code == 200, r.text
    # the synthetic bundles are dated 2027: move the clock past the offence and issue fresh tokens
    st.clock.now = st.services.payments.lookup("51F12345")[0].occurred_at + timedelta(hours=1)
    napi.tokens = {
        role: st.services.tokens.create(f"{role}-2", role, timedelta(days=60)).secret
        for role in ("viewer", "reviewer")
    }
    assert c.post("/v1/notices/advance", headers=napi.h("viewer")).status_code == 403
    r = c.post("/v1/notices/advance", headers=napi.h("reviewer"))
    assert [t["to_state"] for t in r.json()] == ["opened", "routed", "notified"]
    nid = r.json()[0]["notice_id"]
    n = c.get(f"/v1/notices/{nid}", headers=napi.h("viewer")).json()
    assert n["state"] == "notified" and n["unit_code"] == "PC08-HCM-BT"
    page = c.get(f"/v1/notices/{nid}/html", headers=napi.h("viewer"))
    assert page.headers["content-type"].startswith("text/html") and n["decision_no"] in page.text
    # posted with the notice (Decree 168/2024 Art. 47(8)(a)), without the owner's name
    early = c.get("/v1/public/notices", params={"plate": "51F-123.45"}).json()
    assert [p["decision_no"] for p in early] == [n["decision_no"]] and "owner_name" not in early[0]
    st.clock.advance(20 * 86400)
    assert [t["event"] for t in c.post("/v1/notices/advance", headers=napi.h("reviewer")).json()] == [
        "publish",
        "flag",
    ]
    pub = c.get("/v1/public/notices", params={"plate": "51F-123.45"}).json()
    assert [p["decision_no"] for p in pub] == [n["decision_no"]] and "owner_name" not in pub[0]
    flags = c.get("/v1/inspection/flags", params={"plate": "51F12345"}, headers=napi.h("viewer")).json()
    assert [f["notice_id"] for f in flags] == [nid]
    now = st.clock().isoformat()
    body = json.dumps(
        {
            "payment_ref": n["payment_ref"],
            "amount_vnd": 19_000_000,
            "transaction_id": "T-77",
            "paid_at": now,
            "sent_at": now,
        }
    ).encode()
    bad = c.post("/v1/payments/callback", content=body, headers={"X-Portal-Signature": sign(b"x" * 20, body)})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_signature"
    assert c.get(f"/v1/notices/{nid}", headers=napi.h("viewer")).json()["state"] == "flagged"
    ok = c.post("/v1/payments/callback", content=body, headers={"X-Portal-Signature": sign(SECRET, body)})
    assert ok.status_code == 200 and ok.json()["to_state"] == "closed", ok.text
    assert c.get("/v1/inspection/flags", params={"plate": "51F12345"}, headers=napi.h("viewer")).json() == []
    trail = [a["action"] for a in c.get(f"/v1/notices/{nid}/audit", headers=napi.h("reviewer")).json()]
    assert trail == [
        "notice_open",
        "notice_route",
        "notice_notify",
        "notice_publish",
        "notice_flag",
        "notice_pay",
    ]
    assert c.get(f"/v1/fines/{n['fine_id']}", headers=napi.h("viewer")).json()["status"] == "paid"


def test_notice_routes_name_missing_objects(napi: Api) -> None:
    r = napi.client.get("/v1/notices/99", headers=napi.h("viewer"))
    assert r.status_code == 404 and "notice 99" in r.json()["error"]["message"]
    assert napi.client.get("/v1/notices/99/html", headers=napi.h("viewer")).status_code == 404
    assert (
        napi.client.get("/v1/notices", params={"state": "bogus"}, headers=napi.h("viewer")).status_code == 422
    )
    r = napi.client.post("/v1/payments/callback", content=b"{}")
    assert r.status_code == 401
