"""The `detector` command as a user runs it: exit codes 0 / 2 (usage, config) / 1 (runtime)."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.support import DETECTOR
from tests.conftest import REPO, shared_path


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DETECTOR, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def write_config(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    assert "replay" in r.stdout and "run" in r.stdout


def test_replay_real_clip_writes_records_preview_and_summary(tmp_path: Path):
    shared_path("ua-detrac-evadb-sample", "clips", "intersection_252f.mp4")
    out = tmp_path / "out"
    r = run(
        "replay",
        "--config",
        "configs/ua_detrac_intersection.yaml",
        "--out",
        str(out),
        "--max-frames",
        "20",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["frames"] == 20
    assert summary["tracks"] >= 8
    assert summary["tracks_by_class"].get("car", 0) >= 5
    records = [json.loads(line) for line in (out / "tracks.jsonl").read_text().splitlines()]
    assert len(records) == summary["track_records"] > 100
    assert {"frame", "t", "track_id", "class", "box", "conf"} <= set(records[0])
    assert max(r["frame"] for r in records) == 19
    assert (out / "preview.mp4").stat().st_size > 10_000
    assert list(out.glob("snapshot_f*.jpg"))
    assert json.loads((out / "summary.json").read_text())["frames"] == 20
    assert not list(out.glob(".*tmp*")), "no temporary files left behind"


def test_missing_config_is_usage_error(tmp_path: Path):
    r = run("replay", "--config", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2
    assert "nope.yaml: config file not found" in r.stderr


def test_wrong_config_field_names_file_field_and_value(tmp_path: Path):
    cfg = write_config(
        tmp_path / "bad.yaml",
        "camera_id: cam1\nname: x\nsource: {uri: a.mp4}\ndetector: {confidence: 7, colour: red}\n",
    )
    r = run("replay", "--config", str(cfg))
    assert r.returncode == 2
    assert "bad.yaml" in r.stderr
    assert "detector.confidence" in r.stderr and "7" in r.stderr
    assert "detector.colour" in r.stderr and "red" in r.stderr


def test_not_yaml_is_usage_error(tmp_path: Path):
    cfg = write_config(tmp_path / "broken.yaml", "camera_id: [unclosed\n")
    r = run("replay", "--config", str(cfg))
    assert r.returncode == 2 and "broken.yaml" in r.stderr


def test_missing_video_is_runtime_error(tmp_path: Path):
    cfg = write_config(tmp_path / "c.yaml", "camera_id: cam1\nname: x\nsource: {uri: missing.mp4}\n")
    r = run("replay", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "missing.mp4" in r.stderr and "not found" in r.stderr


def test_corrupt_video_is_runtime_error(tmp_path: Path):
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x01garbage" * 5000)
    cfg = write_config(tmp_path / "c.yaml", "camera_id: cam1\nname: x\nsource: {uri: bad.mp4}\n")
    r = run("replay", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "bad.mp4" in r.stderr


def test_unknown_model_path_is_runtime_error(tmp_path: Path):
    clip = shared_path("ua-detrac-evadb-sample", "clips", "test_ua_detrac_69f.mp4")
    cfg = write_config(
        tmp_path / "c.yaml",
        f"camera_id: cam1\nname: x\nsource: {{uri: '{clip}'}}\n"
        "detector: {model: models/does-not-exist.onnx}\n",
    )
    r = run("replay", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "does-not-exist.onnx" in r.stderr


@pytest.mark.parametrize("args", [["replay"], ["replay", "--config"], ["nosuchcommand"]])
def test_bad_usage_exit_2(args: list[str]):
    assert run(*args).returncode == 2


def test_config_check_and_schema(tmp_path: Path):
    r = run("config", "check", *[str(p) for p in sorted((REPO / "configs").glob("*.yaml"))])
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok ") == len(list((REPO / "configs").glob("*.yaml")))
    bad = write_config(
        tmp_path / "zones.yaml",
        "camera_id: x\nname: y\nsource: {uri: a.mp4}\n"
        "rules: {zones: {stop_lines: [{id: s, points: [[0, 0]]}]}}\n",
    )
    r = run("config", "check", str(bad))
    assert r.returncode == 2
    assert "rules.zones.stop_lines.0.points" in r.stderr
    schema = json.loads(run("config", "schema").stdout)
    assert schema["additionalProperties"] is False and "camera_id" in schema["required"]


def test_summary_table_names_each_violators_plate(tmp_path: Path):
    from detector.cli.runshared import plates_by_event

    for name, plate in (
        ("b1", {"text": "60L-909.37", "needs_review": False}),
        ("b2", {"text": "51F-1?3.45", "needs_review": True}),
        ("b3", None),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(
            json.dumps({"event_key": f"cam:red_light:{name}:1", "plate": plate})
        )
    plates = plates_by_event({"bundles": [str(tmp_path / n) for n in ("b1", "b2", "b3", "missing")]})
    assert plates == {
        "cam:red_light:b1:1": "60L-909.37",
        "cam:red_light:b2:1": "51F-1?3.45 (review)",
        "cam:red_light:b3:1": "no plate read",
    }
