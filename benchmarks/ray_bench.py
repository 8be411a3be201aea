"""The same fan-out on the local executor and on Ray: wall time and overhead per step.

    python benchmarks/ray_bench.py [--n 500] [--latency 0.1] [--conc 100] [--reps 3]

Each step is the `mock` executor sleeping `latency` seconds; the local run calls it
in the driver, the Ray run sends every step to async actors on a local Ray
cluster (started by this script; cluster start and actor creation are timed
separately and excluded from the per-run wall). Ideal wall = n / conc × latency.
Writes benchmarks/results/ray.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time

import wlisp
from wlisp.executors import make_executor
from wlisp.executors.config import load_config

SOURCE = """(defagent w)
(defworkflow main [n] (map (fn [i] (spawn w (fmt "{i}"))) (range n)))"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--conc", type=int, default=100)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    spec = wlisp.compile(SOURCE, "fanout.wl")
    tmp = tempfile.mkdtemp()
    cfg = os.path.join(tmp, "wlisp.toml")
    with open(cfg, "w") as f:
        f.write(f'[executors.local]\ntype = "mock"\nlatency = {a.latency}\n'
                f'concurrency = {a.conc}\n\n[executors.cluster]\ntype = "ray"\n'
                f'inner = "local"\nactors = {a.actors}\nconcurrency = {a.conc}\n'
                f'num_cpus = 0\n')
    config = load_config(cfg)
    local = make_executor("local", config=config)
    t0 = time.perf_counter()
    cluster = make_executor("cluster", config=config)
    start_s = time.perf_counter() - t0
    ideal = a.n / a.conc * a.latency

    async def once(ex):
        t = time.perf_counter()
        res = await wlisp.run_async(spec, ex, {"n": a.n}, concurrency=a.conc)
        assert res.status == "completed", res.error
        assert [v["task_id"] for v in res.value] == [f"main/map[{i}]/w" for i in range(a.n)]
        return time.perf_counter() - t

    async def go():
        t = time.perf_counter()
        await once(cluster)  # warm-up: creates the actors
        warm = time.perf_counter() - t
        walls = {"local": [], "ray": []}
        for _ in range(a.reps):
            walls["local"].append(await once(local))
            walls["ray"].append(await once(cluster))
        return warm, walls

    warm, walls = asyncio.run(go())
    out = {"n": a.n, "latency": a.latency, "conc": a.conc, "actors": a.actors,
           "ideal_s": ideal, "cluster_start_s": round(start_s, 3),
           "first_run_with_actor_creation_s": round(warm, 3)}
    for name, ws in walls.items():
        med = statistics.median(ws)
        out[name] = {"wall_s": round(med, 4), "wall_over_ideal": round(med / ideal, 3),
                     "overhead_per_step_ms": round((med - ideal) / a.n * a.conc * 1000 / a.conc,
                                                   3)}
    out["ray_minus_local_per_step_ms"] = round(
        (out["ray"]["wall_s"] - out["local"]["wall_s"]) / a.n * 1000, 3)
    print(json.dumps(out, indent=1))
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "ray.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
