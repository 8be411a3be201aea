"""`wlisp run --dry-run`: the inputs, wlisp.toml and each agent's executor checked
(program on PATH, key set, URL answering — a real server on loopback), the plan
printed, nothing run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .chat_server import ChatServer
from .conftest import wlisp_bin

PROGRAM = """(defagent writer)
(defagent critic)
(defagent helper)
(defworkflow main [topic]
  (loop [d nil] :max 3
    (spawn writer (fmt "w {topic} {d}"))
    (spawn critic "c"))
  (map (fn [i] (spawn helper (fmt "h{i}"))) [1 2]))
"""


def dry(tmp_path, toml, *extra, env=None):
    (tmp_path / "wlisp.toml").write_text(toml)
    (tmp_path / "m.wl").write_text(PROGRAM)
    return subprocess.run([wlisp_bin(), "run", "m.wl", "--dry-run", *extra], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_a_ready_setup_shows_the_plan_and_runs_nothing(tmp_path):
    with ChatServer() as server:
        res = dry(tmp_path, f"""
[executors.local]
type = "command"
argv = ["{sys.executable}", "-c", "print(1)"]
[executors.api]
type = "openai"
base_url = "{server.url}"
api_key_env = "T_DRY_KEY"
[agents]
writer = "local"
critic = "api"
""", "-i", "topic=x", env={"T_DRY_KEY": "k"})
        assert server.requests == []  # the URL answered a GET; no completion was asked
    assert res.returncode == 0, res.stderr
    assert "agent writer → local: ready" in res.stdout
    assert "agent critic → api: ready" in res.stdout
    assert "agent helper → mock: ready" in res.stdout
    assert "main/loop/writer [writer]" in res.stdout
    assert "at most 8 steps" in res.stdout  # 2 × 3 in the loop, 2 in the map
    assert not (tmp_path / ".wlisp").exists()


def test_what_would_stop_the_run_is_reported(tmp_path):
    res = dry(tmp_path, """
[executors.claude]
type = "claude-code"
binary = "no-such-claude-binary"
[executors.api]
type = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "T_DRY_MISSING"
[agents]
writer = "claude"
critic = "api"
reviewr = "claude"
""", "-i", "topic=x")
    assert res.returncode == 1
    assert "`no-such-claude-binary` is not on PATH" in res.stderr
    assert "`T_DRY_MISSING` is not set" in res.stderr
    assert "http://127.0.0.1:9/v1` does not answer" in res.stderr
    assert "[agents] `reviewr` in wlisp.toml names no agent" in res.stderr


def test_what_the_run_itself_would_refuse_is_reported_too(tmp_path):
    """An `env` entry naming an unset variable, a script that is not executable or not
    there: the run would fail on them, so the rehearsal does."""
    (tmp_path / "plain.sh").write_text("#!/bin/sh\necho hi\n")  # no +x
    res = dry(tmp_path, """
[executors.envy]
type = "command"
argv = ["sh"]
env = { A = "${T_DRY_NOT_SET}" }
[executors.plain]
type = "command"
argv = ["./plain.sh"]
[executors.gone]
type = "command"
argv = ["./gone.sh"]
[agents]
writer = "envy"
critic = "plain"
helper = "gone"
""", "-i", "topic=x")
    assert res.returncode == 1
    assert "env = { A" in res.stderr and "`T_DRY_NOT_SET` is not set" in res.stderr
    assert "`./plain.sh` is not executable" in res.stderr
    assert "`./gone.sh` does not exist" in res.stderr


def test_resuming_an_unknown_run_is_refused(tmp_path):
    assert dry(tmp_path, "", "-i", "topic=x").returncode == 0
    subprocess.run([wlisp_bin(), "run", "m.wl", "-i", "topic=x", "-q"], cwd=tmp_path,
                   capture_output=True, timeout=60, check=True)
    res = dry(tmp_path, "", "-i", "topic=x", "--resume", "no-such-run")
    assert res.returncode == 1 and "no run `no-such-run`" in res.stderr


def test_the_plan_as_json_for_scripts(tmp_path):
    res = dry(tmp_path, '[executors.gone]\ntype = "command"\nargv = ["./gone.sh"]\n'
                        '[agents]\ncritic = "gone"\n', "-i", "topic=x", "--json")
    assert res.returncode == 1
    data = json.loads(res.stdout)
    assert data["ok"] is False and data["at_most"] == 8
    assert {a["agent"]: a["problems"] for a in data["agents"]}["critic"] == [
        "`./gone.sh` does not exist"]
    assert [p["code"] for p in data["problems"]] == ["W0904"]
    assert {"node": "main/loop/writer", "agent": "writer"} in data["steps"]


def test_inputs_are_checked_too(tmp_path):
    res = dry(tmp_path, "")
    assert res.returncode == 2 and "needs input `topic`" in res.stderr


EDITABLE = """(defagent writer) (defagent critic)
(defworkflow main [topic]
  (let [a (spawn writer (fmt "draft about {topic}"))
        b (spawn critic (fmt "critique {a}"))
        c (spawn writer (fmt "final from {b}"))
        d (spawn critic (fmt "independent note on {topic}"))]
    [c d]))
"""


def test_dry_run_with_resume_lists_what_would_be_reused_and_what_would_run(tmp_path):
    (tmp_path / "wlisp.toml").write_text("")
    (tmp_path / "r.wl").write_text(EDITABLE)

    def wlisp(*args):
        return subprocess.run([wlisp_bin(), *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
    assert wlisp("run", "r.wl", "-i", "topic=owls", "-q").returncode == 0
    (tmp_path / "r.wl").write_text(EDITABLE.replace("critique {a}", "critique harshly {a}"))
    res = wlisp("run", "r.wl", "-i", "topic=owls", "--dry-run", "--resume", "last")
    assert res.returncode == 0, res.stderr
    verdicts = {ln.split()[-2]: ln.split()[0] for ln in res.stdout.splitlines()
                if ln.startswith("  ") and ln.split()[0] in ("reused", "would", "waits")}
    assert verdicts == {"main/a": "reused", "main/b": "would", "main/c": "waits",
                        "main/d": "reused"}
    assert "2 reused, 1 would run, 1 wait" in res.stdout
    runs = wlisp("runs", "--json")
    assert len(json.loads(runs.stdout)) == 1  # the dry run ran nothing
