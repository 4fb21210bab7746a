"""Issue 15: a full disk on an edge box. On a small tmpfs made full on purpose: previews and track
records are shed first (warning, metric), below the floor no bundle is started and the violation is
recorded as not written, a bundle cut short by ENOSPC leaves nothing half-written, and every bundle
already written still verifies. Skips where mounting is not permitted."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.config import DiskConfig, EvidenceConfig
from detector.diskguard import DiskGuard, DiskLevel, SheddingSink, free_bytes
from detector.evidence.chain import load_chain_state
from detector.evidence.keys import Ed25519Signer
from detector.evidence.verify import verify_chain
from detector.evidence.writer import BundleError, BundleWriter
from tests.evidence import synthetic

MB = 1024 * 1024


@pytest.fixture
def small_fs() -> Iterator[Path]:
    """An 8 MB tmpfs under /tmp, unmounted afterwards."""
    mnt = Path("/tmp") / f"detector-full-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if r.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        mnt.rmdir()


def _fill(fs: Path, leave: int) -> Path:
    """Write a ballast file until only `leave` bytes are free."""
    ballast = fs / "ballast"
    with open(ballast, "ab") as fh:
        while (free := free_bytes(fs)) > leave:
            fh.write(b"\0" * min(free - leave, MB))
            fh.flush()
            os.fsync(fh.fileno())
    return ballast


class _Recorder:
    def __init__(self) -> None:
        self.n = 0

    def write(self, result: object) -> None:
        self.n += 1

    def finish(self, late: object) -> None: ...

    def close(self) -> None: ...


def _writer(root: Path, signer: Ed25519Signer, guard: DiskGuard | None) -> BundleWriter:
    return BundleWriter(
        root,
        signer,
        synthetic.camera_info("cam1"),
        synthetic.models(),
        "c" * 64,
        config=EvidenceConfig(clip_enabled=False),
        guard=guard,
    )


def test_full_disk_sheds_then_refuses_and_corrupts_nothing(
    small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    signer = Ed25519Signer.generate()
    root = small_fs / "evidence"
    guard = DiskGuard(small_fs, DiskConfig(shed_below_mb=3, floor_mb=1, check_every=1))
    w = _writer(root, signer, guard)
    first = synthetic.write_bundles(w, 2)
    preview = _Recorder()
    sink = SheddingSink(preview, guard, "preview")
    sink.write(object())
    assert preview.n == 1 and guard.level() == DiskLevel.OK

    ballast = _fill(small_fs, int(2 * MB))  # below the shed line, above the floor
    sink.write(object())
    assert preview.n == 1 and guard.metrics()["shed_writes"] == {"preview": 1}
    assert "shedding previews and track records" in caplog.text
    more = synthetic.write_bundles(w, 1, start=32)  # evidence is still written while shedding
    assert more[0].is_dir()

    with open(ballast, "ab") as fh:  # below the floor now
        fh.write(b"\0" * (free_bytes(small_fs) - int(0.5 * MB)))
    with pytest.raises(BundleError, match="below the floor"):
        synthetic.write_bundles(w, 1, start=48)
    assert guard.metrics()["bundles_refused"] == 1
    assert not list((root / "cam1").glob(".tmp-*"))
    report = verify_chain(root, [signer.public_key])
    assert report.ok, report.all_problems()
    assert load_chain_state(root, "cam1").last_sequence == 3 and len(report.bundles) == 3
    assert all(p.is_dir() for p in first)  # nothing already written was touched


def test_enospc_mid_bundle_leaves_no_half_bundle(small_fs: Path) -> None:
    signer = Ed25519Signer.generate()
    root = small_fs / "evidence"
    w = _writer(root, signer, None)  # no guard: the write itself hits the full disk
    synthetic.write_bundles(w, 1)
    _fill(small_fs, 20_000)  # room for a few files of a bundle, not all of them
    with pytest.raises(BundleError, match="disk full"):
        synthetic.write_bundles(w, 1, start=16)
    assert not list((root / "cam1").glob(".tmp-*"))
    (small_fs / "ballast").unlink()
    report = verify_chain(root, [signer.public_key])
    assert report.ok and len(report.bundles) == 1, report.all_problems()
    # with room again the chain goes on from where it was
    synthetic.write_bundles(w, 1, start=32)
    assert verify_chain(root, [signer.public_key]).ok
