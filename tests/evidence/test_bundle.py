"""A written bundle verifies; every kind of tampering is detected and named."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from detector.config import EvidenceConfig
from detector.evidence import images as im
from detector.evidence.chain import load_chain_state
from detector.evidence.clip import probe_codec
from detector.evidence.keys import Ed25519Signer
from detector.evidence.manifest import SIGNATURE_NAME, event_id_for, parse_manifest, sha256_hex
from detector.evidence.verify import verify_bundle, verify_chain
from detector.evidence.writer import BundleError, BundleWriter
from detector.measures import RedLightMeasures, TooManyRidersMeasures
from detector.types import ViolationType
from tests.evidence import synthetic
from tests.evidence.synthetic import camera_info, models, write_bundles

CONFIG_SHA = "c" * 64


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer.generate()


def _writer(root: Path, signer: Ed25519Signer, **cfg: Any) -> BundleWriter:
    return BundleWriter(root, signer, camera_info(), models(), CONFIG_SHA, config=EvidenceConfig(**cfg))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, signer: Ed25519Signer) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    write_bundles(_writer(root, signer), 3)
    return root


@pytest.fixture()
def root(pristine: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "evidence"
    shutil.copytree(pristine, dst)
    return dst


def _bundles(root: Path) -> list[Path]:
    return sorted(p for p in (root / "cam1").iterdir() if not p.name.startswith("."))


def _codes(report) -> set[str]:  # noqa: ANN001
    return (
        {p.code for p in report.all_problems()}
        if hasattr(report, "all_problems")
        else {p.code for p in report.problems}
    )


def test_bundle_contents_and_manifest(root: Path, signer: Ed25519Signer) -> None:
    b = _bundles(root)[0]
    names = {p.name for p in b.iterdir()}
    assert names == {
        "before.jpg",
        "at.jpg",
        "after.jpg",
        "vehicle.jpg",
        "plate.jpg",
        "overview.jpg",
        "clip.mp4",
        "manifest.json",
        "manifest.sig",
    }
    m = parse_manifest((b / "manifest.json").read_bytes())
    assert m.sequence == 1 and m.prev_manifest_sha256 is None
    assert m.event_id == event_id_for(m.event_key) and b.name.endswith(m.event_id)
    assert m.key_id == signer.key_id and m.config_sha256 == CONFIG_SHA
    assert m.camera.gps is not None and m.camera.name == "Ngã tư Hàng Xanh"
    assert isinstance(m.violation.measured, RedLightMeasures)
    assert m.violation.measured.time_into_red_s == 1.25
    assert m.plate is not None and m.plate.candidates[1].text == "51F-128.45"
    assert m.time.wall_time is not None and m.time.wall_time.endswith("+00:00")
    assert m.time.before is not None and m.time.before.frame_index == m.time.frame_index - 3
    assert m.privacy_masked  # the parked car's plate area was blurred
    for entry in m.files:
        data = (b / entry.name).read_bytes()
        assert entry.size == len(data) and entry.sha256 == sha256_hex(data)
    assert "evidence_signing" not in " ".join(names)


def test_pristine_chain_verifies(root: Path, signer: Ed25519Signer) -> None:
    report = verify_chain(root, [signer.public_key])
    assert report.ok, report.all_problems()
    assert [b.sequence for b in report.bundles] == [1, 2, 3]
    assert report.cameras[0].last_sequence == 3
    assert verify_bundle(_bundles(root)[1], [signer.public_key]).ok


def test_clip_is_h264_with_all_frames(root: Path) -> None:
    b = _bundles(root)[0]
    m = parse_manifest((b / "manifest.json").read_bytes())
    codec, n = probe_codec(b / "clip.mp4")
    assert m.clip is not None and m.clip.codec == "h264" and m.clip.encoder == "libx264"
    assert codec == "h264" and n == m.clip.frame_count == 9


@pytest.mark.parametrize(
    "name", ["before.jpg", "at.jpg", "after.jpg", "vehicle.jpg", "plate.jpg", "overview.jpg", "clip.mp4"]
)
def test_flipped_byte_in_any_file_is_named(root: Path, signer: Ed25519Signer, name: str) -> None:
    b = _bundles(root)[1]
    p = b / name
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    r = verify_bundle(b, [signer.public_key])
    assert not r.ok
    assert [(x.code, Path(x.where).name) for x in r.problems] == [("hash_mismatch", name)]


def test_flipped_byte_in_manifest_breaks_signature(root: Path, signer: Ed25519Signer) -> None:
    b = _bundles(root)[0]
    p = b / "manifest.json"
    data = bytearray(p.read_bytes())
    i = data.index(b'"distance_past_line_px": 40.0') + len('"distance_past_line_px": 4')
    data[i] = ord("1")  # 40.0 -> 41.0: still a valid manifest
    p.write_bytes(bytes(data))
    r = verify_bundle(b, [signer.public_key])
    assert {"bad_signature", "signature_manifest_mismatch"} <= _codes(r)
    chain = verify_chain(root, [signer.public_key])
    assert "chain_break" in _codes(chain)  # bundle 2 no longer points at this manifest


def test_removed_file_is_named(root: Path, signer: Ed25519Signer) -> None:
    b = _bundles(root)[2]
    (b / "plate.jpg").unlink()
    r = verify_bundle(b, [signer.public_key])
    assert [(x.code, Path(x.where).name) for x in r.problems] == [("missing_file", "plate.jpg")]


def test_removed_signature_and_manifest(root: Path, signer: Ed25519Signer) -> None:
    a, b = _bundles(root)[:2]
    (a / SIGNATURE_NAME).unlink()
    assert _codes(verify_bundle(a, [signer.public_key])) == {"missing_signature"}
    (b / "manifest.json").unlink()
    assert _codes(verify_bundle(b, [signer.public_key])) == {"missing_manifest"}


def test_added_file_is_named(root: Path, signer: Ed25519Signer) -> None:
    b = _bundles(root)[0]
    (b / "extra.jpg").write_bytes(b"x")
    r = verify_bundle(b, [signer.public_key])
    assert [(x.code, Path(x.where).name) for x in r.problems] == [("unlisted_file", "extra.jpg")]


def test_signature_from_another_bundle_is_rejected(root: Path, signer: Ed25519Signer) -> None:
    a, b = _bundles(root)[:2]
    shutil.copy(a / SIGNATURE_NAME, b / SIGNATURE_NAME)
    r = verify_bundle(b, [signer.public_key])
    assert {"bad_signature", "signature_manifest_mismatch"} <= _codes(r)


def test_signature_by_another_key_is_untrusted(root: Path, signer: Ed25519Signer) -> None:
    b = _bundles(root)[0]
    other = Ed25519Signer.generate()
    body = (b / "manifest.json").read_bytes()
    import base64

    sig = {
        "algorithm": "ed25519",
        "key_id": other.key_id,
        "manifest_sha256": sha256_hex(body),
        "signature_b64": base64.b64encode(other.sign(body)).decode(),
    }
    (b / SIGNATURE_NAME).write_text(json.dumps(sig))
    assert _codes(verify_bundle(b, [signer.public_key])) == {"untrusted_key", "key_id_mismatch"}
    # even if the verifier trusts both keys, the manifest names the key that must sign it
    assert _codes(verify_bundle(b, [signer.public_key, other.public_key])) == {"key_id_mismatch"}


def test_no_trusted_key_fails(root: Path) -> None:
    r = verify_chain(root, [])
    assert not r.ok and "untrusted_key" in _codes(r)


def test_deleted_middle_bundle_is_named(root: Path, signer: Ed25519Signer) -> None:
    b1, b2, b3 = _bundles(root)
    shutil.rmtree(b2)
    r = verify_chain(root, [signer.public_key])
    assert not r.ok
    missing = [p for p in r.problems if p.code == "missing_bundle"]
    assert len(missing) == 1
    assert "sequence 2 missing" in missing[0].message and b1.name in missing[0].message
    assert all(b.ok for b in r.bundles)  # the remaining bundles themselves are fine


def test_deleted_last_bundle_caught_by_chain_state(root: Path, signer: Ed25519Signer) -> None:
    shutil.rmtree(_bundles(root)[-1])
    r = verify_chain(root, [signer.public_key])
    assert [p.code for p in r.problems] == ["missing_bundle"]
    assert "last bundle is sequence 3" in r.problems[0].message


def test_swapped_bundle_folders_are_out_of_order(root: Path, signer: Ed25519Signer) -> None:
    b1, b2, _ = _bundles(root)
    tmp = b1.with_name("swap")
    b1.rename(tmp)
    b2.rename(b1)
    tmp.rename(b2)
    r = verify_chain(root, [signer.public_key])
    assert "order_mismatch" in _codes(r)


def test_replaced_bundle_breaks_chain(root: Path, signer: Ed25519Signer, tmp_path: Path) -> None:
    """A bundle re-signed with the right key but not chained (e.g. a forged replacement) is caught."""
    other_root = tmp_path / "other"
    forged = write_bundles(_writer(other_root, signer), 2, start=200)[1]  # sequence 2, other prev hash
    b2 = _bundles(root)[1]
    shutil.rmtree(b2)
    shutil.copytree(forged, root / "cam1" / forged.name)
    r = verify_chain(root, [signer.public_key])
    assert "chain_break" in _codes(r)


def test_chain_state_survives_restart(root: Path, signer: Ed25519Signer) -> None:
    state = load_chain_state(root, "cam1")
    assert state.last_sequence == 3
    w2 = _writer(root, signer)  # a new process: reads chain/cam1.json
    new = write_bundles(w2, 1, start=100)[0]
    m = parse_manifest((new / "manifest.json").read_bytes())
    assert m.sequence == 4 and m.prev_manifest_sha256 == state.last_manifest_sha256
    assert verify_chain(root, [signer.public_key]).ok


def test_replay_is_idempotent(root: Path, signer: Ed25519Signer) -> None:
    before = _bundles(root)
    again = write_bundles(_writer(root, signer), 1)  # same event key as bundle 1
    assert again == [before[0]] and _bundles(root) == before
    assert load_chain_state(root, "cam1").last_sequence == 3


def test_writer_refuses_other_camera(tmp_path: Path, signer: Ed25519Signer) -> None:
    w = _writer(tmp_path, signer)
    with pytest.raises(BundleError, match="camera cam2"):
        w.write(synthetic.violation(5, camera_id="cam2"), [next(synthetic.scene(1)).frame])


def test_bundle_without_plate_and_clip_needs_review(tmp_path: Path, signer: Ed25519Signer) -> None:
    w = _writer(tmp_path, signer, clip_enabled=False, privacy_mask=False)
    sfs = list(synthetic.scene(12))
    path = w.write(synthetic.violation(6), [s.frame for s in sfs])
    m = parse_manifest((path / "manifest.json").read_bytes())
    assert m.clip is None and m.plate is None and not m.privacy_masked
    assert m.needs_review and "no plate reading" in m.review_reasons
    assert {f.name for f in m.files} == {"before.jpg", "at.jpg", "after.jpg", "overview.jpg"}
    assert verify_chain(tmp_path, [signer.public_key]).ok


def test_a_rules_own_review_flag_becomes_a_reason(tmp_path: Path, signer: Ed25519Signer) -> None:
    """A too-many-riders violation is always reviewed (the decree's exemptions cannot be seen): its
    measurements say so, and the manifest names why even with a sure plate."""
    w = _writer(tmp_path, signer, clip_enabled=False)
    sfs = list(synthetic.scene(12))
    v = replace(
        synthetic.violation(6),
        violation_type=ViolationType.TOO_MANY_RIDERS,
        vehicle_class="motorcycle",
        measured=TooManyRidersMeasures(riders=3, four_or_more=False, held_s=1.2),
        riders=3,
    )
    path = w.write(v, [s.frame for s in sfs], plate=synthetic.plate_read())
    m = parse_manifest((path / "manifest.json").read_bytes())
    assert m.needs_review and any("exemptions" in r for r in m.review_reasons), m.review_reasons
    assert isinstance(m.violation.measured, TooManyRidersMeasures) and m.violation.measured.riders == 3
    assert (
        json.loads((path / "manifest.json").read_bytes())["violation"]["measured"]["kind"]
        == "too_many_riders"
    )


def test_plate_crop_and_frames_are_never_masked(tmp_path: Path, signer: Ed25519Signer) -> None:
    """The bystander mask blurs other vehicles' plates in the overview only: the plate crop (here cut
    where the mask falls: the parked car's plate, as when the violator stands in front of it) and the
    before/at/after frames keep their pixels, and the frames handed in are not changed."""
    sfs = list(synthetic.scene(9, fps=10.0, wall_time0=1.8e9))
    at = sfs[4]
    x1, y1, x2, y2 = (int(v) for v in at.detections.xyxy[1])  # the parked car (track 8), a bystander
    crop = at.frame.image[y2 - 12 : y2, x1:x2].copy()
    before = [s.frame.image.copy() for s in sfs]
    path = _writer(tmp_path, signer, clip_enabled=False, privacy_mask=True).write(
        synthetic.violation(4),
        [s.frame for s in sfs],
        plate=synthetic.plate_read(),
        plate_crop=crop,
        detections_by_frame={s.frame.index: s.detections for s in sfs},
    )
    m = parse_manifest((path / "manifest.json").read_bytes())
    assert m.privacy_masked  # the mask was applied (to the overview)

    def read(name: str) -> np.ndarray:
        image = cv2.imread(str(path / name))
        assert image is not None, name
        return image

    def diff(name: str, reference: np.ndarray) -> float:
        image = read(name)
        return float(np.abs(image.astype(int) - reference.astype(int)).mean())

    masked = at.frame.image.copy()
    im.mask_bystanders(masked, at.detections, violator_track=7)
    # the crop as given (JPEG noise only), far from what the mask makes of those pixels
    assert diff("plate.jpg", crop) < diff("plate.jpg", masked[y2 - 12 : y2, x1:x2]) / 2
    region = (slice(y2 - 10, y2), slice(x1 + 4, x2 - 4))
    for name, near, far in (("at.jpg", at.frame.image, masked), ("overview.jpg", masked, at.frame.image)):
        image = read(name)[region].astype(int)
        assert np.abs(image - near[region]).mean() < np.abs(image - far[region]).mean() / 2, name
    assert all(np.array_equal(s.frame.image, b) for s, b in zip(sfs, before, strict=True))
