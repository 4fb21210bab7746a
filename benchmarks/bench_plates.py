"""Plate reading accuracy and speed on real data, next to a peer measured in the same run.

Sets (read-only, from ../shared/data beside the repo):
- openalpr seg_and_ocr: tight US plate crops + groundtruth.csv (human labels): OCR alone.
- openalpr endtoend/{us,eu,br}: photos with one labelled plate (box + text): detect and read.
- vn-plates-vitocolerole: Vietnamese crops (one-row cars, two-row motorbikes). Labels were made by an
  OCR program and are APPROXIMATE (some are wrong), so its figures are a rough guide only.

Ours = PlateReader (padding/upscale, two-row split, plate-alphabet CTC decoding, grammar).
Peer = rapidocr's own API on the same input: ``RapidOCR()(crop, use_det=False, use_cls=False,
use_rec=True)`` on raw crops, and the full ``RapidOCR()(photo)`` (text detection + recognition) on
end-to-end photos (a photo counts as read when any text line equals the plate).

    .venv/bin/python benchmarks/bench_plates.py --limit 50
    .venv/bin/python benchmarks/bench_plates.py --write benchmarks/results/plates.md
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector.config import PlatesConfig  # noqa: E402
from detector.plates.detect import box_iou  # noqa: E402
from detector.plates.reader import PlateReader  # noqa: E402
from detector.plates.textdet import TextLineDetector  # noqa: E402
from detector.plates.vote import PlateObservation  # noqa: E402
from detector.platetext import normalize_plate  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def lev(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def o0_equal(a: str, b: str) -> bool:
    return a.replace("O", "0") == b.replace("O", "0")


@dataclass
class Score:
    n: int = 0
    exact: int = 0
    exact_o0: int = 0
    char: float = 0.0
    ms: list[float] = field(default_factory=list)
    #: wrong reads that were NOT flagged for review / right reads that were (None: not known, peer)
    wrong_trusted: int = 0
    wrong_trusted_o0: int = 0  # of those, wrong even when O and 0 count as one glyph
    right_flagged: int = 0
    flags_known: bool = False

    def add(self, pred: str, truth: str, ms: float, needs_review: bool | None = None) -> None:
        self.n += 1
        self.exact += pred == truth
        self.exact_o0 += o0_equal(pred, truth)
        self.char += max(0.0, 1 - lev(pred, truth) / max(1, len(truth)))
        self.ms.append(ms)
        if needs_review is not None:
            self.flags_known = True
            self.wrong_trusted += pred != truth and not needs_review
            self.wrong_trusted_o0 += not o0_equal(pred, truth) and not needs_review
            self.right_flagged += pred == truth and needs_review

    def row(self, name: str) -> str:
        if not self.n:
            return f"| {name} | 0 | - | - | - | - | - |"
        ms = sorted(self.ms)[len(self.ms) // 2]
        wrong = self.n - self.exact
        flags = (
            f"{self.wrong_trusted}/{wrong} wrong trusted ({self.wrong_trusted_o0} beyond O/0), "
            f"{self.right_flagged}/{self.exact} right flagged"
            if self.flags_known
            else "-"
        )
        return (
            f"| {name} | {self.n} | {100 * self.exact / self.n:.1f}% | {100 * self.exact_o0 / self.n:.1f}% | "
            f"{100 * self.char / self.n:.1f}% | {ms:.1f} | {flags} |"
        )


def review_flag(reader: PlateReader, obs: PlateObservation | None) -> bool:
    """What the voter decides for a single reading: True = needs a human."""
    if obs is None:
        return True
    read = reader.vote([obs])
    return read is None or read.needs_review


def sample(items: list, limit: int | None) -> list:
    """At most `limit` items spread evenly over the list (every k-th), so a quick run sees every group."""
    if limit is None or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def timed(fn: Callable[[], str]) -> tuple[str, float]:
    t = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t) * 1000


def machine() -> str:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, Python {platform.python_version()}, {platform.system()}"


def peer_rec(engine: object) -> Callable[[object], str]:
    def run(img: object) -> str:
        res = engine(img, use_det=False, use_cls=False, use_rec=True)  # type: ignore[operator]
        return normalize_plate("".join(res.txts or ()))

    return run


def bench_crops(
    readers: dict[str, Callable[[str], PlateReader]], peer: Callable[[object], str], limit: int | None
) -> tuple[dict[str, Score], Score]:
    """Each of our reader settings (a factory per US state code) and the peer on the same crops."""
    base = DATA / "openalpr-benchmarks" / "seg_and_ocr"
    rows = sample(list(csv.reader((base / "groundtruth.csv").open())), limit)
    ours = {name: Score() for name in readers}
    theirs = Score()
    for name, state, truth in rows:
        img = cv2.imread(str(base / "usimages" / name))
        if img is None:
            continue
        for setting, make in readers.items():
            reader = make(state)
            obs, ms = timed(lambda img=img, reader=reader: reader.read_crop(img))  # type: ignore[misc]
            ours[setting].add(obs.normalized if obs else "", truth, ms, review_flag(reader, obs))
        text, ms = timed(lambda img=img: peer(img))  # type: ignore[misc]
        theirs.add(text, truth, ms)
    return ours, theirs


def bench_vn(
    reader: PlateReader, peer: Callable[[object], str], limit: int | None
) -> dict[str, tuple[Score, Score]]:
    base = DATA / "vn-plates-vitocolerole" / "standard"
    labels = [
        ln.split(" -> ")
        for ln in (base / "labels" / "ocr_result.txt").read_text().splitlines()
        if " -> " in ln
    ]
    out: dict[str, tuple[Score, Score]] = {
        "two-row (xemay, ndata)": (Score(), Score()),
        "one-row (CarLongPlate)": (Score(), Score()),
    }
    for name, label in sample(labels, limit):
        img = cv2.imread(str(base / "images" / name))
        if img is None:
            continue
        truth = normalize_plate(label)
        ours, theirs = out["one-row (CarLongPlate)" if "CarLong" in name else "two-row (xemay, ndata)"]
        obs, ms = timed(lambda img=img: reader.read_crop(img))  # type: ignore[misc]
        ours.add(obs.normalized if obs else "", truth, ms, review_flag(reader, obs))
        text, ms = timed(lambda img=img: peer(img))  # type: ignore[misc]
        theirs.add(text, truth, ms)
    return out


@dataclass
class E2E:
    n: int = 0
    found_det: int = 0  # the plate detector's boxes hit the labelled plate
    found: int = 0  # any returned plate (detector or text-line fallback) hits it
    fallback: int = 0  # photos where the detector found nothing and the text-line fallback answered
    top1: int = 0
    top1_o0: int = 0
    any3: int = 0
    wrong_trusted: int = 0
    wrong_trusted_o0: int = 0
    right_flagged: int = 0
    peer: int = 0
    det_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    peer_ms: list[float] = field(default_factory=list)


def bench_endtoend(
    readers: dict[str, PlateReader], lines: TextLineDetector | None, engine: object | None, limit: int | None
) -> dict[str, E2E]:
    """Each region's photos read by the reader configured for that country (as a camera there would be)."""
    out: dict[str, E2E] = {}
    for region, reader in readers.items():
        base = DATA / "openalpr-benchmarks" / "endtoend" / region
        labels = sample(sorted(base.glob("*.txt")), limit)
        e = out.setdefault(region, E2E())
        for lab in labels:
            parts = lab.read_text().split()
            if len(parts) < 6:
                continue
            img = cv2.imread(str(base / parts[0]))
            if img is None:
                continue
            x, y, w, h = (float(v) for v in parts[1:5])
            gt = (x, y, x + w, y + h)
            truth = normalize_plate(parts[5])
            e.n += 1
            t = time.perf_counter()
            boxes = reader.detect_plates(img)
            e.det_ms.append((time.perf_counter() - t) * 1000)
            e.found_det += any(box_iou(b.xyxy, gt) >= 0.5 for b in boxes)
            t = time.perf_counter()
            reads = reader.read_image(img, max_plates=3, fallback=lines)
            e.read_ms.append((time.perf_counter() - t) * 1000)
            e.fallback += bool(reads) and not boxes
            e.found += any(r.box is not None and box_iou(r.box.xyxy, gt) >= 0.5 for r in reads)
            texts = [r.normalized for r in reads]
            top = texts[0] if texts else ""
            e.top1 += top == truth
            e.top1_o0 += top.replace("O", "0") == truth.replace("O", "0")
            e.any3 += truth in texts
            flagged = review_flag(reader, reads[0] if reads else None)
            e.wrong_trusted += top != truth and not flagged
            e.wrong_trusted_o0 += not o0_equal(top, truth) and not flagged
            e.right_flagged += top == truth and flagged
            if engine is not None:
                t = time.perf_counter()
                # explicit flags: rapidocr keeps use_det=False from the crop peer's calls otherwise
                res = engine(img, use_det=True, use_cls=True, use_rec=True)  # type: ignore[operator]
                e.peer_ms.append((time.perf_counter() - t) * 1000)
                e.peer += truth in {normalize_plate(s) for s in (res.txts or ())}
    return out


def bench_detector_speed(limit: int | None) -> list[str]:
    """Plate detection on vehicle-sized crops (the edge path) for input size x precision variants,
    interleaved on the same crops; the peer is the model as shipped (fp16, 640, with its mask branch)."""
    from detector.plates.detect import OnnxPlateDetector, resolve_platedet

    path, origin = resolve_platedet(None)
    crops: list[tuple[object, tuple[float, float, float, float]]] = []
    for region in ("us", "eu", "br"):
        base = DATA / "openalpr-benchmarks" / "endtoend" / region
        for lab in sample(sorted(base.glob("*.txt")), limit or 20):
            parts = lab.read_text().split()
            img = cv2.imread(str(base / parts[0]))
            if img is None:
                continue
            x, y, w, h = (float(v) for v in parts[1:5])
            vx1, vy1 = max(0, int(x - 1.5 * w)), max(0, int(y - 3 * h))
            vx2, vy2 = min(img.shape[1], int(x + 2.5 * w)), min(img.shape[0], int(y + 1.5 * h))
            crops.append((img[vy1:vy2, vx1:vx2], (x - vx1, y - vy1, x - vx1 + w, y - vy1 + h)))
    import numpy as np
    import onnxruntime as ort

    variants: dict[str, Callable[[object], list]] = {}
    for size, fp32 in ((640, True), (416, True), (320, True), (320, False)):
        det = OnnxPlateDetector(path, origin, input_size=size, to_fp32=fp32)
        variants[f"ours {size} {'fp32' if fp32 else 'fp16'} (boxes only)"] = det.detect
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    shipped = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def peer(img: object) -> list:
        from detector.detect.onnx import letterbox

        boxed, _, _ = letterbox(img, (640, 640))  # type: ignore[arg-type]
        x = (boxed[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0).astype(np.float16)
        shipped.run(None, {"images": x})
        return []

    variants = {"peer: shipped model (fp16 640, masks)": peer, **variants}
    times: dict[str, list[float]] = {k: [] for k in variants}
    hits: dict[str, int] = {k: 0 for k in variants}
    for crop, box in crops:
        for name, fn in variants.items():
            t = time.perf_counter()
            found = fn(crop)
            times[name].append((time.perf_counter() - t) * 1000)
            hits[name] += bool(found) and box_iou(found[0].xyxy, box) >= 0.5
    base_ms = med(times["peer: shipped model (fp16 640, masks)"])
    out = [
        "## Plate detector on vehicle crops (edge path)",
        "",
        f"{len(crops)} vehicle-sized crops cut around the labelled plates of openalpr endtoend photos.",
        "",
        "| variant | found (IoU>=0.5) | median ms/crop | speed-up vs shipped |",
        "|---|---|---|---|",
    ]
    for name in variants:
        found_s = "-" if name.startswith("peer") else f"{100 * hits[name] / max(1, len(crops)):.1f}%"
        out.append(f"| {name} | {found_s} | {med(times[name]):.1f} | {base_ms / med(times[name]):.2f}x |")
    return out + [""]


def med(v: list[float]) -> float:
    return sorted(v)[len(v) // 2] if v else float("nan")


def write_report(lines: list[str], path: Path | None) -> None:
    """Print the markdown report and, with `path`, write it there atomically (temp file, replace)."""
    report = "\n".join(lines)
    print(report)
    if path is not None:
        tmp = path.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(report + "\n")
        tmp.replace(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="at most N items per set (per region end-to-end)")
    ap.add_argument(
        "--sets", default="crops,vn,endtoend,detspeed", help="comma list of: crops, vn, endtoend, detspeed"
    )
    ap.add_argument("--no-peer-e2e", action="store_true", help="skip the slow full-RapidOCR peer on photos")
    ap.add_argument("--write", type=Path, help="also write the markdown report to this file")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error"})
    peer = peer_rec(engine)
    sets = set(args.sets.split(","))
    lines = ["# Plate reading benchmark", "", f"Machine: {machine()}", f"Command: `{' '.join(sys.argv)}`", ""]
    lines += [
        "Exact = whole plate right (A-Z0-9 key); 'O=0' also counts letter O read as digit 0 (the same",
        "glyph on most US plates; the openalpr labels mix them); char = 1 - edit distance / length;",
        "ms = median per plate (the 2 cores were shared with other jobs: compare ratios, not absolutes).",
        "",
    ]
    head = [
        "| set / reader | n | exact | exact, O=0 | char acc | ms/plate | review flags (single read) |",
        "|---|---|---|---|---|---|---|",
    ]
    if "crops" in sets:
        base = PlateReader.from_config(PlatesConfig(country="generic"), with_detector=False)
        by_state: dict[str, PlateReader] = {}

        def regional(state: str) -> PlateReader:
            if state not in by_state:
                cfg = PlatesConfig(country="us", region=state, state_from_plate=False)
                by_state[state] = PlateReader(cfg, None, base.ocr)
            return by_state[state]

        us = PlateReader(PlatesConfig(country="us"), None, base.ocr)
        us_blind = PlateReader(PlatesConfig(country="us", state_from_plate=False), None, base.ocr)
        settings = {
            "state": regional,
            "us": lambda _state: us,
            "us-blind": lambda _state: us_blind,
            "generic": lambda _state: base,
        }
        ours, theirs = bench_crops(settings, peer, args.limit)
        lines += ["## openalpr seg_and_ocr (US crops, human labels): OCR only", "", *head]
        lines += [
            ours["state"].row("ours, country us + the crop's state as region (groundtruth.csv column)"),
            ours["us"].row("ours, country us, no state given: the state named on the plate (default)"),
            ours["us-blind"].row("ours, country us, no state, state_from_plate off (all US formats)"),
            ours["generic"].row("ours, generic (no format prior)"),
            theirs.row("peer: RapidOCR rec-only on raw crop"),
        ]
        best = ours["state"]
        if theirs.n and best.n:
            lines += [
                "",
                f"Exact-plate ratio ours (state)/peer: {best.exact / max(1, theirs.exact):.2f}x; "
                f"speed ratio peer/ours: {med(theirs.ms) / med(best.ms):.2f}x",
                "",
            ]
        base.close()
    if "vn" in sets:
        reader = PlateReader.from_config(PlatesConfig(country="vn"), with_detector=False)
        res = bench_vn(reader, peer, args.limit)
        lines += ["## vn-plates-vitocolerole (labels APPROXIMATE, machine-made)", "", *head]
        for name, (ours_vn, theirs_vn) in res.items():
            lines += [ours_vn.row(f"ours, {name}"), theirs_vn.row(f"peer, {name}")]
        lines.append("")
        reader.close()
    if "endtoend" in sets:
        base = PlateReader.from_config(PlatesConfig(country="generic", detector_input_size=640))
        readers = {
            region: PlateReader(
                PlatesConfig(country=region, detector_input_size=640), base.detector, base.ocr
            )
            for region in ("us", "eu", "br")
        }
        text_lines = TextLineDetector(side=960)
        res2 = bench_endtoend(readers, text_lines, None if args.no_peer_e2e else engine, args.limit)
        lines += [
            "## openalpr endtoend (whole photos, detector at 640, text-line fallback): detect and read",
            "",
            "Each region read with `country` set to it (us, eu, br). 'det found' = the plate detector's",
            "boxes hit the labelled plate (IoU >= 0.5); 'found' also counts the text-line fallback, which",
            "answers only where the detector found nothing ('fallback' photos).",
            "",
            "| region | n | det found | found | fallback | read, top plate | same, O=0 | any of top 3 | "
            "review flags | peer: RapidOCR det+rec any line | det ms | read ms/photo | peer ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        tot = E2E()
        keys = ("n", "found_det", "found", "fallback", "top1", "top1_o0", "any3", "wrong_trusted",
                "wrong_trusted_o0", "right_flagged", "peer")  # fmt: skip
        for region, e in [*res2.items(), ("all", tot)]:
            if region != "all":
                for k in keys:
                    setattr(tot, k, getattr(tot, k) + getattr(e, k))
                tot.det_ms += e.det_ms
                tot.read_ms += e.read_ms
                tot.peer_ms += e.peer_ms
            if not e.n:
                continue
            pct = lambda k, e=e: f"{100 * k / e.n:.1f}%"  # noqa: E731
            flags = (
                f"{e.wrong_trusted}/{e.n - e.top1} wrong trusted ({e.wrong_trusted_o0} beyond O/0), "
                f"{e.right_flagged}/{e.top1} right flagged"
            )
            lines.append(
                f"| {region} | {e.n} | {pct(e.found_det)} | {pct(e.found)} | {e.fallback} | **{pct(e.top1)}** | "
                f"{pct(e.top1_o0)} | {pct(e.any3)} | {flags} | {pct(e.peer) if e.peer_ms else '-'} | "
                f"{med(e.det_ms):.0f} | {med(e.read_ms):.0f} | {med(e.peer_ms):.0f} |"
            )
        lines.append("")
        text_lines.close()
        base.close()
    if "detspeed" in sets:
        lines += bench_detector_speed(args.limit)
    write_report(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
