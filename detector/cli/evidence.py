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
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Trusted public key (.pub PEM, .pub.json, or a folder of *.pub). Repeat for several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def verify(path: Path, key_paths: tuple[Path, ...], as_json: bool) -> None:
    """Verify an evidence bundle, a camera folder or an evidence root: file hashes, signatures, chain.

    Exit code 0 when everything verifies, 1 on any problem (each is named), 2 on bad usage.
    """
    from detector.evidence.keys import KeyFileError
    from detector.evidence.verify import verify_chain

    try:
        trusted = _load_trusted(key_paths)
    except KeyFileError as exc:
        raise ConfigError(f"--key: {exc}") from exc
    report = verify_chain(path, trusted)
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
