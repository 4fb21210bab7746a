"""Engine, sessions and migrations: the same code on embedded SQLite and central PostgreSQL.

SQLite: WAL journal, foreign keys on, a busy timeout, and write transactions that start with
`BEGIN IMMEDIATE` so two writers queue instead of failing on a lock upgrade. PostgreSQL: plain
READ COMMITTED transactions; the services lock rows (`SELECT ... FOR UPDATE`) or use conditional
updates where they need to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from detector.errors import ConfigError, DetectorError

log = logging.getLogger(__name__)

#: A source of "now" (aware UTC). Services take one so tests control time.
Clock = Callable[[], datetime]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HEAD_REVISION = "0007"


def utc_now() -> datetime:
    """The wall clock; only the CLI and API edges pass this to the services."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only; SQLite gives its -wal and
    -shm files the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise ConfigError(f"store database {path}: cannot create it: {exc.strerror or exc}") from exc


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for a SQLite or PostgreSQL URL (`postgresql://` is mapped to psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"store url {url!r}: not a database URL ({exc})") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            _private_file(Path(db))
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)
    raise ConfigError(f"store url {url!r}: only sqlite and postgresql are supported, got {backend}")


class Database:
    """Sessions for reads (`session`) and serialised-enough writes (`write`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._reads = sessionmaker(bind=engine, expire_on_commit=False)
        write_bind = engine.execution_options(sqlite_immediate=True) if self.dialect == "sqlite" else engine
        self._writes = sessionmaker(bind=write_bind, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session; closing it ends the transaction and leaves loaded objects readable."""
        with self._reads() as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: commit on success, roll back on any error."""
        with self._writes() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the numbered migrations up to `revision` (alembic's API, this package's scripts)."""
    from alembic import command

    cfg = _alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except DBAPIError as exc:
        raise DetectorError(f"migration to {revision} failed: {db_error_line(engine, exc)}") from exc
    log.info("database %s at revision %s", engine.url.render_as_string(hide_password=True), revision)


def db_error_line(engine: Engine, exc: BaseException) -> str:
    """One line naming the database (password hidden) and the driver's first line of complaint."""
    orig = getattr(exc, "orig", None) or exc
    first = next((ln.strip() for ln in str(orig).splitlines() if ln.strip()), type(orig).__name__)
    return f"database {engine.url.render_as_string(hide_password=True)}: {first}"


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        raise DetectorError(db_error_line(engine, exc)) from exc


def require_schema(engine: Engine) -> None:
    """Fail with a clear message when the database has not been upgraded to head."""
    rev = current_revision(engine)
    if rev != HEAD_REVISION:
        raise ConfigError(
            f"database {engine.url.render_as_string(hide_password=True)} is at revision {rev}, "
            f"expected {HEAD_REVISION}: run `detector db upgrade`"
        )
