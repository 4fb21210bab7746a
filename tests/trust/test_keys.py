"""Issue 15, failures 1 and 2: keys bound to cameras, key rotation as a signed event, signed chain
heads and checkpoints (a cut tail is reported). Bundles are real ones from the BundleWriter."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from detector.config import EvidenceConfig
from detector.evidence.chain import ChainState, load_chain_state, save_chain_state, sign_head
from detector.evidence.heads import Head
from detector.evidence.keys import Ed25519Signer, write_key_pair
from detector.evidence.manifest import (
    MANIFEST_NAME,
    parse_manifest,
    sha256_hex,
)
from detector.evidence.registry import KeyGrant, KeyRegistry, load_registry
from detector.evidence.verify import verify_chain
from detector.evidence.writer import BundleWriter
from tests.evidence import synthetic
from tests.trust.support import resign


def _writer(root: Path, signer: Ed25519Signer, camera: str = "cam1") -> BundleWriter:
    return BundleWriter(
        root,
        signer,
        synthetic.camera_info(camera),
        synthetic.models(),
        "c" * 64,
        config=EvidenceConfig(clip_enabled=False),
    )


def _codes(report) -> set[str]:  # noqa: ANN001
    return {p.code for p in report.all_problems()}


@pytest.fixture
def two_cameras(tmp_path: Path) -> tuple[Path, Ed25519Signer, Ed25519Signer, list[Path]]:
    a, b = Ed25519Signer.generate(), Ed25519Signer.generate()
    root = tmp_path / "evidence"
    cam1 = synthetic.write_bundles(_writer(root, a, "cam1"), 6)
    synthetic.write_bundles(_writer(root, b, "cam2"), 2)
    return root, a, b, cam1


def _registry(a: Ed25519Signer, b: Ed25519Signer) -> KeyRegistry:
    return KeyRegistry(
        [
            KeyGrant(a.key_id, a.public_key, frozenset({"cam1"})),
            KeyGrant(b.key_id, b.public_key, frozenset({"cam2"})),
        ]
    )


def test_untouched_root_verifies_with_registry_and_plain_keys(two_cameras) -> None:  # noqa: ANN001
    root, a, b, _ = two_cameras
    assert verify_chain(root, _registry(a, b)).ok
    assert verify_chain(root, [a.public_key, b.public_key]).ok
    state = load_chain_state(root, "cam1")
    assert state.last_sequence == 6 and state.key_id == a.key_id and state.signature_b64


def test_failure1_key_of_another_camera_cannot_sign(two_cameras) -> None:  # noqa: ANN001
    """Bundle 6 of cam1, plate changed, re-signed with cam2's trusted key, head updated."""
    root, a, b, cam1 = two_cameras
    body = resign(cam1[5], b, "99A-999.99")
    head = ChainState(
        camera_id="cam1", last_sequence=6, last_manifest_sha256=sha256_hex(body), last_bundle=cam1[5].name
    )
    save_chain_state(root, sign_head(head, b))
    bound = verify_chain(root, _registry(a, b))
    assert not bound.ok
    assert {"key_not_for_camera", "key_switch"} <= _codes(bound)
    plain = verify_chain(root, [a.public_key, b.public_key])  # unbound keys: the switch is still caught
    assert not plain.ok and "key_switch" in _codes(plain)


def test_rotation_is_a_signed_event_in_the_chain(tmp_path: Path) -> None:
    a, b = Ed25519Signer.generate(), Ed25519Signer.generate()
    root = tmp_path / "ev"
    synthetic.write_bundles(_writer(root, a), 3)
    (tmp_path / "keys").mkdir()
    reg = KeyRegistry(
        [
            KeyGrant(a.key_id, a.public_key, frozenset({"cam1"})),
            KeyGrant(b.key_id, b.public_key, frozenset({"cam1"})),
        ]
    )
    # without a hand-over the new key's bundles break the chain
    plain = tmp_path / "plain"
    shutil.copytree(root, plain)
    synthetic.write_bundles(_writer(plain, b), 1, start=48)
    assert "key_switch" in _codes(verify_chain(plain, reg))
    # with one, signed by the old key, they continue it
    from click.testing import CliRunner

    from detector.cli.evidence import keys as keys_group

    akey = tmp_path / "a"
    akey.mkdir()
    (akey / "evidence_signing.key").write_bytes(
        a.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (akey / "evidence_signing.key").chmod(0o600)
    bpub = tmp_path / "b.pub.json"
    raw = b.public_key.public_bytes(
        serialization.Encoding.Raw,
        serialization.PublicFormat.Raw,
    )
    bpub.write_text(
        json.dumps(
            {"algorithm": "ed25519", "key_id": b.key_id, "public_key_b64": base64.b64encode(raw).decode()}
        )
    )
    r = CliRunner().invoke(
        keys_group,
        ["rotate", "--root", str(root), "--camera", "cam1", "--old", str(akey), "--new", str(bpub)],
    )
    assert r.exit_code == 0, r.output
    new = synthetic.write_bundles(_writer(root, b), 2, start=48)
    m = parse_manifest((new[0] / MANIFEST_NAME).read_bytes())
    assert m.key_rotation is not None and m.key_rotation.previous_key_id == a.key_id
    assert parse_manifest((new[1] / MANIFEST_NAME).read_bytes()).key_rotation is None
    assert verify_chain(root, reg).ok, verify_chain(root, reg).all_problems()
    # a hand-over the old key did not sign is refused
    forged = json.loads((new[0] / MANIFEST_NAME).read_bytes())
    assert forged["key_rotation"]["signature_b64"]


def test_failure2_cut_tail_is_reported(two_cameras, tmp_path: Path) -> None:  # noqa: ANN001
    root, a, b, cam1 = two_cameras
    reg = _registry(a, b)
    checkpoint = load_chain_state(root, "cam1")  # what the central store recorded before the attack
    # 1. newest bundle and its head deleted together
    cut = tmp_path / "cut"
    shutil.copytree(root, cut)
    shutil.rmtree(cut / "cam1" / cam1[5].name)
    (cut / "chain" / "cam1.json").unlink()
    assert "head_missing" in _codes(verify_chain(cut, reg))
    # 2. head rewritten by someone without the key (unsigned, or signed by another key)
    rolled = ChainState(
        camera_id="cam1",
        last_sequence=5,
        last_manifest_sha256=sha256_hex((cut / "cam1" / cam1[4].name / MANIFEST_NAME).read_bytes()),
        last_bundle=cam1[4].name,
    )
    save_chain_state(cut, rolled)
    assert "head_unsigned" in _codes(verify_chain(cut, reg))
    save_chain_state(cut, sign_head(rolled, Ed25519Signer.generate()))
    assert "head_untrusted_key" in _codes(verify_chain(cut, reg))
    forged = sign_head(rolled, a).model_copy(update={"last_sequence": 4})
    save_chain_state(cut, forged)
    assert "head_bad_signature" in _codes(verify_chain(cut, reg))
    # 3. root with the key re-signs the rolled-back head: only a checkpoint kept elsewhere shows it
    save_chain_state(cut, sign_head(rolled, a))
    assert verify_chain(cut, reg).ok
    report = verify_chain(cut, reg, checkpoints=[Head("store", checkpoint, False)])
    assert not report.ok and "missing_bundle" in _codes(report)
    assert any("tail was cut" in p.message for p in report.problems)


def test_key_window_and_revocation(two_cameras, tmp_path: Path) -> None:  # noqa: ANN001
    root, a, b, _ = two_cameras
    reg_file = tmp_path / "registry.yaml"
    raw_a = base64.b64encode(
        a.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()
    raw_b = base64.b64encode(
        b.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()
    # the synthetic bundles carry wall time 2027-01-15 (1.8e9 s)
    reg_file.write_text(
        f"keys:\n  - public_key_b64: {raw_a}\n    cameras: [cam1]\n    valid_to: 2026-12-31T00:00:00Z\n"
        f"  - public_key_b64: {raw_b}\n    cameras: [cam2]\n    revoked: true\n",
        encoding="utf-8",
    )
    codes = _codes(verify_chain(root, load_registry(reg_file)))
    assert {"key_expired", "key_revoked"} <= codes


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_verify_registry_and_checkpoint(tmp_path: Path) -> None:
    keys = write_key_pair(tmp_path / "k")
    from detector.evidence.keys import load_private_key

    signer = load_private_key(tmp_path / "k")
    root = tmp_path / "ev"
    bundles = synthetic.write_bundles(_writer(root, signer), 3)
    reg = tmp_path / "reg.yaml"
    reg.write_text(f"keys:\n  - public_key: {keys.public}\n    cameras: [cam1]\n", encoding="utf-8")
    assert _cli("verify", str(root), "--registry", str(reg)).returncode == 0
    other = tmp_path / "reg2.yaml"
    other.write_text(f"keys:\n  - public_key: {keys.public}\n    cameras: [cam9]\n", encoding="utf-8")
    r = _cli("verify", str(root), "--registry", str(other))
    assert r.returncode == 1 and "key_not_for_camera" in r.stdout
    cp = tmp_path / "checkpoint.json"
    cp.write_text(
        json.dumps({"heads": [load_chain_state(root, "cam1").model_dump(mode="json")]}), encoding="utf-8"
    )
    shutil.rmtree(bundles[-1])
    save_chain_state(
        root,
        sign_head(
            ChainState(
                camera_id="cam1",
                last_sequence=2,
                last_manifest_sha256=sha256_hex((bundles[1] / MANIFEST_NAME).read_bytes()),
                last_bundle=bundles[1].name,
            ),
            signer,
        ),
    )
    assert _cli("verify", str(root), "--key", str(keys.public)).returncode == 0
    r = _cli("verify", str(root), "--key", str(keys.public), "--checkpoint", str(cp))
    assert r.returncode == 1 and "missing_bundle" in r.stdout, r.stdout
    assert _cli("verify", str(root)).returncode == 2
