"""Crash-safe file writes, the one way the package writes a file others may read.

A file appears under its final name whole or not at all: it is written to a temp file beside the
target (same folder, so the rename stays on one filesystem), fsynced, renamed over the target
(`os.replace`), and the folder is fsynced so the new name survives a power cut.

- `atomic_write_bytes` / `atomic_write_text`: small files written in one go;
- `atomic_path`: a temp path for writers that need a file name (video encoders, onnx, downloads);
  the target is replaced only when the `with` block ends without an exception;
- `replace_synced`: a temp file a caller wrote itself (a stream kept open for a run) moved into place;
- `rename_synced`: a finished temp folder (an evidence bundle) moved to its final name;
- `write_file_synced`, `fsync_dir`, `fsync_file`: the pieces, for files inside a temp folder that is
  renamed as a whole.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (new names, renames) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_synced(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to a new file at `path` and fsync it (no rename; for files inside a temp folder)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if mode is None else mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_synced(tmp: Path | str, path: Path | str, mode: int | None = None) -> None:
    """Move the finished temp file `tmp` over `path`: fsync it, set `mode`, os.replace, fsync the folder."""
    fsync_file(Path(tmp))
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


def rename_synced(src: Path, dst: Path) -> None:
    """Move a finished folder (or file) to its final name on the same filesystem and fsync the
    folders that hold the names (a bundle appears whole under its name, or not at all)."""
    src.rename(dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


@contextlib.contextmanager
def atomic_path(path: Path, mode: int = 0o644, suffix: str = ".tmp") -> Iterator[Path]:
    """A temp file beside `path` to write to; it replaces `path` when the block ends normally and is
    removed when the block raises (the target keeps its old content). `suffix` keeps an extension a
    writer may need (e.g. ".mp4" for a video encoder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        replace_synced(tmp, path, mode)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically (mode 0600 unless given)."""
    with atomic_path(path, 0o600 if mode is None else mode) as tmp:
        write_file_synced(tmp, data)


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)
