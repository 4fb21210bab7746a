"""Store benchmark: plate lookup latency over >= 1 million violations and fines, and ingest rate,
on SQLite and PostgreSQL in the same run.

    .venv/bin/python benchmarks/bench_store.py [--rows 1000000] [--bundles 40] [--write]

Scratch stores only: a temp SQLite file and a fresh PostgreSQL database (dropped at the end).
Rows are bulk-loaded (sqlite3 executemany in one transaction; PostgreSQL COPY), then:
  - lookup: `PaymentService.lookup` (normalised key, B-tree index) p50/p99 over random plates, against
    its peer, a `LIKE '%...%'` scan on the display text (what a store without the key would do);
  - ingest: real signed bundles (BundleWriter) verified and ingested, bundles/s;
and prints the ratios (indexed vs scan, SQLite vs PostgreSQL) and the machine.
`--write` also writes benchmarks/results/store.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import machine_line  # noqa: E402 - benchmarks/machine.py (scripts run by path)

from detector.config import EvidenceConfig, StoreConfig  # noqa: E402
from detector.evidence.keys import Ed25519Signer, key_id_of  # noqa: E402,F401
from detector.evidence.synthetic import camera_info, models, write_bundles  # noqa: E402
from detector.evidence.writer import BundleWriter  # noqa: E402
from detector.store.db import Database, upgrade, utc_now  # noqa: E402
from detector.store.ingest import IngestService  # noqa: E402
from detector.store.payments import PaymentService, plate_key  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
LETTERS = "ABCDEFGHKLMNPSTUVXYZ"
V_COLS = (
    "id",
    "event_id",
    "camera_id",
    "sequence",
    "manifest_sha256",
    "violation_type",
    "vehicle_class",
    "plate_text",
    "plate_normalized",
    "plate_colour",
    "plate_confidence",
    "occurred_at",
    "location",
    "detecting_unit",
    "measured_json",
    "needs_review",
    "review_hints_json",
    "bundle_dir",
    "status",
    "ingested_at",
)
F_COLS = (
    "id",
    "violation_id",
    "notice_no",
    "plate_text",
    "plate_normalized",
    "plate_colour",
    "vehicle_type",
    "occurred_at",
    "place",
    "violation_text",
    "legal_basis",
    "detecting_unit",
    "amount_min_vnd",
    "amount_max_vnd",
    "amount_due_vnd",
    "points",
    "status",
    "issued_at",
)


#: Secondary indexes dropped during the bulk load and rebuilt after (the usual bulk-load practice);
#: the same definitions as migration 0001.
INDEXES = (
    ("ix_violations_plate_normalized", "violations", "plate_normalized"),
    ("ix_violations_camera_sequence", "violations", "camera_id, sequence"),
    ("ix_violations_status", "violations", "status"),
    ("ix_fines_plate_normalized", "fines", "plate_normalized"),
)


def plates(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """(display, normalised) Vietnamese-style car plates, e.g. ('51F-123.45', '51F12345')."""
    out = set()
    while len(out) < n:
        area, series, num = rng.randint(11, 99), rng.choice(LETTERS), rng.randint(0, 99999)
        out.add((f"{area}{series}-{num // 100:03d}.{num % 100:02d}", f"{area}{series}{num:05d}"))
    return sorted(out)


def rows(n: int, pool: list[tuple[str, str]], rng: random.Random):  # noqa: ANN201
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        disp, key = pool[rng.randrange(len(pool))]
        ts = t0 + timedelta(seconds=i * 17)
        v = (
            i,
            str(uuid.UUID(int=i)),
            f"cam{i % 50}",
            i,
            f"{i:064x}",
            "red_light",
            "car",
            disp,
            key,
            "white",
            0.9,
            ts,
            "Q1 HCM",
            "CSGT",
            "{}",
            False,
            "{}",
            f"cam{i % 50}/{i:08d}",
            "confirmed",
            ts,
        )
        f = (
            i,
            i,
            f"TB-{i:010d}",
            disp,
            key,
            "white",
            "Xe ô tô",
            ts,
            "Q1 HCM",
            "Red light",
            "Art. 6(9)(b)",
            "CSGT",
            18_000_000,
            20_000_000,
            19_000_000,
            4,
            "unpaid",
            ts,
        )
        yield v, f


def load_sqlite(path: str, n: int, pool: list[tuple[str, str]]) -> float:
    t = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")

    def fmt(r: tuple) -> tuple:
        return tuple(x.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(x, datetime) else x for x in r)

    for name, _, _ in INDEXES:
        con.execute(f"DROP INDEX {name}")
    batch_v, batch_f = [], []
    vq = f"INSERT INTO violations ({','.join(V_COLS)}) VALUES ({','.join('?' * len(V_COLS))})"
    fq = f"INSERT INTO fines ({','.join(F_COLS)}) VALUES ({','.join('?' * len(F_COLS))})"
    with con:
        for v, f in rows(n, pool, random.Random(1)):
            batch_v.append(fmt(v))
            batch_f.append(fmt(f))
            if len(batch_v) == 50_000:
                con.executemany(vq, batch_v)
                con.executemany(fq, batch_f)
                batch_v, batch_f = [], []
        con.executemany(vq, batch_v)
        con.executemany(fq, batch_f)
        for name, table, cols in INDEXES:
            con.execute(f"CREATE INDEX {name} ON {table} ({cols})")
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - t


def load_postgres(dsn: str, n: int, pool: list[tuple[str, str]], *, partitioned: bool = True) -> float:
    import psycopg

    t = time.perf_counter()
    with psycopg.connect(dsn) as con:
        with con.cursor() as cur:
            # migration 0005 partitions violations by month: one partition per month of the data
            # (rows from 2025-01-01, one every 17 s), so nothing lands in the default partition
            last = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=n * 17)
            if partitioned:
                cur.execute(
                    "SELECT violations_add_month(m::date) FROM generate_series("
                    "'2025-01-01'::timestamptz, %s, interval '1 month') AS m",
                    (last,),
                )
            for name, _, _ in INDEXES:
                cur.execute(f"DROP INDEX {name}")
            with cur.copy(f"COPY violations ({','.join(V_COLS)}) FROM STDIN") as cp:
                for v, _ in rows(n, pool, random.Random(1)):
                    cp.write_row(v)
            with cur.copy(f"COPY fines ({','.join(F_COLS)}) FROM STDIN") as cp:
                for _, f in rows(n, pool, random.Random(1)):
                    cp.write_row(f)
            for name, table, cols in INDEXES:
                cur.execute(f"CREATE INDEX {name} ON {table} ({cols})")
            for table in ("violations", "fines"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
        con.commit()
        con.autocommit = True
        con.execute("VACUUM ANALYZE violations")
        con.execute("VACUUM ANALYZE fines")
    return time.perf_counter() - t


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def time_lookups(db: Database, queries: list[str], like: list[str]) -> dict[str, float]:
    from sqlalchemy import text

    svc = PaymentService(db, utc_now)
    svc.lookup(queries[0])  # warm the pool
    lat, found = [], 0
    for q in queries:
        t = time.perf_counter()
        found += len(svc.lookup(q))
        lat.append((time.perf_counter() - t) * 1000)
    scan = []
    with db.engine.connect() as conn:
        for q in like:
            t = time.perf_counter()
            conn.execute(text("SELECT id FROM fines WHERE plate_text LIKE :p"), {"p": f"%{q}%"}).all()
            scan.append((time.perf_counter() - t) * 1000)
    keys = [plate_key(q) for q in queries]
    vlat = []
    with db.engine.connect() as conn:
        for k in keys:
            t = time.perf_counter()
            conn.execute(text("SELECT id FROM violations WHERE plate_normalized = :k"), {"k": k}).all()
            vlat.append((time.perf_counter() - t) * 1000)
    return {
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "v_p50": pct(vlat, 50),
        "v_p99": pct(vlat, 99),
        "hits_per_lookup": found / len(queries),
        "scan_p50": pct(scan, 50),
        "scan_p99": pct(scan, 99),
    }


def time_ingest(db: Database, bundle_paths: list[Path], trusted: dict, tmp: Path) -> float:
    cfg = StoreConfig(
        url=str(db.engine.url),
        evidence_dir=str(tmp / "ev"),
        quarantine_dir=str(tmp / "q"),
        trusted_keys=str(tmp),
    )
    svc = IngestService(db, cfg, trusted, utc_now)
    t = time.perf_counter()
    for p in bundle_paths:
        r = svc.ingest_path(p, actor="bench")
        assert r.status == "accepted", r.reason
    return len(bundle_paths) / (time.perf_counter() - t)


def machine() -> str:
    return f"{machine_line()}, SQLite {sqlite3.sqlite_version}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--bundles", type=int, default=40)
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/store.md")
    ap.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql, postgresql:0004 (unpartitioned peer)",
    )
    ap.add_argument("--rounds", type=int, default=1, help="lookup rounds, interleaved over the backends")
    ap.add_argument("--skip-ingest", action="store_true", help="lookups only")
    args = ap.parse_args()

    import psycopg

    rng = random.Random(7)
    pool = plates(max(args.rows // 3, 1000), rng)
    sample = [pool[rng.randrange(len(pool))] for _ in range(args.lookups)]
    forms = [rng.choice((d, k, d.lower().replace("-", " ").replace(".", " "))) for d, k in sample]
    like = [d for d, _ in sample[:15]]

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    signer = Ed25519Signer.generate()
    bundles = write_bundles(
        BundleWriter(
            tmp / "edge",
            signer,
            camera_info("bench-cam"),
            models(),
            "c" * 64,
            config=EvidenceConfig(clip_enabled=False),
        ),
        args.bundles,
    )
    trusted = {key_id_of(signer.public_key): signer.public_key}

    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    pg_names: list[str] = []
    results: dict[str, dict[str, float]] = {}
    dbs: dict[str, Database] = {}
    try:
        for backend in args.backends.split(","):
            # "postgresql:0004" is the peer: the schema before the monthly partitions of 0005
            kind, _, revision = backend.partition(":")
            if kind == "sqlite":
                url = f"sqlite:///{tmp / 'bench.db'}"
            else:
                pg_names.append(f"detector_bench_{uuid.uuid4().hex[:8]}")
                admin.execute(f'CREATE DATABASE "{pg_names[-1]}"')
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_names[-1]}"
            db = Database.from_url(url)
            upgrade(db.engine, revision or "head")
            if kind == "sqlite":
                load_s = load_sqlite(str(tmp / "bench.db"), args.rows, pool)
            else:
                dsn = f"host=127.0.0.1 user=postgres dbname={pg_names[-1]}"
                load_s = load_postgres(dsn, args.rows, pool, partitioned=revision in ("", "head"))
            print(f"{backend}: loaded {args.rows:,} violations + fines in {load_s:.1f} s", flush=True)
            dbs[backend] = db
            results[backend] = {"load_s": load_s}
        rounds: dict[str, list[dict[str, float]]] = {b: [] for b in dbs}
        for _ in range(args.rounds):  # interleaved: every backend sees the same machine load
            for backend, db in dbs.items():
                rounds[backend].append(time_lookups(db, forms, like))
        for backend, db in dbs.items():
            r = results[backend]
            for k in rounds[backend][0]:
                r[k] = sorted(x[k] for x in rounds[backend])[len(rounds[backend]) // 2]
            if not args.skip_ingest:
                r["ingest_per_s"] = time_ingest(db, bundles, trusted, tmp / backend.replace(":", "_"))
            db.dispose()
            print(
                f"{backend}: lookup p50 "
                f"{r['p50']:.2f} ms p99 {r['p99']:.2f} ms ({r['hits_per_lookup']:.1f} fines/plate); LIKE scan "
                f"p50 {r['scan_p50']:.0f} ms; violations by plate p50 {r['v_p50']:.2f} ms p99 {r['v_p99']:.2f} ms; "
                f"ingest {r.get('ingest_per_s', float('nan')):.1f} bundles/s; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        for name in pg_names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)

    if set(results) != {"sqlite", "postgresql"}:
        return
    s, p = results["sqlite"], results["postgresql"]
    busy = f"load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end (shared machine)"
    runtime = time.perf_counter() - started
    lines = [
        "# Store benchmark",
        "",
        f"Machine: {machine()}; PostgreSQL {admin_version()} on the same host; {busy}; "
        f"whole run {runtime:.0f} s.",
        f"Data: {args.rows:,} violations and {args.rows:,} fines per backend, {len(pool):,} distinct plates; "
        f"{args.lookups} lookups by plate in mixed written forms; {args.bundles} signed bundles ingested.",
        f"Command: `.venv/bin/python benchmarks/bench_store.py --rows {args.rows} --bundles {args.bundles}`",
        "",
        "| | SQLite | PostgreSQL | SQLite / PostgreSQL |",
        "|---|---|---|---|",
        f"| bulk load (s) | {s['load_s']:.1f} | {p['load_s']:.1f} | {s['load_s'] / p['load_s']:.2f} |",
        f"| lookup p50 (ms), normalised key + index | {s['p50']:.3f} | {p['p50']:.3f} | {s['p50'] / p['p50']:.2f} |",
        f"| lookup p99 (ms) | {s['p99']:.3f} | {p['p99']:.3f} | {s['p99'] / p['p99']:.2f} |",
        f"| peer: LIKE '%display%' scan p50 (ms) | {s['scan_p50']:.1f} | {p['scan_p50']:.1f} | "
        f"{s['scan_p50'] / p['scan_p50']:.2f} |",
        f"| scan / indexed lookup (p50) | {s['scan_p50'] / s['p50']:.0f}x | {p['scan_p50'] / p['p50']:.0f}x | |",
        f"| ingest (bundles/s, verify + copy + commit) | {s['ingest_per_s']:.1f} | {p['ingest_per_s']:.1f} | "
        f"{s['ingest_per_s'] / p['ingest_per_s']:.2f} |",
        "",
        "Bulk load drops the secondary indexes and rebuilds them after (unique constraints stay). "
        "Lookup latency is `PaymentService.lookup` end to end (normalise, query, build notice views), one "
        "thread. Ingest includes the Ed25519 verify, sha256 of every file, the copy into the store, and the "
        "transaction (violation, files, outbox, audit).",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        out = REPO / "benchmarks" / "results" / "store.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        print(f"wrote {out}")


def admin_version() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN) as c:
        return str(c.execute("SHOW server_version").fetchone()[0])


if __name__ == "__main__":
    main()
