"""`detector config`: validate camera configs and print their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from detector.config import camera_config_json_schema
from detector.configcheck import load_checked_camera_config
from detector.errors import ConfigError


@click.group("config")
def config_group() -> None:
    """Check camera config files; print the JSON Schema editors and validators can use."""


@config_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate FILES (fields, zones, calibration, signal); exit 2 naming the file, field and value."""
    problems = []
    for path in files:
        try:
            cfg = load_checked_camera_config(path)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        click.echo(f"ok   {path}  ({cfg.camera_id})")
    if problems:
        raise ConfigError("\n".join(problems))


@config_group.command("schema")
def schema() -> None:
    """Print the camera config's JSON Schema."""
    click.echo(json.dumps(camera_config_json_schema(), indent=2))
