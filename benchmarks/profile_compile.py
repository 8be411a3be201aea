"""Profile one compile (or read / from_json) of a generated N-node workflow with cProfile.

Prints the top functions by cumulative and by internal (total) time, and keeps
the text in results/profile_<stage>.txt and the raw stats in
results/profile_<stage>.prof.tmp (open with `python -m pstats` or snakeviz).

    python benchmarks/profile_compile.py                    # compile, N = 10000
    python benchmarks/profile_compile.py --stage from_json  # load + validate
    python benchmarks/profile_compile.py --quick            # N = 1000, nothing kept
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

from common import RESULTS, fmt_s, machine
from gen import generate


def target(stage: str, text: str, filename: str):
    from wlisp.ir import WorkflowSpec
    from wlisp.lang.api import compile
    from wlisp.lang.reader import read

    if stage == "read":
        return lambda: read(text, filename)
    if stage == "compile":
        return lambda: compile(text, filename)
    js = compile(text, filename).to_json()
    return lambda: WorkflowSpec.from_json(js)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, help="nodes (default 10000; quick 1000)")
    ap.add_argument("--stage", choices=("compile", "read", "from_json"), default="compile")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    n = args.n or (1000 if args.quick else 10000)
    text = generate(n)
    filename = f"gen{n}.wl"
    fn = target(args.stage, text, filename)
    fn()  # warm-up: parser built, modules imported, caches filled
    t0 = time.perf_counter()
    fn()
    plain = time.perf_counter() - t0
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(fn)
    profiled = time.perf_counter() - t0
    out = io.StringIO()
    out.write(f"# cProfile of {args.stage}, N={n} ({machine()['date']})\n"
              f"# unprofiled {fmt_s(plain)}, under cProfile {fmt_s(profiled)}\n")
    for key in ("cumulative", "tottime"):
        out.write(f"\n## top {args.top} by {key}\n")
        stats = pstats.Stats(prof, stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(args.top)
    text_out = out.getvalue()
    print(text_out)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"profile_{args.stage}.txt").write_text(text_out, encoding="utf-8")
        prof.dump_stats(str(RESULTS / f"profile_{args.stage}.prof.tmp"))
        print(f"wrote {RESULTS / f'profile_{args.stage}.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
