"""The `detector` command group: a thin face over the library's functions.

Exit codes: 0 ok, 2 bad usage or config, 1 runtime failure. Each area adds its commands in its own
module below this package and registers them here with `main.add_command`.
"""

from __future__ import annotations

import logging
import sys

import click

from detector import __version__
from detector.errors import ConfigError, DetectorError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="detector")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main_group(verbose: int) -> None:
    """Traffic-camera violation engine: replay or watch a camera, detect and track road users,
    apply the scene's rules, read plates, and write signed evidence."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _register() -> None:
    """Each area's commands, imported here (not at import time of this module)."""
    from detector.cli import configs, evidence, models, network, plates, rules, sample, store, video

    for command in (video.replay, video.run, rules.calibrate, plates.plates, evidence.keys, evidence.verify,
                    *store.COMMANDS, *network.COMMANDS, models.models, configs.config_group, sample.sample):
        main_group.add_command(command)


def main() -> None:
    """Entry point: maps library errors to exit codes 2 (usage/config) and 1 (runtime)."""
    _register()
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
