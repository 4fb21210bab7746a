"""The `detector` command group: a thin face over the library's functions.

Exit codes: 0 ok, 2 bad usage or config, 1 runtime failure. Each area adds its commands in its own
module below this package and registers them here with `main.add_command`.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from detector import __version__
from detector.errors import ConfigError, DetectorError

# Every command: its name, where it lives (module, attribute) and the one line `detector --help` shows.
# A command's module (and the pipeline, models or database it imports) loads only when that command
# runs or its own --help is asked for; tests/test_cli_lazy.py checks this table against the commands.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "replay": ("detector.cli.video", "replay", "Replay a recorded VIDEO through the camera's pipeline."),
    "replay-batch": (
        "detector.cli.batch",
        "replay_batch",
        "Replay many videos on a Dask cluster into one store.",
    ),
    "run": ("detector.cli.video", "run", "Watch a live camera through the same frame loop as replay."),
    "calibrate": (
        "detector.cli.rules",
        "calibrate",
        "Draw the configured zones, lamps and calibration grid.",
    ),
    "plates": ("detector.cli.plates", "plates", "Plate detection and reading."),
    "keys": ("detector.cli.evidence", "keys", "Evidence signing keys (Ed25519)."),
    "verify": ("detector.cli.evidence", "verify", "Verify evidence bundles: hashes, signatures, chain."),
    "db": (
        "detector.cli.store",
        "db_group",
        "Database schema (Alembic migrations shipped with the package).",
    ),
    "ingest": ("detector.cli.store", "ingest", "Verify and ingest evidence bundles into the store."),
    "review": ("detector.cli.store", "review_group", "List, confirm or reject pending violations."),
    "fines": ("detector.cli.store", "fines_group", "Look up fines by plate, pay or cancel them."),
    "tokens": ("detector.cli.store", "tokens_group", "API bearer tokens (only their sha256 is stored)."),
    "serve": ("detector.cli.store", "serve", "Run the HTTP API with the web console and the MQTT outbox."),
    "registry": (
        "detector.cli.store",
        "registry_group",
        "The store's key registry: which key signs for which camera.",
    ),
    "heads": ("detector.cli.store", "heads_group", "Chain heads this store has recorded (checkpoints)."),
    "notices": (
        "detector.cli.network",
        "notices_group",
        "Notices after a fine: owner, routing, notice, payment.",
    ),
    "hotlist": ("detector.cli.network", "hotlist_group", "Wanted plates and their sightings."),
    "stats": ("detector.cli.network", "stats_group", "Traffic statistics computed from track records."),
    "section": (
        "detector.cli.network",
        "section_group",
        "Section (point-to-point) average speed across cameras.",
    ),
    "models": (
        "detector.cli.models",
        "models",
        "List, check, install and convert the models the engine runs.",
    ),
    "config": ("detector.cli.configs", "config_group", "Check camera config files; print the JSON Schema."),
    "sample": ("detector.cli.sample", "sample", "The generated sample scene (video + ground truth)."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when one of them is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)  # one added with add_command
        module, attr, _ = entry
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attr} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing from the table, without importing any command's module."""
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="detector")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main_group(verbose: int) -> None:
    """Traffic-camera violation engine: replay or watch a camera, detect and track road users,
    apply the scene's rules, read plates, and write signed evidence."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Entry point: maps library errors to exit codes 2 (usage/config) and 1 (runtime)."""
    try:
        main_group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError | click.BadParameter) else exc.exit_code or 1)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except DetectorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # a database driver error that escaped the services: one line, no traceback
        if not type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
            raise
        orig = getattr(exc, "orig", None) or exc
        first = next((ln.strip() for ln in str(orig).splitlines() if ln.strip()), type(orig).__name__)
        click.echo(f"error: database: {first}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(1)
    sys.exit(0)
