"""Key files (create, load, clear errors) and the `detector keys` / `detector verify` commands."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from detector.cli import evidence as cli
from detector.config import EvidenceConfig
from detector.errors import ConfigError
from detector.evidence.keys import (
    KeyFileError,
    key_id_of,
    load_private_key,
    load_public_key,
    write_key_pair,
)
from detector.evidence.writer import BundleWriter
from tests.evidence.synthetic import camera_info, models, write_bundles

REPO = Path(__file__).resolve().parents[2]


def test_new_key_pair_files_and_permissions(tmp_path: Path) -> None:
    paths = write_key_pair(tmp_path / "k")
    assert stat.S_IMODE(paths.private.stat().st_mode) == 0o600
    signer = load_private_key(paths.private)
    assert signer.key_id == paths.key_id == key_id_of(load_public_key(paths.public))
    assert key_id_of(load_public_key(paths.info)) == paths.key_id
    assert key_id_of(load_public_key(tmp_path / "k")) == paths.key_id  # folder form
    info = json.loads(paths.info.read_text())
    assert info["algorithm"] == "ed25519" and len(info["key_id"]) == 16
    with pytest.raises(ConfigError, match="already exists"):
        write_key_pair(tmp_path / "k")


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"nope\.key: private key file not found"):
        load_private_key(tmp_path / "nope.key")
    with pytest.raises(KeyFileError, match=r"nope\.pub: public key file not found"):
        load_public_key(tmp_path / "nope.pub")


def test_non_ed25519_key_is_rejected(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    p = tmp_path / "ec.key"
    p.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(p, 0o600)
    with pytest.raises(KeyFileError, match="expected an Ed25519 private key"):
        load_private_key(p)
    pub = tmp_path / "ec.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(KeyFileError, match="expected an Ed25519 public key"):
        load_public_key(pub)
    garbage = tmp_path / "g.key"
    garbage.write_text("hello")
    with pytest.raises(KeyFileError, match="not a readable"):
        load_private_key(garbage)


def test_private_key_passed_as_public_is_explained(tmp_path: Path) -> None:
    paths = write_key_pair(tmp_path)
    with pytest.raises(KeyFileError, match="this is a private key"):
        load_public_key(paths.private)


def test_loose_permissions_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = write_key_pair(tmp_path)
    os.chmod(paths.private, 0o644)
    with caplog.at_level(logging.WARNING, logger="detector.evidence.keys"):
        load_private_key(paths.private)
    assert "readable by others" in caplog.text and "chmod 600" in caplog.text


@pytest.fixture()
def signed_root(tmp_path: Path) -> tuple[Path, Path]:
    keys = write_key_pair(tmp_path / "keys")
    root = tmp_path / "evidence"
    w = BundleWriter(
        root,
        load_private_key(keys.private),
        camera_info(),
        models(),
        "c" * 64,
        config=EvidenceConfig(clip_enabled=False),
    )
    write_bundles(w, 3)
    return root, keys.public


def test_cli_verify_ok_and_json(signed_root: tuple[Path, Path]) -> None:
    root, pub = signed_root
    res = CliRunner().invoke(cli.verify, [str(root), "--key", str(pub)])
    assert res.exit_code == 0, res.output
    assert "verified: 3 bundle(s)" in res.output
    res = CliRunner().invoke(cli.verify, [str(root), "--key", str(pub), "--json"])
    data = json.loads(res.output)
    assert data["ok"] is True and len(data["bundles"]) == 3


def test_cli_verify_names_missing_bundle(signed_root: tuple[Path, Path]) -> None:
    root, pub = signed_root
    middle = sorted((root / "cam1").iterdir())[1]
    shutil.rmtree(middle)
    res = CliRunner().invoke(cli.verify, [str(root), "--key", str(pub)])
    assert isinstance(res.exception, cli.VerificationFailed)
    assert "[missing_bundle]" in res.output and "sequence 2 missing" in res.output


def test_detector_command_exit_codes(signed_root: tuple[Path, Path], tmp_path: Path) -> None:
    root, pub = signed_root
    cmd = [sys.executable, "-c", "from detector.cli import main; main()"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bundle = sorted((root / "cam1").iterdir())[0]
    (bundle / "at.jpg").write_bytes(b"tampered")
    bad = subprocess.run(
        [*cmd, "verify", str(root), "--key", str(pub)], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 1
    assert "[hash_mismatch]" in bad.stdout and "at.jpg" in bad.stdout and "does NOT verify" in bad.stderr
    wrong_key = tmp_path / "x.pub"
    wrong_key.write_text("not a key")
    usage = subprocess.run(
        [*cmd, "verify", str(root), "--key", str(wrong_key)], capture_output=True, text=True, env=env
    )
    assert usage.returncode == 2 and "x.pub" in usage.stderr


def test_cli_keys_new_and_show(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli.keys, ["new", "--out", str(tmp_path / "k")])
    assert res.exit_code == 0 and "key id:" in res.output
    kid = res.output.split("key id:")[1].split()[0]
    shown = CliRunner().invoke(cli.keys, ["show", str(tmp_path / "k" / "evidence_signing.pub")])
    assert shown.output.strip() == kid
    again = CliRunner().invoke(cli.keys, ["new", "--out", str(tmp_path / "k")])
    assert isinstance(again.exception, ConfigError)
