"""Wiring: one `StoreServices` per process, built at the CLI/API edge from a `StoreConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from detector.config import StoreConfig
from detector.fsutil import atomic_write_text
from detector.store.bundles import load_trusted_keys
from detector.store.db import Clock, Database, require_schema, utc_now
from detector.store.fines import FineSchedule, default_schedule
from detector.store.heartbeat import HeartbeatService
from detector.store.hotlists import HotlistService
from detector.store.ingest import IngestService
from detector.store.keyring import KeyringService
from detector.store.notices import NoticeService
from detector.store.payments import PaymentService
from detector.store.portal import load_secret
from detector.store.queries import FeedQueries
from detector.store.registry import FileVehicleRegistry, RoutingTable
from detector.store.review import ReviewService
from detector.store.sections import SectionStore
from detector.store.tokens import TokenService
from detector.store.traffic import TrafficStatsService


@dataclass(frozen=True)
class StoreServices:
    config: StoreConfig
    db: Database
    clock: Clock
    ingest: IngestService
    review: ReviewService
    payments: PaymentService
    feed: FeedQueries
    tokens: TokenService
    notices: NoticeService
    hotlists: HotlistService
    keyring: KeyringService
    heartbeats: HeartbeatService
    traffic: TrafficStatsService
    sections: SectionStore

    def close(self) -> None:
        self.db.dispose()


def build_services(
    config: StoreConfig,
    *,
    clock: Clock = utc_now,
    db: Database | None = None,
    schedule: FineSchedule | None = None,
    check_schema: bool = True,
) -> StoreServices:
    """Everything the API and CLI need. The database must be at the head migration."""
    db = db or Database.from_url(config.url)
    if check_schema:
        require_schema(db.engine)
    keys = load_trusted_keys(config.trusted_keys)
    payments = PaymentService(db, clock)
    return StoreServices(
        config=config,
        db=db,
        clock=clock,
        ingest=IngestService(db, config, keys, clock),
        review=ReviewService(db, schedule or default_schedule(), clock),
        payments=payments,
        feed=FeedQueries(db, config.evidence_dir),
        tokens=TokenService(db, clock),
        notices=build_notice_service(config, db, clock, payments),
        hotlists=HotlistService(db, clock, config.network.hotlist_topic_prefix),
        keyring=KeyringService(db, clock),
        heartbeats=HeartbeatService(db, clock, config.camera_health.keep_days),
        traffic=TrafficStatsService(db),
        sections=SectionStore(
            db,
            clock,
            config.evidence_dir,
            detecting_unit=config.detecting_unit,
            topic_prefix=config.mqtt.topic_prefix,
        ),
    )


def build_notice_service(
    config: StoreConfig, db: Database, clock: Clock, payments: PaymentService
) -> NoticeService:
    nc = config.network.notices
    if nc.notices_dir is None:
        nc = nc.model_copy(update={"notices_dir": str(Path(config.evidence_dir).parent / "notices")})
    return NoticeService(
        db=db,
        config=nc,
        evidence_dir=Path(config.evidence_dir),
        clock=clock,
        payments=payments,
        registry=FileVehicleRegistry.load(nc.registry_file),
        routing=RoutingTable.load(nc.routing_file),
        secret=load_secret(nc.payment_secret_file) if nc.payment_secret_file else None,
    )


def open_embedded_store(root: Path, trusted_keys: Path, *, clock: Clock = utc_now) -> StoreServices:
    """The edge box's own store: SQLite in `root`, migrated to head, trusting the keys in `trusted_keys`."""
    from detector.store.db import upgrade

    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = StoreConfig(
        url=f"sqlite:///{(root / 'violations.db').resolve()}",
        evidence_dir=str((root / "evidence").resolve()),
        quarantine_dir=str((root / "quarantine").resolve()),
        trusted_keys=str(trusted_keys.resolve()),
    )
    db = Database.from_url(config.url)
    upgrade(db.engine)
    # so `detector review/fines/serve --store-config <root>/store.yaml` reach the same store
    text = yaml.safe_dump(
        config.model_dump(include={"url", "evidence_dir", "quarantine_dir", "trusted_keys"})
    )
    atomic_write_text(root / "store.yaml", text)
    return build_services(config, clock=clock, db=db)
