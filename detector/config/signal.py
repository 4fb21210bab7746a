"""Where a camera's signal phase comes from: lamp boxes read by vision, a fixed-time controller plan,
or a controller's phase log."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from detector.base import FrozenModel
from detector.config.fields import Box, Fraction


class SignalPlanConfig(FrozenModel):
    """A fixed-time controller plan. Order in a cycle: green, amber, red (red ends the cycle)."""

    green_s: float = Field(gt=0, description="Green duration (s)")
    amber_s: float = Field(gt=0, description="Amber duration (s)")
    red_s: float = Field(gt=0, description="Red duration (s)")
    offset_s: float = Field(default=0.0, description="Stream time (s) at which a green phase starts")


class LampConfig(FrozenModel):
    colour: Literal["red", "amber", "green"] = Field(description="Which lamp this box covers")
    box: Box = Field(description="Lamp box (x1, y1, x2, y2) in pixels")


class ArrowConfig(FrozenModel):
    turn: Literal["left", "right"] = Field(description="The turn this arrow lamp allows when lit")
    box: Box = Field(description="Arrow lamp box (x1, y1, x2, y2) in pixels")
    colour: Literal["green"] = Field(default="green", description="Colour of the lit arrow")
    min_lit_fraction: Fraction = Field(
        default=0.08,
        description="Fraction of lit pixels of the arrow's colour for the arrow to count as on (an arrow "
        "lights less of its box than a round lamp)",
    )


class SignalConfig(FrozenModel):
    source: Literal["none", "vision", "controller_plan", "controller_file"] = Field(
        default="none", description="Where the phase comes from"
    )
    lamps: list[LampConfig] = Field(
        default_factory=list, description="vision: one box per lamp of the signal head"
    )
    arrows: list[ArrowConfig] = Field(
        default_factory=list, description="vision: turn-arrow lamps (each read on its own, lit or dark)"
    )
    hysteresis_frames: int = Field(
        default=3,
        ge=1,
        description="vision: frames a new phase (or arrow state) must persist before it is accepted",
    )
    min_lit_value: int = Field(
        default=140, ge=0, le=255, description="vision: HSV value above which a pixel is lit"
    )
    min_lit_fraction: Fraction = Field(
        default=0.15,
        description="vision: fraction of lit, coloured pixels for a lamp to count as on",
    )
    plan: SignalPlanConfig | None = Field(default=None, description="controller_plan: the timing plan")
    file: str | None = Field(
        default=None,
        description="controller_file: CSV or JSONL of (timestamp, phase); relative to the config file",
    )
    time_base: Literal["stream", "wall"] = Field(
        default="stream",
        description="Controller time: stream seconds (replays) or epoch seconds from Frame.wall_time (live)",
    )

    @model_validator(mode="after")
    def _check(self) -> SignalConfig:
        if self.source == "vision":
            colours = [lamp.colour for lamp in self.lamps]
            if "red" not in colours:
                raise ValueError("signal.source=vision needs at least a 'red' lamp box in signal.lamps")
            if len(set(colours)) != len(colours):
                raise ValueError(f"signal.lamps: one box per colour, got {colours}")
            for lamp in self.lamps:
                x1, y1, x2, y2 = lamp.box
                if x2 <= x1 or y2 <= y1:
                    raise ValueError(
                        f"signal.lamps[{lamp.colour}]: box {lamp.box} is empty (need x2>x1, y2>y1)"
                    )
        if self.arrows:
            if self.source != "vision":
                raise ValueError(f"signal.arrows are read by vision only (signal.source is {self.source!r})")
            turns = [a.turn for a in self.arrows]
            if len(set(turns)) != len(turns):
                raise ValueError(f"signal.arrows: one arrow per turn, got {turns}")
            for a in self.arrows:
                x1, y1, x2, y2 = a.box
                if x2 <= x1 or y2 <= y1:
                    raise ValueError(f"signal.arrows[{a.turn}]: box {a.box} is empty (need x2>x1, y2>y1)")
        if self.source == "controller_plan" and self.plan is None:
            raise ValueError("signal.source=controller_plan needs signal.plan")
        if self.source == "controller_file" and not self.file:
            raise ValueError("signal.source=controller_file needs signal.file")
        return self
