"""Compile-pipeline benchmark: read, parse+compile, to_json, from_json (load+validate).

For each size N it generates an N-node workflow (benchmarks/gen.py) and times,
in this process after one warm-up call, the median of several runs of:

    read       wlisp.lang.reader.read(text, filename)            Lark parse + datum building
    compile    wlisp.lang.api.compile(text, filename)            read + evaluate + build nodes
    to_json    spec.to_json()
    from_json  WorkflowSpec.from_json(json_text)            json.loads + JSON Schema + semantics
      loads+build   WorkflowSpec.from_json(json_text, validate=False)
      schema        validate.check_document(data)          (jsonschema)
      semantic      validate.validate_spec(spec)

plus, in a fresh interpreter per N, the cold first calls (imports, building the
Lark parser, the first jsonschema validator), and in-process the time to build
the Lark parser alone. Same-run ratios (per-node cost at each N, and the
large/small scaling ratio, 10.0 meaning linear) are robust to the machine's
noise; absolute times are only indicative.

    python benchmarks/bench_compile.py            # N = 1000, 10000; writes results/compile.json
    python benchmarks/bench_compile.py --quick    # smoke test: N = 100, 1000, 3 runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import RESULTS, ROOT, fmt_s, machine, summary, table, timed, write_json
from gen import count_nodes, generate_counted

TARGET_COMPILE_1K = 0.3  # seconds, from the issue: 1,000 nodes parse+compile
STAGES = ("read", "compile", "to_json", "from_json", "loads+build", "schema", "semantic")


def stage_calls(text: str, filename: str, spec, json_text: str) -> dict:
    from wlisp.ir import WorkflowSpec
    from wlisp.ir.validate import check_document, validate_spec
    from wlisp.lang.api import compile
    from wlisp.lang.reader import read

    data = json.loads(json_text)
    unvalidated = WorkflowSpec.from_json(json_text, validate=False)
    return {
        "read": lambda: read(text, filename),
        "compile": lambda: compile(text, filename),
        "to_json": spec.to_json,
        "from_json": lambda: WorkflowSpec.from_json(json_text),
        "loads+build": lambda: WorkflowSpec.from_json(json_text, validate=False),
        "schema": lambda: check_document(data),
        "semantic": lambda: validate_spec(unvalidated),
    }


def measure(calls: dict, runs: int, budget: float, min_runs: int, warm: dict) -> dict:
    """One warm-up of every stage, then rounds that time each stage once in turn, so
    the machine's noise falls on all stages alike. A stage slower than budget/runs
    seconds takes fewer rounds (never fewer than min_runs)."""
    warm = {name: timed(fn)[0] for name, fn in calls.items()}
    want = {name: runs if w * runs <= budget else
            max(min_runs, min(runs, int(budget // max(w, 1e-9)))) for name, w in warm.items()}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(max(want.values())):
        for name, fn in calls.items():
            if r < want[name]:
                samples[name].append(timed(fn)[0])
    return {name: {**summary(samples[name]), "warmup": warm[name]} for name in calls}


def parser_build(runs: int) -> dict:
    from wlisp.lang import reader

    samples = []
    for _ in range(runs):
        reader._parser.cache_clear()
        samples.append(timed(reader._parser)[0])
    return summary(samples)


COLD_CHILD = r"""
import json, sys, time
t = time.perf_counter
path, filename = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
out = {}
t0 = t(); import wlisp.lang.api, wlisp.lang.reader; out["import"] = t() - t0
t0 = t(); wlisp.lang.reader.read(text, filename); out["read"] = t() - t0
t0 = t(); spec = wlisp.lang.api.compile(text, filename); out["compile"] = t() - t0
t0 = t(); js = spec.to_json(); out["to_json"] = t() - t0
t0 = t(); wlisp.ir.WorkflowSpec.from_json(js); out["from_json"] = t() - t0
print(json.dumps(out))
"""


def cold(text: str, filename: str, runs: int) -> dict:
    """First calls in a fresh interpreter (median of `runs` interpreters): `read`
    includes importing Lark and building its parser, `compile` the first use of the
    compiler modules, `from_json` importing jsonschema and building the validator."""
    tmp = RESULTS / f"cold-{len(text)}.wl.tmp"
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    samples: dict[str, list[float]] = {}
    try:
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-c", COLD_CHILD, str(tmp), filename],
                                  capture_output=True, text=True, cwd=ROOT, check=True)
            for k, v in json.loads(proc.stdout).items():
                samples.setdefault(k, []).append(v)
    finally:
        tmp.unlink(missing_ok=True)
    return {k: statistics.median(v) for k, v in samples.items()}


def bench_size(n: int, runs: int, budget: float, min_runs: int, do_cold: bool) -> dict:
    from wlisp.lang.api import compile

    text, expected = generate_counted(n)
    filename = f"gen{n}.wl"
    first, spec = timed(compile, text, filename)  # also the compile stage's warm-up
    nodes = count_nodes(spec)
    if nodes != expected:
        raise SystemExit(f"gen.py produced {nodes} nodes for N={n}, expected {expected}")
    json_text = spec.to_json()
    row: dict = {"n": n, "nodes": nodes, "source_bytes": len(text.encode()),
                 "spec_bytes": len(json_text.encode())}
    print(f"N={n}: {nodes} nodes, {len(text) / 1e3:.0f} kB source, "
          f"{len(json_text) / 1e3:.0f} kB spec (first compile {fmt_s(first)})", flush=True)
    row["stages"] = measure(stage_calls(text, filename, spec, json_text), runs, budget,
                            min_runs, {"compile": first})
    for name, stats in row["stages"].items():
        print(f"  {name:<12} median {fmt_s(stats['median']):>9}  "
              f"({stats['runs']} runs, min {fmt_s(stats['min'])}, max {fmt_s(stats['max'])})",
              flush=True)
    if do_cold:  # a fresh interpreter per run: 3 of them unless compiling is slow
        row["cold_runs"] = 3 if first < 5 else 1
        row["cold"] = cold(text, filename, row["cold_runs"])
        print("  cold         " + ", ".join(f"{k} {fmt_s(v)}" for k, v in row["cold"].items()),
              flush=True)
    return row


def report(result: dict) -> str:
    rows = result["sizes"]
    scaling = len(rows) > 1
    lines = [table(
        ["stage"] + [f"N={r['n']} median" for r in rows] + [f"N={r['n']} per node" for r in rows]
        + ([f"ratio {rows[-1]['n']}/{rows[0]['n']}"] if scaling else []),
        [[s] + [fmt_s(r["stages"][s]["median"]) for r in rows]
         + [fmt_s(r["stages"][s]["median"] / r["nodes"]) for r in rows]
         + ([f"{rows[-1]['stages'][s]['median'] / rows[0]['stages'][s]['median']:.1f}x"]
            if scaling else [])
         for s in STAGES]), ""]
    if scaling:
        lines.append(f"Size ratio {rows[-1]['nodes'] / rows[0]['nodes']:.0f}x; a stage whose "
                     "ratio is well above that scales worse than linearly.")
    for r in rows:
        st = {k: v["median"] for k, v in r["stages"].items()}
        lines.append(f"N={r['n']} same-run ratios: compile = {st['compile'] / st['read']:.1f}x "
                     f"read; schema = {100 * st['schema'] / st['from_json']:.0f}% of from_json; "
                     f"from_json = {st['from_json'] / st['compile']:.2f}x compile")
    pb = result["parser_build"]
    lines.append(f"Lark parser build alone: median {fmt_s(pb['median'])} ({pb['runs']} runs)")
    for r in rows:
        if r["n"] == 1000:
            c = r["stages"]["compile"]["median"]
            ok = "MET" if c < TARGET_COMPILE_1K else "NOT MET"
            lines.append(f"Target: 1,000-node parse+compile < {TARGET_COMPILE_1K} s: "
                         f"{fmt_s(c)} -> {ok}")
    cold_rows = [r for r in rows if "cold" in r]
    if cold_rows:
        keys = list(cold_rows[0]["cold"])
        lines += ["", "Cold first calls, each in a fresh interpreter (median of "
                  + ", ".join(f"{r['cold_runs']} for N={r['n']}" for r in cold_rows) + "):",
                  table(["first call"] + [f"N={r['n']}" for r in cold_rows],
                        [[k] + [fmt_s(r["cold"].get(k)) for r in cold_rows] for k in keys])]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: N = 100, 1000, 3 runs, no files kept in results/")
    ap.add_argument("--sizes", type=int, nargs="+", help="node counts (default 1000 10000)")
    ap.add_argument("--runs", type=int, help="timed runs per stage (default 7; quick 3)")
    ap.add_argument("--budget", type=float, default=90.0,
                    help="seconds per stage before taking fewer runs (default 90)")
    ap.add_argument("--min-runs", type=int, default=3, help="never fewer runs than this")
    ap.add_argument("--no-cold", action="store_true", help="skip the fresh-interpreter runs")
    ap.add_argument("--out", help="JSON output (default results/compile.json; "
                    "quick: results/compile.quick.tmp)")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([100, 1000] if args.quick else [1000, 10000])
    runs = args.runs or (3 if args.quick else 7)
    min_runs = min(args.min_runs, runs)
    out = Path(args.out) if args.out else \
        RESULTS / ("compile.quick.tmp" if args.quick else "compile.json")

    result: dict = {"benchmark": "compile", "machine": machine(),
                    "config": {"sizes": sizes, "runs": runs, "budget": args.budget,
                               "quick": args.quick, "generator": "benchmarks/gen.py"},
                    "parser_build": parser_build(runs), "sizes": []}
    for n in sizes:
        result["sizes"].append(bench_size(n, runs, args.budget, min_runs, not args.no_cold))
    text = report(result)
    result["table"] = text
    print()
    print(text)
    write_json(out, result)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
