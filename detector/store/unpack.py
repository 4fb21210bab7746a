"""Bring a bundle into the store's staging folder without trusting its size, shape or contents.

`extract_bundle_tar` reads a (gzip/bzip2/xz) tar as a stream: members are counted as they come,
unpacked bytes are counted while they are copied, and the ratio of unpacked to compressed bytes is
checked as the data flows, so a 300 KB gzip that would inflate to 300 MB stops after the limit, not
after it filled the disk. `copy_bundle_folder` copies only `manifest.json`, `manifest.sig` and the
files the manifest lists (regular files, no links): a folder that is not a bundle, or the rest of an
edge box's tree with its private key, is never copied.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from detector.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME, ManifestError, parse_manifest

SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
CHUNK = 256 * 1024
#: Below this many unpacked bytes the ratio is not judged (small JSON compresses well and harms no one).
RATIO_FLOOR_BYTES = 4 * 1024 * 1024


class UnpackError(Exception):
    """The archive or folder is refused; `reason` says why (nothing is kept of it but the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UnpackLimits:
    max_bytes: int
    max_members: int
    max_ratio: float


class _CountingReader:
    """A read-only file object that counts the compressed bytes taken from the upload."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data


class _Budget:
    def __init__(self, limits: UnpackLimits, reader: _CountingReader | None) -> None:
        self.limits = limits
        self.reader = reader
        self.unpacked = 0

    def spend(self, n: int, name: str) -> None:
        self.unpacked += n
        if self.unpacked > self.limits.max_bytes:
            raise UnpackError(f"more than {self.limits.max_bytes} unpacked bytes (at {name!r})")
        if self.reader is not None and self.unpacked > RATIO_FLOOR_BYTES:
            ratio = self.unpacked / max(self.reader.count, 1)
            if ratio > self.limits.max_ratio:
                raise UnpackError(
                    f"compression ratio above {self.limits.max_ratio:g} ({self.unpacked} bytes from "
                    f"{self.reader.count} at {name!r}): refused as a decompression bomb"
                )


def _copy(src: IO[bytes], dest: Path, budget: _Budget, name: str) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            budget.spend(len(chunk), name)
            out.write(chunk)


def _member_name(m: tarfile.TarInfo, top: list[str]) -> str | None:
    """The plain file name of a member (None for the one allowed top folder itself)."""
    parts = [p for p in m.name.split("/") if p not in ("", ".")]
    if m.isdir():
        if not parts:  # "./" of `tar -C bundle .`
            return None
        if len(parts) == 1 and (not top or top[0] == parts[0]):
            top[:] = parts
            return None
        raise UnpackError(f"member {m.name!r}: expected plain file names, optionally in one folder")
    if not m.isreg():
        raise UnpackError(f"{m.name!r} is not a regular file")
    if len(parts) == 2:
        if top and top[0] != parts[0]:
            raise UnpackError(f"member {m.name!r}: expected plain file names, optionally in one folder")
        top[:] = parts[:1]
    elif len(parts) != 1:
        raise UnpackError(f"member {m.name!r}: expected plain file names, optionally in one folder")
    name = parts[-1]
    if not SAFE_NAME.match(name) or name in (".", ".."):
        raise UnpackError(f"member {m.name!r}: unsafe file name")
    return name


def extract_bundle_tar(stream: IO[bytes], dest: Path, limits: UnpackLimits) -> None:
    """Unpack a bundle tar into the new folder `dest`, enforcing `limits` while streaming."""
    dest.mkdir(mode=0o700, parents=True)
    reader = _CountingReader(stream)
    budget = _Budget(limits, reader)
    top: list[str] = []
    members = 0
    try:
        with tarfile.open(fileobj=reader, mode="r|*") as tar:  # type: ignore[call-overload]
            for m in tar:
                members += 1
                if members > limits.max_members:
                    raise UnpackError(f"more than {limits.max_members} members")
                name = _member_name(m, top)
                if name is None:
                    continue
                if (dest / name).exists():
                    raise UnpackError(f"member {m.name!r}: duplicate name")
                if budget.unpacked + m.size > limits.max_bytes:
                    raise UnpackError(f"more than {limits.max_bytes} unpacked bytes (at {m.name!r})")
                src = tar.extractfile(m)
                if src is None:
                    raise UnpackError(f"member {m.name!r} cannot be read")
                _copy(src, dest / name, budget, m.name)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise UnpackError(f"not a readable tar archive: {exc}") from exc
    if members == 0:
        raise UnpackError("empty archive")


def copy_bundle_folder(src: Path, dest: Path, limits: UnpackLimits) -> None:
    """Copy a bundle's signed files (and only those) from folder `src` into the new folder `dest`."""
    mpath = src / MANIFEST_NAME
    try:
        if not stat.S_ISREG(os.lstat(mpath).st_mode):
            raise UnpackError(f"{mpath}: manifest.json is not a regular file")
        if os.lstat(mpath).st_size > limits.max_bytes:
            raise UnpackError(f"{mpath}: manifest larger than {limits.max_bytes} bytes")
        manifest = parse_manifest(mpath.read_bytes(), str(mpath))
    except FileNotFoundError:
        raise UnpackError(f"not_a_bundle: {src} holds no manifest.json (nothing was copied)") from None
    except ManifestError as exc:
        raise UnpackError(f"not_a_bundle: {exc} (nothing was copied)") from None
    except OSError as exc:
        raise UnpackError(f"{src}: cannot read the bundle: {exc}") from None
    listed = [MANIFEST_NAME, SIGNATURE_NAME, *(f.name for f in manifest.files)]
    if len(listed) > limits.max_members:
        raise UnpackError(f"{len(listed)} files listed, at most {limits.max_members}")
    present = {p.name for p in src.iterdir()}
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise UnpackError(
            f"unlisted_file: {', '.join(unlisted[:5])} in the bundle folder but not in the manifest (nothing was copied)"
        )
    dest.mkdir(mode=0o700, parents=True)
    budget = _Budget(limits, None)
    for name in listed:
        p = src / name
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue  # verification names the missing file
        if not stat.S_ISREG(st.st_mode):
            raise UnpackError(f"{p}: not a regular file (links are not followed)")
        with open(p, "rb") as fh:
            _copy(fh, dest / name, budget, name)
