"""The journal under faults (issue 12): one runner per run, damaged or unusable state
directories refused with a clear message, a failing writer that stops the run loudly
instead of hanging, and a bounded number of uncommitted steps."""

import asyncio
import multiprocessing
import os
import sqlite3
import subprocess

import pytest

from wlisp.contract import StepOutcome
from wlisp.errors import WlispError
from wlisp.lang.api import compile
from wlisp.runtime import run, run_async
from wlisp.runtime.journal import Journal

from .conftest import wlisp_bin
from .recording import Recorder

SPEC = compile('(defagent w) (defworkflow main [] [(spawn w "a") (spawn w "b")])', "t.wl")


def _race(store, barrier, results):
    journal = Journal(store, create=False)
    try:
        barrier.wait()
        journal.take_lease("r")
        results.put("took")
    except WlispError as err:
        results.put(err.diagnostics[0].code)
    finally:
        # a holder stays alive until both have tried: a holder that has exited is dead,
        # and taking over a dead holder's run is right
        barrier.wait()
        journal.close()


def test_one_runner_per_run_when_two_claim_it_at_once(tmp_path):
    """Regression: the lease was check-then-write; two resumes started together both
    ran. Here 30 pairs of processes claim an abandoned run at the same moment."""
    store = str(tmp_path)
    run(SPEC, Recorder(), {}, store=store, run_id="r")
    ctx = multiprocessing.get_context("fork")
    for _ in range(30):
        db = sqlite3.connect(os.path.join(store, "wlisp.db"))
        db.execute("UPDATE runs SET status='running', lease_pid=999999, lease_time=0")
        db.commit()
        db.close()
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_race, args=(store, barrier, results)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        outcomes = sorted(results.get(timeout=5) for _ in procs)
        assert outcomes == ["W0805", "took"], outcomes


def _flip_bytes(path, offset, count):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes([0xFF] * count))


def _damaged_store(tmp_path):
    """A journal whose `runs` and `steps` pages have garbage in their b-tree headers."""
    store = tmp_path / "s"
    run(SPEC, Recorder(), {}, store=str(store), run_id="r")
    db = sqlite3.connect(store / "wlisp.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = [p for (p,) in db.execute(
        "SELECT rootpage FROM sqlite_master WHERE name IN ('runs', 'steps')")]
    db.close()
    for page in pages:
        _flip_bytes(store / "wlisp.db", (page - 1) * size, 12)
    return store


def _cli(*args, env=None):
    return subprocess.run([wlisp_bin(), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_a_damaged_journal_is_refused_with_a_way_out(tmp_path):
    store = _damaged_store(tmp_path)
    (tmp_path / "w.wl").write_text('(defagent w) (defworkflow main [] (spawn w "x"))')
    for args in (["runs"], ["show", "r"], ["resume", "r"],
                 ["run", str(tmp_path / "w.wl")]):
        res = _cli(*args, "--state-dir", str(store))
        assert res.returncode != 0, (args, res.stdout)
        assert "Traceback" not in res.stderr, (args, res.stderr)
        assert "W0801" in res.stderr and ".recover" in res.stderr, (args, res.stderr)
    db = sqlite3.connect(store / "wlisp.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1  # nothing added
    except sqlite3.DatabaseError:
        pass  # too damaged to count: then nothing was added either


def test_a_journal_without_its_schema_version_is_refused(tmp_path):
    store = tmp_path / "s"
    run(SPEC, Recorder(), {}, store=str(store), run_id="r")
    db = sqlite3.connect(store / "wlisp.db")
    db.execute("DELETE FROM meta")
    db.commit()
    db.close()
    res = _cli("runs", "--state-dir", str(store))
    assert res.returncode == 1 and "no schema version" in res.stderr
    assert "Traceback" not in res.stderr


def test_wlisp_home_pointing_at_a_file_is_a_clear_error(tmp_path):
    home = tmp_path / "not-a-dir"
    home.write_text("")
    (tmp_path / "w.wl").write_text('(defagent w) (defworkflow main [] (spawn w "x"))')
    for args in (["run", str(tmp_path / "w.wl")], ["runs"]):
        res = _cli(*args, env={"WLISP_HOME": str(home)})
        assert res.returncode == 1 and "is a file, not a directory" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_state_directory_is_a_clear_error(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    store.chmod(0o555)
    (tmp_path / "w.wl").write_text('(defagent w) (defworkflow main [] (spawn w "x"))')
    try:
        res = _cli("run", str(tmp_path / "w.wl"), "--state-dir", str(store))
    finally:
        store.chmod(0o755)
    assert res.returncode == 1 and "W0801" in res.stderr and "Traceback" not in res.stderr


def test_a_failing_journal_writer_stops_the_run_loudly(tmp_path, monkeypatch):
    """Regression: only sqlite3.Error was caught on the writer thread; anything else
    left the commit unfinished and the run waiting forever."""
    def broken(self, rows):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Journal, "insert_steps", broken)
    with pytest.raises(WlispError) as info:
        asyncio.run(asyncio.wait_for(run_async(SPEC, Recorder(), {}, store=str(tmp_path),
                                               run_id="r"), 30))
    assert info.value.diagnostics[0].code == "W0801"
    assert "No space left on device" in info.value.diagnostics[0].message


def test_at_most_group_max_finished_steps_are_uncommitted(tmp_path, monkeypatch):
    """The writer is slowed down; 600 instant steps never leave more than GROUP_MAX
    finished but uncommitted (what a crash could lose beyond the steps in flight)."""
    from wlisp.runtime import commits

    seen = []
    original = commits.GroupCommits._write

    def slow_write(self, rows, batch, loop):
        seen.append(self.inflight + len(self.pending))
        import time
        time.sleep(0.002)
        original(self, rows, batch, loop)

    monkeypatch.setattr(commits.GroupCommits, "_write", slow_write)
    spec = compile('(defagent w) (defworkflow main [] (map (fn [i] (spawn w (fmt "{i}"))) '
                   '(range 600)))', "t.wl")

    class Instant:
        concurrency_hint = 600

        async def execute_step(self, step, events=None):
            return StepOutcome(task_id=step.task_id, agent=step.agent, output="x")

    res = asyncio.run(run_async(spec, Instant(), {}, store=str(tmp_path), run_id="g"))
    assert res.status == "completed"
    assert seen and max(seen) <= commits.GROUP_MAX
