"""Edge health of `detector run`: MQTT status with a last will and heartbeats (`publisher`), and
Prometheus metrics (`metrics`). Config in `config.TelemetryConfig` (the camera config's `telemetry`)."""
