"""Fixtures of the plates tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from detector.plates.reader import PlateReader


@pytest.fixture(scope="session")
def models_reader() -> Iterator[PlateReader]:
    """One PlateReader (detector at 640 for whole photos + rapidocr OCR), loaded once per session."""
    from detector.config import PlatesConfig

    reader = PlateReader.from_config(PlatesConfig(detector_input_size=640))
    yield reader
    reader.close()
