"""`ModelInfo`: a model the engine loaded, as the run summary prints it and every evidence manifest
records it (one record from the loader to the signed bundle; no conversion between two shapes)."""

from __future__ import annotations

from pydantic import Field

from detector.base import FrozenModel

SHA256_PATTERN = r"^[0-9a-f]{64}$"


class ModelInfo(FrozenModel):
    name: str = Field(description="Model name, e.g. yolo11n")
    role: str = Field(description="What it does: detector, plate_detector, ocr, ...")
    sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the model file")
    file: str = Field(default="", description="File name the model was loaded from (informative)")
    #: the engine's loaders record where the file came from here: config, models/ or package:<name>
    version: str = Field(default="", description="Model or package version, if known")
