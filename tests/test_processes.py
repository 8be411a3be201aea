"""No agent outlives the `wlisp` process that started it (issue 12): SIGTERM and SIGHUP
cancel like Ctrl-C, a SIGKILLed run's agents die with it (parent-death signal) and
what they left in their process group is killed by the next `wlisp resume`; background
children of a finished step are killed too. Real processes, a real journal (Linux)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .conftest import wlisp_bin

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")]
FAKE = os.path.join(os.path.dirname(__file__), "fixtures", "fake_agent.py")
FANOUT = """
(defagent worker)
(defworkflow main [] [(spawn worker "a") (spawn worker "b") (spawn worker "c")])
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # a zombie is dead
    except OSError:
        return False


def wait_for(test, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.05)
    return False


def project(tmp_path, mode="tree"):
    (tmp_path / "w.wl").write_text(FANOUT)
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.agent]\ntype = "command"\nargv = {json.dumps([sys.executable, FAKE, mode])[:-1]}'
        f', {json.dumps(str(tmp_path))}]\n[agents]\ndefault = "agent"\n')
    return tmp_path


def start(tmp_path, *args):
    return subprocess.Popen([wlisp_bin(), "run", str(tmp_path / "w.wl"), "--state-dir",
                             str(tmp_path / "s"), "--run-id", "r", "-q", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def agents(tmp_path) -> list[tuple[int, int]]:
    """(agent pid, helper pid) of every agent that has started."""
    out = []
    for f in tmp_path.glob("*.pids"):
        text = f.read_text().split()
        if len(text) == 2:
            out.append((int(text[0]), int(text[1])))
    return out


def journal(tmp_path, sql):
    db = sqlite3.connect(tmp_path / "s" / "wlisp.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_cancels_the_run_and_kills_every_agent(tmp_path, sig):
    proc = start(project(tmp_path))
    try:
        assert wait_for(lambda: len(agents(tmp_path)) == 3), "agents did not start"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, err
    assert "wlisp resume r" in err and "Traceback" not in err
    pids = [p for pair in agents(tmp_path) for p in pair]
    assert wait_for(lambda: not any(alive(p) for p in pids), 5), \
        [p for p in pids if alive(p)]
    assert journal(tmp_path, "SELECT status FROM runs") == [("cancelled",)]
    assert journal(tmp_path, "SELECT COUNT(*) FROM processes") == [(0,)]


def test_after_sigkill_agents_die_and_resume_kills_what_they_left(tmp_path):
    proc = start(project(tmp_path))
    try:
        assert wait_for(lambda: len(agents(tmp_path)) == 3), "agents did not start"
        assert wait_for(lambda: journal(tmp_path, "SELECT COUNT(*) FROM processes")
                        == [(3,)], 5), "the journal does not hold the process groups"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    leaders = [a for a, _ in agents(tmp_path)]
    helpers = [h for _, h in agents(tmp_path)]
    # the agents themselves die with wlisp (parent-death signal) ...
    assert wait_for(lambda: not any(alive(p) for p in leaders), 5)
    # ... their helpers stay in the agents' process groups until a new holder comes
    assert all(alive(h) for h in helpers)
    # the run could not record its end; what people read says its process is gone
    runs = subprocess.run([wlisp_bin(), "runs", "--json", "--state-dir", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(runs.stdout)[0]["status"] == "interrupted"
    shown = subprocess.run([wlisp_bin(), "show", "r", "--state-dir", str(tmp_path / "s")],
                           capture_output=True, text=True, timeout=60).stdout
    assert "· main interrupted started" in " ".join(shown.split()) and "wlisp resume r" in shown
    (tmp_path / "answer").write_text("")
    res = subprocess.run([wlisp_bin(), "resume", "r", "--state-dir", str(tmp_path / "s"),
                          "-q", "--json"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert not any(alive(h) for h in helpers)  # killed before the steps ran again
    assert json.loads(res.stdout)["status"] == "completed"
    assert journal(tmp_path, "SELECT COUNT(*) FROM processes") == [(0,)]
    # each step's files: the resumed attempt's own, the killed one's kept beside them
    left = sorted((tmp_path / "s").glob("runs/r/steps/**/1.interrupted"))
    assert len(left) == 3
    for old in left:
        new = old.with_name("1")
        assert (old / "prompt.md").exists() and not (old / "outcome.json").exists()
        assert json.loads((new / "outcome.json").read_text())["success"] is True


def test_background_children_of_a_finished_step_are_killed(tmp_path):
    marker = tmp_path / "bg.pid"
    (tmp_path / "w.wl").write_text('(defagent worker) (defworkflow main [] (spawn worker "x"))')
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.agent]\ntype = "command"\n'
        f'argv = {json.dumps([sys.executable, FAKE, "bg", str(marker)])}\n'
        '[agents]\ndefault = "agent"\n')
    res = subprocess.run([wlisp_bin(), "run", str(tmp_path / "w.wl"), "--no-journal", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "answered", res.stderr
    assert not alive(int(marker.read_text()))
