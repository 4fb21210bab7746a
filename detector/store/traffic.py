"""Traffic statistics in the store: rows per camera, interval, lane and class; a recomputed
interval replaces the rows it had (so re-running a camera's tracks never counts twice)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field
from sqlalchemy import delete, select

from detector.base import FrozenModel
from detector.network.stats import TrafficStat
from detector.store.db import Database
from detector.store.network_models import TrafficStatRow


class TrafficStatView(FrozenModel):
    camera_id: str = Field(description="Camera")
    interval_start: datetime = Field(description="Start of the interval (UTC)")
    interval_s: float = Field(description="Length of the interval, seconds")
    lane_id: str = Field(description="Lane id, or off_lane")
    vehicle_class: str = Field(description="car, truck, ...; 'all' on the lane rows")
    count: int = Field(description="Vehicles that crossed the counting line")
    speed_median_kmh: float | None = Field(description="Median spot speed at the line")
    speed_p85_kmh: float | None = Field(description="85th-percentile spot speed")
    occupancy: float | None = Field(
        description="Share of the interval the virtual loop was occupied (lane rows)"
    )
    queue_max_m: float | None = Field(description="Longest queue at the stop line, metres (lane rows)")
    congestion: str | None = Field(description="free, moderate, heavy, jammed (lane rows)")


class TrafficStatsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, stats: Sequence[TrafficStat]) -> int:
        with self.db.write() as s:
            for cam, start in {(x.camera_id, x.interval_start) for x in stats}:
                s.execute(
                    delete(TrafficStatRow).where(
                        TrafficStatRow.camera_id == cam, TrafficStatRow.interval_start == start
                    )
                )
            for x in stats:
                s.add(TrafficStatRow(**{n: getattr(x, n) for n in TrafficStatView.model_fields}))
        return len(stats)

    def query(
        self,
        camera_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 5000,
    ) -> list[TrafficStatView]:
        with self.db.session() as s:
            q = select(TrafficStatRow)
            if camera_id is not None:
                q = q.where(TrafficStatRow.camera_id == camera_id)
            if since is not None:
                q = q.where(TrafficStatRow.interval_start >= since)
            if until is not None:
                q = q.where(TrafficStatRow.interval_start < until)
            q = q.order_by(
                TrafficStatRow.camera_id,
                TrafficStatRow.interval_start,
                TrafficStatRow.lane_id,
                TrafficStatRow.vehicle_class,
            ).limit(limit)
            return [
                TrafficStatView(**{n: getattr(r, n) for n in TrafficStatView.model_fields})
                for r in s.scalars(q)
            ]
