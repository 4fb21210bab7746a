"""Per-camera hash chain state and the evidence root layout.

Layout of an evidence root:
  <root>/<camera_id>/<sequence:08d>-<event_id>/   one bundle (manifest.json, manifest.sig, images, clip)
  <root>/<camera_id>/.tmp-...                      a bundle being written (never verified as whole)
  <root>/chain/<camera_id>.json                    last sequence and manifest sha256 of that camera

The chain state is written atomically after the bundle folder is renamed into place. A crash
between the two leaves a complete bundle one step ahead of the state; `reconcile` adopts it on the
next start, so the next bundle neither reuses its sequence nor breaks the chain.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from pydantic import Field, ValidationError

from detector.base import FrozenModel
from detector.errors import DetectorError
from detector.evidence.atomic import atomic_write_bytes
from detector.evidence.manifest import MANIFEST_NAME, ManifestError, parse_manifest, sha256_hex

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
    atomic_write_bytes(chain_state_path(root, state.camera_id), data)


def reconcile(root: Path, camera_id: str, state: ChainState) -> ChainState:
    """Adopt complete bundles written after `state` (crash between rename and state write)."""
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
        )
        save_chain_state(root, state)
