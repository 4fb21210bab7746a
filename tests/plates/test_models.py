"""Model plumbing: detector graph rewrite, fast-plate-ocr backend loading, config, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from detector.config import PlatesConfig
from detector.errors import ModelError
from detector.plates.detect import OnnxPlateDetector, box_iou, resolve_platedet
from detector.plates.onnx_graph import rewrite_platedet
from detector.plates.reader import PlateReader
from tests.plates.support import OPENALPR, VN, image, need

REPO = Path(__file__).resolve().parents[2]


def test_config_defaults_and_validation() -> None:
    cfg = PlatesConfig()
    assert cfg.enabled and cfg.country == "vn" and cfg.ocr_backend == "rapidocr"
    with pytest.raises(ValidationError, match="multiple of 32"):
        PlatesConfig(detector_input_size=300)
    with pytest.raises(ValidationError, match="fast_plate_ocr_model"):
        PlatesConfig(ocr_backend="fast_plate_ocr")
    with pytest.raises(ValidationError):
        PlatesConfig.model_validate({"country": "xx"})
    with pytest.raises(ValidationError):
        PlatesConfig.model_validate({"unknown_field": 1})


def test_rewrite_to_320_fp32_keeps_the_detections(models_reader: PlateReader) -> None:
    import onnxruntime as ort

    path, _ = resolve_platedet(None)
    raw = path.read_bytes()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    small = ort.InferenceSession(
        rewrite_platedet(raw, 320, True, "test"), so, providers=["CPUExecutionProvider"]
    )
    inp = small.get_inputs()[0]
    assert inp.shape == [1, 3, 320, 320] and inp.type == "tensor(float)"
    assert [o.shape for o in small.get_outputs()] == [[1, 37, 2100]]  # mask branch pruned
    with pytest.raises(ModelError, match="multiple of 32"):
        rewrite_platedet(raw, 300, True, "test")
    # the rewritten graph's anchors and strides are right: its plates are the 640 input's (IoU >= 0.8;
    # anchors off by half a cell, as without Ultralytics' +0.5, give 0.38-0.56 on these photos)
    at_640 = models_reader.detector
    assert at_640 is not None
    at_320 = OnnxPlateDetector.from_config(PlatesConfig(detector_input_size=320))
    assert at_320.input_size == 320
    for name in ("eu3", "eu5", "eu6", "eu7", "eu9", "eu11"):
        photo = image(OPENALPR / "endtoend" / "eu" / f"{name}.jpg")
        big, small_boxes = at_640.detect(photo), at_320.detect(photo)
        assert big and small_boxes, (name, big, small_boxes)
        assert box_iou(big[0].xyxy, small_boxes[0].xyxy) >= 0.8, (name, big[0], small_boxes[0])
    at_320.close()


def _fake_fast_plate_ocr(tmp: Path, text: str) -> tuple[Path, Path]:
    """A tiny ONNX model with fast-plate-ocr's I/O contract that always 'reads' `text`."""
    import onnx
    from onnx import TensorProto, helper

    alphabet, slots = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_", 10
    probs = np.full((slots, len(alphabet)), 0.01, np.float32)
    for i, ch in enumerate(text.ljust(slots, "_")):
        probs[i, alphabet.index(ch)] = 0.9
    nodes = [
        helper.make_node("Cast", ["input"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["f"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Unsqueeze", ["z", "ax"], ["z2"]),
        helper.make_node("Add", ["z2", "logits"], ["plate"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fake_fpo",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, ["N", 64, 128, 3])],
        [helper.make_tensor_value_info("plate", TensorProto.FLOAT, ["N", slots * len(alphabet)])],
        initializer=[
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("ax", TensorProto.INT64, [1], [1]),
            helper.make_tensor("logits", TensorProto.FLOAT, [1, probs.size], probs.ravel().tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    mpath, cpath = tmp / "fake.onnx", tmp / "fake_plate_config.yaml"
    onnx.save(model, mpath)
    cpath.write_text(
        f"max_plate_slots: {slots}\nalphabet: '{alphabet}'\npad_char: '_'\nimg_height: 64\nimg_width: 128\n"
        "keep_aspect_ratio: false\ninterpolation: linear\nimage_color_mode: rgb\n"
    )
    return mpath, cpath


def test_fast_plate_ocr_backend_loads_a_local_model(tmp_path: Path) -> None:
    pytest.importorskip("fast_plate_ocr", reason="fast-plate-ocr extra not installed")

    from detector.plates.ocr import FastPlateOcrRecognizer, ocr_from_config
    from detector.plates.reader import PlateReader

    mpath, cpath = _fake_fast_plate_ocr(tmp_path, "51F12345")
    cfg = PlatesConfig(
        ocr_backend="fast_plate_ocr", fast_plate_ocr_model=str(mpath), fast_plate_ocr_config=str(cpath)
    )
    ocr = ocr_from_config(cfg)
    assert isinstance(ocr, FastPlateOcrRecognizer)
    lines = ocr.read_lines([np.full((40, 160, 3), 200, np.uint8), np.zeros((0, 0, 3), np.uint8)])
    assert lines[0].text == "51F12345" and len(lines[0].char_confidences) == 8
    assert lines[0].confidence == pytest.approx(0.9, abs=1e-6)
    assert lines[1].text == ""
    reader = PlateReader(cfg, None, ocr)
    obs = reader.read_crop(image(VN / "3CarLongPlate226.jpg"))
    assert obs is not None and obs.text == "51F-123.45"  # the fake model's text, through the VN grammar


def test_fast_plate_ocr_missing_files_are_named(tmp_path: Path) -> None:
    from detector.plates.ocr import FastPlateOcrRecognizer

    with pytest.raises(ModelError, match="nothere.onnx"):
        FastPlateOcrRecognizer(tmp_path / "nothere.onnx", tmp_path / "cfg.yaml")


def test_fast_plate_ocr_real_model_if_present() -> None:
    """A real fast-plate-ocr model dropped in models/fast_plate_ocr/ (model.onnx + plate_config.yaml)."""
    pytest.importorskip("fast_plate_ocr", reason="fast-plate-ocr extra not installed")
    folder = REPO / "models" / "fast_plate_ocr"
    model, config = folder / "model.onnx", folder / "plate_config.yaml"
    if not (model.is_file() and config.is_file()):
        pytest.skip(f"no fast-plate-ocr model at {model} (+ plate_config.yaml); no package ships its weights")

    from detector.plates.ocr import FastPlateOcrRecognizer

    ocr = FastPlateOcrRecognizer(model, config)
    crop = image(VN / "3CarLongPlate226.jpg")
    line = ocr.read_lines([crop])[0]
    assert line.chars == "51F06532"


def test_cli_reads_a_crop_as_json() -> None:
    from detector.cli.plates import plates

    crop = need(VN / "3CarLongPlate226.jpg")
    result = CliRunner().invoke(plates, ["read", "--crop", "--json", str(crop)])
    assert result.exit_code == 0, result.output
    rec = json.loads(result.output.strip().splitlines()[-1])
    assert rec["normalized"] == "51F06532" and rec["text"] == "51F-065.32" and rec["rows"] == 1


def test_cli_json_prints_the_review_decision_and_its_confidence() -> None:
    """`confidence` and `needs_review` are what a track's plate would get from this one reading (the
    vote: its least supported character against `trust_threshold`), not the OCR line's own score."""
    from detector.cli.plates import plates
    from detector.plates.reader import PlateReader

    crops = sorted(need(VN).glob("*.jpg"))[:6]
    result = CliRunner().invoke(plates, ["read", "--crop", "--json", *map(str, crops)])
    assert result.exit_code == 0, result.output
    recs = [json.loads(line) for line in result.output.strip().splitlines() if line.startswith("{")]
    assert [r["image"] for r in recs] == [str(c) for c in crops]
    cfg = PlatesConfig(detector_input_size=640)
    reader = PlateReader.from_config(cfg, with_detector=False)
    try:
        for crop, rec in zip(crops, recs, strict=True):
            picture = cv2.imread(str(crop))
            assert picture is not None, crop
            obs = reader.read_crop(picture)
            assert obs is not None and rec["ocr_confidence"] == obs.confidence
            read = reader.vote([obs])
            assert read is not None
            assert (rec["confidence"], rec["needs_review"]) == (read.confidence, read.needs_review), crop
            assert rec["needs_review"] or rec["confidence"] >= cfg.trust_threshold
    finally:
        reader.close()


def test_cli_missing_image_is_a_runtime_error_naming_it() -> None:
    """A file that cannot be read gets its own record and the run exits 1 naming it (issue 15: the good
    images of the same call are still read; tests/trust/test_files.py checks that part)."""
    from detector.cli import main_group
    from detector.errors import ConfigError, DetectorError

    result = CliRunner().invoke(main_group, ["plates", "read", "/nonexistent/plate.jpg"])
    assert isinstance(result.exception, DetectorError) and not isinstance(result.exception, ConfigError)
    assert "/nonexistent/plate.jpg: file not found" in str(result.exception)
