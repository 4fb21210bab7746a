"""Plate reading: detect plates on vehicle crops, read them (one or two rows), vote over a track.

Public API (no model is loaded until `PlateReader.from_config` is called; names are imported lazily so
that importing one part, such as the grammar, does not pull in onnxruntime)::

    from detector.plates import PlateReader
    reader = PlateReader.from_config(cfg.plates)
    obs = reader.read_vehicle(image_bgr, vehicle_xyxy, frame_index)   # PlateObservation | None
    read = reader.vote([obs, ...])                                     # PlateRead | None
    reader.close()
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "OnnxPlateDetector": "detector.plates.detect",
    "PlateBox": "detector.plates.detect",
    "PlateDetector": "detector.plates.detect",
    "VnPlate": "detector.plates.grammar",
    "SpecialPlate": "detector.plates.grammar",
    "parse_plate": "detector.plates.grammar",
    "repair_plate": "detector.plates.grammar",
    "notice_colour": "detector.plates.grammar",
    "format_vn_plate": "detector.plates.grammar",
    "is_valid_vn_plate": "detector.plates.grammar",
    "normalize_plate": "detector.platetext",
    "parse_vn_plate": "detector.plates.grammar",
    "FastPlateOcrRecognizer": "detector.plates.ocr",
    "OcrLine": "detector.plates.ocr",
    "PlateOcr": "detector.plates.ocr",
    "RapidOcrRecognizer": "detector.plates.ocr",
    "PlateReader": "detector.plates.reader",
    "PlateObservation": "detector.plates.vote",
    "PlateVoter": "detector.plates.vote",
    "vote": "detector.plates.vote",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'detector.plates' has no attribute {name!r}")
