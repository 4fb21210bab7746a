"""Issue 15, failure 5: hostile or careless config files end in one clear line and exit 2, never a
traceback or unbounded memory; an unreachable database is one line and exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detector.config import load_camera_config, load_store_config
from detector.errors import ConfigError
from detector.safeyaml import MAX_ALIASES, MAX_CONFIG_BYTES


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _alias_bomb(levels: int = 14) -> str:
    """The classic "billion laughs": 9**levels leaves from a few hundred bytes."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"location: *a{levels - 1}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("loader", [load_camera_config, load_store_config])
def test_non_utf8_config_is_a_config_error(tmp_path: Path, loader) -> None:  # noqa: ANN001
    p = tmp_path / "c.yaml"
    p.write_bytes(b"camera_id: cam\xff\xfe1\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xff at offset 14\)"):
        loader(p)


@pytest.mark.parametrize("loader", [load_camera_config, load_store_config])
def test_alias_bomb_is_refused_before_any_walk(tmp_path: Path, loader) -> None:  # noqa: ANN001
    p = tmp_path / "bomb.yaml"
    p.write_text(_alias_bomb(), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"more than {MAX_ALIASES} YAML alias"):
        loader(p)


def test_few_aliases_are_still_fine(tmp_path: Path) -> None:
    p = tmp_path / "store.yaml"
    p.write_text("x: &d var/evidence\nevidence_dir: *d\nquarantine_dir: var/q\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="x: Extra inputs"):
        load_store_config(p)
    p.write_text("evidence_dir: &d var/evidence\nquarantine_dir: *d\n", encoding="utf-8")
    assert load_store_config(p).quarantine_dir.endswith("var/evidence")


@pytest.mark.parametrize("loader", [load_camera_config, load_store_config])
def test_oversized_config_is_refused_without_parsing(tmp_path: Path, loader) -> None:  # noqa: ANN001
    p = tmp_path / "big.yaml"
    lane = "  - {id: lane, polygon: [[0, 0], [10, 0], [10, 10], [0, 10]]}\n"
    p.write_text("lanes:\n" + lane * (MAX_CONFIG_BYTES // len(lane) + 10), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"larger than {MAX_CONFIG_BYTES} bytes"):
        loader(p)


def test_deep_nesting_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "deep.yaml"
    p.write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")
    with pytest.raises(ConfigError, match="deep|not valid YAML"):
        load_store_config(p)


def test_cli_bad_configs_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes("location: Đà Lạt, São Paulo\n".encode("cp1258", errors="replace"))
    (tmp_path / "bomb.yaml").write_text(_alias_bomb(), encoding="utf-8")
    for name in ("latin1.yaml", "bomb.yaml"):
        r = _cli("review", "list", "--store-config", name, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith(f"error: {name}:"), r.stderr


def test_cli_unreachable_postgresql_is_one_line_exit_1(tmp_path: Path) -> None:
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    (tmp_path / "store.yaml").write_text(
        "url: postgresql://nobody:secret@127.0.0.1:9/none\n", encoding="utf-8"
    )
    for args in (("review", "list"), ("db", "upgrade"), ("tokens", "revoke", "1")):
        r = _cli(*args, "--store-config", "store.yaml", cwd=tmp_path)
        assert r.returncode == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr and "secret" not in r.stderr, r.stderr
        assert r.stderr.strip().count("\n") == 0 and "127.0.0.1" in r.stderr, r.stderr
