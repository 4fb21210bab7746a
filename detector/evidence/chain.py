"""Per-camera hash chain state and the evidence root layout.

Layout of an evidence root:
  <root>/<camera_id>/<sequence:08d>-<event_id>/   one bundle (manifest.json, manifest.sig, images, clip)
  <root>/<camera_id>/.tmp-...                      a bundle being written (never verified as whole)
  <root>/chain/<camera_id>.json                    the signed head: last sequence, manifest sha256,
                                                   bundle, time, key id, Ed25519 signature
  <root>/chain/<camera_id>.rotation.json           a prepared key hand-over (see `detector keys rotate`)

The chain state is written atomically after the bundle folder is renamed into place. A crash
between the two leaves a complete bundle one step ahead of the state; `reconcile` adopts it on the
next start, so the next bundle neither reuses its sequence nor breaks the chain.

The head is signed with the camera's key at every bundle (`sign_head`), so someone without the key
cannot rewrite or roll it back unseen; someone with the key (root on the edge box with a file key)
can, which is why the store records the last head it saw (`detector heads export` gives it to
`detector verify --checkpoint`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError

from detector.base import FrozenModel
from detector.errors import DetectorError
from detector.evidence.manifest import (
    MANIFEST_NAME,
    EvidenceManifest,
    ManifestError,
    parse_manifest,
    sha256_hex,
)
from detector.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from detector.evidence.keys import Signer

log = logging.getLogger(__name__)

CHAIN_DIR = "chain"
TMP_PREFIX = ".tmp-"
BUNDLE_DIR_RE = re.compile(r"^(?P<seq>\d{8})-(?P<event>[0-9a-f-]{36})$")


class ChainError(DetectorError):
    """The chain state file is unreadable or disagrees with the bundles on disk."""


class ChainState(FrozenModel):
    camera_id: str = Field(description="Camera of this chain")
    last_sequence: int = Field(ge=0, description="Sequence of the newest bundle; 0 before the first")
    last_manifest_sha256: str | None = Field(default=None, description="sha256 of the newest manifest.json")
    last_bundle: str | None = Field(default=None, description="Folder name of the newest bundle")
    time: str | None = Field(
        default=None, description="Wall time (UTC ISO 8601) of the newest bundle, if known"
    )
    key_id: str | None = Field(default=None, description="Key that signed the newest bundle and this head")
    signature_b64: str | None = Field(default=None, description="Ed25519 signature over head_bytes, base64")


def head_bytes(state: ChainState) -> bytes:
    """The exact bytes a head signature covers (every field but the signature, canonical JSON)."""
    body = state.model_dump(mode="json", exclude={"signature_b64"})
    body["type"] = "detector.chain_head.v1"
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_head(state: ChainState, signer: Signer) -> ChainState:
    unsigned = state.model_copy(update={"key_id": signer.key_id, "signature_b64": None})
    sig = base64.b64encode(signer.sign(head_bytes(unsigned))).decode("ascii")
    return unsigned.model_copy(update={"signature_b64": sig})


def head_signature_ok(state: ChainState, public_key: Ed25519PublicKey) -> bool:
    from detector.evidence.keys import verify_signature

    if state.signature_b64 is None:
        return False
    try:
        raw = base64.b64decode(state.signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    return verify_signature(public_key, raw, head_bytes(state))


def rotation_path(root: Path, camera_id: str) -> Path:
    return Path(root) / CHAIN_DIR / f"{camera_id}.rotation.json"


def bundle_dir_name(sequence: int, event_id: str) -> str:
    return f"{sequence:08d}-{event_id}"


def chain_state_path(root: Path, camera_id: str) -> Path:
    return Path(root) / CHAIN_DIR / f"{camera_id}.json"


def load_chain_state(root: Path, camera_id: str) -> ChainState:
    p = chain_state_path(root, camera_id)
    if not p.exists():
        return ChainState(camera_id=camera_id, last_sequence=0)
    try:
        state = ChainState.model_validate(json.loads(p.read_bytes()))
    except (ValueError, ValidationError) as exc:
        raise ChainError(f"{p}: unreadable chain state: {exc}") from exc
    if state.camera_id != camera_id:
        raise ChainError(f"{p}: chain state is for camera {state.camera_id!r}, expected {camera_id!r}")
    return state


def save_chain_state(root: Path, state: ChainState) -> None:
    data = (json.dumps(state.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()
    atomic_write_bytes(chain_state_path(root, state.camera_id), data, mode=0o600)


QUARANTINE_DIR = "quarantine"  # under the evidence root: bundles found in a chain they do not continue


def quarantine_path(root: Path, camera_id: str, name: str) -> Path:
    return Path(root) / QUARANTINE_DIR / camera_id / name


def _set_aside(root: Path, camera_id: str, bundle: Path, why: str) -> None:
    """Move a bundle that does not continue the chain out of it, kept whole for an investigator.

    Two writers on one chain (a restored or deleted chain state, a second box given the same camera
    id and folder) would otherwise stop every later bundle of this camera for good."""
    dest = quarantine_path(root, camera_id, bundle.name)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    n = 1
    while dest.exists():
        dest = dest.with_name(f"{bundle.name}.{n}")
        n += 1
    bundle.rename(dest)
    log.error("%s: %s; moved out of the chain to %s", bundle, why, dest)


def reconcile(root: Path, camera_id: str, state: ChainState, signer: Signer | None = None) -> ChainState:
    """Adopt complete bundles written after `state` (crash between rename and state write).

    A bundle at the next sequence that does not continue the chain (another writer's, or one whose
    manifest cannot be read) is moved to `quarantine/<camera>/` with an error logged, and the chain
    goes on from `state`. The adopted head is signed with `signer` when given (the writer always
    gives its own)."""
    cam_dir = Path(root) / camera_id
    while True:
        nxt = state.last_sequence + 1
        found = sorted(cam_dir.glob(f"{nxt:08d}-*")) if cam_dir.is_dir() else []
        found = [d for d in found if (d / MANIFEST_NAME).is_file()]
        adopted: tuple[Path, bytes, EvidenceManifest] | None = None
        for bundle in found:
            data = (bundle / MANIFEST_NAME).read_bytes()
            try:
                m = parse_manifest(data, str(bundle / MANIFEST_NAME))
            except ManifestError as exc:
                _set_aside(root, camera_id, bundle, f"unreadable manifest ({exc})")
                continue
            if (
                adopted is not None
                or m.sequence != nxt
                or m.prev_manifest_sha256 != state.last_manifest_sha256
            ):
                _set_aside(
                    root,
                    camera_id,
                    bundle,
                    f"bundle does not continue the chain of {camera_id} (sequence {m.sequence}, prev "
                    f"{m.prev_manifest_sha256}; chain at {state.last_sequence}, "
                    f"head {state.last_manifest_sha256})",
                )
                continue
            adopted = (bundle, data, m)
        if adopted is None:
            return state
        bundle, data, m = adopted
        log.warning("adopting bundle %s written before a crash", bundle.name)
        state = ChainState(
            camera_id=camera_id,
            last_sequence=nxt,
            last_manifest_sha256=sha256_hex(data),
            last_bundle=bundle.name,
            time=m.time.wall_time,
            key_id=m.key_id,
        )
        if signer is not None:
            state = sign_head(state, signer)
        save_chain_state(root, state)
