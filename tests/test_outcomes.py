"""What executors return is checked where it enters the runtime: a malformed outcome is
that step's failure, text that cannot be stored is repaired, and nothing an executor
does can hang the journal or the process (issue 12)."""

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from wlisp.contract import StepOutcome
from wlisp.lang.api import compile
from wlisp.runtime import resume, run_async

FANOUT = compile("""
(defagent w) (defagent bad)
(defworkflow main []
  [(spawn w "1") (spawn w "2") (spawn w "3") (spawn bad "x" :retries 0)
   (spawn w "4") (spawn w "5") (spawn w "6")])""", "t.wl")


class Answers:
    """Agent `w` answers normally; agent `bad` returns `self.bad(spec)`."""

    concurrency_hint = 8

    def __init__(self, bad):
        self.bad = bad

    async def execute_step(self, spec, events=None):
        if spec.agent == "bad":
            return self.bad(spec)
        return StepOutcome(task_id=spec.task_id, agent=spec.agent, output=f"ok {spec.prompt}",
                           usage={"input_tokens": 1, "output_tokens": 1})


def deep(n):
    value = []
    for _ in range(n):
        value = [value]
    return value


BAD_OUTCOMES = {
    "usage that is not a number": lambda s: StepOutcome(
        task_id=s.task_id, agent=s.agent, output="x", usage={"input_tokens": "ten"}),
    "bytes output": lambda s: StepOutcome(task_id=s.task_id, agent=s.agent, output=b"raw"),
    "a set-valued structured answer": lambda s: StepOutcome(
        task_id=s.task_id, agent=s.agent, output="x", structured={"tags": {"a", "b"}}),
    "a 100k-deep structured answer": lambda s: StepOutcome(
        task_id=s.task_id, agent=s.agent, output="x", structured=deep(100_000)),
    "a success flag that is not a bool": lambda s: StepOutcome(
        task_id=s.task_id, agent=s.agent, output="x", success="yes"),
    "a cost of infinity": lambda s: StepOutcome(
        task_id=s.task_id, agent=s.agent, output="x", usage={"cost": float("inf")}),
}


def _steps(store, run_id):
    db = sqlite3.connect(f"{store}/wlisp.db")
    try:
        return {n: (st, json.loads(o)) for n, st, o in db.execute(
            "SELECT node, status, outcome FROM steps WHERE run_id=?", (run_id,))}
    finally:
        db.close()


@pytest.mark.parametrize("what", sorted(BAD_OUTCOMES))
def test_a_malformed_outcome_fails_its_step_and_its_siblings_are_journaled(tmp_path, what):
    store = str(tmp_path)
    res = asyncio.run(asyncio.wait_for(run_async(FANOUT, Answers(BAD_OUTCOMES[what]), {},
                                                 store=store, run_id="r"), 60))
    assert res.status == "failed"
    bad = res.nodes["main/bad"]
    assert bad["status"] == "failed" and "executor returned" in bad["error"]
    done = [n for n, info in res.nodes.items() if n.startswith("main/w")]
    assert len(done) == 6 and all(res.nodes[n]["status"] == "completed" for n in done)
    steps = _steps(store, "r")
    assert sum(st == "completed" for st, _ in steps.values()) == 6
    assert steps["main/bad"][0] == "failed"
    # and a resume reads that journal back without tripping over anything
    again = resume("r", Answers(lambda s: StepOutcome(task_id=s.task_id, agent=s.agent,
                                                      output="fine")), store=store)
    assert again.status == "completed" and again.reused == 6


@pytest.mark.parametrize("text", ["\ud83d", "cut inside an emoji \ud83d", "\udc80 end",
                                  "pair \ud83d\ude00 ok"])
def test_text_with_lone_surrogates_is_stored_not_hung(tmp_path, text):
    """Regression: a lone surrogate made the journal writer raise outside its `except`,
    so the commit never completed and the run (and every resume) hung."""
    store = str(tmp_path)
    ex = Answers(lambda s: StepOutcome(task_id=s.task_id, agent=s.agent, output=text,
                                       structured=None, error=None))
    spec = compile('(defagent bad) (defworkflow main [] (spawn bad "x"))', "t.wl")
    res = asyncio.run(asyncio.wait_for(run_async(spec, ex, {}, store=store, run_id="s"), 30))
    assert res.status == "completed"
    stored = _steps(store, "s")["main/bad"][1]["output"]
    assert stored.encode("utf-8")  # storable text
    assert stored == text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    assert (tmp_path / "runs" / "s" / "steps.log").read_text(encoding="utf-8")


def test_a_structured_answer_with_lone_surrogates_is_repaired(tmp_path):
    ex = Answers(lambda s: StepOutcome(task_id=s.task_id, agent=s.agent, output="{}",
                                       structured={"note": "x\ud83d", "\udc80k": 1}))
    spec = compile('(defagent bad) (defworkflow main [] (spawn bad "x"))', "t.wl")
    res = asyncio.run(asyncio.wait_for(run_async(spec, ex, {}, store=str(tmp_path)), 30))
    assert res.status == "completed"
    assert res.value["structured"] == {"note": "x\ufffd", "\ufffdk": 1}


IGNORES_CANCEL = textwrap.dedent("""
    import asyncio, sys, time
    import wlisp
    from wlisp.contract import StepOutcome

    class Stubborn:
        concurrency_hint = 4
        async def execute_step(self, spec, events=None):
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass  # ignores cancellation

    spec = wlisp.compile('(defagent w) (defworkflow main [] (spawn w "x" :timeout 0.2 '
                         ':retries 0))', "t.wl")
    res = wlisp.run(spec, Stubborn(), {})
    print(res.status, flush=True)
""")


def test_wlisp_run_returns_even_if_an_executor_ignores_cancellation(tmp_path):
    """Regression: run_async returned, but asyncio.run then waited forever for the
    abandoned executor task, so wlisp.run() (and the CLI) never exited."""
    script = tmp_path / "stubborn.py"
    script.write_text(IGNORES_CANCEL)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "failed"
