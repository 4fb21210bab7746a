"""Prometheus metrics of `detector run` over a real run of the sample, the latency histogram's
re-binning, the command line's telemetry options, and the Grafana dashboard's queries (every metric
it names must be one that serve or run exports)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from detector.config import TelemetryConfig, load_camera_config
from detector.errors import ConfigError
from detector.runtime.loop import LatencyHistogram, LoopOptions
from detector.runtime.session import RunRequest, RunSession
from detector.store.heartbeat import Heartbeat
from detector.telemetry.health import telemetry_overrides
from detector.telemetry.metrics import RunMetrics, latency_family
from tests.api.support import make_api
from tests.conftest import REPO
from tests.store.support import Keys

CONFIG = REPO / "configs" / "sample_scene.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "detector.json"


def _samples(text: str) -> dict[str, float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


@pytest.fixture(scope="module")
def run_metrics(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunMetrics, RunSession, str]:
    out = tmp_path_factory.mktemp("metrics_run")
    cfg = load_camera_config(CONFIG)
    session = RunSession.open(
        RunRequest(
            cfg, CONFIG, out, preview=False, evidence=False, store=False, loop=LoopOptions(max_frames=12)
        )
    )
    metrics = RunMetrics(session)
    session.req.loop.on_result = metrics.observe
    try:
        session.run()
    finally:
        session.close()
    return metrics, session, generate_latest(metrics.registry).decode()


def test_run_metrics_count_what_the_run_did(run_metrics: tuple[RunMetrics, RunSession, str]) -> None:
    _metrics, session, text = run_metrics
    m = _samples(text)
    cam = 'camera_id="sample-ql1a-km1234"'
    assert m[f"detector_frames_processed_total{{{cam}}}"] == 12
    assert m[f"detector_frames_in_total{{{cam}}}"] >= 12
    assert m[f"detector_frames_dropped_total{{{cam}}}"] == 0  # a replay waits for the loop
    for stage in ("track", "rules", "output"):
        assert m[f'detector_stage_seconds_count{{{cam},stage="{stage}"}}'] == 12
    detected = session.summary.times.detected_frames
    assert m[f'detector_stage_seconds_count{{{cam},stage="detect"}}'] == detected
    total_track = m[f'detector_stage_seconds_sum{{{cam},stage="track"}}']
    assert total_track == pytest.approx(session.summary.times.track, rel=1e-6)
    assert 0 < m[f'detector_stage_seconds_sum{{{cam},stage="detect"}}'] <= session.summary.times.detect
    assert m[f'detector_frame_latency_seconds_bucket{{{cam},le="+Inf"}}'] == 12
    assert m[f"detector_bundles_written_total{{{cam}}}"] == 0


def test_latency_histogram_is_rebinned_without_losing_an_observation() -> None:
    h = LatencyHistogram()
    for ms in (3, 9.99, 10, 24, 60, 150, 7000, 20000):
        h.add(ms / 1000)
    fam = latency_family("x_seconds", "doc", h, "c")
    buckets = {s.labels["le"]: s.value for s in fam.samples if s.name == "x_seconds_bucket"}
    assert buckets["0.01"] == 2  # 3 and 9.99 ms; 10 ms lies in the [10, 11) bin: above le=0.01
    assert buckets["0.025"] == 4 and buckets["0.1"] == 5 and buckets["0.2"] == 6
    assert buckets["6.4"] == 6 and buckets["+Inf"] == 8
    values = list(buckets.values())
    assert values == sorted(values)


def test_command_line_telemetry_overrides() -> None:
    base = TelemetryConfig()
    assert telemetry_overrides(base, None, None) is base
    t = telemetry_overrides(base, 9109, "broker.lan:1884")
    assert (t.metrics_port, t.mqtt_enabled, t.mqtt_host, t.mqtt_port) == (9109, True, "broker.lan", 1884)
    assert telemetry_overrides(base, None, "10.0.0.5").mqtt_port == 1883
    with pytest.raises(ConfigError, match="port 'x'"):
        telemetry_overrides(base, None, "host:x")
    with pytest.raises(ConfigError, match="HOST"):
        telemetry_overrides(base, None, ":1883")


def test_grafana_dashboard_queries_only_exported_metrics(
    run_metrics: tuple[RunMetrics, RunSession, str], tmp_path: Path, keys: Keys
) -> None:
    _m, _s, run_text = run_metrics
    api = make_api(f"sqlite:///{tmp_path / 'm.db'}", tmp_path, keys)
    api.store.services.heartbeats.record_heartbeat(
        Heartbeat(camera_id="c", at=datetime.now(UTC), interval_s=5, uptime_s=1, frames=1, fps=1, dropped=0,
                  queue_depth=0, latency_p50_ms=1, latency_p95_ms=1, disk_free_bytes=1, outbox_backlog=0)
    )  # fmt: skip
    serve_text = api.client.get("/metrics").text
    api.client.close()
    api.store.services.close()
    exported = {
        s.name
        for text in (run_text, serve_text)
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    exported |= {f.name for text in (run_text, serve_text) for f in text_string_to_metric_families(text)}
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs.append(dashboard["templating"]["list"][1]["query"]["query"])
    named = {n for e in exprs for n in re.findall(r"\bdetector_[a-z0-9_]+", e)}
    assert len(named) >= 15
    assert sorted(named - exported) == []
