"""Configuration of the evidence stage (owned by the evidence module)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from detector.base import FrozenModel


class EvidenceConfig(FrozenModel):
    """Settings of the evidence stage: what a bundle holds and how it is signed."""

    enabled: bool = Field(default=True, description="Write an evidence bundle for every violation")
    root: str | None = Field(
        default=None,
        description="Evidence root folder (bundles and chain state). Unset: chosen by the CLI (--evidence-dir). "
        "Relative paths resolve against the config file's folder.",
    )
    pre_s: float = Field(default=2.0, ge=0, le=30, description="Seconds of video kept before the moment")
    post_s: float = Field(default=2.0, ge=0, le=30, description="Seconds of video kept after the moment")
    ring_max_frames: int = Field(
        default=300,
        ge=1,
        le=10_000,
        description="Ring buffer bound in frames (memory: frames x W x H x 3 bytes)",
    )
    ring_max_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Ring buffer bound in stream seconds. Unset: pre_s + post_s + 1 (the clip window plus slack).",
    )
    ring_jpeg_quality: int | None = Field(
        default=95,
        ge=50,
        le=100,
        description="Hold buffered frames as JPEGs of this quality (compressed on a worker thread, off the hot "
        "path; a 1080p ring of 5 s takes ~75 MB instead of ~780 MB). Unset: raw frames",
    )
    jpeg_quality: int = Field(default=90, ge=30, le=100, description="JPEG quality of the images")
    clip_enabled: bool = Field(default=True, description="Write a short video clip around the moment")
    clip_codec: Literal["h264", "mpeg4"] = Field(
        default="h264",
        description="Clip codec; h264 needs PyAV with libx264, else mpeg4 is written and recorded",
    )
    clip_crf: int = Field(
        default=23, ge=0, le=51, description="H.264 constant rate factor (lower: bigger, better)"
    )
    clip_max_width: int = Field(
        default=1280, ge=160, le=7680, description="Clips wider than this are scaled down"
    )
    key_path: str | None = Field(
        default=None, description="Private signing key (PEM file or folder with evidence_signing.key)"
    )
    privacy_mask: bool = Field(
        default=True, description="Blur the plate area of vehicles other than the violator in the overview"
    )

    @model_validator(mode="after")
    def _check(self) -> EvidenceConfig:
        window = self.pre_s + self.post_s
        if self.ring_max_seconds is not None and self.ring_max_seconds < window:
            raise ValueError(
                f"ring_max_seconds ({self.ring_max_seconds}) is shorter than pre_s + post_s ({window}): "
                "the clip could never be complete"
            )
        return self

    @property
    def ring_seconds(self) -> float:
        return self.ring_max_seconds if self.ring_max_seconds is not None else self.pre_s + self.post_s + 1.0
