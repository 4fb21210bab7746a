"""`detector models`: what would be loaded, and explicit, hash-checked installs into models/."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from detector.errors import ConfigError, DetectorError
from detector.modelfiles import check_models, install_model, load_manifest


@click.group()
def models() -> None:
    """List, check and install the models the engine runs (never downloaded implicitly)."""


@models.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check(as_json: bool) -> None:
    """Show where each model resolves (models/ or its package) and whether its sha256 matches."""
    statuses = check_models(load_manifest())
    if as_json:
        click.echo(json.dumps([{"name": s.entry.name, "path": str(s.path) if s.path else None, "origin": s.origin,
                                "sha256": s.sha256, "ok": s.ok, "licence": s.entry.licence} for s in statuses],
                              indent=2))
    else:
        table = Table(title="models")
        for col in ("name", "role", "origin", "sha256 ok", "licence"):
            table.add_column(col)
        for s in statuses:
            table.add_row(s.entry.name, s.entry.role, s.origin, "yes" if s.ok else "[red]NO[/red]", s.entry.licence)
        Console().print(table)
    if not all(s.ok for s in statuses):
        raise DetectorError("some models are missing or do not match their sha256 (see above)")


@models.command("install")
@click.argument("name")
@click.argument("source")
@click.option("--sha256", "sha", default=None, help="Expected sha256 (default: the manifest's).")
def install(name: str, source: str, sha: str | None) -> None:
    """Install model NAME into models/ from SOURCE (a local file or an http(s) URL), verifying its sha256."""
    manifest = load_manifest()
    entry = next((e for e in manifest.models if e.name == name), None)
    if entry is None:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(e.name for e in manifest.models)}")
    path = install_model(entry, source, expected_sha256=sha)
    click.echo(f"installed {name} -> {path}")
