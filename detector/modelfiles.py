"""The model manifest (models/manifest.yaml): check what would be loaded, and install a file explicitly.

Installing a model is always an operator's explicit command and always verifies a sha256; the
engine itself never downloads anything.
"""

from __future__ import annotations

import hashlib
import logging
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from detector.config import ModelEntry, ModelManifest
from detector.detect.base import REPO_MODELS_DIR, package_file, sha256_file
from detector.errors import ConfigError, ModelError
from detector.fsutil import atomic_path, atomic_write_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelStatus:
    entry: ModelEntry
    path: Path | None
    origin: str
    sha256: str | None

    @property
    def ok(self) -> bool:
        return self.sha256 == self.entry.sha256


def load_manifest(path: Path = REPO_MODELS_DIR / "manifest.yaml") -> ModelManifest:
    try:
        return ModelManifest.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: unusable model manifest: {exc}") from exc


def check_models(manifest: ModelManifest, models_dir: Path = REPO_MODELS_DIR) -> list[ModelStatus]:
    """Where each model would be loaded from (models/ first, then its package) and whether it matches."""
    out = []
    for e in manifest.models:
        local = models_dir / e.file
        if local.is_file():
            out.append(ModelStatus(e, local, "models/", sha256_file(local)))
            continue
        if e.package_module is None or e.package_path is None:  # derived: only ever in models/
            out.append(ModelStatus(e, None, "missing", None))
            continue
        shipped = package_file(e.package_module, e.package_path)
        if shipped is not None:
            out.append(ModelStatus(e, shipped, f"package:{e.package}", sha256_file(shipped)))
        else:
            out.append(ModelStatus(e, None, "missing", None))
    return out


def install_model(
    entry: ModelEntry, source: str, models_dir: Path = REPO_MODELS_DIR, expected_sha256: str | None = None
) -> Path:
    """Copy (local path) or download (http/https URL) a model into models/, verifying its sha256.

    The file lands under its final name only when the hash matches; otherwise nothing is kept.
    """
    want = expected_sha256 or entry.sha256
    final = models_dir / entry.file
    h = hashlib.sha256()
    try:
        with atomic_path(final, mode=0o600, suffix=".part") as tmp, open(tmp, "wb") as out:
            if "://" in source:
                if not source.startswith(("http://", "https://")):
                    raise ModelError(f"{source}: only http(s) URLs or local files can be installed")
                with urllib.request.urlopen(source, timeout=60) as resp:  # noqa: S310 (explicit operator command)
                    while block := resp.read(1 << 20):
                        h.update(block)
                        out.write(block)
            else:
                with open(source, "rb") as src:
                    while block := src.read(1 << 20):
                        h.update(block)
                        out.write(block)
            out.flush()
            if h.hexdigest() != want:
                raise ModelError(
                    f"{source}: sha256 {h.hexdigest()} does not match the expected {want}; not installed"
                )
        return final
    except OSError as exc:
        raise ModelError(f"cannot install {entry.name} from {source}: {exc}") from exc


def upsert_manifest_entry(entry: ModelEntry, path: Path = REPO_MODELS_DIR / "manifest.yaml") -> None:
    """Add `entry` to the manifest, or replace the entry of the same name, keeping the file's comments.

    Written atomically; the result is validated before it replaces the file.
    """
    text = path.read_text(encoding="utf-8")
    block = (
        "  - "
        + yaml.safe_dump(entry.model_dump(exclude_none=True), sort_keys=False, allow_unicode=True, width=1000)
        .rstrip("\n")
        .replace("\n", "\n    ")
        + "\n"
    )
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip("\n") == f"  - name: {entry.name}"), None)
    if start is None:
        new = text + ("" if text.endswith("\n") else "\n") + block
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - ")), len(lines))
        new = "".join(lines[:start]) + block + "".join(lines[end:])
    try:
        ModelManifest.model_validate(yaml.safe_load(new))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: the updated manifest would not be valid: {exc}") from exc
    atomic_write_text(path, new, mode=path.stat().st_mode & 0o777)  # keeps the manifest's mode
