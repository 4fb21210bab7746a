"""The vehicle detector's ONNX file run by OpenVINO instead of onnxruntime (`detector.backend: openvino`).

Measured (benchmarks/bench_backends.py, benchmarks/RESULTS.md): on a Xeon with AMX and AVX-512 BF16,
OpenVINO runs YOLO11n at 640x384 in 14 ms on one thread against onnxruntime's 21 ms (int8) and 33 ms
(fp32), because its CPU plugin computes in bf16 there by default; on an AMD EPYC without AVX-512 it was
slower than onnxruntime (60 against 54 ms, int8). So it is an option, not the default: the edge box's
operator runs `benchmarks/bench_backends.py` on the box and chooses.

`OpenVinoSession` offers what `OnnxYoloDetector` asks of an onnxruntime session (`run`, `get_inputs`,
`get_outputs`, `get_modelmeta`), so pre- and post-processing, crops and the class names are the same
code for both backends. The model is compiled once per input shape (a frame loop feeds one shape; a
static shape runs ~15% faster than the dynamic model) up to `STATIC_SHAPES`, and past them through
the dynamic model. Inferences may run from several threads at once (detection ahead of the tracker):
each thread has its own infer request, and the compiled model has as many streams as the box's cores
allow at `threads` threads an inference.

`openvino` is an optional dependency (the `openvino` extra, which scripts/setup.sh installs for the
tests); it is imported only when this backend is chosen.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detector.errors import ModelError

log = logging.getLogger(__name__)

#: input shapes compiled as static models; further shapes (crops of many sizes) use the dynamic one
STATIC_SHAPES = 4


@dataclass(frozen=True, slots=True)
class _Port:
    """A model input or output as onnxruntime describes it: dynamic dimensions are names, not ints."""

    name: str
    shape: list[int | str]


@dataclass(frozen=True, slots=True)
class _Meta:
    custom_metadata_map: dict[str, str] = field(default_factory=dict)


def _metadata(model: Any) -> dict[str, str]:
    """The ONNX file's metadata as OpenVINO keeps it (`framework` in the model's runtime info): an
    Ultralytics export keeps its class names there."""
    try:
        framework = model.get_rt_info()["framework"]
        return {str(k): str(v.astype(str)) for k, v in framework.items()}
    except Exception:  # no metadata in the file: COCO ids are assumed, as onnxruntime's path does
        return {}


def streams_for(threads: int, cores: int | None = None) -> int:
    """Inferences the compiled model runs at once: the cores over the threads of one inference."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, threads))


class OpenVinoSession:
    """An ONNX model compiled by OpenVINO for the CPU, used like an onnxruntime session."""

    def __init__(self, path: Path, threads: int, what: str, precision: str | None = None) -> None:
        """`precision`: OpenVINO's inference precision hint (`f32`, `bf16`); None keeps the CPU
        plugin's default (bf16 where the CPU has AMX or AVX-512 BF16, else f32)."""
        try:
            import openvino as ov
        except ImportError as exc:
            raise ModelError(
                "detector.backend is openvino but the openvino package is not installed: "
                "pip install -e '.[openvino]' (or set detector.backend: onnx)"
            ) from exc
        self.path = path
        self.what = what
        self.threads = threads
        self.streams = streams_for(threads)
        self._config: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": threads * self.streams,
            "NUM_STREAMS": self.streams,
            "ENABLE_CPU_PINNING": False,  # the decoder, the loop and the evidence worker share the cores
        }
        if precision is not None:
            self._config["INFERENCE_PRECISION_HINT"] = precision
        # pybind11 sets up its numpy bindings on first use, behind a once-flag; two detection workers
        # reaching it at once deadlocked a replay (seen once in about 30 runs: both threads waiting
        # inside the first input copy). Set it up here, in the one thread that builds the session.
        ov.Tensor(np.zeros((1,), np.float32)).data.sum()
        self._tensor = ov.Tensor
        self._core = ov.Core()
        try:
            self._model: Any = self._core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError with its own text
            raise ModelError(f"cannot load {what} model {path} with OpenVINO: {exc}") from exc
        if len(self._model.inputs) != 1:
            raise ModelError(f"{path}: expected one input, got {len(self._model.inputs)}")
        self._inputs = [_Port(p.any_name, _dims(p.partial_shape)) for p in self._model.inputs]
        self._outputs = [_Port(p.any_name, _dims(p.partial_shape)) for p in self._model.outputs]
        self._meta = _Meta(_metadata(self._model))
        self._compiled: dict[tuple[int, ...], Any] = {}
        self._dynamic: Any = None
        self._lock = threading.RLock()  # compiles one at a time; `_for_shape` may compile the dynamic one
        self._local = threading.local()

    @property
    def inference_precision(self) -> str:
        """What the CPU plugin computes in (`f32`, `bf16`), as compiled."""
        compiled = next(iter(self._compiled.values()), None) or self._compile_dynamic()
        return str(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())

    def get_inputs(self) -> list[_Port]:
        return self._inputs

    def get_outputs(self) -> list[_Port]:
        return self._outputs

    def get_modelmeta(self) -> _Meta:
        return self._meta

    def run(self, output_names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The model's outputs for `feed` (one input), as onnxruntime's `run` returns them."""
        (blob,) = feed.values()
        compiled = self._for_shape(tuple(blob.shape))
        requests: dict[int, Any] | None = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        request = requests.get(id(compiled))
        if request is None:
            request = requests[id(compiled)] = compiled.create_infer_request()
        request.set_input_tensor(self._tensor(np.ascontiguousarray(blob), shared_memory=True))
        request.infer()
        return [request.get_output_tensor(i).data.copy() for i in range(len(self._outputs))]

    def _for_shape(self, shape: tuple[int, ...]) -> Any:
        compiled = self._compiled.get(shape)
        if compiled is not None:
            return compiled
        with self._lock:
            compiled = self._compiled.get(shape)
            if compiled is not None:
                return compiled
            if len(self._compiled) >= STATIC_SHAPES:
                return self._compile_dynamic()
            model = self._read()
            model.reshape({model.inputs[0].any_name: list(shape)})
            compiled = self._compile(model)
            self._compiled[shape] = compiled
            log.info("%s: compiled for input %s (%s streams)", self.what, shape, self.streams)
            return compiled

    def _compile_dynamic(self) -> Any:
        with self._lock:
            if self._dynamic is None:
                self._dynamic = self._compile(self._read())
            return self._dynamic

    def _read(self) -> Any:
        """The model as read from its file (the one read at start, the first time)."""
        model = self._model if self._model is not None else self._core.read_model(str(self.path))
        self._model = None
        return model

    def _compile(self, model: Any) -> Any:
        try:
            return self._core.compile_model(model, "CPU", self._config)
        except Exception as exc:
            raise ModelError(f"cannot compile {self.what} model {self.path} with OpenVINO: {exc}") from exc


def _dims(shape: Any) -> list[int | str]:
    """A partial shape's dimensions as onnxruntime gives them: ints, or names for dynamic ones."""
    return [d.get_length() if d.is_static else f"d{i}" for i, d in enumerate(shape)]
