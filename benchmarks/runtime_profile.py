"""cProfile of wlisp's runtime on the peer workloads (see peer_wlisp.py, RUNTIME.md).

    python benchmarks/runtime_profile.py                  # W1 (10000) and W3 (1000)
    python benchmarks/runtime_profile.py W5 --n 1000 --top 30

Compiles outside the profile, then profiles one `run_async` call. Prints, per workload,
the wall time without the profiler, the share of it spent in the cyclic garbage collector
(measured with gc.callbacks), and the top functions by total (own) time, and writes them
to benchmarks/results/runtime_profile.txt (plus a .prof per workload, ignored by git).

The profiled run has the garbage collector OFF (--keep-gc to keep it): cProfile bills a
collection to whichever function happened to allocate when it triggered, which smears
the GC time over unrelated functions (a str() join, a genexpr...). GC is reported on its
own line instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peer_wlisp  # noqa: E402 - needs the path above

DEFAULT_N = {"W1": 10000, "W2": 2000, "W3": 1000, "W5": 1000}


def args_for(workload: str, n: int | None):
    ns = argparse.Namespace(workload=workload, n=n or DEFAULT_N[workload],
                            latency=0.05 if workload == "W2" else 0.0,
                            conc=100 if workload == "W2" else None, variant="default",
                            phase="run", db=None)
    return ns


def once(args, profile: bool, keep_gc: bool = True):
    import wlisp

    spec, inputs, kw, index = peer_wlisp.build(args, wlisp)
    executor = peer_wlisp.BenchExecutor(args.latency, index, peer_wlisp.common.step,
                                        wlisp.StepOutcome)
    prof = cProfile.Profile() if profile else None
    gc_time = [0.0, 0.0, 0]

    def on_gc(phase, info):
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]
            gc_time[2] += 1

    async def go():
        if prof:
            prof.enable()
        t0 = time.perf_counter()
        c0 = time.process_time()
        res = await wlisp.run_async(spec, executor, inputs, **kw)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        if prof:
            prof.disable()
        return res, wall, cpu

    gc.collect()
    if not keep_gc:
        gc.disable()
    gc.callbacks.append(on_gc)
    try:
        res, wall, cpu = asyncio.run(go())
    finally:
        gc.callbacks.remove(on_gc)
        gc.enable()
    assert res.status == "completed", res.error
    return {"wall": wall, "cpu": cpu, "gc": gc_time[0], "collections": gc_time[2]}, prof


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workloads", nargs="*", default=["W1", "W3"])
    ap.add_argument("--n", type=int)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--keep-gc", action="store_true", help="leave the GC on while profiling")
    a = ap.parse_args()
    import wlisp.runtime.scheduler  # noqa: F401 - warm imports, as peer_wlisp does

    out = io.StringIO()
    for w in a.workloads:
        args = args_for(w, a.n)
        plain, _ = once(args, False)
        profiled, prof = once(args, True, a.keep_gc)
        head = (f"== {w} n={args.n}: without the profiler: wall {plain['wall']:.3f} s "
                f"({plain['wall'] / args.n * 1e6:.1f} us/step), CPU {plain['cpu']:.3f} s, "
                f"of which GC {plain['gc']:.3f} s ({plain['collections']} collections, "
                f"{100 * plain['gc'] / max(plain['cpu'], 1e-9):.0f}% of CPU)\n"
                f"   profiled run (GC {'on' if a.keep_gc else 'off'}): wall "
                f"{profiled['wall']:.3f} s")
        s = io.StringIO()
        st = pstats.Stats(prof, stream=s).strip_dirs().sort_stats("tottime")
        st.print_stats(a.top)
        body = s.getvalue()
        body = body[body.index("   ncalls"):] if "   ncalls" in body else body
        text = f"{head}\n{body}\n"
        print(text)
        out.write(text)
        prof.dump_stats(str(HERE / "results" / f"runtime_profile_{w}.prof.tmp"))
    path = HERE / "results" / "runtime_profile.txt"
    path.write_text(out.getvalue(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
