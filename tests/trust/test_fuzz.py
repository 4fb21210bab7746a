"""Property-based fuzzing (hypothesis) of the inputs an attacker or a careless operator controls:
camera and store configs, evidence manifests, bundle archives. None may end in anything but a clean
result or the module's own error (ConfigError, ManifestError, a "rejected" ingest result).

The budget is small by default (CI); `DETECTOR_FUZZ_EXAMPLES=10000` gives the long run recorded in
benchmarks/RESULTS.md (see scripts/fuzz_long.sh).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.config import load_camera_config, load_store_config
from detector.errors import ConfigError
from detector.evidence.manifest import MANIFEST_NAME, ManifestError, parse_manifest
from detector.evidence.verify import verify_bundle
from tests.store.support import Keys, Store, make_store

EXAMPLES = int(os.environ.get("DETECTOR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
CONFIGS = Path(__file__).parents[2] / "configs"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


def _mutate(data: bytes, draw_ops: list[tuple[int, int, bytes]]) -> bytes:
    b = bytearray(data)
    for pos, cut, ins in draw_ops:
        if not b:
            b.extend(ins)
            continue
        p = pos % len(b)
        b[p : p + cut] = ins
    return bytes(b)


mutations = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 8), st.binary(max_size=8)), max_size=6)


def _tree_mutation(doc: object, path: list[str | int], value: object) -> object:
    """`doc` with the node at `path` (as far as it exists) replaced by `value`."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        keys_ = sorted(doc, key=str)
        k = keys_[hash(str(path[0])) % len(keys_)]
        return {**doc, k: _tree_mutation(doc[k], path[1:], value)}
    i = int(hash(str(path[0])) % len(doc))
    return [*doc[:i], _tree_mutation(doc[i], path[1:], value), *doc[i + 1 :]]


paths = st.lists(st.text(max_size=3) | st.integers(0, 50), max_size=5)


# ------------------------------------------------------------------------------------------ configs
@pytest.fixture(scope="module")
def valid_config_text() -> str:
    return (CONFIGS / "sample_scene.yaml").read_text(encoding="utf-8")


@FUZZ
@given(raw=st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode), which=st.booleans())
def test_fuzz_config_bytes(tmp_path_factory: pytest.TempPathFactory, raw: bytes, which: bool) -> None:
    p = tmp_path_factory.mktemp("cfg", numbered=True) / "c.yaml"
    p.write_bytes(raw)
    with contextlib.suppress(ConfigError):
        (load_camera_config if which else load_store_config)(p)


@FUZZ
@given(path=paths, value=json_values, ops=mutations, text_level=st.booleans())
def test_fuzz_config_mutations(
    tmp_path_factory: pytest.TempPathFactory,
    valid_config_text: str,
    path: list,
    value: object,
    ops: list,
    text_level: bool,
) -> None:
    doc = yaml.safe_load(valid_config_text)
    if text_level:
        data = _mutate(valid_config_text.encode(), ops)
    else:
        data = yaml.safe_dump(_tree_mutation(doc, path, value), allow_unicode=True).encode()
    p = tmp_path_factory.mktemp("cfg", numbered=True) / "c.yaml"
    p.write_bytes(data)
    with contextlib.suppress(ConfigError):
        load_camera_config(p)


# ------------------------------------------------------------------------------------------ manifests
@FUZZ
@given(path=paths, value=json_values, ops=mutations, text_level=st.booleans())
def test_fuzz_manifest(bundles: list[Path], path: list, value: object, ops: list, text_level: bool) -> None:
    good = (bundles[0] / MANIFEST_NAME).read_bytes()
    if text_level:
        data = _mutate(good, ops)
    else:
        data = json.dumps(_tree_mutation(json.loads(good), path, value), default=str).encode()
    with contextlib.suppress(ManifestError):
        parse_manifest(data)


@FUZZ
@given(path=paths, value=json_values, sig_ops=mutations)
def test_fuzz_bundle_verify_never_raises(
    tmp_path_factory: pytest.TempPathFactory,
    keys: Keys,
    bundles: list[Path],
    path: list,
    value: object,
    sig_ops: list,
) -> None:
    import shutil

    b = tmp_path_factory.mktemp("b", numbered=True) / "bundle"
    shutil.copytree(bundles[0], b)
    doc = json.loads((b / MANIFEST_NAME).read_bytes())
    (b / MANIFEST_NAME).write_text(json.dumps(_tree_mutation(doc, path, value), default=str))
    (b / "manifest.sig").write_bytes(_mutate((b / "manifest.sig").read_bytes(), sig_ops))
    r = verify_bundle(b, [keys.signer.public_key])
    assert not r.ok or r.problems == ()
    shutil.rmtree(b.parent)


# ------------------------------------------------------------------------------------------ archives
@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("fuzzstore")
    s = make_store(
        f"sqlite:///{tmp / 'store.db'}",
        tmp,
        keys,
        max_unpacked_bytes=2_000_000,
        quarantine_max_bytes=5_000_000,
    )
    yield s
    s.services.close()


member = st.tuples(
    st.text(alphabet="abc./-_\\\x00é", min_size=0, max_size=12)
    | st.sampled_from(["manifest.json", "manifest.sig", "at.jpg", "d/at.jpg", "../x", "/etc/x"]),
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE]),
    st.binary(max_size=300),
)


def _bundle_tar(bundle: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(bundle, arcname=bundle.name)
    return buf.getvalue()


@FUZZ
@given(
    members=st.lists(member, max_size=8),
    compression=st.sampled_from(["w", "w:gz", "w:bz2", "w:xz"]),
    ops=mutations,
    from_real=st.booleans(),
)
def test_fuzz_bundle_archives(
    fuzz_store: Store, bundles: list[Path], members: list, compression: str, ops: list, from_real: bool
) -> None:
    if from_real:
        data = _mutate(_bundle_tar(bundles[1]), ops)
    else:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=compression) as tar:  # type: ignore[call-overload]  # mode: a str
            for name, kind, payload in members:
                info = tarfile.TarInfo(name or "x")
                info.type = kind
                if kind == tarfile.REGTYPE:
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
                else:
                    info.linkname = "/etc/passwd"
                    tar.addfile(info)
        data = buf.getvalue()
    r = fuzz_store.services.ingest.ingest_tar(io.BytesIO(data), actor="fuzz", source="fuzz")
    assert r.status in ("accepted", "duplicate", "rejected")
    assert r.status != "rejected" or r.reason
    outside = fuzz_store.tmp.parent
    assert not (outside / "x").exists() and not (outside / "etc").exists()
