"""Chain heads against the bundles found: the local signed head and checkpoints recorded elsewhere.

A head says "camera C's newest bundle is sequence N with manifest hash H". The local head
(`<root>/chain/<camera>.json`) is signed with the camera's key at every bundle, so it cannot be
rewritten or rolled back without that key. A checkpoint is a head kept where the edge box cannot
reach it (the central store's record, `detector heads export`): it catches a cut tail even when the
attacker holds the key and re-signed the local head, as long as the store saw the bundles first.

Findings are (code, where, message) triples; verify.py turns them into its `Problem`s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from detector.errors import ConfigError
from detector.evidence.chain import (
    CHAIN_DIR,
    ChainError,
    ChainState,
    chain_state_path,
    head_signature_ok,
    load_chain_state,
)
from detector.evidence.registry import KeyRegistry

Finding = tuple[str, str, str]
MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Head:
    where: str
    state: ChainState
    local: bool  # a local head must be signed; a checkpoint may be (then it is checked too)


@dataclass(frozen=True, slots=True)
class ChainLink:
    sequence: int
    manifest_sha256: str | None
    bundle: str
    key_id: str | None


def local_heads(
    roots: Sequence[Path], camera_id: str, has_bundles_in: set[Path], require: bool
) -> tuple[list[Head], list[Finding]]:
    """The signed heads of `camera_id` under each evidence root; a root holding bundles of the camera
    but no head is a finding when `require` (the head and the newest bundles may have been removed)."""
    heads: list[Head] = []
    findings: list[Finding] = []
    for root in roots:
        p = chain_state_path(root, camera_id)
        if not p.exists():
            if require and root in has_bundles_in:
                findings.append(
                    (
                        "head_missing",
                        str(p),
                        f"camera {camera_id}: the chain head is missing, so a removed tail cannot be ruled out "
                        "(check against the store with --checkpoint, or pass --without-heads for a copy of bundles)",
                    )
                )
            continue
        try:
            heads.append(Head(str(p), load_chain_state(root, camera_id), True))
        except ChainError as exc:
            findings.append(("chain_state_unreadable", str(root / CHAIN_DIR), str(exc)))
    return heads, findings


def load_checkpoints(path: Path) -> list[Head]:
    """Heads from a checkpoint file: `{"heads": [chain state, ...]}` as `detector heads export` writes."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the checkpoint file: {exc.strerror or exc}") from None
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise ConfigError(f"{path}: checkpoint file larger than {MAX_CHECKPOINT_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
        items = doc["heads"] if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ValueError('expected {"heads": [...]}')
        return [Head(f"{path}#{i}", ChainState.model_validate(h), False) for i, h in enumerate(items)]
    except (ValueError, KeyError, ValidationError) as exc:
        raise ConfigError(f"{path}: not a checkpoint file: {str(exc).splitlines()[0]}") from None


def _signature_findings(camera_id: str, head: Head, reg: KeyRegistry) -> list[Finding]:
    st = head.state
    if st.signature_b64 is None or st.key_id is None:
        if head.local:
            return [("head_unsigned", head.where, f"camera {camera_id}: the chain head is not signed")]
        return []
    grant = reg.get(st.key_id)
    if grant is None:
        return [
            ("head_untrusted_key", head.where, f"camera {camera_id}: head signed by unknown key {st.key_id}")
        ]
    if not head_signature_ok(st, grant.public_key):
        return [
            (
                "head_bad_signature",
                head.where,
                f"camera {camera_id}: head signature does not verify (edited?)",
            )
        ]
    bad = grant.problem(camera_id, None)
    return [(bad[0], head.where, f"chain head: {bad[1]}")] if bad else []


def head_problems(
    camera_id: str, links: Sequence[ChainLink], heads: Sequence[Head], reg: KeyRegistry
) -> list[Finding]:
    """Each head checked for its signature and against the bundles found (sorted by sequence)."""
    findings: list[Finding] = []
    by_seq = {link.sequence: link for link in links}
    newest = links[-1].sequence if links else 0
    for head in heads:
        st = head.state
        if st.camera_id != camera_id:
            continue
        findings += _signature_findings(camera_id, head, reg)
        if st.last_sequence == 0:
            continue
        kind = "chain state" if head.local else "checkpoint"
        if st.last_sequence > newest:
            findings.append(
                (
                    "missing_bundle",
                    head.where,
                    f"camera {camera_id}: {kind} says the last bundle is sequence {st.last_sequence} "
                    f"({st.last_bundle}) but the newest found is {newest}: the tail was cut",
                )
            )
            continue
        link = by_seq.get(st.last_sequence)
        if link is not None and link.manifest_sha256 != st.last_manifest_sha256:
            findings.append(
                (
                    "chain_head_mismatch",
                    link.bundle,
                    f"camera {camera_id}: manifest of sequence {st.last_sequence} differs from the one "
                    f"recorded in the {kind} (replaced after it was recorded)",
                )
            )
    return findings
