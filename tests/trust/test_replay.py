"""Issue 15, failure 4: a replay of a video corrupt in the middle, or truncated to 40% with its index
intact, says in summary.json which stretches were lost and exits 1 unless --accept-gaps. The damaged
files are made here from the sample clip (random bytes over the middle tenth of its media data; a
faststart remux, by PyAV, cut at 40% of its bytes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CLIP = ROOT / "sample_videos" / "sample_scene.mp4"
CONFIG = ROOT / "configs" / "sample_scene.yaml"


def _faststart(src: Path, dst: Path) -> None:
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as o:
        s = i.streams.video[0]
        out = o.add_stream_from_template(s)
        for pkt in i.demux(s):
            if pkt.dts is None:
                continue
            pkt.stream = out
            o.mux(pkt)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} not found")
    tmp = tmp_path_factory.mktemp("damaged")
    data = bytearray(CLIP.read_bytes())
    mdat = data.find(b"mdat")
    a, b = mdat + int((len(data) - mdat) * 0.45), mdat + int((len(data) - mdat) * 0.55)
    data[a:b] = os.urandom(b - a)
    (tmp / "middle.mp4").write_bytes(data)
    _faststart(CLIP, tmp / "faststart.mp4")
    fs = (tmp / "faststart.mp4").read_bytes()
    assert fs.find(b"moov") < fs.find(b"mdat")  # the index comes first, so a cut file still opens
    (tmp / "truncated.mp4").write_bytes(fs[: int(len(fs) * 0.4)])
    return {"middle": tmp / "middle.mp4", "truncated": tmp / "truncated.mp4"}


def _replay(video: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "detector",
            "replay",
            str(video),
            "--config",
            str(CONFIG),
            "--out",
            str(out),
            "--no-evidence",
            "--no-store",
            "--no-preview",
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
    return r, summary


@pytest.mark.parametrize("kind", ["middle", "truncated"])
def test_lost_frames_fail_the_replay_and_are_named(
    damaged: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    r, summary = _replay(damaged[kind], tmp_path / "out")
    assert r.returncode == 1, r.stderr[-2000:]
    decode = summary["decode"]
    assert decode["frames_announced"] == 420
    assert 0 < decode["frames_decoded"] < 420 * 0.7
    assert decode["frames_lost"] == 420 - decode["frames_decoded"]
    (stretch,) = decode["lost"]
    assert stretch["cause"] == "stopped_early" and stretch["end_s"] == pytest.approx(28.0, abs=0.1)
    assert stretch["start_s"] == pytest.approx(decode["frames_decoded"] / 15.0, abs=0.1)
    assert "Traceback" not in r.stderr and f"replay lost {decode['frames_lost']} of 420 frames" in r.stderr


def test_accept_gaps_exits_0_and_still_reports(damaged: dict[str, Path], tmp_path: Path) -> None:
    r, summary = _replay(damaged["truncated"], tmp_path / "out", "--accept-gaps")
    assert r.returncode == 0, r.stderr[-2000:]
    assert summary["decode"]["frames_lost"] > 0 and summary["decode"]["lost"]
