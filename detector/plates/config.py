"""Configuration of the plates stage (owned by the plates module)."""

from __future__ import annotations

from detector.base import FrozenModel


class PlatesConfig(FrozenModel):
    """Settings of the plates stage."""
