"""Rider heads of the Roboflow VN intersection frames, for labelling by eye (helmet_heads_roboflow.csv).

Runs the project's YOLO11n (int8, models/yolo11n-int8.onnx) on every frame of
../shared/data/vn-redlight-stopline-frames-roboflow/test/images, keeps the `person` boxes at least 16 px
wide that sit on a two-wheeler (a detected motorcycle or bicycle, or a `motobike` box of the set's own
labels, as the detector misses many): at least 40% of the narrower box's width over it, the person's
feet below the vehicle's top fifth and its top above the vehicle's middle, and writes them as csv rows with an empty label, plus contact sheets (40 crops
a sheet, 128 px, `head_crop_box`, each with its row index) for a person to label.

    .venv/bin/python benchmarks/helmet_roboflow_rows.py OUT.csv SHEETS_DIR
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.config import DetectorConfig  # noqa: E402
from detector.detect.onnx import OnnxYoloDetector  # noqa: E402
from detector.riders.helmet import head_crop_box  # noqa: E402

SET = "vn-redlight-stopline-frames-roboflow"
IMAGES = REPO.parent / "shared" / "data" / SET / "test" / "images"


def crop128(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    h, w = image.shape[:2]
    pad = cv2.copyMakeBorder(image, 400, 400, 400, 400, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    patch = pad[y1 + 400 : y2 + 400, x1 + 400 : x2 + 400]
    return cv2.resize(patch, (128, 128), interpolation=cv2.INTER_CUBIC)


def labelled_bikes(image_path: Path, w: int, h: int) -> np.ndarray:
    label = image_path.parent.parent / "labels" / (image_path.stem + ".txt")
    out = []
    for line in label.read_text().splitlines() if label.is_file() else []:
        k, xc, yc, bw, bh = (float(v) for v in line.split()[:5])
        if int(k) == 2:
            out.append([(xc - bw / 2) * w, (yc - bh / 2) * h, (xc + bw / 2) * w, (yc + bh / 2) * h])
    return np.array(out, dtype=np.float32).reshape(-1, 4)


def rides(p: np.ndarray, vehicles: np.ndarray) -> bool:
    for v in vehicles:
        vh = max(float(v[3] - v[1]), 1.0)
        over = min(p[2], v[2]) - max(p[0], v[0])
        narrow = max(min(p[2] - p[0], v[2] - v[0]), 1.0)
        if over / narrow >= 0.4 and p[3] >= v[1] + 0.2 * vh and p[1] <= v[1] + 0.5 * vh:
            return True
    return False


def main() -> None:
    out, sheets = Path(sys.argv[1]), Path(sys.argv[2])
    sheets.mkdir(parents=True, exist_ok=True)
    det = OnnxYoloDetector(DetectorConfig(precision="int8", input_size=(640, 640), confidence=0.3, threads=1))
    rows, crops = [], []
    for path in sorted(IMAGES.glob("*.jpg")):
        image = cv2.imread(str(path))
        d = det.detect_image(image)
        veh = np.concatenate([d.xyxy[np.isin(d.class_id, [1, 3])], labelled_bikes(path, *image.shape[1::-1])])
        for box, cls in zip(d.xyxy, d.class_id, strict=True):
            if cls != 0 or box[2] - box[0] < 16 or not rides(box, veh):
                continue
            b = tuple(round(float(v), 1) for v in box)
            rows.append({"image": path.name, "x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3], "label": ""})
            crops.append(crop128(image, head_crop_box(b)))
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for s in range(0, len(crops), 40):
        sheet = np.full((5 * 148, 8 * 132, 3), 255, np.uint8)
        for k, c in enumerate(crops[s : s + 40]):
            r, q = divmod(k, 8)
            sheet[r * 148 : r * 148 + 128, q * 132 : q * 132 + 128] = c
            cv2.putText(sheet, str(s + k), (q * 132 + 2, r * 148 + 142), 0, 0.45, (0, 0, 0), 1)
        cv2.imwrite(str(sheets / f"sheet_{s // 40:02d}.png"), sheet)
    print(f"{len(rows)} rider heads, {len(crops) // 40 + 1} sheets")


if __name__ == "__main__":
    main()
