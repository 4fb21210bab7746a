"""Fixtures of the plates tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from detector.plates.ocr import PlateOcr
from detector.plates.reader import PlateReader


@pytest.fixture(scope="session")
def models_reader() -> Iterator[PlateReader]:
    """One PlateReader (detector at 640 for whole photos + rapidocr OCR), loaded once per session."""
    from detector.config import PlatesConfig

    reader = PlateReader.from_config(PlatesConfig(detector_input_size=640))
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def padded_ocr() -> Iterator[PlateOcr]:
    """The rapidocr recogniser as every country but vn reads lines (padded to 320 columns), loaded once:
    `models_reader`'s (country vn) reads them at their own width."""
    from detector.config import PlatesConfig
    from detector.plates.ocr import RapidOcrRecognizer

    ocr = RapidOcrRecognizer.from_config(PlatesConfig(country="us"))
    yield ocr
    ocr.close()
