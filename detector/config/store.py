"""Configuration of the violation store, its HTTP API, MQTT outbox and forwarder.

One `StoreConfig` serves the edge box (embedded SQLite, the default) and a central deployment
(PostgreSQL): only `url` changes. Loaded once at the CLI edge with `load_store_config`.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator

from detector.base import FrozenModel
from detector.config.load import load_model
from detector.config.notices import NetworkConfig


class MqttConfig(FrozenModel):
    """Where new violations are published (QoS 1, one topic per camera)."""

    enabled: bool = Field(default=False, description="Run the outbox publisher with `detector serve`")
    host: str = Field(default="127.0.0.1", description="Broker host")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port")
    topic_prefix: str = Field(
        default="detector/violations", description="Topic is <topic_prefix>/<camera_id>"
    )
    client_id: str = Field(default="detector-store-outbox", description="MQTT client id of the publisher")
    publish_timeout_s: float = Field(default=10.0, gt=0, description="Wait for PUBACK this long per message")
    batch_size: int = Field(default=100, ge=1, le=10_000, description="Outbox rows sent per publisher pass")
    retry_delay_s: float = Field(default=5.0, gt=0, description="Pause after a broker failure")


class ForwardConfig(FrozenModel):
    """Edge to central: POST accepted bundles to the central API's ingest endpoint."""

    enabled: bool = Field(default=False, description="Queue accepted bundles for forwarding")
    url: str = Field(default="", description="Central API base URL, e.g. https://central.example/ ")
    token_file: str | None = Field(
        default=None, description="File holding the bearer token (role ingest) of the central API"
    )
    max_attempts: int = Field(default=50, ge=1, description="Give up (state failed) after this many tries")
    backoff_initial_s: float = Field(default=5.0, gt=0, description="First retry delay; doubles per attempt")
    backoff_max_s: float = Field(default=3600.0, gt=0, description="Longest retry delay")
    timeout_s: float = Field(default=60.0, gt=0, description="HTTP timeout per upload")


class RateLimitConfig(FrozenModel):
    """Token buckets on the plate lookup endpoint: one per token and one per client address; a request
    needs a token from both and a rejected one spends neither."""

    capacity: int = Field(default=30, ge=1, description="Burst size per token (requests)")
    refill_per_s: float = Field(default=0.5, gt=0, description="Requests added back per second, per token")
    ip_capacity: int | None = Field(
        default=None, ge=1, description="Burst size per client address (default: 4 x capacity)"
    )
    ip_refill_per_s: float | None = Field(
        default=None, gt=0, description="Refill per client address (default: 4 x refill_per_s)"
    )


class CameraHealthConfig(FrozenModel):
    """The edge boxes' status and heartbeats (MQTT), recorded by `detector serve` for the console."""

    enabled: bool = Field(default=False, description="Subscribe to the cameras' status and heartbeat topics")
    host: str = Field(default="127.0.0.1", description="Broker host")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port")
    topic_prefix: str = Field(
        default="detector/cameras", description="Topics are <topic_prefix>/<camera_id>/{status,heartbeat}"
    )
    client_id: str = Field(default="detector-store-health", description="MQTT client id of the subscriber")
    keep_days: float = Field(default=7.0, gt=0, description="Heartbeats older than this are deleted")


class StoreConfig(FrozenModel):
    """The violation/fine store: database URL, evidence folders, trust anchors and services."""

    url: str = Field(
        default="sqlite:///var/detector.db",
        description="SQLAlchemy URL: sqlite:///path (edge) or postgresql+psycopg://user@host/db (central)",
    )
    evidence_dir: str = Field(default="var/evidence", description="Accepted bundles are copied here")
    quarantine_dir: str = Field(default="var/quarantine", description="Rejected bundles are kept here")
    trusted_keys: str = Field(
        default="var/trusted_keys",
        description="Folder (or file) of Ed25519 public keys that may sign bundles, as the evidence "
        "module's verify_bundle expects",
    )
    location: str = Field(default="", description="Default place on notices when a bundle carries none")
    detecting_unit: str = Field(default="", description="Default detecting unit printed on notices")
    api_host: str = Field(default="127.0.0.1", description="`detector serve` bind address")
    api_port: int = Field(default=8080, ge=1, le=65535, description="`detector serve` port")
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="Addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed (none by default, "
        "not even loopback)",
    )
    max_upload_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1024, description="Largest bundle tar accepted by the ingest endpoint"
    )
    max_unpacked_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024,
        description="Most bytes a bundle may unpack to (counted while streaming)",
    )
    max_archive_members: int = Field(
        default=1000, ge=2, description="Most files in one bundle archive or folder"
    )
    max_compression_ratio: float = Field(
        default=50.0, gt=1, description="Most unpacked bytes per compressed byte of an upload (over 4 MiB)"
    )
    quarantine_retention_days: float = Field(
        default=90.0,
        gt=0,
        description="Rejected uploads' files are deleted after this many days (the row stays)",
    )
    quarantine_max_bytes: int = Field(
        default=2 * 1024 * 1024 * 1024,
        ge=0,
        description="Quarantine size cap: oldest files go first above it",
    )
    feed_page_max: int = Field(default=500, ge=1, description="Largest page of the evidence feed")
    sse_poll_s: float = Field(default=1.0, gt=0, description="SSE: how often the stream checks for new rows")
    lookup_rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    forward: ForwardConfig = Field(default_factory=ForwardConfig)
    camera_health: CameraHealthConfig = Field(default_factory=CameraHealthConfig)
    network: NetworkConfig = Field(
        default_factory=NetworkConfig, description="Notices, hotlists, statistics (issue 18)"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for e in v:
            ipaddress.ip_network(e.strip(), strict=False)  # ValueError names the bad entry
        return v

    def resolved(self, base: Path) -> StoreConfig:
        """Relative folders and a relative SQLite path resolved against `base`."""
        updates: dict[str, str] = {}
        for name in ("evidence_dir", "quarantine_dir", "trusted_keys"):
            value = getattr(self, name)
            if not Path(value).is_absolute():
                updates[name] = str((base / value).resolve())
        prefix = "sqlite:///"
        if self.url.startswith(prefix) and not self.url.startswith(prefix + "/"):
            rel = self.url[len(prefix) :]
            if rel and rel != ":memory:":
                updates["url"] = prefix + str((base / rel).resolve())
        return self.model_copy(update={**updates, "network": self.network.resolved(base)})


def load_store_config(path: str | Path | None) -> StoreConfig:
    """Read a YAML/JSON store config (None: defaults relative to the working directory)."""
    if path is None:
        return StoreConfig().resolved(Path.cwd())
    p = Path(path)
    return load_model(p, StoreConfig, "store config").resolved(p.parent)
