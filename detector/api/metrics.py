"""The figures `/metrics` of `detector serve` reports (Prometheus text format, `prometheus-client`).

Read from the store at scrape time, so every replica and restart reports the same truth:
violations by camera, type and review status, fines by status, bundles accepted and rejected at
ingest (quarantine), the MQTT outbox backlog, and every camera's last heartbeat (up, fps, drops,
queue depth, latency, disk, the box's own outbox backlog, heartbeat age). Counts and figures only,
no plates or personal data, so the endpoint needs no token (as Prometheus scrapes expect).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from detector.store.models import Fine, QuarantineEntry, ViolationRow
from detector.store.outbox import pending_messages
from detector.store.services import StoreServices

log = logging.getLogger(__name__)

_CAMERA_FIGURES = (
    ("fps", "detector_camera_fps", "Frames processed per second (since the run started)"),
    ("dropped", "detector_camera_dropped_frames", "Frames the capture queue dropped (loop too slow)"),
    ("queue_depth", "detector_camera_queue_depth", "Frames waiting in the capture queue"),
    ("evidence_pending", "detector_camera_evidence_pending", "Violations waiting for their bundle"),
    ("disk_free_bytes", "detector_camera_disk_free_bytes", "Free bytes where the box writes evidence"),
    ("outbox_backlog", "detector_camera_outbox_backlog", "The box's violations not yet published"),
)


class StoreCollector(Collector):
    def __init__(self, services: StoreServices) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        svc = self.services
        violations = GaugeMetricFamily(
            "detector_violations", "Violations in the store", labels=["camera_id", "violation_type", "status"]
        )
        fines = GaugeMetricFamily("detector_fines", "Fines in the store", labels=["status"])
        accepted = CounterMetricFamily("detector_bundles_ingested", "Evidence bundles accepted at ingest")
        rejected = CounterMetricFamily(
            "detector_ingest_rejections", "Bundles rejected at ingest (kept in quarantine)"
        )
        with svc.db.session() as s:
            total = 0
            for cam, vtype, status, n in s.execute(
                select(
                    ViolationRow.camera_id, ViolationRow.violation_type, ViolationRow.status, func.count()
                ).group_by(ViolationRow.camera_id, ViolationRow.violation_type, ViolationRow.status)
            ):
                violations.add_metric([cam, vtype, status], n)
                total += n
            for status, n in s.execute(select(Fine.status, func.count()).group_by(Fine.status)):
                fines.add_metric([status], n)
            quarantined = s.scalar(select(func.count()).select_from(QuarantineEntry)) or 0
        accepted.add_metric([], total)
        rejected.add_metric([], quarantined)
        yield from (violations, fines, accepted, rejected)
        yield GaugeMetricFamily(
            "detector_outbox_backlog",
            "Violations not yet acknowledged by the MQTT broker",
            value=pending_messages(svc.db),
        )
        yield from self._cameras()

    def _cameras(self) -> Iterator[Metric]:
        cams = self.services.heartbeats.cameras()
        now = self.services.clock()
        up = GaugeMetricFamily(
            "detector_camera_up", "1 while the camera's box is online and not stale", labels=["camera_id"]
        )
        age = GaugeMetricFamily(
            "detector_camera_heartbeat_age_seconds", "Seconds since the last heartbeat", labels=["camera_id"]
        )
        latency = GaugeMetricFamily(
            "detector_camera_latency_p95_seconds",
            "Capture to decision, 95th percentile",
            labels=["camera_id"],
        )
        figures = {
            key: GaugeMetricFamily(name, doc, labels=["camera_id"]) for key, name, doc in _CAMERA_FIGURES
        }
        for c in cams:
            up.add_metric([c.camera_id], 1.0 if c.status == "online" and not c.stale else 0.0)
            if c.heartbeat is None or c.received_at is None:
                continue
            age.add_metric([c.camera_id], (now - c.received_at).total_seconds())
            latency.add_metric([c.camera_id], c.heartbeat.latency_p95_ms / 1000.0)
            for key, fam in figures.items():
                fam.add_metric([c.camera_id], float(getattr(c.heartbeat, key)))
        yield from (up, age, latency, *figures.values())


def metrics_registry(services: StoreServices) -> CollectorRegistry:
    """A registry of the store's figures, its own (so several apps in one process do not clash);
    `GET /metrics` (`detector.api.routes.meta`) serves it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(services))
    return registry
