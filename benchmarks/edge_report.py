"""The edge benchmark's report: tables of medians, per-round ratios, accuracy, notes, every run."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from typing import Any

from edge_accuracy import RECOVERY_RULE
from edge_clips import Clip
from edge_measure import REPO, Run

PEER_PY = REPO / ".venv-ultralytics" / "bin" / "python"
MODES = ("peer", "ours-lean", "ours-full")
LATENCY_CEILING_MS = 10_000.0  # detector/runtime/loop.py LATENCY_BINS_MS


def whole_table(runs: list[Run]) -> list[str]:
    rows = [
        "| pipeline | frames | tracks | GT tracks recovered | GT violations found | wall s | peak RSS MB |",
        "|" + "---|" * 7,
    ]
    for r in runs:
        if not r.ok:
            rows.append(f"| {r.mode} | failed: {r.error.replace('|', '/')[:100]} | | | | | |")
            continue
        rec, viol = accuracy_text([r], r.mode)
        rows.append(
            f"| {r.mode} | {r.frames} | {r.tracks} | {rec} | {viol} | {r.wall_s:.1f} | {r.peak_rss_mb:.0f} |"
        )
    return rows


def describe(run: Run) -> str:
    if not run.ok:
        return f"FAILED {run.error}"
    fps = f"{run.steady_fps:.1f}" if run.steady_fps else "n/a"
    return (
        f"{run.frames} frames, {fps} fps ({run.fps_kind}), p95 processing {run.processing_p95_ms} ms, "
        f"p95 latency {run.p95_ms} ms, "
        f"{run.peak_rss_mb:.0f} MB, wall {run.wall_s:.1f} s, {run.tracks} tracks, load "
        f"{run.load_before:.1f}->{run.load_after:.1f} {run.accuracy or ''}"
    )


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def latency_text(v: float | None) -> str:
    """Ours' runtime histogram tops out at 10 s: its p95 reads 10000 when the latency is 10 s or more."""
    return ">=10000" if v is not None and v >= LATENCY_CEILING_MS else fmt(v)


def same_or_range(values: list[Any]) -> str:
    vals = sorted(set(values))
    return "n/a" if not vals else str(vals[0]) if len(vals) == 1 else f"{vals[0]}-{vals[-1]}"


# --- the report --------------------------------------------------------------------------------------


def cell(runs: list[Run], clip: str, mode: str) -> list[Run]:
    return [r for r in runs if r.clip == clip and r.mode == mode and r.ok]


def fps_text(rs: list[Run]) -> str:
    v = med([r.steady_fps for r in rs])
    wall_based = any(r.fps_kind.startswith("frames /") for r in rs)
    return fmt(v) + (" (wall)" if wall_based and v is not None else "")


def accuracy_text(rs: list[Run], mode: str) -> tuple[str, str]:
    """(GT tracks recovered with id switches, GT violations found) for the sample scene's runs."""
    accs = [r.accuracy for r in rs if r.accuracy]
    if not accs:
        return "-", "-"
    rec = (
        f"{same_or_range([a['recovered'] for a in accs])}/{accs[0]['vehicles']} "
        f"({same_or_range([a['id_switches'] for a in accs])} id sw.)"
    )
    if mode == "peer":
        return rec, "n/a (no rules)"
    viol = (
        f"{same_or_range([a['violations_found'] for a in accs])}/{accs[0]['violations_expected']} "
        f"(of {accs[0]['violations_total']}; {same_or_range([a['violations_reported'] for a in accs])} reported)"
    )
    return rec, viol


MAIN_HEADER = (
    "| clip | mode | frames (detected) | detector input | steady fps | fps over process wall "
    "| p95 processing ms | p95 latency ms | peak RSS MB | tracks | GT tracks recovered (sample) "
    "| GT violations (sample) | ours/peer fps | ours/peer RSS |"
)


def main_row(clip: Clip, mode: str, rs: list[Run], peer: list[Run]) -> str:
    """One row: medians over the rounds of one clip and mode, ratios to the peer's medians."""
    fps, rss = med([r.steady_fps for r in rs]), med([r.peak_rss_mb for r in rs])
    peer_fps, peer_rss = med([r.steady_fps for r in peer]), med([r.peak_rss_mb for r in peer])
    detected = same_or_range([r.frames_detected for r in rs if r.frames_detected is not None])
    rec, viol = accuracy_text(rs, mode) if clip.name == "sample scene" else ("-", "-")
    ratio_fps = "1" if mode == "peer" else fmt(fps / peer_fps if fps and peer_fps else None, 2)
    ratio_rss = "1" if mode == "peer" else fmt(rss / peer_rss if rss and peer_rss else None, 2)
    codes = list(dict.fromkeys(f"{r.model} @{r.code}" for r in rs))
    mixed = f" (mixed: {'; '.join(codes)})" if len(codes) > 1 else ""
    return (
        f"| {clip.name} | {mode}{mixed} | {same_or_range([r.frames for r in rs])} ({detected}) "
        f"| {rs[0].input_size} | {fps_text(rs)} | {fmt(med([r.frames / r.wall_s for r in rs]))} "
        f"| {fmt(med([r.processing_p95_ms for r in rs]))} | {latency_text(med([r.p95_ms for r in rs]))} "
        f"| {fmt(rss, 0)} | {same_or_range([r.tracks for r in rs])} | {rec} | {viol} | {ratio_fps} | {ratio_rss} |"
    )


def main_table(clips: list[Clip], runs: list[Run]) -> list[str]:
    rows = [MAIN_HEADER, "|" + "---|" * 14]
    for clip in clips:
        peer = cell(runs, clip.name, "peer")
        for mode in MODES:
            rs = cell(runs, clip.name, mode)
            if rs:
                rows.append(main_row(clip, mode, rs, peer))
            else:
                rows.append(
                    f"| {clip.name} | {mode} | failed: {last_error(runs, clip.name, mode)} |" + " |" * 11
                )
    return rows


def last_error(runs: list[Run], clip: str, mode: str) -> str:
    errors = [r.error for r in runs if r.clip == clip and r.mode == mode and r.error]
    return errors[-1].replace("|", "/")[:120] if errors else "no run"


def ratio(a: list[Run], b: list[Run], attr: str) -> str:
    x, y = (getattr(a[0], attr) if a else None), (getattr(b[0], attr) if b else None)
    return fmt(x / y if x and y else None, 2)


def rounds_table(clips: list[Clip], runs: list[Run], rounds: int) -> list[str]:
    rows = [
        "| clip | round | lean/peer fps | full/peer fps | lean/peer RSS | full/peer RSS "
        "| load avg before->after (peer; lean; full) |",
        "|" + "---|" * 7,
    ]
    for clip in clips:
        for rnd in range(1, rounds + 1):
            by = {
                m: [r for r in runs if r.clip == clip.name and r.mode == m and r.round == rnd and r.ok]
                for m in MODES
            }
            loads = "; ".join(f"{r.load_before:.1f}->{r.load_after:.1f}" for m in MODES for r in by[m][:1])
            rows.append(
                f"| {clip.name} | {rnd} | {ratio(by['ours-lean'], by['peer'], 'steady_fps')} "
                f"| {ratio(by['ours-full'], by['peer'], 'steady_fps')} "
                f"| {ratio(by['ours-lean'], by['peer'], 'peak_rss_mb')} "
                f"| {ratio(by['ours-full'], by['peer'], 'peak_rss_mb')} | {loads} |"
            )
    return rows


def runs_table(runs: list[Run]) -> list[str]:
    rows = [
        "| clip | round | mode | ok | frames | wall s | CPU s | steady fps (kind) | p95 processing ms "
        "| p95 latency ms | peak RSS MB | load before->after | model | code |",
        "|" + "---|" * 14,
    ]
    for r in runs:
        rows.append(
            f"| {r.clip} | {r.round} | {r.mode} | {'yes' if r.ok else 'no: ' + r.error.replace('|', '/')[:80]} "
            f"| {r.frames} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {fmt(r.steady_fps)} ({r.fps_kind or '-'}) "
            f"| {fmt(r.processing_p95_ms)} | {latency_text(r.p95_ms)} | {r.peak_rss_mb:.0f} "
            f"| {r.load_before:.2f}->{r.load_after:.2f} | {r.model} | {r.code} |"
        )
    return rows


def detrac_table(runs: list[Run]) -> list[str]:
    rows = [
        "| pipeline | labelled boxes matched by a track (IoU >= 0.5) | frame 0 (img00001) | frame 1 (img00002) "
        "| tracks | wall s | peak RSS MB |",
        "|" + "---|" * 7,
    ]
    for r in runs:
        a = r.accuracy
        if not r.ok:
            rows.append(f"| {r.mode} | failed: {r.error.replace('|', '/')[:100]} | | | | | |")
            continue
        rows.append(
            f"| {r.mode} | {a['matched']}/{a['labelled']} | {a.get('frame0', 0)}/2 | {a.get('frame1', 0)}/3 "
            f"| {r.tracks} | {r.wall_s:.1f} | {r.peak_rss_mb:.0f} |"
        )
    return rows


NOTES = [
    '- Peer: Ultralytics {uv} `YOLO("yolo11n.onnx", task="detect").track(tracker="bytetrack.yaml", imgsz=640, '
    "stream=True, classes=[0,1,2,3,5,7])` on the same ONNX file (onnxruntime CPU, its default threads), "
    "offline (YOLO_OFFLINE=1). Steady fps: results per second after the first 20 results. p95 processing: "
    "start of Ultralytics' preprocess to the end of its tracker callback (our callbacks, registered after its "
    "own), over the results after the first 20. p95 latency: the time between consecutive results (its loop is "
    "synchronous on CPU: decode, preprocess, inference, postprocess, tracker, our record writing).",
    "- Ours: `detector replay CLIP --config CONFIG --json --max-frames N`; lean adds `--no-evidence --no-store "
    "--no-preview`; full is the README's replay (signed evidence, SQLite store, preview). Steady fps, p95 "
    "processing (`runtime.processing_ms`) and p95 latency (`runtime.latency_ms`: frame read to result, which "
    "in a replay includes the wait in the read-ahead capture queue) come from summary.json's runtime block; "
    'where it is absent the fps is frames / process wall time (marked "(wall)": start-up included). '
    "frames (detected): frames run, and how many of them went through the detector (the rest were predicted "
    "by the tracker's motion).",
    '- "fps over process wall" is frames / wall time of the whole process (start-up, imports and model load '
    "included) for both: the one figure measured the same way from outside.",
    "- Peak RSS: the larger of the process tree's summed VmRSS and the program's VmHWM, sampled every 50 ms "
    "from its exec (not wait4's maxrss, which counts the forked child while it still maps the benchmark's own "
    "pages). Load average: the 1-minute figure just before and after each run.",
    "- Detector input: ours letterboxes to the config's input_size, else to a rectangle fitted to the frame "
    "(long side input_long_side); Ultralytics letterboxes to imgsz 640 with minimal padding (a dynamic ONNX). "
    "The column shows what each fed the network (width x height).",
    "- Accuracy rule (sample scene): {rule}. GT violations: found / committed (ground truth) within the frames "
    "run; a rule may only decide after its window (dwell, duration), so the whole-clip table is the one to "
    "read for the six.",
    '- Ours\' runtime latency histogram has 1 ms bins up to 10 s: ">=10000" means the p95 is 10 s or more.',
    "- UA-DETRAC labels: 2 labelled frames (img00001: 2 boxes, img00002: 3 boxes) of MVI_20011; both pipelines "
    "run on the 9-image folder (ours: configs/ua_detrac_intersection.yaml with the folder as VIDEO; the peer "
    "with persist=True, since Ultralytics otherwise resets its tracker at every image); a labelled box is "
    "matched when a reported track box overlaps it at IoU >= 0.5 (one-to-one per frame). The labels are "
    "incomplete, so unmatched tracks are not counted as errors.",
]


def report(
    clips: list[Clip], runs: list[Run], extra: dict[str, list[Run]], args: argparse.Namespace, machine: str
) -> str:
    probe = "import importlib.metadata as m; print(m.version('ultralytics'))"
    uv = subprocess.run(
        [str(PEER_PY), "-c", probe], capture_output=True, text=True, check=False
    ).stdout.strip()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    command = f"python benchmarks/bench_edge.py --frames {args.frames} --rounds {args.rounds}"
    backend = getattr(args, "backend", None)
    if backend:
        command += f" --backend {backend}"
    skipped = "".join(f"\n- {c.name}: {c.note}" for c in clips if c.note)
    parts = [
        "## Edge run: our replay against Ultralytics' track pipeline"
        + (f", ours on {backend}" if backend else ""),
        f"Measured {stamp} on {machine}; `{command}`; load average {os.getloadavg()[0]:.1f} at the end "
        f"(the 2 cores are shared with other work: compare the ratios of one round). Median of {args.rounds} "
        f"interleaved rounds per cell. Code: {', '.join(dict.fromkeys(r.code for r in runs))} (HEAD at the start of "
        'each run; "+": detector/ had uncommitted edits).',
        "\n".join(main_table(clips, runs)),
        "Per round (ratios within one round, where the load is most alike):",
        "\n".join(rounds_table(clips, runs, args.rounds)),
        "Sample scene to the end of the clip (accuracy only, one more run of each):",
        "\n".join(whole_table(extra["whole"])) if extra["whole"] else "(skipped)",
        "Labelled UA-DETRAC frames (MVI_20011 folder, 9 images):",
        "\n".join(detrac_table(extra["folder"])) if extra["folder"] else "(skipped)",
        "Notes:" + skipped + "\n" + "\n".join(NOTES).format(uv=uv or "?", rule=RECOVERY_RULE),
        "Every run:",
        "\n".join(runs_table(runs + extra["whole"] + extra["folder"])),
    ]
    return "\n\n".join(parts) + "\n"
