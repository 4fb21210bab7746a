"""`detector plates read` (a quick check on photos) and `detector plates export-model`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import cv2
from rich.console import Console
from rich.table import Table

from detector.config import PlatesConfig
from detector.configcheck import check_plates
from detector.errors import ConfigError, DetectorError
from detector.plates.vote import PlateObservation
from detector.types import PlateRead

log = logging.getLogger(__name__)


@click.group("plates")
def plates() -> None:
    """Plate detection and reading."""


def _plates_config(
    config: Path | None,
    country: str | None,
    input_size: int | None,
    backend: str | None,
    region: str | None = None,
) -> PlatesConfig:
    if config is not None:
        from detector.configcheck import load_checked_camera_config

        cfg = load_checked_camera_config(config).plates
    else:
        cfg = PlatesConfig(detector_input_size=640)  # whole photos: plates are small, use the full size
    updates: dict[str, object] = {}
    if country:
        updates["country"] = country
    if region:
        updates["region"] = region
    if input_size:
        updates["detector_input_size"] = input_size
    if backend:
        updates["ocr_backend"] = backend
    if updates:
        try:
            cfg = PlatesConfig.model_validate({**cfg.model_dump(), **updates})
        except ValueError as exc:
            raise ConfigError(f"plates options: {exc}") from exc
    check_plates(cfg)
    return cfg


def _record(path: Path, obs: PlateObservation, read: PlateRead | None) -> dict[str, object]:
    """One plate: `confidence` and `needs_review` are the review decision's (the track vote over this
    one reading: its least supported character), `ocr_confidence` the recogniser's own."""
    return {
        "image": str(path),
        "text": obs.text,
        "normalized": obs.normalized,
        "raw_text": obs.raw_text,
        "confidence": read.confidence if read is not None else 0.0,
        "needs_review": read.needs_review if read is not None else True,
        "ocr_confidence": obs.confidence,
        "rows": obs.rows,
        "valid": obs.valid,
        "country": obs.country,
        "region": obs.region,
        "colour": obs.colour,
        "box": [round(v, 1) for v in obs.box.xyxy] if obs.box else None,
        "detection_confidence": round(obs.box.confidence, 4) if obs.box else None,
    }


@plates.command("read")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--crop", is_flag=True, help="Each image is already a plate crop: OCR only, no plate detection."
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per plate on stdout instead of a table."
)
@click.option(
    "--country",
    type=click.Choice(["vn", "us", "eu", "br", "generic"]),
    default=None,
    help="Plate grammar and formats (default vn).",
)
@click.option(
    "--region", default=None, help="US state (e.g. ca) or European country (e.g. it) whose formats to prefer."
)
@click.option(
    "--input-size", type=int, default=None, help="Plate detector input size (default 640 for photos)."
)
@click.option(
    "--backend", type=click.Choice(["rapidocr", "fast_plate_ocr"]), default=None, help="OCR backend."
)
@click.option(
    "--config", type=click.Path(path_type=Path), default=None, help="Camera config to take `plates:` from."
)
@click.option(
    "--text-fallback/--no-text-fallback",
    default=True,
    show_default=True,
    help="Photos: where the plate detector finds nothing, read the plate-like text lines instead.",
)
def read(
    images: tuple[Path, ...],
    crop: bool,
    as_json: bool,
    country: str | None,
    region: str | None,
    input_size: int | None,
    backend: str | None,
    config: Path | None,
    text_fallback: bool,
) -> None:
    """Read the plates in IMAGES (photos, or plate crops with --crop)."""
    from detector.plates.reader import PlateReader
    from detector.plates.textdet import TextLineDetector

    cfg = _plates_config(config, country, input_size, backend, region)
    reader = PlateReader.from_config(cfg, with_detector=not crop)
    # where the plate detector sees no plate in a photo, plate-like text lines are read instead
    lines = None if crop or not text_fallback else TextLineDetector(threads=cfg.threads, side=960)
    results: list[tuple[Path, PlateObservation | None, PlateRead | None]] = []
    errors: dict[Path, str] = {}  # a bad file gets its own record; the others are still read
    try:
        for path in images:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
            if img is None:
                errors[path] = "file not found" if not path.is_file() else "not an image OpenCV can read"
                results.append((path, None, None))
                continue
            found = [reader.read_crop(img)] if crop else reader.read_image(img, fallback=lines)
            kept = [o for o in found if o is not None]
            # the same decision a track's plate gets (PlateReader.vote), over this one reading
            results += [(path, o, reader.vote([o])) for o in kept] or [(path, None, None)]
    finally:
        reader.close()
        if lines is not None:
            lines.close()
    if as_json:
        for path, obs, read in results:
            rec = (
                _record(path, obs, read)
                if obs
                else {"image": str(path), "text": None, "normalized": None, "needs_review": True}
            )
            if path in errors:
                rec["error"] = errors[path]
            click.echo(json.dumps(rec, ensure_ascii=False))
        _fail_on(errors)
        return
    table = Table(title=f"plates ({cfg.country} grammar, OCR {cfg.ocr_backend})")
    for col in ("image", "plate", "conf", "review", "rows", "valid", "region", "colour", "box"):
        table.add_column(col)
    for path, obs, read in results:
        if path in errors:
            table.add_row(path.name, f"error: {errors[path]}", *["-"] * 7)
            continue
        if obs is None:
            hint = "no plate read" + ("" if crop else " (a plate crop? try --crop)")
            table.add_row(path.name, hint, *["-"] * 7)
            continue
        table.add_row(
            path.name,
            obs.text,
            f"{read.confidence:.2f}" if read is not None else "-",
            "no" if read is not None and not read.needs_review else "yes",
            str(obs.rows),
            "yes" if obs.valid else "no",
            obs.region or "-",
            obs.colour or "-",
            ",".join(f"{v:.0f}" for v in obs.box.xyxy) if obs.box else "-",
        )
    Console().print(table)
    _fail_on(errors)


def _fail_on(errors: dict[Path, str]) -> None:
    """After every good image was printed: a non-zero exit naming the bad ones."""
    if errors:
        bad = "; ".join(f"{p}: {why}" for p, why in errors.items())
        raise DetectorError(f"{len(errors)} image(s) could not be read: {bad}")


@plates.command("export-model")
@click.option("--size", type=int, default=320, show_default=True, help="Square input size (multiple of 32).")
@click.option("--fp16", is_flag=True, help="Keep fp16 weights (default: convert to fp32 for CPU).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file (default models/platedet_<size>.onnx).",
)
@click.option(
    "--source", type=click.Path(path_type=Path), default=None, help="Source model (default: resolved)."
)
def export_model(size: int, fp16: bool, out: Path | None, source: Path | None) -> None:
    """Write the plate detector rewritten to SIZE x SIZE (and fp32), without its mask branch."""
    from detector.detect.base import REPO_MODELS_DIR
    from detector.plates.detect import resolve_platedet
    from detector.plates.onnx_graph import export_platedet

    src, origin = (source, "option") if source else resolve_platedet(None)
    dst = out or REPO_MODELS_DIR / f"platedet_{size}.onnx"
    export_platedet(src, dst, size, to_fp32=not fp16)
    click.echo(f"wrote {dst} from {src} ({origin}), input {size}x{size}, {'fp16' if fp16 else 'fp32'}")
