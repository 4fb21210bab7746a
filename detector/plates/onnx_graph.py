"""In-memory rewrites of the platedet ONNX graph (YOLOv8s-seg, fp16, fixed 640x640 input).

Two rewrites, both done on load (or written once with `detector plates export-model`), never
downloaded:

- fp16 -> fp32: onnxruntime's CPU provider has few fp16 kernels, so an fp16 graph runs with casts
  around most ops; converting the weights to fp32 is faster on CPU.
- input size: the Ultralytics export bakes the anchor count (8400 for 640x640) into the DFL reshape
  constants and the anchor/stride tables. For a smaller square input those constants are rebuilt for
  the new grid (strides 8, 16, 32), which is exactly what a re-export at that size would contain.

Needs the `onnx` package (import is deferred to the call).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from detector.errors import ModelError
from detector.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

_STRIDES = (8, 16, 32)
_FP16 = 10
_FP32 = 1


def _anchor_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor centres (1, 2, N) and strides (1, N), as Ultralytics' make_anchors builds them."""
    points, strides = [], []
    for s in _STRIDES:
        n = size // s
        ys, xs = np.meshgrid(
            np.arange(n, dtype=np.float32) + 0.5, np.arange(n, dtype=np.float32) + 0.5, indexing="ij"
        )
        points.append(np.stack([xs.ravel(), ys.ravel()], axis=0))
        strides.append(np.full(n * n, s, dtype=np.float32))
    return np.concatenate(points, axis=1)[None], np.concatenate(strides)[None]


def rewrite_platedet(
    model_bytes: bytes, input_size: int | None, to_fp32: bool, where: str, drop_masks: bool = True
) -> bytes:
    """Return the serialised model converted to fp32 and/or resized to `input_size` (square, /32).

    `drop_masks` removes the mask-prototype output (`output1`) and the branch that only feeds it:
    boxes are all the plate stage uses, and the 160x160 prototype convolutions are a large share of the
    cost at small inputs.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(f"{where}: rewriting the plate detector needs the 'onnx' package ({exc})") from exc

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    inp = graph.input[0]
    dims = inp.type.tensor_type.shape.dim
    old = int(dims[2].dim_value)
    old_n = sum((old // s) ** 2 for s in _STRIDES)

    if to_fp32:
        for init in graph.initializer:
            if init.data_type == _FP16:
                arr = numpy_helper.to_array(init).astype(np.float32)
                init.CopyFrom(numpy_helper.from_array(arr, init.name))
        for node in graph.node:
            if node.op_type == "Cast":
                for attr in node.attribute:
                    if attr.name == "to" and attr.i == _FP16:
                        attr.i = _FP32
        for vi in list(graph.input) + list(graph.output):
            if vi.type.tensor_type.elem_type == _FP16:
                vi.type.tensor_type.elem_type = _FP32
        del graph.value_info[:]

    if input_size is not None and input_size != old:
        if input_size % 32 or input_size < 128:
            raise ModelError(
                f"{where}: plate detector input size must be a multiple of 32 >= 128, got {input_size}"
            )
        new_n = sum((input_size // s) ** 2 for s in _STRIDES)
        anchors, strides = _anchor_tables(input_size)
        replaced = 0
        for init in graph.initializer:
            arr = numpy_helper.to_array(init)
            if arr.dtype.kind == "i" and old_n in arr.ravel().tolist() and arr.ndim == 1:
                new = np.where(arr == old_n, new_n, arr).astype(arr.dtype)
            elif arr.shape == (1, 2, old_n):
                new = anchors.astype(arr.dtype)
            elif arr.shape == (1, old_n):
                new = strides.astype(arr.dtype)
            else:
                continue
            init.CopyFrom(numpy_helper.from_array(new, init.name))
            replaced += 1
        if replaced < 4:
            raise ModelError(
                f"{where}: not a YOLOv8 export this rewrite understands "
                f"(found {replaced} of 4 anchor constants for {old}x{old})"
            )
        dims[2].dim_value = input_size
        dims[3].dim_value = input_size
        for out in graph.output:
            for d in out.type.tensor_type.shape.dim:
                if d.dim_value == old_n:
                    d.dim_value = new_n
                elif d.dim_value == old // 4:  # mask prototypes at stride 4
                    d.dim_value = input_size // 4
        del graph.value_info[:]
        log.debug("%s: input resized %d -> %d (%d anchors)", where, old, input_size, new_n)
    if drop_masks and len(graph.output) > 1:
        _drop_outputs(graph, keep={graph.output[0].name})
    return model.SerializeToString()


def _drop_outputs(graph: object, keep: set[str]) -> None:
    """Remove graph outputs not in `keep` and every node that no kept output depends on."""
    outputs = graph.output  # type: ignore[attr-defined]
    nodes = graph.node  # type: ignore[attr-defined]
    for out in [o for o in outputs if o.name not in keep]:
        outputs.remove(out)
    needed = set(keep)
    live = []
    for node in reversed(list(nodes)):
        if any(o in needed for o in node.output):
            live.append(node)
            needed.update(i for i in node.input if i)
    live_ids = {id(n) for n in live}
    for node in [n for n in nodes if id(n) not in live_ids]:
        nodes.remove(node)
    inits = graph.initializer  # type: ignore[attr-defined]
    for init in [i for i in inits if i.name not in needed]:
        inits.remove(init)


def export_platedet(src: Path, dst: Path, input_size: int, to_fp32: bool = True) -> Path:
    """Write a rewritten copy of the plate detector (atomic: temp file then rename)."""
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise ModelError(f"{src}: cannot read plate detector model: {exc}") from exc
    out = rewrite_platedet(data, input_size, to_fp32, str(src))
    atomic_write_bytes(dst, out, mode=0o644)
    return dst
