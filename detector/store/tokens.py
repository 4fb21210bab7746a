"""API bearer tokens: random secrets shown once, stored as sha256, each with one role and an expiry."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from detector.store.db import Clock, Database
from detector.store.errors import InvalidRequest
from detector.store.models import ApiToken

TOKEN_PREFIX = "dtk_"


class Role(StrEnum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    PAYMENTS = "payments"
    INGEST = "ingest"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewToken:
    secret: str
    info: TokenInfo


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TokenService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, name: str, role: str, ttl: timedelta) -> NewToken:
        try:
            r = Role(role)
        except ValueError as exc:
            raise InvalidRequest(f"role {role!r}: expected one of {[x.value for x in Role]}") from exc
        if ttl <= timedelta(0):
            raise InvalidRequest(f"token lifetime must be positive, got {ttl}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.write() as s:
            t = ApiToken(
                name=name,
                role=r.value,
                token_sha256=token_hash(secret),
                created_at=now,
                expires_at=now + ttl,
                revoked=False,
            )
            s.add(t)
            s.flush()
            info = TokenInfo(t.id, name, r, t.expires_at)
        return NewToken(secret, info)

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The token's info, or None when unknown, revoked or expired."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        with self.db.session() as s:
            t = s.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_hash(secret))).first()
            if t is None or t.revoked or t.expires_at <= self.clock():
                return None
            return TokenInfo(t.id, t.name, Role(t.role), t.expires_at)

    def revoke(self, token_id: int) -> bool:
        with self.db.write() as s:
            return (
                cast(
                    CursorResult[Any],
                    s.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked=True)),
                ).rowcount
                == 1
            )
