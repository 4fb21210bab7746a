"""Helpers of the trust tests."""

from __future__ import annotations

import base64
from pathlib import Path

from detector.evidence.keys import Ed25519Signer
from detector.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    SignatureFile,
    manifest_bytes,
    parse_manifest,
    sha256_hex,
    signature_bytes,
)


def resign(bundle: Path, signer: Ed25519Signer, plate: str) -> bytes:
    """What an attacker holding `signer` does: edit the plate and sign the manifest again."""
    m = parse_manifest((bundle / MANIFEST_NAME).read_bytes())
    assert m.plate is not None
    forged = m.model_copy(
        update={"plate": m.plate.model_copy(update={"text": plate}), "key_id": signer.key_id}
    )
    body = manifest_bytes(forged)
    (bundle / MANIFEST_NAME).write_bytes(body)
    sig = SignatureFile(
        key_id=signer.key_id,
        signature_b64=base64.b64encode(signer.sign(body)).decode(),
        manifest_sha256=sha256_hex(body),
    )
    (bundle / SIGNATURE_NAME).write_bytes(signature_bytes(sig))
    return body
