"""The rate limiter's token buckets, kept in the store's database so every API worker process (and
every host behind one load balancer) spends from the same buckets (`detector/store/ratelimit_db.py`)."""

from __future__ import annotations

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from detector.store.orm import Base


class RateBucket(Base):
    """One token bucket: tokens left at `updated` (seconds on the limiter's clock)."""

    __tablename__ = "rate_buckets"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float, nullable=False)
    updated: Mapped[float] = mapped_column(Float, nullable=False)
    full_at: Mapped[float] = mapped_column(Float, nullable=False)  # full again (same as no row) from here
    __table_args__ = (Index("ix_rate_buckets_full_at", "full_at"),)
