"""Plate reading on real crops and photos: two-row VN plates, one-row plates, detection, vehicles."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector.config import PlatesConfig
from detector.plates.detect import box_iou
from detector.plates.image import find_row_split, plate_colour
from detector.plates.ocr import PlateOcr
from detector.plates.reader import PlateReader, Sighting
from tests.plates.support import OPENALPR, VN, image

# Two-row motorbike crops, text checked by eye on the images (the dataset's own labels are machine-made).
TWO_ROW = {
    "10xemay1217.jpg": ("59L214999", "59-L2 149.99"),
    "10xemay1457.jpg": ("60F141516", "60-F1 415.16"),
    "10xemay1596.jpg": ("59TA00329", "59-TA 003.29"),
    "10xemay187.jpg": ("79T26658", "79-T2 6658"),
    "11xemay1015.jpg": ("59X275198", "59-X2 751.98"),
    "11xemay1197.jpg": ("59F132210", "59-F1 322.10"),
}
ONE_ROW = {
    "3CarLongPlate226.jpg": ("51F06532", "51F-065.32"),
    "3CarLongPlate256.jpg": ("51G37307", "51G-373.07"),
}


@pytest.mark.parametrize("name", sorted(TWO_ROW))
def test_two_row_plates_are_split_and_read(models_reader: PlateReader, name: str) -> None:
    crop = image(VN / name)
    assert find_row_split(crop) is not None, "the row gap of a two-row plate was not found"
    obs = models_reader.read_crop(crop, frame_index=3)
    assert obs is not None
    key, display = TWO_ROW[name]
    assert obs.rows == 2
    assert obs.normalized == key
    assert obs.text == display
    assert obs.valid and obs.country == "vn"
    assert obs.frame_index == 3
    assert obs.colour == "white"


def test_two_row_plate_read_as_one_line_is_wrong(models_reader: PlateReader) -> None:
    """Why the split exists: the same OCR on the unsplit crop does not give the plate."""
    crop = image(VN / "10xemay1217.jpg")
    line = models_reader.ocr.read_lines([crop])[0]
    assert line.chars != "59L214999"


@pytest.mark.parametrize("name", sorted(ONE_ROW))
def test_one_row_car_plates(models_reader: PlateReader, name: str) -> None:
    crop = image(VN / name)
    assert find_row_split(crop) is None
    obs = models_reader.read_crop(crop)
    assert obs is not None
    assert (obs.normalized, obs.text, obs.rows) == (*ONE_ROW[name], 1)
    assert obs.confidence > 0.9


@pytest.mark.parametrize(
    "crop",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((3, 40, 3), np.uint8),
        np.full((60, 200, 3), 128, np.uint8),
    ],
    ids=["empty", "tiny", "uniform-grey"],
)
def test_empty_or_blank_crop_gives_no_read(models_reader: PlateReader, crop: np.ndarray) -> None:
    assert models_reader.read_crop(crop) is None
    assert models_reader.vote([]) is None


def test_unreadable_noise_is_never_trusted(models_reader: PlateReader) -> None:
    """The OCR hallucinates characters on some noise crops (seeds 0-7: read at its own width, none;
    padded to 320 columns, seed 3 as '2'); none is trusted."""
    padded = PlateReader.from_config(PlatesConfig(ocr_line_width="padded"), with_detector=False)
    reads = []
    for reader in (models_reader, padded):
        for seed in range(8):
            noise = np.random.default_rng(seed).integers(0, 256, (60, 200, 3), dtype=np.uint8)
            obs = reader.read_crop(noise)
            if obs is not None:
                reads.append(reader.vote([obs]))
    padded.close()
    assert reads, "no noise crop gave a read: the check below would be empty"
    assert all(r is not None and r.needs_review for r in reads), reads


@pytest.mark.parametrize("text", ["HELLO", "ABCXYZ", "12345678"])
def test_confident_text_that_is_no_plate_is_never_trusted(models_reader: PlateReader, text: str) -> None:
    """Printed words are read near-perfectly, but fit no Vietnamese plate: the read needs review."""
    img = np.full((60, 220, 3), 255, np.uint8)
    cv2.putText(img, text, (8, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    obs = models_reader.read_crop(img)
    assert obs is not None and obs.text == text  # the OCR did read it: the review flag is the grammar's
    read = models_reader.vote([obs])
    assert read is not None and read.needs_review


def test_generic_grammar_reads_openalpr_crops(padded_ocr: PlateOcr) -> None:
    generic = PlateReader(PlatesConfig(country="generic"), None, padded_ocr)
    truth = {"ak399.png": "FGJ235", "al1156.png": "6A5730A", "ca1073.png": "DUKDAWG", "co818.png": "016FGM"}
    got = {n: generic.read_crop(image(OPENALPR / "seg_and_ocr" / "usimages" / n)) for n in truth}
    assert {n: (o.normalized if o else None) for n, o in got.items()} == truth


# Whole photos: the label box (x, y, w, h) and the plate text.
PHOTOS = [
    ("us", "316b64c0-55bf-4079-a1c0-d93f461a576f"),
    ("us", "7fbfbe28-aecb-45be-bd05-7cf26acb3c5c"),
    ("eu", "eu11"),
    ("eu", "eu5"),
    ("br", "GWT2180"),
    ("br", "JQS5683"),
]


def _label(region: str, stem: str) -> tuple[np.ndarray, tuple[float, float, float, float], str]:
    folder = OPENALPR / "endtoend" / region
    parts = (folder / f"{stem}.txt").read_text().split() if (folder / f"{stem}.txt").exists() else []
    if not parts:
        pytest.skip(f"label {folder / stem}.txt not found")
    x, y, w, h = (float(v) for v in parts[1:5])
    return image(folder / parts[0]), (x, y, x + w, y + h), parts[5]


@pytest.mark.parametrize(("region", "stem"), PHOTOS)
def test_detection_finds_the_labelled_plate(models_reader: PlateReader, region: str, stem: str) -> None:
    img, box, _ = _label(region, stem)
    found = models_reader.detect_plates(img)
    assert found, "no plate detected"
    assert box_iou(found[0].xyxy, box) >= 0.5
    assert found[0].confidence >= 0.25


@pytest.fixture(scope="module")
def vehicle_reader(padded_ocr: PlateOcr) -> PlateReader:
    """The edge configuration: detector at 320 on vehicle crops, generic grammar, shared OCR."""
    from detector.plates.detect import OnnxPlateDetector

    cfg = PlatesConfig(country="generic")
    return PlateReader(cfg, OnnxPlateDetector.from_config(cfg), padded_ocr)


@pytest.mark.parametrize(("region", "stem"), [PHOTOS[0], PHOTOS[2], PHOTOS[4]])
def test_read_vehicle_on_a_vehicle_box(vehicle_reader: PlateReader, region: str, stem: str) -> None:
    img, (x1, y1, x2, y2), text = _label(region, stem)
    w, h = x2 - x1, y2 - y1
    vehicle = (x1 - 1.5 * w, y1 - 3 * h, x2 + 1.5 * w, y2 + 0.5 * h)  # a car around its rear plate
    obs = vehicle_reader.read_vehicle(img, vehicle, frame_index=11)
    assert obs is not None and obs.box is not None
    assert box_iou(obs.box.xyxy, (x1, y1, x2, y2)) >= 0.5, "box not in frame coordinates"
    assert obs.normalized == text
    assert obs.frame_index == 11


def test_read_vehicle_without_a_plate(vehicle_reader: PlateReader) -> None:
    img, (x1, y1, x2, y2), _ = _label(*PHOTOS[0])
    sky = (0.0, 0.0, 200.0, 120.0)  # top-left corner of the photo, far from the plate
    assert sky[3] < y1
    assert vehicle_reader.read_vehicle(img, sky, 0) is None
    assert vehicle_reader.read_vehicle(img, (5.0, 5.0, 9.0, 9.0), 0) is None  # degenerate box


def _flat(bgr: tuple[int, int, int], ink: tuple[int, int, int]) -> np.ndarray:
    import cv2

    img = np.full((70, 240, 3), bgr, np.uint8)
    cv2.putText(img, "51F12345", (12, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.3, ink, 3)
    return img


@pytest.mark.parametrize(
    ("bgr", "ink", "colour"),
    [
        ((235, 235, 235), (20, 20, 20), "white"),
        ((40, 200, 235), (20, 20, 20), "yellow"),
        ((170, 60, 20), (240, 240, 240), "blue"),
        ((30, 30, 200), (240, 240, 240), "red"),
        ((25, 25, 25), (90, 90, 90), None),
    ],
)
def test_plate_colour(bgr: tuple[int, int, int], ink: tuple[int, int, int], colour: str | None) -> None:
    assert plate_colour(_flat(bgr, ink)) == colour


def test_read_track_votes_over_the_best_frames(vehicle_reader: PlateReader) -> None:
    """A car 'approaching' over five frames (the same photo at growing scales); the plate is read on the
    best `vote_frames` sightings only."""
    import cv2

    img, (x1, y1, x2, y2), text = _label(*PHOTOS[2])
    w, h = x2 - x1, y2 - y1
    vehicle = np.array([x1 - 1.5 * w, y1 - 3 * h, x2 + 1.5 * w, y2 + 0.5 * h])
    frames = []
    for k, s in enumerate((0.5, 0.6, 0.75, 0.9, 1.0)):
        frame = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        x1s, y1s, x2s, y2s = (float(v) for v in vehicle * s)
        frames.append(Sighting(100 + k, frame, (x1s, y1s, x2s, y2s)))
    cfg = vehicle_reader.cfg.model_copy(update={"vote_frames": 3})
    reader = PlateReader(cfg, vehicle_reader.detector, vehicle_reader.ocr)
    track = reader.read_track(frames)
    assert track is not None and len(track.observations) == 3
    read = track.read
    assert read.normalized == text
    assert len(read.frames_used) == 3 and set(read.frames_used) <= {100, 101, 102, 103, 104}
    assert 104 in read.frames_used  # the largest, sharpest sighting is always among the best


def test_ensemble_reader_reads_openalpr_crops(padded_ocr: PlateOcr) -> None:
    """country=generic with the second recogniser (rapidocr-onnxruntime's PP-OCRv4 rec), when installed."""
    from detector.plates.ocr import ensemble_from_config

    cfg = PlatesConfig(country="generic", ocr_ensemble="generic")
    extra = ensemble_from_config(cfg)
    if not extra:
        pytest.skip("rapidocr-onnxruntime (PP-OCRv4 rec) not installed")
    reader = PlateReader(cfg, None, padded_ocr, extra)
    # nc610: "W/C" stacked beside the number is a plate-type code, not part of the plate
    truth = {"ak399.png": "FGJ235", "co818.png": "016FGM", "nc610.png": "2861"}
    got = {n: reader.read_crop(image(OPENALPR / "seg_and_ocr" / "usimages" / n)) for n in truth}
    assert {n: (o.normalized if o else None) for n, o in got.items()} == truth


def test_ensemble_only_where_configured() -> None:
    from detector.plates.ocr import ensemble_from_config

    assert ensemble_from_config(PlatesConfig(country="generic")) == []  # off by default
    assert ensemble_from_config(PlatesConfig(country="vn", ocr_ensemble="generic")) == []
    assert ensemble_from_config(PlatesConfig(country="generic", ocr_ensemble="off")) == []
    from detector.errors import ModelError

    with pytest.raises(ModelError, match="ocr_ensemble_model"):
        ensemble_from_config(
            PlatesConfig(country="generic", ocr_ensemble="always", ocr_ensemble_model="/x.onnx")
        )


def test_stacked_mark_cut() -> None:
    import cv2

    from detector.plates.image import stacked_mark_cut

    img = np.full((100, 320, 3), 255, np.uint8)
    for k in range(4):  # four big glyph-like bars of the main line
        cv2.rectangle(img, (30 + 50 * k, 25), (60 + 50 * k, 80), (0, 0, 0), -1)
    assert stacked_mark_cut(img) == (0, 320)  # nothing stacked: full width
    cv2.rectangle(img, (250, 27), (265, 48), (0, 0, 0), -1)  # two small stacked glyphs on the right
    cv2.rectangle(img, (250, 57), (265, 78), (0, 0, 0), -1)
    x1, x2 = stacked_mark_cut(img)
    assert x1 == 0 and 210 < x2 < 250


def test_lines_are_read_only_where_the_image_is(padded_ocr: PlateOcr) -> None:
    """In a batch the narrower lines are padded to the widest; the CTC steps over that padding are not
    read (one step of margin), so a short line's matrix is short and its reading unchanged."""
    crop = image(OPENALPR / "seg_and_ocr" / "usimages" / "ak399.png")  # labelled FGJ235
    wide = np.hstack([crop] * 4)
    (alone,) = padded_ocr.read_lines([crop])
    paired, long_ = padded_ocr.read_lines([crop, wide])
    assert alone.chars == paired.chars == "FGJ235"
    h, w = crop.shape[:2]
    steps = int(np.ceil(np.ceil(48 * w / h) / 8)) + 1
    assert alone.probs is not None and paired.probs is not None and long_.probs is not None
    assert alone.probs.shape[0] == paired.probs.shape[0] == steps
    assert long_.probs.shape[0] > 3 * steps
    assert long_.chars.count("FGJ235") >= 3
