"""Issue 15, failure 3: ingest limits enforced while streaming (unpacked bytes, members, ratio),
quarantine with retention and a size cap, and nothing copied that is not a bundle's listed file."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from sqlalchemy import select

from detector.evidence.keys import write_key_pair
from detector.store.models import QuarantineEntry
from tests.store.support import Keys, Store, make_store


def _tar(members: dict[str, bytes], mode: str = "w:gz") -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:  # type: ignore[call-overload]  # mode is a str, not a literal
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _tree_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.exists() else 0


def _store(tmp: Path, keys: Keys, **overrides: object) -> Store:
    return make_store(f"sqlite:///{tmp / 'store.db'}", tmp, keys, **overrides)


def test_gzip_bomb_stops_while_streaming_and_is_not_kept(tmp_path: Path, keys: Keys) -> None:
    st = _store(tmp_path, keys)
    bomb = _tar({"clip.mp4": bytes(64 * 1024 * 1024)})  # 64 MiB of zeros, ~65 kB compressed
    assert len(bomb.getvalue()) < 200_000
    r = st.services.ingest.ingest_tar(bomb, actor="t", source="test")
    assert r.status == "rejected" and "compression ratio" in r.reason, r.reason
    assert _tree_bytes(tmp_path / "quarantine") < 10_000  # only REASON.txt, not the inflated file
    assert _tree_bytes(tmp_path / "evidence") == 0
    st.services.close()


def test_unpacked_size_and_member_limits(tmp_path: Path, keys: Keys) -> None:
    st = _store(tmp_path, keys, max_unpacked_bytes=50_000, max_archive_members=5)
    import os

    big = _tar({"at.jpg": os.urandom(60_000)})  # incompressible: the size limit, not the ratio
    r = st.services.ingest.ingest_tar(big, actor="t", source="test")
    assert r.status == "rejected" and "more than 50000 unpacked bytes" in r.reason, r.reason
    many = _tar({f"f{i}.jpg": b"x" for i in range(6)})
    r = st.services.ingest.ingest_tar(many, actor="t", source="test")
    assert r.status == "rejected" and "more than 5 members" in r.reason, r.reason
    st.services.close()


def test_non_bundle_folder_with_private_key_is_not_copied(tmp_path: Path, keys: Keys) -> None:
    st = _store(tmp_path / "store", keys)
    box = tmp_path / "edge-box"
    write_key_pair(box / "keys")
    (box / "var" / "detector.db").parent.mkdir(parents=True)
    (box / "var" / "detector.db").write_bytes(b"x" * 1000)
    r = st.services.ingest.ingest_path(box, actor="t")
    assert r.status == "rejected" and r.reason.startswith("not_a_bundle"), r.reason
    copied = [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert "evidence_signing.key" not in copied and "detector.db" not in copied, copied
    st.services.close()


def test_extra_file_beside_a_bundle_is_refused_not_copied(
    tmp_path: Path, keys: Keys, bundles: list[Path]
) -> None:
    import shutil

    st = _store(tmp_path / "store", keys)
    b = tmp_path / "b"
    shutil.copytree(bundles[0], b)
    (b / "evidence_signing.key").write_bytes(b"secret")
    r = st.services.ingest.ingest_path(b, actor="t")
    assert r.status == "rejected" and "unlisted_file" in r.reason
    assert not any(p.name == "evidence_signing.key" for p in (tmp_path / "store").rglob("*"))
    (b / "evidence_signing.key").unlink()
    assert st.services.ingest.ingest_path(b, actor="t").status == "accepted"
    st.services.close()


def test_quarantine_retention_and_size_cap(tmp_path: Path, keys: Keys, bundles: list[Path]) -> None:
    import shutil

    st = _store(
        tmp_path, keys, quarantine_retention_days=30, quarantine_max_bytes=_tree_bytes(bundles[1]) * 3 + 1000
    )
    bad = tmp_path / "bad"
    shutil.copytree(bundles[1], bad)
    (bad / "at.jpg").write_bytes(b"edited")
    first = st.services.ingest.ingest_path(bad, actor="t")  # chain: not first-seen anchor issue, hash fails
    assert first.status == "rejected"
    st.clock.advance(31 * 86400)
    second = st.services.ingest.ingest_path(bad, actor="t")
    assert second.status == "rejected"
    assert first.quarantine_id is not None and second.quarantine_id is not None
    with st.db.session() as s:
        by_id = {q.id: q for q in s.scalars(select(QuarantineEntry))}
    assert (
        by_id[first.quarantine_id].pruned_at is not None
        and not Path(by_id[first.quarantine_id].path).exists()
    )
    assert by_id[second.quarantine_id].pruned_at is None and Path(by_id[second.quarantine_id].path).is_dir()
    assert by_id[second.quarantine_id].size_bytes > 0
    # size cap: newest kept, older ones deleted once the total passes the cap
    for _ in range(10):
        st.services.ingest.ingest_path(bad, actor="t")
    assert _tree_bytes(tmp_path / "quarantine") <= st.config.quarantine_max_bytes
    with st.db.session() as s:
        rows = list(s.scalars(select(QuarantineEntry)))
    assert len(rows) == 12  # every rejection is still recorded
    kept = [q for q in rows if q.pruned_at is None]
    assert len(kept) == 3 and all(Path(q.path).is_dir() for q in kept)
    st.services.close()


def test_tar_of_dot_is_accepted(tmp_path: Path, keys: Keys, bundles: list[Path]) -> None:
    """`tar -C bundle -czf x.tgz .` gives "./" and "./name" members: a plain bundle."""
    st = _store(tmp_path, keys)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(bundles[0], arcname=".")
    buf.seek(0)
    r = st.services.ingest.ingest_tar(buf, actor="t", source="test")
    assert r.status == "accepted", r.reason
    st.services.close()
