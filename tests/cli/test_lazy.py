"""The CLI imports a command's modules only when that command runs, and its table matches the commands."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import click.testing

from detector.cli import COMMANDS, main_group

HEAVY = {"numpy", "cv2", "onnxruntime", "sqlalchemy", "shapely", "av", "fastapi", "pydantic"}


def test_table_names_real_commands() -> None:
    for name, (module, attr, short) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command), f"{module}.{attr}"
        assert command.name == name, f"{module}.{attr} is named {command.name!r}, the table says {name!r}"
        assert short and len(short) <= 80 and not short.endswith("..."), name


def _modules_after(*args: str) -> tuple[int, str, set[str]]:
    code = (
        "import sys, json\n"
        "from detector.cli import main\n"
        f"sys.argv = ['detector', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code or 0\nelse:\n    code = 0\n"
        "print('\\n@@' + json.dumps([code, sorted(sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    text, _, tail = out.stdout.rpartition("\n@@")
    code_, modules = json.loads(tail)
    return code_, text, set(modules)


def test_help_imports_no_command_module() -> None:
    code, text, modules = _modules_after("--help")
    assert code == 0
    for name in COMMANDS:
        assert f"  {name} " in text, f"{name} missing from --help"
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m == "detector.pipeline")
    assert not loaded, f"detector --help imported {loaded}"
    assert not any(m.startswith("detector.cli.") for m in modules)


def test_a_command_loads_only_its_own_module() -> None:
    code, text, modules = _modules_after("config", "--help")
    assert code == 0 and "Usage:" in text
    assert "detector.cli.configs" in modules
    assert "detector.cli.store" not in modules and "detector.cli.video" not in modules


def test_unknown_command_is_a_usage_error() -> None:
    code, _, _ = _modules_after("no-such-command")
    assert code == 2


def test_added_command_is_still_found() -> None:
    @click.command("probe-x")
    def probe() -> None:
        click.echo("probe ran")

    group = main_group
    group.add_command(probe)
    try:
        result = click.testing.CliRunner().invoke(group, ["probe-x"])
        assert result.exit_code == 0 and "probe ran" in result.output
    finally:
        group.commands.pop("probe-x", None)
