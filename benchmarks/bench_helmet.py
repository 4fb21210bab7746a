"""Helmet check on the heads labelled by eye (benchmarks/data/helmet_heads.csv): precision and recall.

Each labelled row is a person box in a frame of a real clip under ../shared/data; the frame is decoded
and the classifier (with its clearly-seen gate) judges the head. Every call is counted against the
label: a `no_helmet` call on a head labelled `helmet` is a false accusation. Prints the confusion
table, precision and recall of `no_helmet` over the heads labelled clear, the gate's reasons, and the
CPU time per crop.

    .venv/bin/python benchmarks/bench_helmet.py [--csv A.csv B.csv] [--part dev|held-out|all]
        [--set model=models/helmet-yolo-320.onnx crop_fraction=0.5 ...]

Rows are split dev / held-out by a stable hash of the rider (`part_of`); tune on dev only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.config import HelmetConfig  # noqa: E402
from detector.riders.helmet import HelmetClassifier  # noqa: E402

DATA = REPO.parent / "shared" / "data"


ROBOFLOW = "vn-redlight-stopline-frames-roboflow/test/images"
#: Roboflow frames whose numbers fall in one block of this many come from one stretch of video: one group.
FRAME_GROUP = 50


def load(path: Path) -> list[dict[str, str]]:
    """Rows of a labelled csv; rows of the Roboflow still frames (an `image` column) are given the clip
    form (`clip` the image, `frame` 0, `track` the frame group: riders in nearby frames stay together)."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(row for row in fh if not row.startswith("#")))
    for r in rows:
        if "image" in r:
            stem = r["image"].split("_jpg")[0]
            prefix, _, number = stem.rpartition("_")
            r["clip"], r["frame"] = f"{ROBOFLOW}/{r['image']}", "0"
            r["track"] = f"{prefix}{int(number) // FRAME_GROUP}"
    return rows


def part_of(row: dict[str, str]) -> str:
    """`dev` or `held-out`, by a stable hash of the rider (clip and track, or frame group): a rider's
    looks all fall in one part. About 60% of riders are dev."""
    group = row["track"] if row["clip"].startswith(ROBOFLOW) else f"{row['clip']}#{row['track']}"
    digest = hashlib.sha256(group.encode()).digest()
    return "dev" if digest[0] < 154 else "held-out"


def group_of(row: dict[str, str]) -> tuple[str, str]:
    """The rider a row belongs to (for the per-track vote)."""
    return ("roboflow", row["track"]) if row["clip"].startswith(ROBOFLOW) else (row["clip"], row["track"])


def frames_of(rows: list[dict[str, str]]):
    by_clip: dict[str, set[int]] = {}
    for r in rows:
        by_clip.setdefault(r["clip"], set()).add(int(r["frame"]))
    out = {}
    for clip, wanted in by_clip.items():
        if clip.startswith(ROBOFLOW):
            image = cv2.imread(str(DATA / clip))
            if image is None:
                raise SystemExit(f"{DATA / clip}: cannot read (is ../shared/data present?)")
            out[(clip, 0)] = image
            continue
        cap = cv2.VideoCapture(str(DATA / clip))
        if not cap.isOpened():
            raise SystemExit(f"{DATA / clip}: cannot open (is ../shared/data present?)")
        i = 0
        while wanted and i <= max(wanted):
            ok, im = cap.read()
            if not ok:
                break
            if i in wanted:
                out[(clip, i)] = im
            i += 1
        cap.release()
    return out


def evaluate(rows: list[dict[str, str]], cfg: HelmetConfig) -> dict[str, object]:
    frames = frames_of(rows)
    clf = HelmetClassifier(cfg)
    table: Counter[tuple[str, str]] = Counter()
    reasons: Counter[str] = Counter()
    cpu = 0.0
    per_rider: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for r in rows:
        image = frames[(r["clip"], int(r["frame"]))]
        box = tuple(float(r[k]) for k in ("x1", "y1", "x2", "y2"))
        others = [
            tuple(float(o[k]) for k in ("x1", "y1", "x2", "y2"))
            for o in rows
            if o is not r and o["clip"] == r["clip"] and o["frame"] == r["frame"]
        ]
        t = time.process_time()
        call = clf.classify(image, box, others)  # type: ignore[arg-type]
        cpu += time.process_time() - t
        table[(r["label"], call.label)] += 1
        per_rider.setdefault(group_of(r), []).append((r["label"], call.label))
        if not call.clear:
            reasons[call.reason] += 1
    tp = table[("no_helmet", "no_helmet")]
    fp = sum(v for (lab, got), v in table.items() if got == "no_helmet" and lab != "no_helmet")
    pos = sum(v for (lab, _), v in table.items() if lab == "no_helmet")
    return {
        "table": table,
        "reasons": reasons,
        "tp": tp,
        "fp": fp,
        "positives": pos,
        "crops": clf.crops,
        "cpu_s": cpu,
        "rows": len(rows),
        "riders": vote_riders(per_rider, cfg),
    }


def vote_riders(per_rider: dict[tuple[str, str], list[tuple[str, str]]], cfg: HelmetConfig) -> Counter[str]:
    """The riders stage's vote over each track's looks (the labelled rows of one track, in frame order).

    A track is `truth: no_helmet` when most of its clear labels say so, `helmet` when they all say helmet.
    """
    out: Counter[str] = Counter()
    for looks in per_rider.values():
        labels = [lab for lab, _ in looks if lab != "unclear"]
        truth = (
            "unclear"
            if not labels
            else "no_helmet"
            if labels.count("no_helmet") > len(labels) / 2
            else "helmet"
        )
        calls = [got for _, got in looks[: cfg.max_samples] if got != "unclear"]
        reported = (
            len(calls) >= cfg.min_votes
            and calls.count("no_helmet") / len(calls) >= cfg.min_no_helmet_fraction
        )
        out[f"{truth}:{'reported' if reported else 'not reported'}"] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = REPO / "benchmarks" / "data"
    ap.add_argument(
        "--csv",
        type=Path,
        nargs="+",
        default=[data / "helmet_heads.csv", data / "helmet_heads_roboflow.csv"],
    )
    ap.add_argument("--part", choices=("dev", "held-out", "all"), default="dev")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="HelmetConfig overrides")
    args = ap.parse_args()
    rows = [r for path in args.csv for r in load(path) if args.part in ("all", part_of(r))]
    overrides = dict(kv.split("=", 1) for kv in args.set)
    cfg = HelmetConfig.model_validate({"enabled": True, "threads": 1, **overrides})
    res = evaluate(rows, cfg)
    print(f"part {args.part}; settings {overrides or 'default'}")
    print(f"load average {os.getloadavg()}; heads {res['rows']}; model crops {res['crops']}")
    print("label \\ call   helmet  no_helmet  unclear")
    table = res["table"]
    for lab in ("helmet", "no_helmet", "unclear"):
        print(f"{lab:13s} " + "".join(f"{table[(lab, c)]:9d}" for c in ("helmet", "no_helmet", "unclear")))
    tp, fp, pos = res["tp"], res["fp"], res["positives"]
    prec = f"{tp / (tp + fp):.3f}" if tp + fp else "n/a (no no_helmet call)"
    rec = f"{tp / pos:.3f}" if pos else "n/a (no head labelled no_helmet)"
    print(f"no_helmet: precision {prec} ({tp}/{tp + fp}), recall {rec} ({tp}/{pos})")
    print("unclear calls by reason:", dict(res["reasons"]))
    print(
        "per rider track (label majority : the stage's vote over its first max_samples looks):",
        dict(sorted(res["riders"].items())),
    )
    crops = max(int(res["crops"]), 1)
    print(
        f"CPU per head look {res['cpu_s'] / len(rows) * 1000:.1f} ms; per model crop {res['cpu_s'] / crops * 1000:.1f} ms "
        f"(process CPU, 1 onnxruntime thread; maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    main()
