"""Configuration of the rules stage (owned by the rules module)."""

from __future__ import annotations

from detector.base import FrozenModel


class RulesConfig(FrozenModel):
    """Settings of the rules stage."""
