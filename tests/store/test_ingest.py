"""Ingest against real SQLite and PostgreSQL: accept, idempotent re-ingest, tamper and chain rejections
(quarantined, never lost), unsafe archives."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

from sqlalchemy import func, select

from detector.evidence.verify import verify_chain
from detector.store.models import OutboxMessage, QuarantineEntry, ViolationRow
from tests.store.support import Keys, Store, accepted_id, make_bundles


def _count(store: Store, model: type) -> int:
    with store.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_accepts_chain_and_is_idempotent(store: Store, bundles: list[Path]) -> None:
    results = [store.services.ingest.ingest_path(b) for b in bundles[:3]]
    assert [r.status for r in results] == ["accepted"] * 3
    ids = [accepted_id(r) for r in results]
    assert ids == sorted(ids)
    again = store.services.ingest.ingest_path(bundles[1])
    assert again.status == "duplicate" and again.violation_id == results[1].violation_id
    assert _count(store, ViolationRow) == 3
    assert _count(store, OutboxMessage) == 3
    v = store.services.feed.get(ids[0])
    assert v.plate_normalized == "51F12345" and v.status == "pending" and v.camera_id == "cam1"
    assert {f.name for f in v.files} >= {"at.jpg", "before.jpg", "after.jpg"}
    assert [c.text for c in v.plate_candidates] == ["51F-123.45", "51F-128.45"]  # for the reviewer
    manifest = json.loads((bundles[0] / "manifest.json").read_bytes())
    assert v.needs_review == manifest["needs_review"] and list(v.review_reasons) == manifest["review_reasons"]
    # the store's own copy is a valid evidence tree in the evidence module's layout
    report = verify_chain(Path(store.config.evidence_dir) / "cam1", list(store.services.ingest.keys.values()))
    assert all(r.ok for r in report.bundles), report.all_problems()


def test_each_accepted_violation_queues_its_created_message(store: Store, bundles: list[Path]) -> None:
    """The MQTT outbox row written with the violation names it, its bundle and what it measured."""
    ids = [accepted_id(store.services.ingest.ingest_path(b)) for b in bundles[:2]]
    with store.db.session() as s:
        msgs = [json.loads(m.payload) | {"_topic": m.topic} for m in s.scalars(select(OutboxMessage))]
        rows = {r.id: r for r in s.scalars(select(ViolationRow))}
    assert [m["violation_id"] for m in msgs] == ids
    for m, b in zip(msgs, bundles, strict=False):
        manifest = json.loads((b / "manifest.json").read_bytes())
        row = rows[m["violation_id"]]
        assert m["_topic"] == f"{store.config.mqtt.topic_prefix.rstrip('/')}/cam1"
        assert m["type"] == "violation.created" and m["status"] == "pending"
        assert (m["event_id"], m["camera_id"], m["sequence"]) == (
            manifest["event_id"],
            "cam1",
            manifest["sequence"],
        )
        assert m["manifest_sha256"] == row.manifest_sha256 and m["plate_normalized"] == "51F12345"
        assert m["violation_type"] == manifest["violation"]["violation_type"] == row.violation_type
        assert m["measured"] == json.loads(row.measured_json) == manifest["violation"]["measured"]
        assert m["occurred_at"] == row.occurred_at.isoformat() and m["location"] == row.location
    assert len({m["message_id"] for m in msgs}) == 2


def test_tampered_file_is_rejected_and_quarantined(store: Store, bundles: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "tampered"
    shutil.copytree(bundles[0], bad)
    (bad / "at.jpg").write_bytes((bad / "at.jpg").read_bytes() + b"x")
    r = store.services.ingest.ingest_path(bad)
    assert r.status == "rejected"
    assert "size_mismatch" in r.reason or "hash_mismatch" in r.reason
    with store.db.session() as s:
        q = s.get(QuarantineEntry, r.quarantine_id)
        assert q is not None and q.reason == r.reason and q.event_id == r.event_id
        kept = Path(q.path)
    assert (kept / "at.jpg").read_bytes() == (bad / "at.jpg").read_bytes()  # never lost
    assert "reason:" in (kept / "REASON.txt").read_text()
    assert _count(store, ViolationRow) == 0


def test_untrusted_signer_is_rejected(store: Store, keys: Keys, tmp_path: Path) -> None:
    foreign = make_bundles(tmp_path / "foreign", keys.other_signer, 1)
    r = store.services.ingest.ingest_path(foreign[0])
    assert r.status == "rejected" and "untrusted_key" in r.reason


def test_edited_manifest_breaks_signature(store: Store, bundles: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "edited"
    shutil.copytree(bundles[0], bad)
    m = json.loads((bad / "manifest.json").read_bytes())
    m["violation"]["measured"]["time_into_red_s"] = 9.0
    (bad / "manifest.json").write_text(json.dumps(m, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
    r = store.services.ingest.ingest_path(bad)
    assert r.status == "rejected"
    assert "signature_manifest_mismatch" in r.reason or "bad_signature" in r.reason


def test_chain_gap_and_replay_are_rejected(store: Store, bundles: list[Path]) -> None:
    ing = store.services.ingest
    assert ing.ingest_path(bundles[0]).status == "accepted"
    gap = ing.ingest_path(bundles[2])
    assert gap.status == "rejected" and gap.reason.startswith("chain_gap")
    assert ing.ingest_path(bundles[1]).status == "accepted"
    assert ing.ingest_path(bundles[2]).status == "accepted"  # the original copy is intact
    assert _count(store, QuarantineEntry) == 1


def test_tar_upload_and_unsafe_archives(store: Store, bundles: list[Path]) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(bundles[0], arcname=bundles[0].name)  # one top folder is allowed
    buf.seek(0)
    r = store.services.ingest.ingest_tar(buf, actor="t", source="test")
    assert r.status == "accepted", r.reason

    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        data = b"owned"
        info = tarfile.TarInfo("../../escape.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    evil.seek(0)
    r2 = store.services.ingest.ingest_tar(evil, actor="t", source="test")
    assert r2.status == "rejected" and r2.reason.startswith("bad_archive")
    assert not (store.tmp / "escape.txt").exists() and not (store.tmp.parent / "escape.txt").exists()

    junk = store.services.ingest.ingest_tar(io.BytesIO(b"not a tar at all"), actor="t", source="test")
    assert junk.status == "rejected" and "bad_archive" in junk.reason


def test_ingest_root_in_order_and_rerun_is_duplicates(store: Store, bundles: list[Path]) -> None:
    root = bundles[0].parent.parent
    first = store.services.ingest.ingest_root(root, actor="edge")
    assert [r.status for r in first] == ["accepted"] * 4
    again = store.services.ingest.ingest_root(root, actor="edge")
    assert [(r.status, r.violation_id) for r in again] == [("duplicate", r.violation_id) for r in first]
    staging = Path(store.config.evidence_dir) / ".staging"
    assert not staging.exists() or not any(staging.iterdir())  # no copies left behind
