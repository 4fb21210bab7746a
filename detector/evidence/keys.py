"""Ed25519 signing keys: generate, save, load, and the `Signer` protocol the bundle writer uses.

A key pair on disk is three files in one folder:
  evidence_signing.key  private key, PKCS#8 PEM, mode 0600 (never copied into a bundle)
  evidence_signing.pub  public key, SubjectPublicKeyInfo PEM
  evidence_signing.pub.json  {"key_id", "algorithm", "public_key_b64"} for people and tools

The key id is the first 16 hex digits of sha256 over the 32 raw public-key bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from detector.errors import ConfigError, DetectorError
from detector.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

ALGORITHM = "ed25519"
PRIVATE_NAME = "evidence_signing.key"
PUBLIC_NAME = "evidence_signing.pub"
PUBLIC_INFO_NAME = "evidence_signing.pub.json"


class KeyFileError(DetectorError):
    """A key file that is missing, unreadable or not an Ed25519 key."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer(Protocol):
    """Signs manifest bytes. Swappable: a file key today, an HSM or a remote signer tomorrow."""

    @property
    def key_id(self) -> str: ...

    @property
    def algorithm(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Ed25519Signer:
    """A `Signer` backed by an in-memory Ed25519 private key."""

    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id_of(self.private_key.public_key())

    @property
    def algorithm(self) -> str:
        return ALGORITHM

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate())


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class KeyPairPaths:
    private: Path
    public: Path
    info: Path
    key_id: str


def write_key_pair(out_dir: Path, *, overwrite: bool = False) -> KeyPairPaths:
    """Generate a key pair into `out_dir`. Refuses to overwrite an existing private key unless asked."""
    out_dir = Path(out_dir)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    priv_path, pub_path, info_path = out_dir / PRIVATE_NAME, out_dir / PUBLIC_NAME, out_dir / PUBLIC_INFO_NAME
    if priv_path.exists() and not overwrite:
        raise ConfigError(f"{priv_path}: a private key already exists; pass --force to replace it")
    key = Ed25519PrivateKey.generate()
    pub = key.public_key()
    priv_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub_pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = key_id_of(pub)
    info = {"algorithm": ALGORITHM, "key_id": kid, "public_key_b64": base64.b64encode(raw).decode("ascii")}
    atomic_write_bytes(priv_path, priv_pem, mode=0o600)
    atomic_write_bytes(pub_path, pub_pem, mode=0o644)
    atomic_write_bytes(info_path, (json.dumps(info, indent=2, sort_keys=True) + "\n").encode(), mode=0o644)
    log.info("wrote evidence key pair %s to %s", kid, out_dir)
    return KeyPairPaths(priv_path, pub_path, info_path, kid)


def dev_key_dir() -> Path:
    """Where a replay without a configured key keeps its development key: outside any run or evidence
    folder (so copying `--out` never copies a private key). $DETECTOR_DEV_KEY_DIR, else
    $XDG_STATE_HOME/detector/dev-key, else ~/.local/state/detector/dev-key."""
    explicit = os.environ.get("DETECTOR_DEV_KEY_DIR")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "detector" / "dev-key"


def _resolve(path: Path, default_name: str) -> Path:
    path = Path(path)
    return path / default_name if path.is_dir() else path


def load_private_key(path: Path) -> Ed25519Signer:
    """Load a PEM private key (file, or folder holding evidence_signing.key) as a Signer.

    Warns when group/other can read it; raises KeyFileError when missing or not Ed25519.
    """
    p = _resolve(path, PRIVATE_NAME)
    if not p.is_file():
        raise KeyFileError(f"{p}: private key file not found (create one with `detector keys new --out DIR`)")
    mode = stat.S_IMODE(p.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        log.warning("%s: private key is readable by others (mode %o); run chmod 600 %s", p, mode, p)
    try:
        key = serialization.load_pem_private_key(p.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{p}: not a readable unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{p}: expected an Ed25519 private key, got {type(key).__name__}")
    return Ed25519Signer(key)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load a public key: PEM (.pub), the .pub.json info file, or a folder holding evidence_signing.pub."""
    p = _resolve(path, PUBLIC_NAME)
    if not p.is_file():
        raise KeyFileError(f"{p}: public key file not found")
    data = p.read_bytes()
    if p.suffix == ".json" or data.lstrip().startswith(b"{"):
        try:
            info = json.loads(data)
            raw = base64.b64decode(info["public_key_b64"], validate=True)
            if info.get("algorithm", ALGORITHM) != ALGORITHM:
                raise KeyFileError(f"{p}: algorithm {info.get('algorithm')!r} is not {ALGORITHM}")
            return Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"{p}: not a valid public key info file: {exc}") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        if b"PRIVATE KEY" in data:
            raise KeyFileError(f"{p}: this is a private key; pass the public key (.pub)") from exc
        raise KeyFileError(f"{p}: not a readable PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{p}: expected an Ed25519 public key, got {type(key).__name__}")
    return key


TrustedKeys = Mapping[str, Ed25519PublicKey]


def trusted_keys(
    keys: Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey],
) -> dict[str, Ed25519PublicKey]:
    """Index public keys by key id (a mapping is re-indexed, so a wrong id in it cannot lie)."""
    values = keys.values() if isinstance(keys, Mapping) else keys
    return {key_id_of(k): k for k in values}
