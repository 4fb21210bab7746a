"""Ray against Dask distributed for batch replay on this machine: start-up, per-task overhead, memory.

What a batch of videos needs from an engine: start a local cluster of N worker processes, run one
task per video with its CPU needs declared, survive a worker killed mid-task. This measures the
fixed costs the engine adds around that work, interleaved (Dask, Ray, Dask, Ray...) in one run:

- start-up: seconds from "make a local cluster of 2 single-CPU workers" to the first task's result;
- per-task overhead: wall seconds per no-op task over 200 tasks submitted at once (declared 1 CPU);
- memory: resident set of the driver and every process the engine started (psutil), idle.

    nice -n 10 .venv/bin/python benchmarks/bench_engines.py [--rounds 2] [--tasks 200]

Needs both engines installed (`pip install 'dask[distributed]' ray`); prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import psutil


def _noop(i: int) -> int:
    return i


def _tree_rss_mb() -> float:
    me = psutil.Process()
    procs = [me, *me.children(recursive=True)]
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 1e6


def run_dask(tasks: int) -> dict[str, float]:
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        resources={"CPU": 1},
        dashboard_address=None,
        silence_logs=40,
    )
    client = Client(cluster)
    client.submit(_noop, -1, resources={"CPU": 1}, pure=False).result()
    startup = time.perf_counter() - t0
    rss = _tree_rss_mb()
    t1 = time.perf_counter()
    futs = [client.submit(_noop, i, resources={"CPU": 1}, pure=False) for i in range(tasks)]
    client.gather(futs)
    per_task = (time.perf_counter() - t1) / tasks
    client.close()
    cluster.close()
    return {"startup_s": startup, "per_task_ms": per_task * 1e3, "rss_mb": rss}


def run_ray(tasks: int) -> dict[str, float]:
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    noop = ray.remote(num_cpus=1)(_noop)
    ray.get(noop.remote(-1))
    startup = time.perf_counter() - t0
    rss = _tree_rss_mb()
    t1 = time.perf_counter()
    ray.get([noop.remote(i) for i in range(tasks)])
    per_task = (time.perf_counter() - t1) / tasks
    ray.shutdown()
    return {"startup_s": startup, "per_task_ms": per_task * 1e3, "rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=200)
    args = ap.parse_args()
    results: dict[str, list[dict[str, float]]] = {"dask": [], "ray": []}
    for r in range(args.rounds):
        for name, fn in (("dask", run_dask), ("ray", run_ray)):
            res = fn(args.tasks)
            results[name].append(res)
            print(f"round {r} {name}: {res} load {os.getloadavg()}", flush=True)
    print(f"\nload average {os.getloadavg()}, {os.cpu_count()} CPUs\n")
    print("| engine | start-up s (median) | per no-op task ms (median) | RSS of driver + workers MB |")
    print("| --- | --- | --- | --- |")
    for name, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"| {name} | {med['startup_s']:.1f} | {med['per_task_ms']:.1f} | {med['rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
