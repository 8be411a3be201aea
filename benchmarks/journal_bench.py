"""Journaled workloads side by side, in one interleaved pass (reps are the outer loop):
wlisp, the plain-asyncio baseline (sqlite3, one commit per step) and LangGraph's
SQLite checkpointer. Each case is a fresh process printing one JSON line.

    python benchmarks/journal_bench.py [--reps 3] [--peers-python /work/.peers-venv/bin/python]

W4   fan-out of 2,000 journaled 0 ms steps: steps/s
CR-a crash after 1,000 step bodies, then resume in a new process: resume s, steps re-run
R10K resume of a finished 10,000-step wlisp journal (0 steps re-run): resume s
Writes benchmarks/results/journal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "peers")
WLISP = [sys.executable, os.path.join(HERE, "journal_wlisp.py")]


def cases(peers_python: str | None):
    asyncio_peer = [sys.executable, os.path.join(PEERS, "peer_asyncio.py")]
    out = [("wlisp W4", WLISP, ["W4"], "run"),
           ("asyncio W4 commit_each", asyncio_peer, ["W4", "--variant", "commit_each"], "run"),
           ("wlisp CR-a", WLISP, ["W4"], "cr"),
           ("asyncio CR-a", asyncio_peer, ["W4", "--variant", "commit_each"], "cr"),
           ("wlisp R10K", WLISP, ["R10K"], "run")]
    if peers_python and os.path.exists(peers_python):
        lg = [peers_python, os.path.join(PEERS, "peer_langgraph.py")]
        out += [("langgraph W4 sync", lg, ["W4", "--variant", "sync"], "run"),
                ("langgraph W4 async", lg, ["W4"], "run"),
                ("langgraph CR-a sync", lg, ["W4", "--variant", "sync"], "cr")]
    return out


def one(cmd, args, expect=0):
    p = subprocess.run(cmd + args, capture_output=True, text=True, timeout=600, cwd=PEERS)
    if p.returncode != expect:
        raise RuntimeError(f"{' '.join(cmd + args)} rc={p.returncode}\n{p.stderr[-2000:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--peers-python", default="/work/.peers-venv/bin/python")
    a = ap.parse_args()
    results: dict[str, list] = {}
    for rep in range(a.reps):
        for name, cmd, args, kind in cases(a.peers_python):
            with tempfile.TemporaryDirectory() as tmp:
                db = os.path.join(tmp, "state" if cmd is WLISP else "db.sqlite")
                if kind == "run":
                    res = one(cmd, args + ["--db", db])
                else:
                    one(cmd, args + ["--db", db, "--phase", "crash"], expect=3)
                    res = one(cmd, args + ["--db", db, "--phase", "resume"])
            results.setdefault(name, []).append(res)
            keep = {k: res.get(k) for k in ("steps_per_s", "resume_s", "executed_steps", "ok")}
            print(rep, name, keep, flush=True)
    summary = {}
    for name, reps in results.items():
        summary[name] = {k: statistics.median(r[k] for r in reps)
                         for k in ("wall_s", "steps_per_s", "resume_s", "executed_steps",
                                   "peak_rss_mb") if all(k in r for r in reps)}
        summary[name]["ok"] = all(r.get("ok") for r in reps)

    def ratio(a_name, b_name, key):
        pairs = [x[key] / y[key] for x, y in zip(results.get(a_name, []),
                                                  results.get(b_name, []), strict=False)]
        return round(statistics.median(pairs), 2) if pairs else None

    ratios = {
        "wlisp W4 / asyncio commit_each (steps/s)": ratio("wlisp W4", "asyncio W4 commit_each",
                                                         "steps_per_s"),
        "wlisp W4 / langgraph sync (steps/s)": ratio("wlisp W4", "langgraph W4 sync",
                                                    "steps_per_s"),
        "langgraph CR-a resume s / wlisp CR-a resume s": ratio("langgraph CR-a sync",
                                                              "wlisp CR-a", "resume_s"),
    }
    print("\n| case | steps/s | resume s | steps re-run | peak RSS MB | ok |\n|---|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s.get('steps_per_s', '-')} | {s.get('resume_s', '-')} | "
              f"{s.get('executed_steps', '-')} | {s.get('peak_rss_mb', '-')} | {s['ok']} |")
    print()
    for k, v in ratios.items():
        print(f"{k}: {v}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "journal.json"), "w") as f:
        json.dump({"summary": summary, "ratios": ratios, "raw": results}, f, indent=1)


if __name__ == "__main__":
    main()
