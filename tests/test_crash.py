"""Crash safety: a real `wlisp run` killed with SIGKILL at random moments resumes to
completion, never executes a journaled step twice, and leaves a readable database."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest

from .conftest import wlisp_bin

N = 40  # parts, 4 at a time, 0.05 s each: the run lasts ~0.65 s after its first step

WORKFLOW = """
(defagent worker)
(defagent lead)
(defworkflow main [n]
  (let [parts (map (fn [i] (spawn worker (fmt "part {i}"))) (range n) :limit 4)
        chain (loop [acc nil] :max 3 (spawn lead (fmt "refine {acc}")))]
    [(len parts) chain.output]))
"""


def answers(tmp_path, record):
    path = tmp_path / f"answers-{record}.toml"
    path.write_text(f'record = "{record}"\n'
                    '[[answer]]\nagent = "worker"\noutput = "done"\ndelay = 0.05\n'
                    '[[answer]]\nagent = "lead"\noutput = "better"\ndelay = 0.05\n')
    return path


def _some_step(db_path) -> bool:
    if not os.path.exists(db_path):
        return False
    try:
        db = sqlite3.connect(db_path, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM steps").fetchone()[0] > 0
        finally:
            db.close()
    except sqlite3.Error:
        return False


def journal_completed(db_path, run_id):
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {n for (n,) in db.execute(
            "SELECT node FROM steps WHERE run_id=? AND status='completed'", (run_id,))}
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(4))
def test_sigkill_then_resume(tmp_path, trial):
    rng = random.Random(trial)
    src = tmp_path / "w.wl"
    src.write_text(WORKFLOW)
    state = tmp_path / "state"
    run_id = f"crash{trial}"
    proc = subprocess.Popen(
        [wlisp_bin(), "run", str(src), "-i", f"n={N}", "-e", "scripted", "--answers",
         str(answers(tmp_path, "first.log")), "--state-dir", str(state), "--run-id", run_id,
         "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # wait for the first journaled step, then kill at a random moment of the ~0.65 s run
    deadline = time.monotonic() + 20
    while not _some_step(state / "wlisp.db") and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.02, 0.4))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = journal_completed(state / "wlisp.db", run_id)
    assert 0 < len(done_before) < N + 3, "the kill should land mid-run"
    # resume (several times if a resume is itself killed)
    for _ in range(3):
        res = subprocess.run(
            [wlisp_bin(), "resume", run_id, "--state-dir", str(state), "--answers",
             str(answers(tmp_path, "resume.log")), "--json", "-q"],
            capture_output=True, text=True, timeout=60)
        if res.returncode == 0:
            break
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "completed" and out["value"] == [N, "better"]
    rerun = set((tmp_path / "resume.log").read_text().split()) \
        if (tmp_path / "resume.log").exists() else set()
    assert not (rerun & done_before), "a journaled step was executed again"
    assert out["reused"] == len(done_before)
    total = N + 3
    assert len(done_before) + len(rerun) == total
    assert journal_completed(state / "wlisp.db", run_id) >= done_before
    assert os.path.isdir(state / "runs" / run_id)
