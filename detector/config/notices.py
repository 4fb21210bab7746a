"""Configuration of the network side of the store (issue 18): where the vehicle registry and the
routing table are, the periods of a notice's life, the payment portal, hotlists.

Periods (the legal basis; see docs in `detector/store/notice_states.py`):
- `notify_within_working_days` (default 10) and `publish_after_days` (default 20) follow the 2024
  procedure for violations detected by technical devices (Circular 73/2024/TT-BCA); that text is not
  in the project's reference folder, so these are configurable defaults, not verified citations.
- `limitation_years` (default 1): Decree 168/2024 Art. 4(1), the one-year limitation for road
  traffic violations; Art. 4(2): device records are usable until the end of the last day of it;
  Art. 4(3)(b): the violation ends at the time the device recorded it (the clock starts at
  `occurred_at`).
- `publish_with_notice` (default true): Decree 168/2024 Art. 47(8)(a), the vehicle is posted on the
  traffic police's website at the same time as the notice is sent.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from detector.base import FrozenModel


class NoticeConfig(FrozenModel):
    """The notice's life: registry, routing, periods, printed notice, payment portal."""

    registry_file: str | None = Field(
        default=None,
        description="YAML vehicle registry (stand-in for the national registry); None: the sample "
        "registry shipped in detector/store/data/vehicle_registry.yaml",
    )
    routing_file: str | None = Field(
        default=None,
        description="YAML routing table province/district -> traffic-police unit; None: the shipped "
        "detector/store/data/routing.yaml",
    )
    notify_within_working_days: int = Field(
        default=10, ge=1, le=60, description="Notice sent within this many working days of the detection"
    )
    publish_after_days: int = Field(
        default=20,
        ge=1,
        le=365,
        description="Owner has not come this many days after the notice: publish it and flag the vehicle",
    )
    limitation_years: int = Field(
        default=1,
        ge=1,
        le=10,
        description="Decree 168/2024 Art. 4(1): one-year limitation, to the end of its last day (Art. 4(2))",
    )
    publish_with_notice: bool = Field(
        default=True,
        description="Decree 168/2024 Art. 47(8)(a): the public lookup shows a case as soon as its notice "
        "is sent; false: only once the owner has not come by the date on the notice",
    )
    notices_dir: str | None = Field(
        default=None,
        description="Printed notices (HTML) are written here; None: `notices/` beside evidence_dir",
    )
    payment_portal_url: str = Field(
        default="https://dichvucong.gov.vn/p/home/dvc-thanh-toan-vi-pham-giao-thong.html",
        description="Where the notice tells the owner to pay (printed on it)",
    )
    payment_secret_file: str | None = Field(
        default=None,
        description="File holding the HMAC-SHA256 secret the payment portal signs its callbacks with; "
        "None: callbacks are refused",
    )
    callback_max_skew_s: float = Field(
        default=300.0, gt=0, description="A callback whose signed timestamp is older than this is refused"
    )


class NetworkConfig(FrozenModel):
    """The network side of the store."""

    notices: NoticeConfig = Field(default_factory=NoticeConfig, description="The notice's life")
    hotlist_topic_prefix: str = Field(
        default="detector/hotlist", description="MQTT topic of hotlist alerts is <prefix>/<camera_id>"
    )

    def resolved(self, base: Path) -> NetworkConfig:
        n = self.notices
        updates: dict[str, str | None] = {}
        for name in ("registry_file", "routing_file", "notices_dir", "payment_secret_file"):
            value = getattr(n, name)
            if value is not None and not Path(value).is_absolute():
                updates[name] = str((base / value).resolve())
        return self.model_copy(update={"notices": n.model_copy(update=updates)})
