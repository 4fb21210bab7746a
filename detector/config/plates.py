"""Settings of the plates stage: plate detection on vehicle crops, OCR, voting, the country's formats.

A `region` is checked against the plate formats where those are (`detector.plates.formats`), when the
reader is built and by `detector.configcheck`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from detector.base import FrozenModel
from detector.config.fields import OpenFraction, Threads


class PlatesConfig(FrozenModel):
    """Settings of the plates stage: plate detection on vehicle crops, OCR, voting over a track."""

    enabled: bool = Field(default=True, description="Read plates of vehicles involved in violations")
    detector_model: str | None = Field(
        default=None,
        description="Plate detector ONNX (YOLOv8-seg, one class). Unset: models/platedet.onnx if present, "
        "else the file shipped in the platedet package (platedet/artifacts/platedet.onnx).",
    )
    detector_input_size: int = Field(
        default=320,
        ge=128,
        le=1280,
        description="Square network input of the plate detector in pixels (multiple of 32). The graph is "
        "rewritten in memory for sizes other than its own (640); 320 is ~3x faster on vehicle crops.",
    )
    detector_fp32: bool = Field(
        default=True, description="Convert an fp16 detector to fp32 at load (in memory) for CPU inference"
    )
    detector_confidence: OpenFraction = Field(default=0.25, description="Minimum plate detection confidence")
    detector_iou: OpenFraction = Field(default=0.5, description="NMS IoU threshold of plate boxes")
    threads: Threads = Field(default=2, description="onnxruntime intra-op threads per model")
    ocr_backend: Literal["rapidocr", "fast_plate_ocr"] = Field(
        default="rapidocr",
        description="rapidocr: PP-OCRv6 recognition model shipped in the rapidocr wheel (offline default); "
        "fast_plate_ocr: a local fast-plate-ocr ONNX model with its plate config yaml",
    )
    rapidocr_rec_model: str | None = Field(
        default=None,
        description="Recognition ONNX for the rapidocr backend. Unset: rapidocr/models/PP-OCRv6_rec_small.onnx",
    )
    fast_plate_ocr_model: str | None = Field(
        default=None, description="fast-plate-ocr ONNX model file (needed with ocr_backend=fast_plate_ocr)"
    )
    fast_plate_ocr_config: str | None = Field(
        default=None,
        description="fast-plate-ocr plate config yaml that goes with the model (alphabet, max_plate_slots, "
        "img_height, img_width, ...)",
    )
    ocr_ensemble: Literal["off", "generic", "always"] = Field(
        default="off",
        description="rapidocr backend: also read every view with a second recogniser; both recognisers' views "
        "score the candidate readings together; 'generic': for every country but vn. Off by default: with "
        "the CTC rescoring it no longer gains (US crops 448 vs 449 of 504 right), for ~1.5x the OCR time. "
        "The second model is "
        "ocr_ensemble_model, else PP-OCRv4 rec shipped in the rapidocr-onnxruntime wheel "
        "(rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx; pip install --no-deps "
        "rapidocr-onnxruntime==1.4.4). Skipped with a warning when neither is present.",
    )
    ocr_ensemble_model: str | None = Field(
        default=None,
        description="Second recognition ONNX (rapidocr/PaddleOCR format, 'character' list in its metadata) "
        "for ocr_ensemble. Unset: the rapidocr-onnxruntime wheel's ch_PP-OCRv4_rec_infer.onnx",
    )
    ocr_variants: int = Field(
        default=3,
        ge=1,
        le=3,
        description="Views of each line of a plate read and voted per character (1: cut to the glyph band; "
        "2: + fixed central band; 3: + glyph band with a wider margin). More views: fewer misreads, "
        "proportionally more OCR time.",
    )
    ocr_line_width: Literal["auto", "padded", "own"] = Field(
        default="auto",
        description="rapidocr backend: 'padded' reads every text line padded to 320 columns at the model's "
        "48-px height (PaddleOCR's input width; the US and European readings were tuned on it); 'own' "
        "reads a line at its own width plus 64 columns of padding (rounded up to the model's stride of 8), "
        "lines of about one width in one call: its cost grows with the columns, and a one-row plate's line "
        "is ~200 columns, a two-row plate's row ~120. auto: own with country vn (the same exact reads on "
        "2,622 Vietnamese crops, 13-28% fewer columns), padded elsewhere. The ocr_ensemble's second "
        "recogniser reads padded lines always.",
    )
    decisive_confidence: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="country vn: a crop is read in its first view alone when that view's reading is a valid plate whose "
        "weakest character has at least this posterior; otherwise the other views are read too and all "
        "are rescored together. 1: always read every view. 0.95 (was 0.99): on all 2,400 one-row and 222 "
        "two-row Vietnamese crops (own-width lines) the same exact reads; wrong reads flagged for review "
        "27 and 13 (0.99: 28 and 13), right reads flagged 74 and 14 (82 and 15); lines read per crop 1.19 "
        "and 2.87 (1.28 and 3.41).",
    )
    min_confidence: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="A plate read below this confidence (or not matching the country's grammar) needs review. "
        "Unset: 0.9 with country vn, whose confidence is each character's posterior against every other "
        "character at its place (set on the development crops: at most 5% of right reads flagged), "
        "0.85 elsewhere.",
    )
    vote_frames: int = Field(
        default=5, ge=1, le=50, description="Best frames of a track to read and vote over"
    )
    min_plate_height_px: int = Field(
        default=12, ge=4, description="Plate boxes smaller than this (pixels) are not worth reading"
    )
    country: Literal["vn", "us", "eu", "br", "generic"] = Field(
        default="vn",
        description="vn: Vietnamese grammar (area code, series, 4-5 digits; letter/digit repair); "
        "us/eu/br: any A-Z0-9 text of 4-10 characters, readings that fit the country's (or `region`'s) "
        "plate formats preferred when the image evidence is close; generic: no format prior",
    )
    region: str | None = Field(
        default=None,
        description="Sub-region whose plate formats are preferred: a US state (USPS code, e.g. 'ca') with "
        "country us, a European country (ISO code, e.g. 'it') with country eu. Unset: the whole country. "
        "A US state whose plates print no letter O (e.g. 'tx', 'fl', 'mi'; formats.US_NO_LETTER_O) also "
        "has every O-shaped glyph written as the digit 0. With `state_from_plate`, a plate that names "
        "its state is read with that state's instead.",
    )
    state_from_plate: bool = Field(
        default=True,
        description="country us: read the state's name printed above or below the number (TEXAS, "
        "myFlorida.com, Scenic IDAHO) and read that plate with the state's formats and letter-O rule, "
        "in place of `region`. One more short OCR call per plate.",
    )
    top_candidates: int = Field(default=3, ge=1, le=10, description="Alternative readings kept per plate")

    @property
    def trust_threshold(self) -> float:
        """`min_confidence`, resolved by country."""
        if self.min_confidence is not None:
            return self.min_confidence
        return 0.9 if self.country == "vn" else 0.85

    @model_validator(mode="after")
    def _check(self) -> PlatesConfig:
        if self.detector_input_size % 32:
            raise ValueError(f"detector_input_size must be a multiple of 32, got {self.detector_input_size}")
        if self.region is not None and self.country not in ("us", "eu"):
            raise ValueError(f"region is only used with country us or eu, not {self.country!r}")
        if self.ocr_backend == "fast_plate_ocr" and not (
            self.fast_plate_ocr_model and self.fast_plate_ocr_config
        ):
            raise ValueError(
                "ocr_backend=fast_plate_ocr needs fast_plate_ocr_model and fast_plate_ocr_config"
            )
        return self
