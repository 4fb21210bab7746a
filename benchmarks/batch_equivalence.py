"""A dozen videos through `detector replay-batch` (a local Dask cluster, one worker killed mid-run)
against the same videos replayed one at a time with `detector replay`: the same violations?

The videos: every real clip with a camera config in `configs/` (data in ../shared/data), the sample
scene, the UA-DETRAC 69-frame test clip under the intersection's config, and two clips generated
from the sample scene's script with other seeds (other plates, textures, brightness): 12 in all.
Each is cut to `--frames` frames (the sample to `--sample-frames`, default all 420: its six
violations), so the whole run stays within tens of minutes on a loaded 2-core box.

1. solo: `detector replay VIDEO --config CFG --max-frames N --no-preview --no-store --key KEYS`,
   one video at a time (two subprocesses at once);
2. batch: `detector replay-batch MANIFEST --workers 2 --store-config PG` into a fresh PostgreSQL
   database; while it runs, the worker process replaying `--kill-video` is found by the video file it
   holds open and SIGKILLed once it has read `--kill-at` of the file (an outside kill, not the
   task's own drill);
3. compare per video: the track records (tracks.jsonl, byte for byte), the violations (type,
   track, class, frame, time, zone, measured values) and the plate each bundle read; the store holds each batch violation once (event ids) and nothing else.

    nice -n 19 python benchmarks/batch_equivalence.py [--work DIR] [--frames 150] [--write FILE]

Exit 1 when any video differs, the kill did not happen, or the store is wrong.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from detector.sample.render import write_scene_clip

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@dataclass(frozen=True)
class Video:
    name: str
    config: Path
    video: Path | None = None  # None: the config's own source
    camera_id: str | None = None
    frames: int | None = None


def videos(frames: int, work: Path, sample_frames: int | None = None) -> list[Video]:
    """The dozen; the sample runs whole (420 frames: its six violations) unless `sample_frames`."""
    cfg = REPO / "configs"
    real = [
        ("bgs-video02", "bgs_video02.yaml", frames),
        ("bgs-video03", "bgs_video03.yaml", frames),
        ("makassar-night", "id_makassar_night.yaml", frames),
        ("intel-cars", "intel_car_detection.yaml", frames),
        ("uadetrac-intersection", "ua_detrac_intersection.yaml", frames),
        ("bkav-wrongway", "vn_bkav_boulevard_wrongway.yaml", frames),
        ("bkav-hanoi", "vn_bkav_hanoi_stopline.yaml", frames),
        ("davidbeckiet-redlight", "vn_davidbeckiet_redlight.yaml", frames),
    ]
    out = [Video(name, cfg / file, frames=n) for name, file, n in real]
    out.append(
        Video(
            "uadetrac-69f",
            cfg / "ua_detrac_intersection.yaml",
            DATA / "ua-detrac-evadb-sample" / "clips" / "test_ua_detrac_69f.mp4",
            camera_id="uadetrac-69f",
        )
    )
    out.append(Video("sample", cfg / "sample_scene.yaml", frames=sample_frames))
    for seed in (7, 11):
        clip = work / f"generated_seed{seed}.mp4"
        if not clip.exists():
            write_scene_clip(clip, seed, frames)
        out.append(Video(f"generated-{seed}", cfg / "sample_scene.yaml", clip, f"generated-seed{seed}"))
    missing = [str(v.video or v.config) for v in out if v.video is not None and not v.video.exists()]
    if missing or not DATA.is_dir():
        sys.exit(f"real data missing ({DATA}): {missing}")
    return out


def _detector(*args: str) -> list[str]:
    return [sys.executable, "-m", "detector", *args]


def solo(v: Video, out: Path, keys: Path) -> dict[str, object]:
    cmd = _detector("replay", "--config", str(v.config), "--out", str(out), "--no-preview", "--no-store")
    cmd += ["--key", str(keys), "--json", "--accept-gaps"]
    if v.video is not None:
        cmd.insert(4, str(v.video))  # after "replay"
    if v.frames:
        cmd += ["--max-frames", str(v.frames)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"solo replay of {v.name} failed: {proc.stderr[-2000:]}")
    return {"wall_s": time.perf_counter() - t0}


def manifest(vids: list[Video], path: Path) -> None:
    import yaml

    entries = []
    for v in vids:
        e: dict[str, object] = {"config": str(v.config), "name": v.name}
        if v.video is not None:
            e["video"] = str(v.video)
        if v.camera_id:
            e["camera_id"] = v.camera_id
        if v.frames:
            e["max_frames"] = v.frames
        entries.append(e)
    path.write_text(yaml.safe_dump({"videos": entries}), encoding="utf-8")


class Killer(threading.Thread):
    """SIGKILLs the worker process (a descendant of `root`) that holds `video` open, once it has read
    `at` of the file: a worker lost mid-video as the OOM killer or a lost node would lose it."""

    def __init__(self, root: int, video: Path, at: float) -> None:
        super().__init__(daemon=True)
        self.root, self.video, self.at = root, video.resolve(), at
        self.size = self.video.stat().st_size
        self.killed: dict[str, object] | None = None
        self.done = threading.Event()

    def _holder(self) -> tuple[int, int] | None:
        import psutil

        try:
            procs = psutil.Process(self.root).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        for p in procs:
            fd_dir = Path(f"/proc/{p.pid}/fd")
            try:
                for fd in fd_dir.iterdir():
                    if Path(os.readlink(fd)) == self.video:
                        info = Path(f"/proc/{p.pid}/fdinfo/{fd.name}").read_text()
                        pos = int(info.split("pos:")[1].split()[0])
                        return p.pid, pos
            except (OSError, ValueError, IndexError):
                continue
        return None

    def run(self) -> None:
        while not self.done.is_set():
            found = self._holder()
            if found is not None and found[1] >= self.at * self.size:
                pid, pos = found
                os.kill(pid, signal.SIGKILL)
                self.killed = {"pid": pid, "read": round(pos / self.size, 2), "at": time.time()}
                print(f"killed worker {pid} at {pos / self.size:.0%} of {self.video.name}", flush=True)
                return
            self.done.wait(0.5)


def batch(man: Path, out: Path, keys: Path, store_cfg: Path, kill: Video, at: float) -> tuple[list, dict]:
    cmd = _detector("replay-batch", str(man), "--out", str(out), "--key", str(keys))
    cmd += ["--store-config", str(store_cfg), "--workers", "2", "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    video = kill.video or _config_source(kill.config)
    killer = Killer(proc.pid, video, at)
    killer.start()
    stdout, stderr = proc.communicate()
    killer.done.set()
    if proc.returncode != 0:
        raise RuntimeError(f"replay-batch failed ({proc.returncode}): {stderr[-3000:]}")
    return json.loads(stdout), {"wall_s": time.perf_counter() - t0, "killed": killer.killed}


def _config_source(config: Path) -> Path:
    from detector.config import load_camera_config

    return Path(load_camera_config(config).source.uri)


def violations(folder: Path) -> list[tuple]:
    """A run's violations, camera id and event key left out (a batch entry may rename its camera),
    each with the plate its bundle read."""
    plates: dict[str, str] = {}
    for m in (folder / "evidence").glob("**/manifest.json"):
        d = json.loads(m.read_text(encoding="utf-8"))
        plates[d["event_key"]] = (d.get("plate") or {}).get("text") or ""
    rows = []
    path = folder / "violations.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        measured = json.dumps(r["measured"], sort_keys=True)
        key = (r["type"], r["track_id"], r["vehicle_class"], r["frame"], r["t"], r["zone_id"], measured)
        rows.append((*key, plates.get(r["event_key"], "(no bundle)")))
    return sorted(rows)


def stored(url: str) -> dict[str, list[str]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT camera_id, event_id FROM violations")).all()
    engine.dispose()
    by_cam: dict[str, list[str]] = {}
    for cam, eid in rows:
        by_cam.setdefault(cam, []).append(eid)
    return by_cam


def _pg_store(work: Path, trusted: Path) -> tuple[str, Path, str]:
    import psycopg
    import yaml

    from detector.store.db import Database, upgrade

    name = f"detector_equiv_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    db = Database.from_url(url)
    upgrade(db.engine)
    db.dispose()
    cfg = work / "store.yaml"
    central = work / "central"
    cfg.write_text(
        yaml.safe_dump(
            {
                "url": url,
                "evidence_dir": str(central / "evidence"),
                "quarantine_dir": str(central / "quarantine"),
                "trusted_keys": str(trusted),
            }
        ),
        encoding="utf-8",
    )
    return name, cfg, url


def compare(vids: list[Video], work: Path, report: list[dict], in_store: dict[str, list[str]]) -> list[dict]:
    from detector.evidence.manifest import event_id_for

    by_name = {r["name"]: r for r in report}
    rows = []
    for v in vids:
        r = by_name[v.name]
        a, b = violations(work / "solo" / v.name), violations(work / "batch" / v.name)
        keys = [json.loads(ln)["event_key"] for ln in (work / "batch" / v.name / "violations.jsonl").open()]
        ids = sorted(event_id_for(k) for k in keys)
        held = sorted(in_store.get(r["camera_id"], []))
        rows.append(
            {
                "name": v.name,
                "camera": r["camera_id"],
                "frames": r["frames"],
                "solo": len(a),
                "batch": len(b),
                "same": a == b,
                "tracks": _tracks(work / "batch" / v.name)[0],
                "tracks_same": _tracks(work / "solo" / v.name) == _tracks(work / "batch" / v.name),
                "types": sorted({x[0] for x in b}),
                "attempts": r["attempts"],
                "stored": len(held),
                "store_ok": held == ids,
                "error": r["error"],
            }
        )
    return rows


def _tracks(folder: Path) -> tuple[int, str]:
    """Track records (a line per tracked box per frame) and the sha256 of the file."""
    import hashlib

    data = (folder / "tracks.jsonl").read_bytes()
    return data.count(b"\n"), hashlib.sha256(data).hexdigest()


def table(rows: list[dict]) -> str:
    lines = [
        "| video | camera id | frames | track records (identical bytes) | violations alone | "
        "violations in the batch | same | types | attempts | in the store (once each) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['camera']} | {r['frames']} | {r['tracks']} ({'yes' if r['tracks_same'] else '**no**'}) | "
            f"{r['solo']} | {r['batch']} | "
            f"{'yes' if r['same'] else '**no**'} | {', '.join(r['types']) or '-'} | {r['attempts']} | "
            f"{r['stored']} {'yes' if r['store_ok'] else '**no**'} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temp folder)")
    ap.add_argument("--frames", type=int, default=150, help="frames per video but the sample")
    ap.add_argument("--sample-frames", type=int, default=None, help="frames of the sample (default all)")
    ap.add_argument("--kill-video", default="sample", help="the video whose worker is killed")
    ap.add_argument("--kill-at", type=float, default=0.4, help="share of the file read at the kill")
    ap.add_argument("--only", default=None, help="comma-separated video names (a quick check)")
    ap.add_argument("--write", type=Path, default=None, help="also write the report (markdown) here")
    args = ap.parse_args()

    from machine import machine_line

    from detector.evidence.keys import PUBLIC_NAME, write_key_pair

    work = args.work or Path(tempfile.mkdtemp(prefix="batch_equiv_"))
    work.mkdir(parents=True, exist_ok=True)
    load0, started = os.getloadavg()[0], time.perf_counter()
    vids = videos(args.frames, work, args.sample_frames)
    if args.only:
        vids = [v for v in vids if v.name in args.only.split(",")]
    keys, trusted = work / "keys", work / "trusted"
    if not keys.exists():
        write_key_pair(keys)
    trusted.mkdir(exist_ok=True)
    shutil.copyfile(keys / PUBLIC_NAME, trusted / "batch.pub")
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda v: solo(v, work / "solo" / v.name, keys), vids))
    solo_wall = time.perf_counter() - t0
    print(f"solo replays done in {solo_wall:.0f} s", flush=True)
    man = work / "batch.yaml"
    manifest(vids, man)
    kill = next(v for v in vids if v.name == args.kill_video)
    db_name, store_cfg, url = _pg_store(work, trusted)
    try:
        report, info = batch(man, work / "batch", keys, store_cfg, kill, args.kill_at)
        in_store = stored(url)
    finally:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    rows = compare(vids, work, report, in_store)
    extra = sorted(set(in_store) - {r["camera"] for r in rows})
    total = sum(len(x) for x in in_store.values())
    ok = all(r["same"] and r["tracks_same"] and r["store_ok"] and not r["error"] for r in rows) and not extra
    killed_ok = info["killed"] is not None and by(rows, kill.name)["attempts"] == 2
    text = "\n".join(
        [
            f"Machine: {machine_line()}; load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
            f"whole run {time.perf_counter() - started:.0f} s (solo replays {solo_wall:.0f} s, "
            f"batch {info['wall_s']:.0f} s, 2 workers of 1 CPU).",
            f"Worker killed: {json.dumps(info['killed'])} while replaying `{kill.name}` "
            f"(attempts of that video: {by(rows, kill.name)['attempts']}).",
            f"Store: {total} violations, {sum(len(set(x)) for x in in_store.values())} distinct event ids, "
            f"cameras not in the batch: {extra or 'none'}.",
            "",
            table(rows),
            "",
            f"Result: {'the same violations alone and in the batch' if ok else 'DIFFERENCES'}; "
            f"kill {'retried' if killed_ok else 'NOT exercised'}.",
        ]
    )
    print(text)
    if args.write:
        args.write.write_text(text + "\n", encoding="utf-8")
    if not (ok and killed_ok):
        sys.exit(1)


def by(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["name"] == name)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py
    main()
