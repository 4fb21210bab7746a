"""Every picture the engine makes is drawn here, supervision-style: small annotators, each with
`annotate(frame, ...) -> frame`, drawing geometry (boxes, paths, zones, grids), and one
`LabelAnnotator` per picture that places all its text so that no two labels overlap.

- `labels`: `Style` (font and line sizes from the picture's size), `Label`, `LabelPlacer`, `LabelAnnotator`.
- `shapes`: `BoxAnnotator`, `TraceAnnotator`, `ShapeAnnotator` (zones, lines), `BarAnnotator`, `panel`.
- `tracks`: `TrackAnnotator` (a frame's tracked road users and violators).
- `scene`: `ZoneAnnotator`, `IgnoreAnnotator`, `CalibrationAnnotator`, `calibration_view` (a camera's
  configuration; imported on its own, as it reads the rules' configuration).

The pictures: the replay preview and its snapshots (`detector.outputs`), the evidence overview
(`detector.evidence.images`), `detector calibrate` (`scene.calibration_view`).
"""

from detector.annotate.labels import Label, LabelAnnotator, LabelPlacer, Place, Style, ascii_fold
from detector.annotate.shapes import BarAnnotator, BoxAnnotator, Shape, ShapeAnnotator, TraceAnnotator, panel

__all__ = [
    "BarAnnotator",
    "BoxAnnotator",
    "Label",
    "LabelAnnotator",
    "LabelPlacer",
    "Place",
    "Shape",
    "ShapeAnnotator",
    "Style",
    "TraceAnnotator",
    "ascii_fold",
    "panel",
]
