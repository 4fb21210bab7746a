"""The manifest model, its committed JSON Schema, and deterministic event ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detector.evidence import manifest as mf
from detector.evidence.config import EvidenceConfig

SCHEMA_FILE = Path(mf.__file__).with_name("manifest.schema.json")


def test_committed_schema_equals_generated() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == mf.manifest_json_schema(), (
        "manifest.schema.json is stale: python -m detector.evidence.manifest > detector/evidence/manifest.schema.json"
    )


def test_schema_declares_version_and_required_fields() -> None:
    schema = mf.manifest_json_schema()
    assert schema["properties"]["manifest_version"]["enum"] == [1, 2]
    assert schema["properties"]["manifest_version"]["default"] == mf.MANIFEST_VERSION == 2
    for name in ("event_id", "camera", "violation", "files", "sequence", "key_id", "config_sha256"):
        assert name in schema["properties"]


def test_event_id_is_deterministic_uuid5() -> None:
    a = mf.event_id_for("cam1:red_light:7:120")
    assert a == mf.event_id_for("cam1:red_light:7:120")
    assert a != mf.event_id_for("cam1:red_light:7:121")
    assert a[14] == "5"  # uuid version nibble


def test_parse_rejects_unknown_version_and_names_file() -> None:
    with pytest.raises(mf.ManifestError, match="x/manifest.json.*manifest_version 3"):
        mf.parse_manifest(b'{"manifest_version": 3}', "x/manifest.json")
    with pytest.raises(mf.ManifestError, match="not valid UTF-8 JSON"):
        mf.parse_manifest(b"{", "y")


def test_evidence_config_rejects_ring_shorter_than_clip() -> None:
    with pytest.raises(ValueError, match="shorter than pre_s"):
        EvidenceConfig(pre_s=3, post_s=3, ring_max_seconds=4)
    assert EvidenceConfig(pre_s=1, post_s=2).ring_seconds == 4.0
