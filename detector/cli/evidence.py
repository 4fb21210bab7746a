"""`detector keys ...` and `detector verify ...`: signing keys and evidence verification."""

from __future__ import annotations

import json
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from detector.errors import ConfigError, DetectorError


class VerificationFailed(DetectorError):
    """Evidence did not verify (exit code 1)."""


@click.group("keys")
def keys() -> None:
    """Evidence signing keys (Ed25519)."""


@keys.command("new")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for evidence_signing.key (0600), evidence_signing.pub and .pub.json.",
)
@click.option("--force", is_flag=True, help="Replace an existing private key in that folder.")
def keys_new(out_dir: Path, force: bool) -> None:
    """Generate an evidence signing key pair. Keep the private key off evidence storage."""
    from detector.evidence.keys import write_key_pair

    paths = write_key_pair(out_dir, overwrite=force)
    click.echo(f"key id:      {paths.key_id}")
    click.echo(f"private key: {paths.private} (mode 0600; never copy into bundles)")
    click.echo(f"public key:  {paths.public}")
    click.echo(f"public info: {paths.info}")


@keys.command("show")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def keys_show(path: Path) -> None:
    """Print the key id of a public key (.pub, .pub.json) or private key file or key folder."""
    from detector.evidence.keys import KeyFileError, key_id_of, load_private_key, load_public_key

    try:
        key = load_public_key(path)
    except KeyFileError:
        key = load_private_key(path).public_key
    click.echo(key_id_of(key))


def _load_trusted(paths: tuple[Path, ...]) -> list[Ed25519PublicKey]:
    from detector.evidence.keys import PUBLIC_NAME, load_public_key

    out: list[Ed25519PublicKey] = []
    for p in paths:
        if p.is_dir() and not (p / PUBLIC_NAME).is_file():
            found = sorted(p.glob("*.pub"))
            if not found:
                raise ConfigError(f"--key {p}: folder holds no *.pub public key")
            out += [load_public_key(f) for f in found]
        else:
            out.append(load_public_key(p))
    return out


@click.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    "key_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Trusted public key (.pub PEM, .pub.json, or a folder of *.pub), valid for any camera. Repeat for several.",
)
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Key registry (YAML/JSON): which key may sign for which cameras and when (see FORMAT.md).",
)
@click.option(
    "--checkpoint",
    "checkpoint_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Chain heads recorded elsewhere (`detector heads export` of the store): a cut tail is reported.",
)
@click.option(
    "--without-heads",
    is_flag=True,
    help="Verify a copy of bundles without their chain/ folder (a removed tail then goes unseen).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def verify(
    path: Path,
    key_paths: tuple[Path, ...],
    registry_path: Path | None,
    checkpoint_paths: tuple[Path, ...],
    without_heads: bool,
    as_json: bool,
) -> None:
    """Verify an evidence bundle, a camera folder or an evidence root: file hashes, signatures, key
    grants, chain and signed chain heads.

    Exit code 0 when everything verifies, 1 on any problem (each is named), 2 on bad usage.
    """
    from detector.evidence.heads import load_checkpoints
    from detector.evidence.keys import KeyFileError
    from detector.evidence.registry import KeyRegistry, load_registry
    from detector.evidence.verify import verify_chain

    if not key_paths and registry_path is None:
        raise click.UsageError("give trusted keys: --registry FILE and/or --key PUBLIC_KEY")
    try:
        trusted = KeyRegistry.unbound(_load_trusted(key_paths))
    except KeyFileError as exc:
        raise ConfigError(f"--key: {exc}") from exc
    if registry_path is not None:
        trusted = trusted.merged(load_registry(registry_path))
    checkpoints = [h for p in checkpoint_paths for h in load_checkpoints(p)]
    report = verify_chain(path, trusted, checkpoints=checkpoints, require_heads=not without_heads)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        for b in report.bundles:
            state = "OK  " if b.ok else "FAIL"
            click.echo(
                f"{state} {b.bundle}  camera={b.camera_id} seq={b.sequence} key={b.key_id} "
                f"files={b.files_checked}"
            )
            for p in b.problems:
                click.echo(f"     [{p.code}] {p.message} ({p.where})")
        for p in report.problems:
            click.echo(f"FAIL [{p.code}] {p.message} ({p.where})")
        for p in report.warnings:
            click.echo(f"WARN [{p.code}] {p.message} ({p.where})")
        for c in report.cameras:
            click.echo(
                f"chain {c.camera_id}: {c.bundles} bundles, sequence {c.first_sequence}..{c.last_sequence}"
            )
    if not report.ok:
        n = len(report.all_problems())
        raise VerificationFailed(f"{path}: evidence does NOT verify ({n} problem{'s' if n != 1 else ''})")
    if not as_json:
        chain = "chain intact" if report.cameras else "chain not checked (a single bundle)"
        click.echo(f"verified: {len(report.bundles)} bundle(s): signatures and file hashes ok, {chain}")


@keys.command("rotate")
@click.option(
    "--root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Evidence root of the camera.",
)
@click.option("--camera", "camera_id", required=True, help="Camera whose chain changes key.")
@click.option(
    "--old",
    "old_key",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The private key that signed the chain so far (file or key folder).",
)
@click.option(
    "--new",
    "new_key",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The new public key (.pub, .pub.json or key folder).",
)
def keys_rotate(root: Path, camera_id: str, old_key: Path, new_key: Path) -> None:
    """Prepare a signed key hand-over: the old key signs that NEW signs CAMERA's chain from now on.

    The next bundle the new key writes carries it, so `detector verify` and the store accept the change.
    """
    import base64
    from datetime import UTC, datetime

    from detector.evidence.chain import load_chain_state, rotation_path
    from detector.evidence.keys import key_id_of, load_private_key, load_public_key
    from detector.evidence.manifest import KeyRotation, rotation_statement_bytes
    from detector.fsutil import atomic_write_bytes

    old = load_private_key(old_key)
    new_id = key_id_of(load_public_key(new_key))
    state = load_chain_state(root, camera_id)
    if state.key_id is not None and state.key_id != old.key_id:
        raise ConfigError(
            f"camera {camera_id}'s chain is signed by key {state.key_id}, not by --old ({old.key_id})"
        )
    issued = datetime.now(UTC).isoformat()  # the CLI edge: the one place that reads the clock
    data = rotation_statement_bytes(camera_id, old.key_id, new_id, issued)
    rot = KeyRotation(
        camera_id=camera_id,
        previous_key_id=old.key_id,
        new_key_id=new_id,
        issued_at=issued,
        signature_b64=base64.b64encode(old.sign(data)).decode("ascii"),
    )
    path = rotation_path(root, camera_id)
    atomic_write_bytes(path, (rot.model_dump_json(indent=2) + "\n").encode(), mode=0o600)
    click.echo(f"rotation {old.key_id} -> {new_id} for camera {camera_id} written to {path}")
