"""Human gates decide what the human said (issue 12): answers are parsed by the gate's
`:returns` and refused when they do not fit, leaving the run paused."""

import json
import sqlite3
import subprocess

import pytest

from .conftest import wlisp_bin

SHIP = """
(defagent writer)
(defschema Decision {:ship bool :note (optional string)})
(defworkflow main []
  (let [ok (human "Ship it?" :returns bool :id "ship")]
    (if ok
      (let [why (human "Why?" :returns Decision :id "why")]
        (if why.ship "shipped twice" "shipped, then held"))
      "held back")))
"""


def wlisp(*args):
    return subprocess.run([wlisp_bin(), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def paused(tmp_path):
    (tmp_path / "w.wl").write_text(SHIP)
    state = str(tmp_path / "s")
    res = wlisp("run", str(tmp_path / "w.wl"), "--state-dir", state, "--run-id", "g", "-q")
    assert res.returncode == 3, res.stderr
    return state


def status(state):
    db = sqlite3.connect(f"{state}/wlisp.db")
    try:
        return db.execute("SELECT status FROM runs WHERE id='g'").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("answer,value", [("no", "held back"), ("No", "held back"),
                                          ("n", "held back"), ("false", "held back"),
                                          ("YES", None), ("y", None), ("true", None)])
def test_a_bool_gate_reads_yes_and_no(paused, answer, value):
    """Regression: `--answer no` was the string "no", which is true, so it shipped."""
    res = wlisp("resume", "g", "--state-dir", paused, "--answer", f"main/ship={answer}", "-q",
                "--json")
    out = json.loads(res.stdout)
    if value is None:  # yes: the run goes on to the second gate
        assert res.returncode == 3 and out["status"] == "paused"
        assert list(out["gates"]) == ["main/why"]
    else:
        assert res.returncode == 0 and out["value"] == value


def test_a_bad_answer_is_refused_and_the_run_stays_paused(paused):
    res = wlisp("resume", "g", "--state-dir", paused, "--answer", "main/ship=maybe")
    assert res.returncode == 2
    assert "`main/ship`" in res.stderr and "yes or no" in res.stderr and "'maybe'" in res.stderr
    assert "Traceback" not in res.stderr and status(paused) == "paused"


def test_a_record_gate_takes_json_checked_against_its_schema(paused):
    ok = wlisp("resume", "g", "--state-dir", paused, "--answer", "main/ship=yes", "-q")
    assert ok.returncode == 3
    for bad in ('{"ship": "maybe"}', "yes", '{"note": "x"}'):
        res = wlisp("resume", "g", "--state-dir", paused, "--answer", bad)
        assert res.returncode == 2 and "`main/why`" in res.stderr, (bad, res.stderr)
        assert status(paused) == "paused"
    done = wlisp("resume", "g", "--state-dir", paused, "--answer", '{"ship": false}', "-q")
    assert done.returncode == 0 and done.stdout.strip() == "shipped, then held"


def test_resume_without_an_answer_says_what_the_gates_expect(paused):
    res = wlisp("resume", "g", "--state-dir", paused)
    assert res.returncode == 2
    assert "main/ship: expects yes or no" in res.stderr and status(paused) == "paused"


def test_the_python_api_checks_answers_too(paused):
    from wlisp.errors import WlispError
    from wlisp.runtime import resume

    from .recording import Recorder

    with pytest.raises(WlispError, match="main/ship"):
        resume("g", Recorder(), store=paused, answers={"main/ship": "no"})
    assert status(paused) == "paused"


def test_an_answer_for_a_gate_that_is_not_waiting_names_the_gates_that_are(paused):
    res = wlisp("resume", "g", "--state-dir", paused, "--answer", "main/shp=yes")
    assert res.returncode == 2 and status(paused) == "paused"
    assert "waits at no gate `main/shp` (did you mean `main/ship`?)" in res.stderr
    ok = wlisp("resume", "g", "--state-dir", paused, "--answer", "main/ship=yes", "-q")
    assert ok.returncode == 3  # a JSON answer holding `a/b=c` is still an answer:
    done = wlisp("resume", "g", "--state-dir", paused, "--answer",
                 '{"ship": false, "note": "see a/b=c"}', "-q")
    assert done.returncode == 0 and done.stdout.strip() == "shipped, then held"


@pytest.mark.parametrize("budget", ["steps=-3", "steps=1.5", "cost=nan", "tokens=0",
                                    "wall=inf"])
def test_a_budget_that_is_not_a_positive_amount_is_refused(paused, budget):
    res = wlisp("resume", "g", "--state-dir", paused, "--answer", "main/ship=no",
                "--budget", budget)
    assert res.returncode == 2 and "--budget" in res.stderr and "> 0" in res.stderr
    assert status(paused) == "paused"
