"""The `telemetry` section of a camera config: how `detector run` reports its health."""

from __future__ import annotations

from pydantic import Field

from detector.base import FrozenModel


class TelemetryConfig(FrozenModel):
    """MQTT status and heartbeats of a live run, and its Prometheus endpoint (all off by default)."""

    mqtt_enabled: bool = Field(
        default=False, description="Publish a retained status (with a last will) and heartbeats over MQTT"
    )
    mqtt_host: str = Field(default="127.0.0.1", description="Broker host")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="Broker port")
    topic_prefix: str = Field(
        default="detector/cameras",
        description="Topics are <topic_prefix>/<camera_id>/status (online/offline) and .../heartbeat",
    )
    keepalive_s: int = Field(
        default=10,
        ge=2,
        le=600,
        description="MQTT keep-alive: the broker publishes the last will ('offline') about 1.5x this "
        "long after the box stops answering",
    )
    heartbeat_s: float = Field(default=5.0, gt=0, le=3600, description="Seconds between heartbeats")
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve Prometheus metrics on this port (None: off)"
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address the metrics endpoint binds to")
