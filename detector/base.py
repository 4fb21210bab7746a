"""Shared base for configuration models (kept apart so every sub-config can import it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class FrozenModel(BaseModel):
    """Base for every config model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: A point in pixel coordinates of the camera image.
Point = Annotated[tuple[float, float], Field(description="(x, y) in pixels of the camera image")]
