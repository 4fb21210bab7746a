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
from detector.evidence.manifest import MANIFEST_NAME, ManifestError, parse_manifest, sha256_hex
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


def reconcile(root: Path, camera_id: str, state: ChainState, signer: Signer | None = None) -> ChainState:
    """Adopt complete bundles written after `state` (crash between rename and state write).

    The adopted head is signed with `signer` when given (the writer always gives its own)."""
    cam_dir = Path(root) / camera_id
    while True:
        nxt = state.last_sequence + 1
        found = sorted(cam_dir.glob(f"{nxt:08d}-*")) if cam_dir.is_dir() else []
        found = [d for d in found if (d / MANIFEST_NAME).is_file()]
        if not found:
            return state
        if len(found) > 1:
            raise ChainError(
                f"{cam_dir}: {len(found)} bundles with sequence {nxt}: {[d.name for d in found]}"
            )
        data = (found[0] / MANIFEST_NAME).read_bytes()
        try:
            m = parse_manifest(data, str(found[0] / MANIFEST_NAME))
        except ManifestError as exc:
            raise ChainError(f"cannot adopt bundle after a crash: {exc}") from exc
        if m.sequence != nxt or m.prev_manifest_sha256 != state.last_manifest_sha256:
            raise ChainError(
                f"{found[0]}: bundle does not continue the chain of {camera_id} "
                f"(sequence {m.sequence}, prev {m.prev_manifest_sha256}; state at {state.last_sequence})"
            )
        log.warning("adopting bundle %s written before a crash", found[0].name)
        state = ChainState(
            camera_id=camera_id,
            last_sequence=nxt,
            last_manifest_sha256=sha256_hex(data),
            last_bundle=found[0].name,
            time=m.time.wall_time,
            key_id=m.key_id,
        )
        if signer is not None:
            state = sign_head(state, signer)
        save_chain_state(root, state)
