"""Plate OCR behind one small Protocol, with two backends.

- `RapidOcrRecognizer` (offline default): the PP-OCRv6 text-recognition model that the rapidocr wheel
  ships (``rapidocr/models/PP-OCRv6_rec_small.onnx``), run with onnxruntime on one text line at a time.
  Its CTC output covers ~18,700 characters; decoding is restricted to the plate alphabet (0-9, A-Z, and
  '-', '.', ' ' as separators), with lower-case probability folded into upper case. That whitelist is
  what makes the general model a plate reader: a '0' can never come out as a Chinese character.
  It is the same model and preprocessing as ``RapidOCR()(img, use_det=False, use_cls=False,
  use_rec=True)``, which the benchmark runs as the peer.
- `FastPlateOcrRecognizer`: fast-plate-ocr's `LicensePlateRecognizer` on a LOCAL model file and its
  plate config yaml (``onnx_model_path=``, ``plate_config_path=``). No package ships those weights;
  export or download them yourself once (e.g. ``cct-s-v2-global-model`` from the fast-plate-ocr
  releases) into models/ and set `fast_plate_ocr_model`/`fast_plate_ocr_config`. The hub download
  path of the library is never used here. Needs the ``fast-plate-ocr[onnx]`` extra.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from detector.config import PlatesConfig
from detector.detect.base import ModelInfo, cpu_session_options, package_file, sha256_file
from detector.errors import ConfigError, ModelError
from detector.plates.ctc import PLATE_ALPHABET
from detector.plates.image import Image

log = logging.getLogger(__name__)

RAPIDOCR_PACKAGE = "rapidocr"
RAPIDOCR_REC_FILE = "models/PP-OCRv6_rec_small.onnx"
ENSEMBLE_PACKAGE = "rapidocr_onnxruntime"
ENSEMBLE_REC_FILE = "models/ch_PP-OCRv4_rec_infer.onnx"
SEPARATORS = "-. "
#: Padded reading: narrower lines are padded to this width (PaddleOCR's rec_img_shape width)
PADDED_WIDTH = 320
#: Own-width reading: columns of padding right of a call's widest line (the model was trained on lines
#: padded on the right; read with none, its posteriors at a line's end are lower: measured on the
#: Vietnamese crops, 0 columns lost 2 exact reads of 2,400 one-row crops, 32 one of 222 two-row, 64 none)
OWN_WIDTH_MARGIN = 64
#: Own-width reading: lines at most this many columns narrower than a call's widest line join its call
#: (the two rows of a two-row plate, mostly), padded further. One 48-px line costs ~0.09 ms CPU a
#: column and a call ~1 ms more (this CPU, one thread)
GROUP_SLACK = 32


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised text line.

    `text` keeps separators as read ('51F-123.45'); `chars` is the plate text without them and
    `char_confidences` has one probability per character of `chars`.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    #: per-step CTC probabilities (T, 37): blank (separators folded in), then 0-9 A-Z; None when the
    #: backend does not expose them (fast-plate-ocr): candidates are then not rescored
    probs: npt.NDArray[np.float32] | None = field(default=None, compare=False, repr=False)

    @property
    def chars(self) -> str:
        return "".join(c for c in self.text if c not in SEPARATORS)

    @property
    def min_confidence(self) -> float:
        return min(self.char_confidences, default=0.0)


EMPTY_LINE = OcrLine("", 0.0, ())


class PlateOcr(Protocol):
    """Reads one text line per image (BGR crops of a plate or of one row of a plate)."""

    model: ModelInfo

    def read_lines(self, images: Sequence[Image]) -> list[OcrLine]: ...

    def close(self) -> None: ...


def _session(path: Path, threads: int, what: str) -> ort.InferenceSession:
    so = cpu_session_options(threads)
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: cannot load {what}: {exc}") from exc


class RapidOcrRecognizer:
    """PP-OCRv6 recognition (rapidocr's shipped model) with a plate-alphabet CTC decoder."""

    height = 48
    stride = 8  # input columns per CTC step of the PP-OCR recognisers

    def __init__(self, path: Path, origin: str = "config", threads: int = 2, own_width: bool = False) -> None:
        self._session = _session(path, threads, "rapidocr recognition model")
        #: False: a call's lines padded to PADDED_WIDTH (PaddleOCR's rec_img_shape width) or its widest
        #: line; True: lines of about one width read in one call (`width_groups`), padded to the widest
        #: plus OWN_WIDTH_MARGIN, rounded up to `stride` (`own_batch_width`)
        self.own_width = own_width
        self.model = ModelInfo(
            name=path.stem, role="ocr", sha256=sha256_file(path), file=path.name, version=origin
        )
        meta = self._session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ModelError(f"{path}: no 'character' list in the model metadata (not a rapidocr rec model?)")
        vocab = ["<blank>", *meta["character"].splitlines(), " "]
        self._input = self._session.get_inputs()[0].name
        index = {ch: i for i, ch in enumerate(vocab) if i > 0}
        # columns kept: blank, then each output symbol (upper case letters absorb their lower case)
        self._symbols: list[str] = []
        groups: list[list[int]] = [[0]]
        for ch in PLATE_ALPHABET + SEPARATORS:
            cols = [index[c] for c in {ch, ch.lower()} if c in index]
            if cols:
                self._symbols.append(ch)
                groups.append(cols)
        self._groups = groups
        width = max(len(g) for g in groups)
        self._gather = np.array([g + [g[0]] * (width - len(g)) for g in groups], dtype=np.int64)
        self._valid = np.array([[j < len(g) for j in range(width)] for g in groups])
        # columns of `sub` (decoder space) that make the (T, 37) CTC matrix: blank + separators, alphabet
        self._blank_cols = [0] + [k + 1 for k, ch in enumerate(self._symbols) if ch in SEPARATORS]
        alpha_cols = {ch: k + 1 for k, ch in enumerate(self._symbols)}
        missing = [ch for ch in PLATE_ALPHABET if ch not in alpha_cols]
        if missing:
            raise ModelError(
                f"{path}: the model's character list lacks plate characters {''.join(missing)!r}"
            )
        self._alpha_cols = [alpha_cols[ch] for ch in PLATE_ALPHABET]

    @classmethod
    def from_config(cls, cfg: PlatesConfig) -> RapidOcrRecognizer:
        if cfg.rapidocr_rec_model:
            path = Path(cfg.rapidocr_rec_model)
            if not path.is_file():
                raise ModelError(f"rapidocr recognition model not found: {path} (plates.rapidocr_rec_model)")
            return cls(path, "config", cfg.threads, own_line_width(cfg))
        shipped = package_file(RAPIDOCR_PACKAGE, RAPIDOCR_REC_FILE)
        if shipped is None:
            raise ModelError(
                f"no OCR model: the rapidocr package (which ships {RAPIDOCR_REC_FILE}) is not installed"
            )
        return cls(shipped, f"package:{RAPIDOCR_PACKAGE}", cfg.threads, own_line_width(cfg))

    def _prepare(self, images: Sequence[Image]) -> tuple[npt.NDArray[np.float32], list[int]]:
        """The normalised batch (N, 3, 48, W), each line resized to the model's height and left-aligned,
        and each line's width in it (the rest is padding)."""
        widths = [self.line_width(im) for im in images]
        if self.own_width:
            batch_w = max(self.own_batch_width(w) for w in widths)
        else:
            batch_w = max([PADDED_WIDTH, *widths])
        batch = np.zeros((len(images), 3, self.height, batch_w), dtype=np.float32)
        for k, (im, w) in enumerate(zip(images, widths, strict=True)):
            if im.ndim == 2:
                im = cv2.cvtColor(im, cv2.COLOR_GRAY2BGR)
            resized = cv2.resize(im, (w, self.height), interpolation=cv2.INTER_LINEAR)
            batch[k, :, :, :w] = (resized.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        return batch, widths

    def line_width(self, im: Image) -> int:
        """Columns of a line resized to the model's height."""
        return max(1, math.ceil(self.height * im.shape[1] / max(1, im.shape[0])))

    def own_batch_width(self, width: int) -> int:
        """Own-width reading: the input width a line of `width` columns is read at."""
        return -(-(width + OWN_WIDTH_MARGIN) // self.stride) * self.stride

    def calls(self, images: Sequence[Image], usable: Sequence[int]) -> list[list[int]]:
        """The `usable` positions of `images` read together, one list per onnxruntime call: all in one
        call (padded reading), or lines of about one width (own-width reading, `width_groups`)."""
        if not self.own_width:
            return [list(usable)]
        groups = width_groups([self.line_width(images[i]) for i in usable])
        return [[usable[j] for j in group] for group in groups]

    def _decode(self, probs: npt.NDArray[np.float32], steps: int) -> OcrLine:
        """Greedy plate-alphabet decoding of one line's (T, C) softmax, of which the first `steps` cover
        the image (the rest cover the batch's padding, where nothing is read)."""
        probs = probs[: max(1, steps)]
        # fold each symbol's columns into one probability
        sub = np.where(self._valid[None], probs[:, self._gather], 0.0).sum(axis=2)  # (T, S+1)
        best = sub.argmax(axis=1)
        text: list[str] = []
        confs: list[float] = []
        prev = 0
        for t, k in enumerate(best):
            k = int(k)
            if k != 0 and k != prev:
                text.append(self._symbols[k - 1])
                confs.append(float(sub[t, k]))
            elif k != 0 and k == prev:
                confs[-1] = max(confs[-1], float(sub[t, k]))
            prev = k
        # separators carry no confidence that matters; strip them from the edges
        line = "".join(text).strip(SEPARATORS)
        char_conf = tuple(min(1.0, c) for ch, c in zip(text, confs, strict=True) if ch not in SEPARATORS)
        conf = float(np.mean(char_conf)) if char_conf else 0.0
        ctc = np.concatenate(
            [sub[:, self._blank_cols].sum(axis=1, keepdims=True), sub[:, self._alpha_cols]], axis=1
        )
        ctc /= np.maximum(ctc.sum(axis=1, keepdims=True), 1e-9)  # mass of other scripts dropped
        return OcrLine(line, conf, char_conf, ctc.astype(np.float32))

    def read_lines(self, images: Sequence[Image]) -> list[OcrLine]:
        out: list[OcrLine] = [EMPTY_LINE] * len(images)
        usable = [i for i, im in enumerate(images) if im.size and im.shape[0] >= 4 and im.shape[1] >= 4]
        if not usable:
            return out
        for ids in self.calls(images, usable):
            batch, widths = self._prepare([images[i] for i in ids])
            probs = self._session.run(None, {self._input: batch})[0]
            stride = batch.shape[3] / max(1, probs.shape[1])  # input columns per CTC step
            for j, i in enumerate(ids):
                # the steps over the line and one more (the model's receptive field spills over its edge)
                out[i] = self._decode(probs[j], math.ceil(widths[j] / stride) + 1)
        return out

    def close(self) -> None:
        self._session = None


class FastPlateOcrRecognizer:
    """fast-plate-ocr's LicensePlateRecognizer on a local ONNX model and its plate config yaml."""

    def __init__(self, model_path: Path, config_path: Path, threads: int = 2) -> None:
        for p, what in ((model_path, "fast_plate_ocr_model"), (config_path, "fast_plate_ocr_config")):
            if not p.is_file():
                raise ModelError(f"fast-plate-ocr file not found: {p} (plates.{what})")
        try:
            from fast_plate_ocr import LicensePlateRecognizer
        except ImportError as exc:
            raise ConfigError(
                "plates.ocr_backend=fast_plate_ocr needs the fast-plate-ocr package: "
                "pip install 'detector[fast-plate-ocr]'"
            ) from exc
        so = cpu_session_options(threads)
        try:
            self._rec = LicensePlateRecognizer(
                onnx_model_path=model_path,
                plate_config_path=config_path,
                device="cpu",
                sess_options=so,
            )
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(
                f"{model_path} / {config_path}: cannot load fast-plate-ocr model: {exc}"
            ) from exc
        except Exception as exc:  # onnxruntime errors
            raise ModelError(f"{model_path}: cannot load fast-plate-ocr model: {exc}") from exc
        self._rgb = self._rec.config.image_color_mode == "rgb"
        self._pad = self._rec.config.pad_char
        self.model = ModelInfo(
            name=model_path.stem,
            role="ocr",
            sha256=sha256_file(model_path),
            file=model_path.name,
            version="config",
        )

    @classmethod
    def from_config(cls, cfg: PlatesConfig) -> FastPlateOcrRecognizer:
        if not cfg.fast_plate_ocr_model or not cfg.fast_plate_ocr_config:
            raise ConfigError(
                "plates.ocr_backend=fast_plate_ocr needs fast_plate_ocr_model and fast_plate_ocr_config"
            )
        return cls(Path(cfg.fast_plate_ocr_model), Path(cfg.fast_plate_ocr_config), cfg.threads)

    def read_lines(self, images: Sequence[Image]) -> list[OcrLine]:
        out: list[OcrLine] = [EMPTY_LINE] * len(images)
        usable = [i for i, im in enumerate(images) if im.size and im.shape[0] >= 4 and im.shape[1] >= 4]
        if not usable:
            return out
        conv = cv2.COLOR_BGR2RGB if self._rgb else cv2.COLOR_BGR2GRAY
        batch = [cv2.cvtColor(images[i], conv) for i in usable]
        preds = self._rec.run(batch, return_confidence=True, remove_pad_char=False)
        for i, pred in zip(usable, preds, strict=True):
            probs = np.asarray(pred.char_probs, dtype=np.float32).reshape(-1)
            chars = [(c, float(p)) for c, p in zip(pred.plate, probs, strict=False) if c != self._pad]
            text = "".join(c for c, _ in chars).upper()
            confs = tuple(p for c, p in chars if c not in SEPARATORS)
            out[i] = OcrLine(text, float(np.mean(confs)) if confs else 0.0, confs)
        return out

    def close(self) -> None:
        self._rec = None  # type: ignore[assignment]


def own_line_width(cfg: PlatesConfig) -> bool:
    """Whether lines are read at their own width (`PlatesConfig.ocr_line_width`; auto: with country vn)."""
    if cfg.ocr_line_width == "auto":
        return cfg.country == "vn"
    return cfg.ocr_line_width == "own"


def width_groups(widths: Sequence[int], slack: int = GROUP_SLACK) -> list[list[int]]:
    """Positions of `widths` in calls of about one width: widest first, a line joins the call of the
    widest line not yet placed when it is at most `slack` columns narrower. Each call's positions ascend."""
    order = sorted(range(len(widths)), key=lambda i: (-widths[i], i))
    groups: list[list[int]] = []
    for i in order:
        if groups and widths[groups[-1][0]] - widths[i] <= slack:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [sorted(g) for g in groups]


def ensemble_from_config(cfg: PlatesConfig) -> list[PlateOcr]:
    """The second recogniser(s) voting with the main one (rapidocr backend with `ocr_ensemble` only),
    reading lines padded to 320 columns whatever `ocr_line_width` says (own width was measured on the
    main recogniser only).

    An explicitly configured `ocr_ensemble_model` must exist (ModelError otherwise); the packaged
    default (PP-OCRv4 rec from the rapidocr-onnxruntime wheel) is optional: without it the reader runs
    with the main recogniser alone and logs a warning.
    """
    if cfg.ocr_backend != "rapidocr" or cfg.ocr_ensemble == "off":
        return []
    if cfg.ocr_ensemble == "generic" and cfg.country == "vn":
        return []
    if cfg.ocr_ensemble_model:
        path = Path(cfg.ocr_ensemble_model)
        if not path.is_file():
            raise ModelError(f"ensemble recognition model not found: {path} (plates.ocr_ensemble_model)")
        return [RapidOcrRecognizer(path, "config", cfg.threads)]
    shipped = package_file(ENSEMBLE_PACKAGE, ENSEMBLE_REC_FILE)
    if shipped is None:
        log.warning(
            "plates.ocr_ensemble: %s not installed (pip install --no-deps rapidocr-onnxruntime==1.4.4); "
            "reading plates with one recogniser",
            ENSEMBLE_PACKAGE,
        )
        return []
    return [RapidOcrRecognizer(shipped, f"package:{ENSEMBLE_PACKAGE}", cfg.threads)]


def ocr_from_config(cfg: PlatesConfig) -> PlateOcr:
    """The configured OCR backend."""
    if cfg.ocr_backend == "fast_plate_ocr":
        return FastPlateOcrRecognizer.from_config(cfg)
    return RapidOcrRecognizer.from_config(cfg)
