"""Fault campaign: real `wlisp run` processes, real agent subprocesses (each with a
helper process in its group), killed with SIGKILL or SIGTERM at a random moment, then
`wlisp resume`d. Counts what the durability guarantees are about:

- orphans: agent or helper processes still alive when the resume starts its steps
  (after SIGKILL the agents must die with wlisp; their helpers must be killed by the
  resume before it runs anything), and anything alive after the resume;
- duplicates: a task worked on by two live agents at once;
- re-runs: steps the resume executed again although they had finished before the
  kill (the price of group commit: bounded, see docs/journal.md);
- journaled steps executed again (must be 0), resumes that did not complete, and
  databases failing `PRAGMA integrity_check`.

    python benchmarks/crash_campaign.py --trials 100 --signal KILL
    python benchmarks/crash_campaign.py --trials 100 --signal TERM --out results/term.json

Writes benchmarks/results/crash_campaign.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WLISP = os.path.join(os.path.dirname(sys.executable), "wlisp")

AGENT = r'''
import os, random, subprocess, sys, time
log, task = sys.argv[1], os.environ["WLISP_TASK_ID"]
prompt = sys.stdin.read()
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                          stdout=subprocess.DEVNULL)
def note(kind):
    with open(log, "a") as f:
        f.write(f"{kind} {task} {os.getpid()} {helper.pid} {time.time():.6f}\n")
note("start")
time.sleep(random.uniform(0.05, 0.3))
note("end")
helper.kill()
print(f"done {prompt[:20]}")
'''

SHAPES = {
    "fanout": "(map (fn [i] (spawn w (fmt \"part {i}\"))) (range 24) :limit 6)",
    "chain": "(reduce (fn [prev i] (spawn w (fmt \"{i} after {prev}\"))) nil (range 8))",
    "loop": "(loop [d nil] :max 6 (spawn w (fmt \"improve {d}\")))",
    "mixed": "(let [xs (map (fn [i] (spawn w (fmt \"x{i}\"))) (range 6) :limit 3) "
             "k (spawn w (fmt \"judge {xs}\"))] (if (contains? k.output \"done\") "
             "(spawn w \"yes\") (spawn w \"no\")))",
    "pipeline": "(pipeline (range 5) (fn [prev i] (spawn w (fmt \"a{i}\"))) "
                "(fn [prev i] (spawn w (fmt \"b {prev}\"))))",
}


def project(folder: Path, shape: str) -> Path:
    (folder / "agent.py").write_text(AGENT)
    (folder / "w.wl").write_text(f"(defagent w)\n(defworkflow main []\n  {SHAPES[shape]})\n")
    argv = [sys.executable, str(folder / "agent.py"), str(folder / "exec.log")]
    (folder / "wlisp.toml").write_text(f'[executors.a]\ntype = "command"\nargv = '
                                       f'{json.dumps(argv)}\nconcurrency = 8\n'
                                       '[agents]\ndefault = "a"\n')
    return folder


def events(folder: Path) -> list[tuple]:
    try:
        lines = (folder / "exec.log").read_text().splitlines()
    except OSError:
        return []
    return [(k, t, int(p), int(h), float(ts)) for k, t, p, h, ts in
            (ln.split() for ln in lines if len(ln.split()) == 5)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def journaled(db: Path, run_id: str) -> tuple[set, bool] | None:
    """(completed steps, integrity ok), or None when the run was never recorded."""
    if not db.exists():
        return None
    conn = sqlite3.connect(db)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        try:
            if not conn.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone():
                return None
            done = {n for (n,) in conn.execute(
                "SELECT node FROM steps WHERE run_id=? AND status='completed'", (run_id,))}
        except sqlite3.OperationalError:  # killed while the journal was being created
            return None
        return done, ok
    finally:
        conn.close()


def trial(shape: str, sig: int, seed: int) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="wlisp-crash-") as tmp:
        folder = project(Path(tmp), shape)
        state = folder / "s"
        first = subprocess.Popen([WLISP, "run", str(folder / "w.wl"), "--state-dir",
                                  str(state), "--run-id", "r", "-q"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30  # from the moment the run is journaled ...
        while not (state / "wlisp.db").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 2.0))  # ... a random moment of its life
        finished_first = first.poll() is not None
        first.send_signal(sig)
        try:
            first.wait(30)
            hung = False
        except subprocess.TimeoutExpired:  # it did not exit after the signal
            hung = True
            first.kill()
            first.wait(10)
        time.sleep(0.3)
        before = events(folder)
        started = {(t, p, h) for k, t, p, h, _ in before if k == "start"}
        ended_tasks = {t for k, t, *_ in before if k == "end"}
        orphans = sum(alive(p) for _, p, _ in started)  # agents alive after the kill
        helpers_left = [h for _, _, h in started if alive(h)]
        recorded = journaled(state / "wlisp.db", "r")
        if recorded is None:  # stopped before its run was journaled
            return {"shape": shape, "seed": seed, "signal": sig, "resume_status": "not started",
                    "orphan_agents": orphans, "helpers_left_for_resume": len(helpers_left),
                    "alive_after_resume": orphans + len(helpers_left), "journaled_rerun": 0,
                    "finished_unjournaled_rerun": 0, "rerun": 0, "integrity_ok": True,
                    "completed_steps": 0, "finished_before_signal": finished_first}
        done_before = recorded[0]
        res = subprocess.run([WLISP, "resume", "r", "--state-dir", str(state), "-q",
                              "--json"], capture_output=True, text=True, timeout=300)
        status = json.loads(res.stdout)["status"] if res.stdout.strip() else "error"
        after = events(folder)[len(before):]
        rerun = [t for k, t, *_ in after if k == "start"]
        time.sleep(0.2)
        everyone = {p for _, _, p, _, _ in events(folder)} | \
            {h for _, _, _, h, _ in events(folder)}
        done_after, ok = journaled(state / "wlisp.db", "r")
        return {"shape": shape, "seed": seed, "signal": sig, "did_not_exit": hung,
                "finished_before_signal": finished_first, "resume_status": status,
                "resume_exit": res.returncode, "orphan_agents": orphans,
                "helpers_left_for_resume": len(helpers_left),
                "alive_after_resume": sum(alive(p) for p in everyone),
                "journaled_rerun": len(set(rerun) & done_before),
                "finished_unjournaled_rerun": len(set(rerun) & (ended_tasks - done_before)),
                "rerun": len(rerun), "integrity_ok": ok,
                "completed_steps": len(done_after)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--signal", choices=["KILL", "TERM", "HUP", "INT"], default="KILL")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="JSON output (default results/crash_campaign.json)")
    a = ap.parse_args()
    sig = getattr(signal, f"SIG{a.signal}")
    rows = []
    shapes = list(SHAPES)
    for i in range(a.trials):
        row = trial(shapes[i % len(shapes)], sig, a.seed * 1000 + i)
        rows.append(row)
        print(json.dumps(row), flush=True)
    total = {k: sum(r[k] for r in rows) for k in ("orphan_agents", "alive_after_resume",
                                                  "journaled_rerun", "helpers_left_for_resume",
                                                  "finished_unjournaled_rerun")}
    reruns = [r["finished_unjournaled_rerun"] for r in rows]
    summary = {
        "signal": a.signal, "trials": len(rows),
        "resumes_completed": sum(r["resume_status"] == "completed" for r in rows),
        "signalled_before_the_journal_existed": sum(r["resume_status"] == "not started"
                                                    for r in rows),
        "integrity_failures": sum(not r["integrity_ok"] for r in rows),
        "did_not_exit_after_the_signal": sum(r.get("did_not_exit", False) for r in rows),
        "orphan_agents_after_signal": total["orphan_agents"],
        "helpers_left_for_resume": total["helpers_left_for_resume"],
        "processes_alive_after_resume": total["alive_after_resume"],
        "journaled_steps_executed_again": total["journaled_rerun"],
        "finished_but_unjournaled_reruns": {
            "total": total["finished_unjournaled_rerun"], "max": max(reruns),
            "median": statistics.median(reruns),
            "histogram": {str(n): reruns.count(n) for n in sorted(set(reruns))}},
    }
    print(json.dumps(summary, indent=2))
    out = Path(a.out) if a.out else HERE / "results" / "crash_campaign.json"
    out.write_text(json.dumps({"summary": summary, "trials": rows}, indent=1))


if __name__ == "__main__":
    main()
