"""Vietnamese plate reading on real crops: accuracy, review flags and cost, beside a peer in the same run.

Sets (read-only, from ../shared/data beside the repo):
- vn-plates-1row-bkav: 2,400 one-row crops from real cameras, labels typed by a person.
- vn-plates-vitocolerole: two-row (xemay, ndata) and one-row (CarLongPlate) crops; labels made by an
  OCR program, so they are APPROXIMATE (some are plainly wrong): a rough guide only.

Every set is split by a hash of the plate's text (`part`): sha1(label) % 4 == 0 is the held-out part,
the rest the development part. Splitting by text keeps the consecutive frames of one plate in one part.
Only the development part was looked at while tuning.

Ours = `PlateReader.read_crop` (country vn), as the pipeline reads a crop. Its review flag is what the
voter decides for the single reading. Peer = rapidocr's own API on the raw crop
(``RapidOCR()(crop, use_det=False, use_cls=False, use_rec=True)``), read right after ours on each
crop (interleaved). CPU ms is the process CPU time of the call (onnxruntime with `--threads` threads);
wall ms is the elapsed time.

    .venv/bin/python benchmarks/bench_plates_vn.py --limit 200
    .venv/bin/python benchmarks/bench_plates_vn.py --write benchmarks/results/plates_vn.md --dump /tmp/vn.jsonl
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_plates import machine, med, peer_rec, sample, write_report  # noqa: E402
from detector.config import PlatesConfig  # noqa: E402
from detector.plates.grammar import parse_plate  # noqa: E402
from detector.plates.reader import PlateReader  # noqa: E402
from detector.platetext import normalize_plate  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
BKAV = DATA / "vn-plates-1row-bkav"
VITO = DATA / "vn-plates-vitocolerole" / "standard"


def part(label: str) -> str:
    """'held-out' for a quarter of the plate texts (by sha1 of the key), 'dev' for the rest."""
    h = int(hashlib.sha1(normalize_plate(label).encode()).hexdigest(), 16)
    return "held-out" if h % 4 == 0 else "dev"


@dataclass(frozen=True)
class Item:
    set: str
    path: Path
    label: str  # A-Z0-9 key
    part: str
    fits: bool  # the label parses as a known Vietnamese format (civil or special)


def bkav_items() -> Iterator[Item]:
    for row in csv.DictReader((BKAV / "labels.csv").open()):
        key = row["label_alnum"]
        yield Item("bkav one-row", BKAV / row["path"], key, part(key), parse_plate(key, 1) is not None)


def vito_items() -> Iterator[Item]:
    lines = (VITO / "labels" / "ocr_result.txt").read_text().splitlines()
    for name, label in (ln.split(" -> ") for ln in lines if " -> " in ln):
        key = normalize_plate(label)
        one = "CarLong" in name
        name_set = "vitocolerole one-row" if one else "vitocolerole two-row"
        fits = parse_plate(key, 1 if one else 2) is not None
        yield Item(name_set, VITO / "images" / name, key, part(key), fits)


@dataclass
class Record:
    set: str
    name: str
    part: str
    label: str
    fits: bool
    read: str
    confidence: float
    needs_review: bool
    rows: int
    colour: str | None
    cpu_ms: float
    wall_ms: float
    peer: str
    peer_cpu_ms: float
    peer_wall_ms: float


def measure(fn: Callable[[], object]) -> tuple[object, float, float]:
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return out, (time.process_time() - c) * 1000, (time.perf_counter() - t) * 1000


def run(
    reader: PlateReader,
    peer: Callable[[object], str] | None,
    items: list[Item],
    dump: Path | None = None,
) -> list[Record]:
    """Ours then the peer on each crop; with `dump`, each record is appended there as it is made."""
    out = []
    sink = dump.open("w") if dump else None
    for it in items:
        img = cv2.imread(str(it.path))
        if img is None:
            print(f"unreadable image: {it.path}", file=sys.stderr)
            continue
        obs, cpu, wall = measure(lambda img=img: reader.read_crop(img))  # type: ignore[misc]
        read = reader.vote([obs]) if obs is not None else None
        ptext, pcpu, pwall = ("", 0.0, 0.0) if peer is None else measure(lambda img=img: peer(img))  # type: ignore[misc]
        out.append(
            Record(
                it.set, it.path.name, it.part, it.label, it.fits,
                read.normalized if read else "", read.confidence if read else 0.0,
                read.needs_review if read else True, read.rows if read else 0,
                read.colour if read else None, cpu, wall, str(ptext), pcpu, pwall,
            )
        )  # fmt: skip
        if sink:
            sink.write(json.dumps(asdict(out[-1])) + "\n")
            sink.flush()
    if sink:
        sink.close()
    return out


def table(records: list[Record], with_peer: bool) -> list[str]:
    lines = [
        "| set | part | labels | n | ours exact | peer exact | wrong trusted | right flagged | "
        "ours CPU ms (median, p90) | ours wall ms | peer CPU ms | peer wall ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    sets = list(dict.fromkeys(r.set for r in records))
    for s in sets:
        for p in ("dev", "held-out"):
            for scope in ("all", "known format"):
                rs = [r for r in records if r.set == s and r.part == p and (scope == "all" or r.fits)]
                if not rs:
                    continue
                n = len(rs)
                ok = [r for r in rs if r.read == r.label]
                bad = [r for r in rs if r.read != r.label]
                peer_ok = sum(r.peer == r.label for r in rs)
                cpu = sorted(r.cpu_ms for r in rs)
                lines.append(
                    f"| {s} | {p} | {scope} | {n} | **{100 * len(ok) / n:.1f}%** ({len(ok)}) | "
                    + (f"{100 * peer_ok / n:.1f}% ({peer_ok}) | " if with_peer else "- | ")
                    + f"{sum(not r.needs_review for r in bad)}/{len(bad)} | "
                    f"{sum(r.needs_review for r in ok)}/{len(ok)} | {med(cpu):.1f}, {cpu[int(0.9 * (n - 1))]:.1f} | "
                    f"{med([r.wall_ms for r in rs]):.1f} | "
                    + (
                        f"{med([r.peer_cpu_ms for r in rs]):.1f} | {med([r.peer_wall_ms for r in rs]):.1f} |"
                        if with_peer
                        else "- | - |"
                    )
                )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="at most N items per set, spread evenly")
    ap.add_argument("--sets", default="bkav,vito", help="comma list of: bkav, vito")
    ap.add_argument("--part", choices=("dev", "held-out", "both"), default="both")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads of our reader")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--write", type=Path, help="also write the markdown report here")
    ap.add_argument("--dump", type=Path, help="write one JSON line per crop here (for contact sheets)")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    items: list[Item] = []
    chosen = set(args.sets.split(","))
    for name, gen in (("bkav", bkav_items), ("vito", vito_items)):
        if name in chosen:
            got = [i for i in gen() if args.part == "both" or i.part == args.part]
            by_set: dict[str, list[Item]] = {}
            for i in got:
                by_set.setdefault(i.set, []).append(i)
            for group in by_set.values():
                items += sample(group, args.limit)
    reader = PlateReader.from_config(PlatesConfig(country="vn", threads=args.threads), with_detector=False)
    peer = None
    if not args.no_peer:
        from rapidocr import RapidOCR

        peer = peer_rec(RapidOCR(params={"Global.log_level": "error"}))
    load0 = os.getloadavg()
    records = run(reader, peer, items, args.dump)
    load1 = os.getloadavg()
    reader.close()
    lines = [
        "# Vietnamese plate crops: ours against the peer",
        "",
        f"Machine: {machine()}; load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end",
        f"Command: `{' '.join(sys.argv)}`; ours with {args.threads} onnxruntime thread(s)",
        "",
        "'known format': the label parses as a Vietnamese plate (civil, or a special series: military,",
        "diplomatic); 'wrong trusted': wrong reads not flagged for review; 'right flagged': right reads",
        "flagged anyway.",
        "",
        *table(records, peer is not None),
    ]
    write_report(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
