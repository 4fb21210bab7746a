"""What `detector run` wires for its health: the MQTT publisher and the Prometheus endpoint.

health = RunHealth(cfg.telemetry)          # before the session: on_result may call observe()
health.start(session)                      # metrics server, MQTT status online + heartbeats
... session.run() ...
session.close(); health.close()            # last heartbeat, retained offline, server stopped
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from detector.config import TelemetryConfig
from detector.errors import ConfigError

if TYPE_CHECKING:
    from detector.pipeline import FrameResult
    from detector.runtime.session import RunSession
    from detector.telemetry.metrics import RunMetrics
    from detector.telemetry.publisher import HealthPublisher

log = logging.getLogger(__name__)


def telemetry_overrides(cfg: TelemetryConfig, metrics_port: int | None, mqtt: str | None) -> TelemetryConfig:
    """The config's telemetry with the command line's `--metrics-port` and `--mqtt HOST[:PORT]`."""
    update: dict[str, object] = {}
    if metrics_port is not None:
        update["metrics_port"] = metrics_port
    if mqtt:
        host, _, port = mqtt.rpartition(":") if ":" in mqtt else (mqtt, "", "")
        if not host:
            raise ConfigError(f"--mqtt {mqtt!r}: expected HOST or HOST:PORT")
        update["mqtt_enabled"] = True
        update["mqtt_host"] = host
        if port:
            if not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ConfigError(f"--mqtt {mqtt!r}: port {port!r} is not a number from 1 to 65535")
            update["mqtt_port"] = int(port)
    return cfg.model_copy(update=update) if update else cfg


class RunHealth:
    def __init__(self, cfg: TelemetryConfig) -> None:
        self.cfg = cfg
        self.metrics: RunMetrics | None = None
        self.publisher: HealthPublisher | None = None

    def start(self, session: RunSession) -> None:
        if self.cfg.metrics_port is not None:
            from detector.telemetry.metrics import RunMetrics

            try:
                self.metrics = RunMetrics(session).serve(self.cfg.metrics_port, self.cfg.metrics_host)
            except OSError as exc:
                raise ConfigError(
                    f"metrics port {self.cfg.metrics_host}:{self.cfg.metrics_port}: cannot listen: {exc}"
                ) from exc
        if self.cfg.mqtt_enabled:
            from detector.telemetry.publisher import HealthPublisher, heartbeat_from_session

            figures = heartbeat_from_session(session, self.cfg.heartbeat_s)
            self.publisher = HealthPublisher(self.cfg, session.req.cfg.camera_id, figures).start()

    def observe(self, result: FrameResult) -> None:
        if self.metrics is not None:
            self.metrics.observe(result)

    def close(self) -> None:
        publisher, self.publisher = self.publisher, None
        metrics, self.metrics = self.metrics, None
        try:
            if publisher is not None:
                publisher.close()
        finally:
            if metrics is not None:
                metrics.close()
