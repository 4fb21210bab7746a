"""The one atomic-write helper: a target is replaced whole or kept, and no temp file is left behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from detector.fsutil import atomic_path, atomic_write_bytes, atomic_write_text, replace_synced


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_write_bytes_and_text_replace_the_target_with_the_mode_asked(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "a.json"
    atomic_write_bytes(p, b"one")
    assert p.read_bytes() == b"one" and _mode(p) == 0o600  # private unless told
    atomic_write_text(p, "deux é")
    assert p.read_text(encoding="utf-8") == "deux é" and _mode(p) == 0o644
    assert sorted(x.name for x in p.parent.iterdir()) == ["a.json"]


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "clip.mp4"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(p, suffix=".mp4") as tmp:
        assert tmp.parent == p.parent and tmp.suffix == ".mp4"
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["clip.mp4"]
    with atomic_path(p, mode=0o640) as tmp:
        tmp.write_bytes(b"new")
        assert p.read_bytes() == b"old"  # not visible before the block ends
    assert p.read_bytes() == b"new" and _mode(p) == 0o640
    assert sorted(x.name for x in tmp_path.iterdir()) == ["clip.mp4"]


def test_replace_synced_moves_a_stream_written_by_its_caller(tmp_path: Path) -> None:
    tmp, p = tmp_path / ".tracks.tmp", tmp_path / "tracks.jsonl"
    with tmp.open("w") as fh:
        fh.write("{}\n")
    replace_synced(tmp, p)
    assert p.read_text() == "{}\n" and not tmp.exists()


def test_rename_synced_publishes_a_finished_folder(tmp_path: Path) -> None:
    from detector.fsutil import rename_synced

    tmp, final = tmp_path / ".tmp-b1", tmp_path / "cam" / "00000001-b1"
    tmp.mkdir()
    (tmp / "manifest.json").write_text("{}")
    final.parent.mkdir()
    rename_synced(tmp, final)
    assert (final / "manifest.json").read_text() == "{}" and not tmp.exists()
