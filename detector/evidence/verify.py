"""Verify evidence bundles and per-camera chains, naming exactly what is wrong.

`verify_bundle(path, trusted_keys)` checks one bundle folder: the manifest parses, the detached
signature is by a trusted key and covers the manifest bytes, every listed file exists with its
size and sha256, and no unlisted file sits in the folder.

`verify_chain(folder, trusted_keys)` verifies every bundle under `folder` and then each camera's
chain: sequences 1..N without gaps or duplicates, each `prev_manifest_sha256` equal to the sha256 of
the previous manifest, folder names agreeing with sequences (order), and the chain state file in
the evidence root (if present) pointing at the newest bundle (a deleted tail is caught).

Keys: a `KeyRegistry` binds each key to cameras and a validity window (a bundle signed outside its
grant fails); plain public keys are unbound. In both cases a chain may change key only through a
signed rotation (the first bundle of the new key carries the old key's hand-over). Heads: each
camera's chain state must be signed by a key valid for that camera; `checkpoints` (heads recorded
elsewhere, e.g. by the central store) catch a tail cut together with its local head.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from detector.evidence.chain import BUNDLE_DIR_RE, CHAIN_DIR, QUARANTINE_DIR, TMP_PREFIX
from detector.evidence.heads import ChainLink, Head, head_problems, local_heads
from detector.evidence.keys import verify_signature
from detector.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    EvidenceManifest,
    ManifestError,
    SignatureFile,
    parse_manifest,
    sha256_hex,
)
from detector.evidence.registry import KeyRegistry, check_rotation, parse_utc

KeysArg = Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey] | KeyRegistry


def as_registry(keys: KeysArg) -> KeyRegistry:
    """A registry as given, or plain public keys as unbound grants."""
    return keys if isinstance(keys, KeyRegistry) else KeyRegistry.unbound(keys)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. `code` is stable (for machines); `where` names the bundle/file; `message` is for people."""

    code: str
    where: str
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    bundle: Path
    ok: bool
    problems: tuple[Problem, ...]
    event_id: str | None = None
    camera_id: str | None = None
    sequence: int | None = None
    key_id: str | None = None
    manifest_sha256: str | None = None
    prev_manifest_sha256: str | None = None
    files_checked: int = 0
    rotated_from_key_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bundle"] = str(self.bundle)
        return d


@dataclass(frozen=True, slots=True)
class CameraChain:
    camera_id: str
    bundles: int
    first_sequence: int | None
    last_sequence: int | None
    head_manifest_sha256: str | None


@dataclass(frozen=True, slots=True)
class ChainReport:
    folder: Path
    ok: bool
    bundles: tuple[VerifyReport, ...]
    problems: tuple[Problem, ...]  # chain-level problems (bundle problems are in each report)
    cameras: tuple[CameraChain, ...] = ()
    warnings: tuple[Problem, ...] = field(default=())

    def all_problems(self) -> list[Problem]:
        return [p for r in self.bundles for p in r.problems] + list(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "ok": self.ok,
            "bundles": [b.to_dict() for b in self.bundles],
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(p) for p in self.warnings],
            "cameras": [asdict(c) for c in self.cameras],
        }


def _check_signature(
    bundle: Path,
    manifest_data: bytes,
    manifest: EvidenceManifest | None,
    keys: Mapping[str, Ed25519PublicKey],
) -> tuple[list[Problem], str | None]:
    where = str(bundle / SIGNATURE_NAME)
    sig_path = bundle / SIGNATURE_NAME
    if not sig_path.is_file():
        return [Problem("missing_signature", where, "manifest.sig is missing: the bundle is unsigned")], None
    try:
        sig = SignatureFile.model_validate(json.loads(sig_path.read_bytes()))
        raw = base64.b64decode(sig.signature_b64, validate=True)
    except (ValueError, ValidationError, binascii.Error) as exc:
        return [
            Problem("signature_unreadable", where, f"manifest.sig is not a valid signature file: {exc}")
        ], None
    problems: list[Problem] = []
    if manifest is not None and sig.key_id != manifest.key_id:
        problems.append(
            Problem(
                "key_id_mismatch",
                where,
                f"signature key {sig.key_id} is not the manifest's signing key {manifest.key_id}",
            )
        )
    if sig.manifest_sha256 != sha256_hex(manifest_data):
        problems.append(
            Problem(
                "signature_manifest_mismatch", where, "manifest.sig was made for a different manifest.json"
            )
        )
    key = keys.get(sig.key_id)
    if key is None:
        known = ", ".join(sorted(keys)) or "none given"
        problems.append(
            Problem("untrusted_key", where, f"key {sig.key_id} is not trusted (trusted: {known})")
        )
    elif not verify_signature(key, raw, manifest_data):
        problems.append(
            Problem(
                "bad_signature", where, f"signature by key {sig.key_id} does not match manifest.json bytes"
            )
        )
    return problems, sig.key_id


def _check_files(bundle: Path, manifest: EvidenceManifest) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    listed = {MANIFEST_NAME, SIGNATURE_NAME}
    for entry in manifest.files:
        listed.add(entry.name)
        p = bundle / entry.name
        if not p.is_file():
            problems.append(
                Problem("missing_file", str(p), f"{entry.name} ({entry.role}) is listed but missing")
            )
            continue
        data = p.read_bytes()
        if len(data) != entry.size:
            problems.append(
                Problem(
                    "size_mismatch",
                    str(p),
                    f"{entry.name}: size {len(data)} bytes, manifest says {entry.size}",
                )
            )
        if sha256_hex(data) != entry.sha256:
            problems.append(
                Problem("hash_mismatch", str(p), f"{entry.name}: sha256 differs from the manifest")
            )
    for p in sorted(bundle.iterdir()):
        if p.name not in listed:
            problems.append(
                Problem("unlisted_file", str(p), f"{p.name} is in the bundle but not in the manifest")
            )
    return problems, len(manifest.files)


def _check_grant(
    bundle: Path, manifest: EvidenceManifest, key_id: str | None, reg: KeyRegistry, fallback: datetime | None
) -> list[Problem]:
    where = str(bundle / SIGNATURE_NAME)
    problems: list[Problem] = []
    grant = reg.get(key_id) if key_id else None
    if grant is not None:
        at = parse_utc(manifest.time.wall_time) or fallback
        bad = grant.problem(manifest.camera.camera_id, at)
        if bad is not None:
            problems.append(Problem(bad[0], where, bad[1]))
    rot = manifest.key_rotation
    if rot is not None:
        prev = reg.get(rot.previous_key_id)
        why = check_rotation(rot, manifest.camera.camera_id, prev.public_key if prev else None)
        if why is None and rot.new_key_id != manifest.key_id:
            why = f"rotation hands over to {rot.new_key_id}, but the bundle is signed by {manifest.key_id}"
        if why is not None:
            problems.append(Problem("rotation_invalid", str(bundle / MANIFEST_NAME), why))
    return problems


def verify_bundle(
    path: Path | str, trusted_keys: KeysArg, *, fallback_time: datetime | None = None
) -> VerifyReport:
    """Verify one bundle folder against trusted keys (a registry binds them to cameras and times).

    `fallback_time` is the time checked against key validity windows when the bundle carries no wall
    time (a replay). Never raises for a bad bundle."""
    bundle = Path(path)
    reg = as_registry(trusted_keys)
    keys = reg.public_keys()
    mpath = bundle / MANIFEST_NAME
    if not bundle.is_dir():
        return VerifyReport(bundle, False, (Problem("not_a_bundle", str(bundle), "no such bundle folder"),))
    if not mpath.is_file():
        return VerifyReport(
            bundle, False, (Problem("missing_manifest", str(mpath), "manifest.json is missing"),)
        )
    data = mpath.read_bytes()
    problems: list[Problem] = []
    manifest: EvidenceManifest | None = None
    try:
        manifest = parse_manifest(data, str(mpath))
    except ManifestError as exc:
        problems.append(Problem("manifest_invalid", str(mpath), str(exc)))
    sig_problems, key_id = _check_signature(bundle, data, manifest, keys)
    problems += sig_problems
    checked = 0
    if manifest is not None:
        if not sig_problems:
            problems += _check_grant(bundle, manifest, key_id, reg, fallback_time)
        file_problems, checked = _check_files(bundle, manifest)
        problems += file_problems
    return VerifyReport(
        bundle=bundle,
        ok=not problems,
        problems=tuple(problems),
        event_id=manifest.event_id if manifest else None,
        camera_id=manifest.camera.camera_id if manifest else None,
        sequence=manifest.sequence if manifest else None,
        key_id=key_id,
        manifest_sha256=sha256_hex(data),
        prev_manifest_sha256=manifest.prev_manifest_sha256 if manifest else None,
        files_checked=checked,
        rotated_from_key_id=(
            manifest.key_rotation.previous_key_id if manifest and manifest.key_rotation else None
        ),
    )


def find_bundles(folder: Path) -> tuple[list[Path], list[Path]]:
    """(bundle folders, leftover temp folders) under `folder`, in path order. Hidden folders are skipped."""
    bundles: list[Path] = []
    temps: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if not p.is_dir():
            continue
        parts = p.relative_to(folder).parts
        if any(part.startswith(".") for part in parts):  # temp writes, a store's staging area, ...
            if p.name.startswith(TMP_PREFIX) and not any(x.startswith(".") for x in parts[:-1]):
                temps.append(p)
            continue
        if p.parent.name == CHAIN_DIR and p.parent.parent == folder:
            continue
        if parts[0] == QUARANTINE_DIR:  # bundles set aside from a chain they did not continue
            continue
        if (p / MANIFEST_NAME).exists() or (p / SIGNATURE_NAME).exists() or BUNDLE_DIR_RE.match(p.name):
            bundles.append(p)
    return bundles, temps


def _chain_problems(
    camera_id: str, reports: list[VerifyReport], heads: list[Head], reg: KeyRegistry
) -> tuple[list[Problem], CameraChain]:
    problems: list[Problem] = []
    reports = sorted(reports, key=lambda r: (r.sequence or 0, str(r.bundle)))
    prev: VerifyReport | None = None
    for r in reports:
        assert r.sequence is not None
        m = BUNDLE_DIR_RE.match(r.bundle.name)
        if m and int(m["seq"]) != r.sequence:
            problems.append(
                Problem(
                    "order_mismatch",
                    str(r.bundle),
                    f"folder says sequence {int(m['seq'])} but its manifest says {r.sequence} (reordered or renamed)",
                )
            )
        if m and r.event_id and m["event"] != r.event_id:
            problems.append(
                Problem("order_mismatch", str(r.bundle), f"folder event id differs from {r.event_id}")
            )
        expected = 1 if prev is None else (prev.sequence or 0) + 1
        if prev is not None and r.sequence == prev.sequence:
            problems.append(
                Problem(
                    "duplicate_sequence",
                    str(r.bundle),
                    f"sequence {r.sequence} also used by {prev.bundle.name}",
                )
            )
            continue
        if r.sequence > expected:
            missing = f"{expected}" if r.sequence == expected + 1 else f"{expected}..{r.sequence - 1}"
            after = f"after {prev.bundle.name}" if prev else "at the start of the chain"
            problems.append(
                Problem(
                    "missing_bundle",
                    str(r.bundle),
                    f"camera {camera_id}: bundle(s) with sequence {missing} missing {after}, before {r.bundle.name}",
                )
            )
        elif prev is None and r.prev_manifest_sha256 is not None and r.sequence == 1:
            problems.append(
                Problem("chain_break", str(r.bundle), "first bundle must have no prev_manifest_sha256")
            )
        elif prev is not None and r.prev_manifest_sha256 != prev.manifest_sha256:
            problems.append(
                Problem(
                    "chain_break",
                    str(r.bundle),
                    f"prev_manifest_sha256 does not match manifest of {prev.bundle.name} (edited or replaced)",
                )
            )
        switched = prev is not None and r.key_id and prev.key_id and r.key_id != prev.key_id
        if switched and prev is not None and r.rotated_from_key_id != prev.key_id:
            problems.append(
                Problem(
                    "key_switch",
                    str(r.bundle),
                    f"camera {camera_id}: signed by key {r.key_id} after {prev.key_id} signed {prev.bundle.name}, "
                    "without a signed key rotation",
                )
            )
        prev = r
    last = reports[-1] if reports else None
    links = [ChainLink(r.sequence or 0, r.manifest_sha256, str(r.bundle), r.key_id) for r in reports]
    problems += [Problem(*f) for f in head_problems(camera_id, links, heads, reg)]
    summary = CameraChain(
        camera_id=camera_id,
        bundles=len(reports),
        first_sequence=reports[0].sequence if reports else None,
        last_sequence=last.sequence if last else None,
        head_manifest_sha256=last.manifest_sha256 if last else None,
    )
    return problems, summary


def verify_chain(
    folder: Path | str,
    trusted_keys: KeysArg,
    *,
    checkpoints: Sequence[Head] = (),
    require_heads: bool = True,
    fallback_time: datetime | None = None,
) -> ChainReport:
    """Verify every bundle under `folder` (an evidence root, a camera folder, or one bundle) and the chains.

    Each camera's signed head in its evidence root must be present (unless `require_heads` is off,
    for a copy of bundles without their root) and agree with the newest bundle; `checkpoints`
    (heads recorded by the store) must not be ahead of what is found."""
    folder = Path(folder)
    reg = as_registry(trusted_keys)
    if (folder / MANIFEST_NAME).is_file():
        r = verify_bundle(folder, reg, fallback_time=fallback_time)
        return ChainReport(folder, r.ok, (r,), ())
    if not folder.is_dir():
        p = Problem("not_found", str(folder), "no such folder")
        return ChainReport(folder, False, (), (p,))
    paths, temps = find_bundles(folder)
    reports = [verify_bundle(p, reg, fallback_time=fallback_time) for p in paths]
    warnings = tuple(
        Problem("incomplete_bundle", str(t), "unfinished bundle from an interrupted write (not evidence)")
        for t in temps
    )
    by_camera: dict[str, list[VerifyReport]] = {}
    for r in reports:
        if r.camera_id is not None and r.sequence is not None:
            by_camera.setdefault(r.camera_id, []).append(r)
    scope = (folder.resolve(), folder.resolve().parent)
    state_roots = [d for d in scope if (d / CHAIN_DIR).is_dir()]
    problems: list[Problem] = []
    cameras: list[CameraChain] = []
    cam_ids = set(by_camera)
    for root in state_roots:
        cam_ids |= {
            p.stem
            for p in (root / CHAIN_DIR).glob("*.json")
            if (root == scope[0] or p.stem == folder.resolve().name) and not p.name.endswith(".rotation.json")
        }
    camera_folder = (scope[1] / CHAIN_DIR).is_dir() or any(
        r.bundle.resolve().parent == scope[0] for r in reports
    )
    cam_ids |= {
        h.state.camera_id for h in checkpoints if not camera_folder or h.state.camera_id == scope[0].name
    }
    for cam in sorted(cam_ids):
        reps = by_camera.get(cam, [])
        homes = {r.bundle.resolve().parent.parent for r in reps if r.bundle.parent.name == cam}
        roots = sorted({*state_roots, *(h for h in homes if h in scope)})
        heads, findings = local_heads(roots, cam, homes, require_heads)
        problems += [Problem(*f) for f in findings]
        cp, summary = _chain_problems(
            cam, reps, heads + [h for h in checkpoints if h.state.camera_id == cam], reg
        )
        problems += cp
        cameras.append(summary)
    if not reports and not problems:
        problems.append(Problem("no_bundles", str(folder), "no evidence bundles found"))
    ok = not problems and all(r.ok for r in reports)
    return ChainReport(folder, ok, tuple(reports), tuple(problems), tuple(cameras), warnings)
