"""Configuration of the evidence stage (owned by the evidence module)."""

from __future__ import annotations

from detector.base import FrozenModel


class EvidenceConfig(FrozenModel):
    """Settings of the evidence stage."""
