"""wlisp's journaled workloads, one JSON line per run (the peers' protocol).

    python benchmarks/journal_wlisp.py W4 [--n 2000] [--latency 0] [--conc N]
           [--db DIR] [--phase run|crash|resume]
    python benchmarks/journal_wlisp.py R10K [--n 10000]      # resume of a finished journal

W4: a fan-out of N steps, every step journaled (WAL, synchronous=FULL, group
commit). `--phase crash` exits hard after N/2 step bodies; `--phase resume`
continues from the same state directory in a new process. Database creation
happens before the timed region, as in the peers' scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import tempfile
import time

import wlisp
from wlisp.runtime import resume_async, run_async
from wlisp.runtime.journal import Journal

SOURCE = """(defagent w)
(defworkflow main [n] (map (fn [i] (spawn w (fmt "{i}"))) (range n)))"""


class Fake:
    """The peers' step: sleep `latency`, answer out-{i}; optionally crash at `crash_at`."""

    def __init__(self, latency: float, crash_at: int | None = None, hint: int = 1_000_000):
        self.latency, self.crash_at, self.executed = latency, crash_at, 0
        self.concurrency_hint = hint
        self.first_step = None

    async def execute_step(self, spec, events=None):
        await asyncio.sleep(self.latency)
        self.executed += 1
        if self.first_step is None:
            self.first_step = time.perf_counter()
        if self.crash_at is not None and self.executed >= self.crash_at:
            os._exit(3)  # a hard crash: no cleanup, no flush
        return wlisp.StepOutcome(task_id=spec.task_id, agent=spec.agent,
                                 output=f"out-{spec.prompt}", success=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["W4", "R10K"])
    ap.add_argument("--n", type=int)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--conc", type=int)
    ap.add_argument("--db", help="state directory (default: a temporary one)")
    ap.add_argument("--phase", choices=["run", "crash", "resume"], default="run")
    a = ap.parse_args()
    n = a.n or (2000 if a.workload == "W4" else 10000)
    spec = wlisp.compile(SOURCE, "w4.wl")
    state = a.db or tempfile.mkdtemp(prefix="wlisp-w4-")
    if a.phase in ("run", "crash"):
        shutil.rmtree(state, ignore_errors=True)
        Journal(state).close()  # create the database before timing, like the peers
    out = {"peer": "wlisp", "workload": a.workload, "phase": a.phase, "n": n,
           "latency": a.latency, "conc": a.conc}

    async def go():
        if a.workload == "R10K":
            await run_async(spec, Fake(0.0), {"n": n}, store=state, run_id="r10k")
            ex = Fake(0.0)
            t0 = time.perf_counter()
            res = await resume_async("r10k", ex, store=state)
            return res, time.perf_counter() - t0, ex, t0
        ex = Fake(a.latency, n // 2 if a.phase == "crash" else None)
        t0 = time.perf_counter()
        if a.phase == "resume":
            res = await resume_async("w4", ex, store=state, concurrency=a.conc)
        else:
            res = await run_async(spec, ex, {"n": n}, store=state, run_id="w4",
                                  concurrency=a.conc)
        return res, time.perf_counter() - t0, ex, t0

    res, wall, ex, t0 = asyncio.run(go())
    outputs = [v["output"] for v in res.value] if res.status == "completed" else None
    out.update(wall_s=round(wall, 6), steps_per_s=round(n / wall, 1),
               executed_steps=ex.executed, reused=res.reused,
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               ok=outputs == [f"out-{i}" for i in range(n)])
    if a.phase == "resume" or a.workload == "R10K":
        out["resume_s"] = round(wall, 6)
        if ex.first_step is not None:
            out["first_step_s"] = round(ex.first_step - t0, 6)
    print(json.dumps(out), flush=True)
    if not a.db:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
