"""Issue 15 at the store: keys bound to cameras (registry), key switches only by signed rotation,
a cut tail reported against the head the store recorded, `tokens revoke` of an unknown id fails."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from detector.cli import main_group
from detector.evidence.keys import Ed25519Signer
from tests.store.support import Keys, Store, make_bundles
from tests.trust.support import resign


def _trust(store: Store, signer: Ed25519Signer) -> None:
    """Put another key among the config's trusted keys (as an operator would for a second box)."""
    from cryptography.hazmat.primitives import serialization

    pem = signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (Path(store.config.trusted_keys) / f"{signer.key_id}.pub").write_bytes(pem)


def test_failure1_other_cameras_key_is_rejected(
    store: Store, keys: Keys, bundles: list[Path], tmp_path: Path
) -> None:
    other = Ed25519Signer.generate()
    _trust(store, other)
    try:
        from detector.store.services import build_services

        svc = build_services(store.config, clock=store.clock, db=store.db)
        for b in bundles[:3]:
            assert svc.ingest.ingest_path(b).status == "accepted"
        # unbound trusted keys: the chain is pinned to its first key, a switch needs a signed rotation
        forged = tmp_path / "forged"
        shutil.copytree(bundles[3], forged)
        resign(forged, other, "99A-999.99")
        r = svc.ingest.ingest_path(forged)
        assert r.status == "rejected" and r.reason.startswith("key_switch"), r.reason
        # registry: the other key is bound to cam2, so it cannot sign cam1 even as a first bundle
        svc.keyring.register(other.public_key, ["cam2"], actor="test")
        svc.keyring.register(keys.signer.public_key, ["cam1"], actor="test")
        fresh = make_bundles(tmp_path / "fresh", other, 1, camera_id="cam3")
        r = svc.ingest.ingest_path(fresh[0])
        assert r.status == "rejected" and "key_not_for_camera" in r.reason, r.reason
        assert svc.ingest.ingest_path(bundles[3]).status == "accepted"
        # revoked: nothing more is accepted from it
        svc.keyring.revoke(keys.signer.key_id, actor="test")
        more = make_bundles(tmp_path / "more", keys.signer, 1, camera_id="cam1")
        r = svc.ingest.ingest_path(more[0])
        assert r.status == "rejected" and "key_revoked" in r.reason
    finally:
        (Path(store.config.trusted_keys) / f"{other.key_id}.pub").unlink()


def test_key_window_uses_bundle_time(store: Store, keys: Keys, bundles: list[Path]) -> None:
    # the synthetic bundles carry wall time 2027-01-15; a key valid only during 2026 is refused
    store.services.keyring.register(
        keys.signer.public_key,
        ["cam1"],
        actor="t",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_to=datetime(2027, 1, 1, tzinfo=UTC),
    )
    r = store.services.ingest.ingest_path(bundles[0])
    assert r.status == "rejected" and "key_expired" in r.reason, r.reason


def _run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(main_group, list(args))
    failure = "" if r.exception is None or isinstance(r.exception, SystemExit) else str(r.exception)
    return r.exit_code, r.stdout, r.stderr + failure


def test_cli_cut_tail_registry_and_tokens(tmp_path: Path, keys: Keys) -> None:
    root = tmp_path / "edge"
    made = make_bundles(root, keys.signer, 4)
    cfg = tmp_path / "store.yaml"
    cfg.write_text(
        f"url: sqlite:///store.db\nevidence_dir: ev\nquarantine_dir: q\ntrusted_keys: {keys.trusted_dir}\n"
    )
    c = ["--store-config", str(cfg)]
    runner = CliRunner()
    assert _run(runner, "db", "upgrade", *c)[0] == 0
    assert _run(runner, "ingest", *c, "--root", str(root))[0] == 0
    code, out, _ = _run(runner, "heads", "export", *c)
    assert code == 0 and json.loads(out)["heads"][0]["last_sequence"] == 4
    (tmp_path / "cp.json").write_text(out)
    # the newest bundle and its head are removed on the edge box
    shutil.rmtree(made[-1])
    (root / "chain" / "cam1.json").unlink()
    code, _, err = _run(runner, "ingest", *c, "--root", str(root))
    assert code == 1 and "cut tail" in err and "sequence 4" in err
    code, out, _ = _run(
        runner,
        "verify",
        str(root),
        "--key",
        str(keys.trusted_dir),
        "--without-heads",
        "--checkpoint",
        str(tmp_path / "cp.json"),
    )
    assert code == 1 and "tail was cut" in out
    # registry by CLI, exported for verify
    code, out, _ = _run(runner, "registry", "add", *c, str(keys.trusted_dir / "edge.pub"), "--camera", "cam1")
    assert code == 0 and json.loads(out)["cameras"] == ["cam1"]
    code, out, _ = _run(runner, "registry", "export", *c)
    assert code == 0 and json.loads(out)["keys"][0]["cameras"] == ["cam1"]
    # tokens revoke of an id that does not exist
    code, out, err = _run(runner, "tokens", "revoke", *c, "99999")
    assert code != 0 and "no API token with id 99999" in (err + out)


class _LostAck:
    """A broker that receives every message but whose first PUBACK never arrives (hung for a while)."""

    def __init__(self) -> None:
        self.delivered: list[dict] = []
        self.first = True

    def send(self, topic: str, payload: bytes) -> bool:
        self.delivered.append(json.loads(payload))
        if self.first:
            self.first = False
            return False  # timed out waiting for PUBACK: the publisher must try again
        return True

    def close(self) -> None: ...


def test_failure7_mqtt_is_at_least_once_and_message_id_deduplicates(
    store: Store, bundles: list[Path]
) -> None:
    from detector.store.outbox import OutboxPublisher

    for b in bundles[:2]:
        assert store.services.ingest.ingest_path(b).status == "accepted"
    sender = _LostAck()
    pub = OutboxPublisher(store.db, sender, store.clock)
    assert pub.publish_pending() == 0  # the first message went out but was not acknowledged
    assert pub.publish_pending() == 2
    ids = [m["message_id"] for m in sender.delivered]
    assert len(ids) == 3 and ids[0] == ids[1]  # delivered twice, with the same message_id
    assert len(set(ids)) == 2  # a consumer that deduplicates on message_id sees each violation once
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "at least once" in readme and "message_id" in readme
