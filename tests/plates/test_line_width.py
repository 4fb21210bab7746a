"""How wide the recogniser reads a text line, and how many onnxruntime calls a crop costs.

Country vn reads each line at its own width (plus `OWN_WIDTH_MARGIN` columns of padding, rounded up to
the model's stride); every other country pads each call's lines to 320 columns as before. Checked on
real crops (skipped where ../shared/data is absent): own-width reading gives the padded readings with
fewer input columns, the rows of a two-row plate share one call where their widths are close, and a
line's glyph band is searched for once for all its views.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np
import pytest

from detector.config import PlatesConfig
from detector.plates import layouts
from detector.plates.image import GlyphLine, find_row_split, median_u8, split_rows, text_band
from detector.plates.layouts import VIEWS, LineViews
from detector.plates.ocr import (
    GROUP_SLACK,
    OWN_WIDTH_MARGIN,
    PADDED_WIDTH,
    RapidOcrRecognizer,
    own_line_width,
)
from detector.plates.reader import PlateReader
from tests.conftest import shared_path


class CountingSession:
    """Wraps an onnxruntime session: the input shape of every run."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.shapes: list[tuple[int, ...]] = []

    def run(self, outputs: Any, feed: dict[str, np.ndarray]) -> Any:
        self.shapes.append(next(iter(feed.values())).shape)
        return self.session.run(outputs, feed)


@contextmanager
def counted(reader: PlateReader) -> Iterator[CountingSession]:
    """The reader's recogniser counting its runs, for the `with` block."""
    ocr = reader.ocr
    assert isinstance(ocr, RapidOcrRecognizer)
    session = CountingSession(ocr._session)
    ocr._session = session
    try:
        yield session
    finally:
        ocr._session = session.session


@pytest.fixture(scope="module")
def readers() -> Iterator[dict[str, PlateReader]]:
    out = {
        mode: PlateReader.from_config(PlatesConfig(country="vn", ocr_line_width=mode), with_detector=False)
        for mode in ("own", "padded")
    }
    yield out
    for reader in out.values():
        reader.close()


def bkav_sample(step: int) -> list[tuple[str, str]]:
    """Every `step`-th crop of vn-plates-1row-bkav (labels typed by a person), in file order."""
    base = shared_path("vn-plates-1row-bkav")
    rows = sorted(csv.DictReader((base / "labels.csv").open()), key=lambda r: r["path"])
    return [(str(base / r["path"]), r["label_alnum"]) for r in rows[::step]]


def two_row_sample(step: int) -> list[str]:
    """Every `step`-th two-row motorbike crop of vn-plates-vitocolerole, in name order."""
    base = shared_path("vn-plates-vitocolerole", "standard", "images")
    return [str(p) for p in sorted(base.glob("*xemay*.jpg"))[::step]]


def crop(path: str) -> np.ndarray:
    img = cv2.imread(path)
    assert img is not None, f"unreadable crop {path}"
    return img


def test_auto_reads_own_width_with_country_vn_only() -> None:
    assert own_line_width(PlatesConfig(country="vn"))
    for country in ("us", "eu", "br", "generic"):
        assert not own_line_width(PlatesConfig(country=country))
    assert own_line_width(PlatesConfig(country="us", ocr_line_width="own"))
    assert not own_line_width(PlatesConfig(country="vn", ocr_line_width="padded"))


def test_own_width_reads_as_padded_on_real_one_row_crops(readers: dict[str, PlateReader]) -> None:
    """60 one-row crops: the same text either way, and narrower input (the padded read is 320 wide)."""
    items = bkav_sample(40)
    assert len(items) == 60
    differ, right = [], {"own": 0, "padded": 0}
    with counted(readers["own"]) as own_calls, counted(readers["padded"]) as padded_calls:
        for path, label in items:
            img = crop(path)
            texts = {}
            for mode, reader in readers.items():
                obs = reader.read_crop(img)
                texts[mode] = obs.normalized if obs else ""
                right[mode] += texts[mode] == label
            if texts["own"] != texts["padded"]:
                differ.append((path, texts))
    assert not differ
    assert right["own"] >= right["padded"] >= 55
    assert all(s[3] >= PADDED_WIDTH for s in padded_calls.shapes)
    own_cols = sum(s[0] * s[3] for s in own_calls.shapes)
    padded_cols = sum(s[0] * s[3] for s in padded_calls.shapes)
    assert own_cols < 0.9 * padded_cols


def test_two_row_plates_read_as_padded_with_fewer_columns(readers: dict[str, PlateReader]) -> None:
    """21 two-row crops: the same text either way, and fewer input columns (rows are ~120 columns at
    the model's height, not padded to 320)."""
    paths = two_row_sample(8)
    assert len(paths) >= 20
    cols = {"own": 0, "padded": 0}
    differ: dict[str, tuple[str, str]] = {}
    for path in paths:
        img = crop(path)
        texts = {}
        for mode, reader in readers.items():
            with counted(reader) as session:
                obs = reader.read_crop(img)
            texts[mode] = obs.normalized if obs else ""
            cols[mode] += sum(s[0] * s[3] for s in session.shapes)
        if texts["own"] != texts["padded"]:
            differ[path.rsplit("/", 1)[-1]] = (texts["padded"], texts["own"])
    # the one crop of the sample (of 8 of all 2,622 crops) read differently: wrong both ways (labelled
    # 59C153610; a white blot hides the bottom row's second digit), at its own width it is flagged for
    # review (measured on every crop)
    assert differ == {"3xemay98.jpg": ("59C15610", "59C155610")}
    # per crop it may be more: a first view read less decisively at its own width has the others read
    assert cols["own"] < 0.8 * cols["padded"]


def test_the_rows_of_a_two_row_plate_share_one_call(readers: dict[str, PlateReader]) -> None:
    """Own width: rows at most GROUP_SLACK columns apart are read in one call, padded to the wider row
    plus the margin, and read as each row alone reads; rows further apart get a call each."""
    reader = readers["own"]
    ocr = reader.ocr
    assert isinstance(ocr, RapidOcrRecognizer)
    shared = same = 0
    pairs = 0
    for path in two_row_sample(8):
        img = crop(path)
        split = find_row_split(img)
        if split is None:
            continue
        pairs += 1
        rows = [LineViews(part, 1)[0] for part in split_rows(img, split)]
        widths = [ocr.line_width(r) for r in rows]
        with counted(reader) as session:
            together = ocr.read_lines(rows)
        if abs(widths[0] - widths[1]) <= GROUP_SLACK:
            assert session.shapes == [(2, 3, 48, ocr.own_batch_width(max(widths)))]
            shared += 1
        else:
            assert sorted(session.shapes) == sorted((1, 3, 48, ocr.own_batch_width(w)) for w in widths)
        alone = [ocr.read_lines([r])[0] for r in rows]
        same += [a.text for a in together] == [b.text for b in alone]
    assert pairs >= 20
    assert shared >= 0.5 * pairs  # most two-row plates' rows are read in one call
    assert same >= pairs - 1


def test_lines_are_read_at_their_own_width_plus_the_margin(readers: dict[str, PlateReader]) -> None:
    ocr = readers["own"].ocr
    assert isinstance(ocr, RapidOcrRecognizer)
    for path, _ in bkav_sample(200):
        line = crop(path)
        w = ocr.line_width(line)
        width = ocr.own_batch_width(w)
        assert width % ocr.stride == 0 and w + OWN_WIDTH_MARGIN <= width < w + OWN_WIDTH_MARGIN + ocr.stride
        with counted(readers["own"]) as session:
            ocr.read_lines([line])
        assert session.shapes == [(1, 3, 48, width)]


def test_views_are_those_of_text_band_and_the_glyph_band_is_found_once(
    readers: dict[str, PlateReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The views of a line are cut when first read, from one search for its glyph band: the same as
    `text_band` at margins 0.15 and 0.3 and the fixed central band. A crop whose first view reads
    decisively reads one line in one call (most one-row crops)."""
    reader = readers["own"]
    found: list[int] = []
    real = layouts.glyph_line

    def counting(line: np.ndarray) -> GlyphLine | None:
        found.append(line.shape[0])
        return real(line)

    monkeypatch.setattr(layouts, "glyph_line", counting)
    decisive = 0
    for path, _ in bkav_sample(100):
        img = crop(path)
        views = LineViews(img, 3)
        for k, (kind, margin) in enumerate(VIEWS):
            h = img.shape[0]
            band = text_band(img, margin) if kind == "band" else (int(h * margin), h - int(h * margin))
            expect = img[band[0] : band[1]] if band and band[1] - band[0] >= 8 else img
            assert np.array_equal(views[k], expect)
        assert len(found) == 1
        found.clear()
        with counted(reader) as session:
            reader.read_crop(img)
        lines = sum(s[0] for s in session.shapes)
        assert len(found) <= lines  # at most one search per line read (fewer: fixed views need none)
        found.clear()
        decisive += lines == 1
    assert decisive >= 15


def test_median_u8_is_numpys_median_on_real_plate_pixels() -> None:
    for path, _ in bkav_sample(120):
        hsv = cv2.cvtColor(crop(path), cv2.COLOR_BGR2HSV)
        for ch in range(3):
            values = hsv[:, :, ch].ravel()
            for n in (len(values), len(values) - 1, 1, 2):
                assert median_u8(values[:n]) == float(np.median(values[:n]))
