"""The journal: resume, incremental re-run, human gates, leases, schema versions (SPEC §9)."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from wlisp.errors import WlispError
from wlisp.lang.api import compile
from wlisp.runtime import resume, run
from wlisp.runtime.journal import SCHEMA_VERSION, Journal

from .recording import Recorder

SRC = """
(defagent writer)
(defagent critic)
(defworkflow main [topic]
  (let [a (spawn writer (fmt "draft about {topic}"))
        b (spawn critic (fmt "critique {a}") :retries 0)
        c (spawn writer (fmt "final from {b}"))]
    c.output))
"""


def test_resume_after_failure_reruns_only_what_failed(tmp_path):
    spec = compile(SRC)
    bad = Recorder({"critic": "FAIL"})
    first = run(spec, bad, {"topic": "owls"}, store=str(tmp_path), run_id="r1")
    assert first.status == "failed" and bad.ids() == ["main/a", "main/b"]
    good = Recorder()
    second = resume("r1", good, store=str(tmp_path))
    assert second.status == "completed" and second.reused == 1
    assert good.ids() == ["main/b", "main/c"]
    assert second.value == "writer: final from critic: critique writer: draft about owls"


def test_a_resumed_step_numbers_its_attempts_after_the_journaled_ones(tmp_path):
    """Resuming never writes over an attempt of the run that failed (journal rows keyed
    by attempt): the retried step's attempt 1 failed stays, the new one is attempt 2."""
    spec = compile(SRC.replace(":retries 0", ":retries 1"))
    bad = Recorder({"critic": "TRANSIENT"})  # retried once, then the run fails
    assert run(spec, bad, {"topic": "owls"}, store=str(tmp_path), run_id="r1",
               retry_base=0).status == "failed"
    second = resume("r1", Recorder(), store=str(tmp_path))
    assert second.status == "completed" and second.nodes["main/b"]["attempts"] == 3
    db = sqlite3.connect(tmp_path / "wlisp.db")
    rows = db.execute("SELECT attempt, status FROM steps WHERE node='main/b' "
                      "ORDER BY attempt").fetchall()
    db.close()
    assert rows == [(1, "failed"), (2, "failed"), (3, "completed")]


def _as_written_by_0_1(spec):
    """The spec wlisp 0.1 compiled from SRC: each step named `binding/agent`."""
    from wlisp.ir.spec import WorkflowSpec

    text = spec.to_json()
    for name, agent in (("a", "writer"), ("b", "critic"), ("c", "writer")):
        text = text.replace(f'"main/{name}"', f'"main/{name}/{agent}"')
    return WorkflowSpec.from_json(text)


def test_a_rerun_reuses_the_steps_of_a_run_whose_ids_were_named_by_wlisp_0_1(tmp_path):
    old = _as_written_by_0_1(compile(SRC))
    first = run(old, Recorder(), {"topic": "owls"}, store=str(tmp_path), run_id="old")
    assert sorted(first.nodes) == ["main/a/writer", "main/b/critic", "main/c/writer"]
    edited = compile(SRC.replace('"final from {b}"', '"final version from {b}"'))
    ex = Recorder()
    again = run(edited, ex, {"topic": "owls"}, store=str(tmp_path), run_id="new",
                reuse_from="old")
    assert ex.ids() == ["main/c"]  # a and b asked the same as before: reused
    assert again.reused == 2 and again.value.startswith("writer: final version from critic")


def test_identical_steps_of_one_run_are_not_taken_for_each_other_on_resume(tmp_path):
    spec = compile('(defagent w) (defworkflow main [] (map (fn [i] (spawn w "same" :retries 0)) '
                   '(range 3)))')
    calls = iter(["one", "FAIL", "three"])
    first = run(spec, Recorder({"w": lambda s: next(calls)}), {}, store=str(tmp_path),
                run_id="r", concurrency=1)
    assert first.status == "failed"
    ex = Recorder({"w": "again"})
    second = resume("r", ex, store=str(tmp_path))
    assert ex.ids() == ["main/map[1]/w"] and second.reused == 2
    assert [v["output"] for v in second.value] == ["one", "again", "three"]


def test_resuming_a_completed_run_calls_nothing(tmp_path):
    spec = compile(SRC)
    first = run(spec, Recorder(), {"topic": "owls"}, store=str(tmp_path), run_id="done")
    ex = Recorder()
    again = resume("done", ex, store=str(tmp_path))
    assert ex.calls == [] and again.reused == 3
    assert again.value == first.value and again.status == "completed"


def test_incremental_rerun_after_editing_one_prompt(tmp_path):
    first = run(compile(SRC), Recorder(), {"topic": "owls"}, store=str(tmp_path), run_id="v1")
    assert first.status == "completed"
    edited = compile(SRC.replace('"critique {a}"', '"critique harshly {a}"'))
    ex = Recorder()
    second = run(edited, ex, {"topic": "owls"}, store=str(tmp_path), run_id="v2",
                 reuse_from="v1")
    assert ex.ids() == ["main/b", "main/c"]  # the edit and its dependent
    assert second.reused == 1 and "harshly" in second.value


def test_human_gate_pauses_then_resume_with_an_answer(tmp_path):
    spec = compile("""
(defagent writer)
(defworkflow main []
  (let [draft (spawn writer "draft")
        ok (human (fmt "Publish this? {draft}"))]
    (if ok (spawn writer "publish") "held back")))""")
    ex = Recorder()
    first = run(spec, ex, {}, store=str(tmp_path), run_id="gate")
    assert first.status == "paused" and list(first.gates) == ["main/ok"]
    ex2 = Recorder()
    second = resume("gate", ex2, store=str(tmp_path), answers={"main/ok": False})
    assert second.status == "completed" and second.value == "held back"
    assert ex2.calls == []  # the draft came from the journal


def test_budget_exhaustion_then_resume_with_a_bigger_budget(tmp_path):
    spec = compile(SRC)
    spec.budget = {"steps": 2}
    first = run(spec, Recorder(), {"topic": "x"}, store=str(tmp_path), run_id="b")
    assert first.status == "budget_exhausted"
    ex = Recorder()
    again = resume("b", ex, store=str(tmp_path), budget={"steps": 3})
    assert again.status == "completed" and ex.ids() == ["main/c"]


def test_a_run_held_by_a_live_process_cannot_be_resumed(tmp_path):
    run(compile(SRC), Recorder(), {"topic": "x"}, store=str(tmp_path), run_id="held")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        db = sqlite3.connect(tmp_path / "wlisp.db")
        db.execute("UPDATE runs SET status='running', lease_pid=?, lease_host=(SELECT "
                   "lease_host FROM runs LIMIT 0) WHERE id='held'", (holder.pid,))
        import socket
        import time
        db.execute("UPDATE runs SET lease_host=?, lease_time=? WHERE id='held'",
                   (socket.gethostname(), time.time()))
        db.commit()
        with pytest.raises(WlispError, match=f"being executed by process {holder.pid}"):
            resume("held", Recorder(), store=str(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    # the holder is dead now: its stale lease is taken over
    assert resume("held", Recorder(), store=str(tmp_path)).status == "completed"


def test_a_newer_journal_is_refused(tmp_path):
    run(compile(SRC), Recorder(), {"topic": "x"}, store=str(tmp_path), run_id="r")
    db = sqlite3.connect(tmp_path / "wlisp.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    with pytest.raises(WlispError) as info:
        Journal(str(tmp_path))
    msg = str(info.value)
    assert "99" in msg and str(SCHEMA_VERSION) in msg


def test_an_older_journal_is_migrated(tmp_path):
    from wlisp.runtime.journal import _SCHEMA_V1

    db = sqlite3.connect(tmp_path / "wlisp.db")
    db.executescript(_SCHEMA_V1 + "INSERT INTO meta VALUES ('schema_version', '1');")
    db.commit()
    db.close()
    res = run(compile(SRC), Recorder(), {"topic": "x"}, store=str(tmp_path), run_id="m")
    assert res.status == "completed"
    db = sqlite3.connect(tmp_path / "wlisp.db")
    assert db.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
    assert db.execute("SELECT COUNT(*) FROM nodes").fetchone()[0] == 0  # the new table
    j = Journal(str(tmp_path))
    assert set(j.node_view("m")) == {"main/a", "main/b", "main/c"}
    j.close()


@pytest.mark.parametrize("bad", ["../escape", "a/b", ".hidden", "", "x" * 80])
def test_run_ids_are_validated(tmp_path, bad):
    with pytest.raises(WlispError, match="invalid run id"):
        run(compile(SRC), Recorder(), {"topic": "x"}, store=str(tmp_path), run_id=bad)


def test_steps_are_journaled_with_logs(tmp_path):
    run(compile(SRC), Recorder(), {"topic": "owls"}, store=str(tmp_path), run_id="logs")
    j = Journal(str(tmp_path))
    steps = j.steps("logs")
    assert [s["node"] for s in steps] == ["main/a", "main/b", "main/c"]
    assert all(s["status"] == "completed" and len(s["spec_hash"]) == 32 for s in steps)
    assert json.loads(steps[0]["outcome"])["output"] == "writer: draft about owls"
    j.close()
    text = (tmp_path / "runs" / "logs" / "steps.log").read_text()
    assert "# main/a (attempt 1, completed)\n\n## prompt\n\ndraft about owls" in text
    assert "## output\n\nwriter: draft about owls" in text


def test_journal_holds_no_environment_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    run(compile(SRC), Recorder(), {"topic": "owls"}, store=str(tmp_path), run_id="s",
        executor_profile={"name": "mock"})
    for name in os.listdir(tmp_path):
        if name.startswith("wlisp.db"):
            assert b"sk-secret-value-123" not in (tmp_path / name).read_bytes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_run_whose_process_died_unreaped_reads_interrupted():
    """A killed wlisp its parent has not reaped yet (a zombie) holds no run."""
    import socket
    import time

    from wlisp.runtime.journal import shown_status

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # exited, not waited for: a zombie
            with open(f"/proc/{child.pid}/stat", "rb") as f:
                if f.read().rsplit(b") ", 1)[1][:1] == b"Z":
                    break
            time.sleep(0.02)
        assert shown_status("running", child.pid, socket.gethostname(),
                            time.time()) == "interrupted"
        assert shown_status("running", os.getpid(), socket.gethostname(),
                            time.time()) == "running"
    finally:
        child.wait()
