"""The manifest model, its committed JSON Schema, and deterministic event ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detector.config import EvidenceConfig
from detector.evidence import manifest as mf
from detector.measures import RedLightMeasures, SpeedingMeasures
from detector.types import ViolationType

SCHEMA_FILE = Path(mf.__file__).with_name("manifest.schema.json")


def test_committed_schema_equals_generated() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == mf.manifest_json_schema(), (
        "manifest.schema.json is stale: python -m detector.evidence.manifest > detector/evidence/manifest.schema.json"
    )


def test_schema_declares_version_and_required_fields() -> None:
    schema = mf.manifest_json_schema()
    assert schema["properties"]["manifest_version"]["enum"] == [1, 2, 3]
    assert schema["properties"]["manifest_version"]["default"] == mf.MANIFEST_VERSION == 3
    for name in ("event_id", "camera", "violation", "files", "sequence", "key_id", "config_sha256"):
        assert name in schema["properties"]


def test_event_id_is_deterministic_uuid5() -> None:
    a = mf.event_id_for("cam1:red_light:7:120")
    assert a == mf.event_id_for("cam1:red_light:7:120")
    assert a != mf.event_id_for("cam1:red_light:7:121")
    assert a[14] == "5"  # uuid version nibble


def test_parse_rejects_unknown_version_and_names_file() -> None:
    with pytest.raises(mf.ManifestError, match="x/manifest.json.*manifest_version 4"):
        mf.parse_manifest(b'{"manifest_version": 4}', "x/manifest.json")
    with pytest.raises(mf.ManifestError, match="not valid UTF-8 JSON"):
        mf.parse_manifest(b"{", "y")


def test_evidence_config_rejects_ring_shorter_than_clip() -> None:
    with pytest.raises(ValueError, match="shorter than pre_s"):
        EvidenceConfig(pre_s=3, post_s=3, ring_max_seconds=4)
    assert EvidenceConfig(pre_s=1, post_s=2).ring_seconds == 4.0


V2 = Path(__file__).resolve().parents[1] / "fixtures" / "evidence_v2"  # written by the version-2 writer


def _v2_manifests() -> list[Path]:
    return sorted(V2.glob("root/cam1/*/manifest.json"))


def test_schema_lists_each_rules_measurements_by_kind() -> None:
    defs = mf.manifest_json_schema()["$defs"]
    mapping = defs["ViolationInfo"]["properties"]["measured"]["discriminator"]["mapping"]
    assert set(mapping) == {t.value for t in ViolationType} | {"section_speed"}  # a store row's kind too
    speed = defs["SpeedingMeasures"]
    assert speed["additionalProperties"] is False
    assert {"speed_kmh", "speed_uncertainty_kmh", "limit_kmh"} <= set(speed["required"])
    assert {"phase", "time_into_red_s", "lane_id"} <= set(defs["RedLightMeasures"]["required"])


def test_version_2_manifests_are_read_into_typed_measurements() -> None:
    red, speed = (mf.parse_manifest(p.read_bytes(), str(p)) for p in _v2_manifests())
    assert red.manifest_version == speed.manifest_version == 2
    assert isinstance(red.violation.measured, RedLightMeasures)
    assert red.violation.measured.time_into_red_s == 2.4 and red.violation.measured.lane_id == "lane_2"
    assert red.violation.measured.arrow_lit is None  # not yet measured by version-2 writers
    assert isinstance(speed.violation.measured, SpeedingMeasures)
    assert speed.violation.measured.excess_kmh == pytest.approx(78.4 - 60.0 - 3.1)


def test_version_2_measured_values_that_do_not_fit_their_rule_name_the_field() -> None:
    raw = json.loads(_v2_manifests()[1].read_bytes())
    del raw["violation"]["measured"]["limit_kmh"]
    with pytest.raises(mf.ManifestError, match="violation.measured: speeding measured values: limit_kmh"):
        mf.parse_manifest(json.dumps(raw).encode(), "z")


def test_version_3_measurements_are_strict() -> None:
    raw = json.loads(_v2_manifests()[0].read_bytes())
    raw["manifest_version"] = 3
    raw["violation"]["measured"]["kind"] = "red_light"
    m = mf.parse_manifest(json.dumps(raw).encode(), "ok")
    assert isinstance(m.violation.measured, RedLightMeasures)
    again = mf.parse_manifest(mf.manifest_bytes(m), "again")
    assert again.violation.measured == m.violation.measured
    raw["violation"]["measured"]["signal_state"] = "red"  # an old synthetic key: not a field
    with pytest.raises(mf.ManifestError, match="signal_state"):
        mf.parse_manifest(json.dumps(raw).encode(), "extra")
    speeding = json.loads(_v2_manifests()[1].read_bytes())["violation"]["measured"]
    raw["violation"]["measured"] = {**speeding, "kind": "speeding"}
    with pytest.raises(mf.ManifestError, match="red_light violation carries speeding measurements"):
        mf.parse_manifest(json.dumps(raw).encode(), "wrong kind")


def test_verify_still_verifies_version_2_bundles() -> None:
    from click.testing import CliRunner

    from detector.cli import main_group

    r = CliRunner().invoke(main_group, ["verify", str(V2 / "root"), "--key", str(V2 / "key.pub")])
    assert r.exit_code == 0, r.output
    assert "verified: 2 bundle(s)" in r.output
