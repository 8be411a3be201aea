"""Imports stay inside the project, tool calls are checked, placeholders are filled
once, and secrets neither reach other agents nor land in the journal (docs/security.md).
Through the real CLI, real processes and a real HTTP server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wlisp.errors import WlispError
from wlisp.lang.api import compile

from .chat_server import ChatServer, completion
from .conftest import wlisp_bin

KEY = "sk-live-0123456789abcdef"


def cli(*args, cwd, env=None, input=None):
    full = {**os.environ, **(env or {})}
    return subprocess.run([wlisp_bin(), *args], cwd=cwd, env=full, input=input,
                          capture_output=True, text=True, timeout=120)


# --- imports ---------------------------------------------------------------------------


@pytest.mark.parametrize("target, message", [
    ("/tmp/evil", "not a standard library module name"),
    ("lib/patterns", "not a standard library module name"),
    ("Patterns", "not a standard library module name"),
    ('"ok\\0.wl"', "NUL"),
    ('"' + "9" * 300 + '.wl"', "cannot import"),
    ('"' + "a/" * 3000 + 'x.wl"', "cannot import"),
    ('"../outside.wl"', "outside the importing file's directory"),
    ('"/etc/hostname"', "outside the importing file's directory"),
    ('"link.wl"', "outside the importing file's directory"),
])
def test_imports_that_leave_the_project_are_diagnostics(tmp_path, target, message):
    (tmp_path / "outside.wl").write_text('(defn evil [] "x")\n')
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.wl").symlink_to(tmp_path / "outside.wl")
    main = project / "main.wl"
    main.write_text(f'(import {target})\n(defworkflow main [] "x")\n')
    res = cli("check", str(main), cwd=project)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "W050" in res.stderr and message in res.stderr, res.stderr
    assert "main.wl:1:9" in res.stderr


def test_a_stdlib_module_still_imports():
    spec = compile('(import patterns :as p)\n(defagent w)\n(defworkflow main [] '
                   '(spawn w "x"))')
    assert spec.graph.nodes[0].agent == "w"


# --- tool calls ------------------------------------------------------------------------


def test_the_program_of_a_tool_cannot_be_a_hole():
    with pytest.raises(WlispError) as info:
        compile('(deftool t :params {:prog string} :command ["{prog}" "--version"])\n'
                '(defagent a :tools [t])\n(defworkflow main [] (spawn a "x"))')
    d = info.value.diagnostics[0]
    assert d.code == "W0306" and "first element" in d.message and d.span.col > 1


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def _tool_program(tmp_path):
    """A tool that records every argv it is started with."""
    log = tmp_path / "calls.jsonl"
    src = f"""
(deftool note :params {{:word string :times int}}
  :command ["{sys.executable}" "-c"
            "import json,sys; open(sys.argv[1],'a').write(json.dumps(sys.argv[2:])+'\\\\n'); print('ok')"
            "{log}" "{{word}}" "{{times}}"])
(defagent a :tools [note] :max-steps 6)
(defworkflow main [] (spawn a "take notes"))"""
    return compile(src), log


def test_tool_arguments_are_checked_against_params_before_anything_runs(server, tmp_path):
    from wlisp.executors.openai_api import OpenAIExecutor
    from wlisp.runtime import run

    spec, log = _tool_program(tmp_path)
    server.replies = [
        completion(tool_calls=[("note", {"word": 5, "times": 1}),        # wrong type
                               ("note", {"word": "a"}),                  # missing
                               ("note", {"word": "a", "times": 1, "x": 1}),  # extra
                               ("note", {"word": "nul\u0000byte", "times": 1})]),
        completion(tool_calls=[("note", {"word": "fine", "times": 2})]),
        completion("done"),
    ]
    ex = OpenAIExecutor(base_url=server.url, api_key_env="", model="m", timeout=5)
    res = run(spec, ex, {})
    assert res.status == "completed" and res.value["output"] == "done"
    errors = [json.loads(m["content"])["error"] for m in server.requests[1]["body"]["messages"]
              if m["role"] == "tool"]
    assert len(errors) == 4 and all(e.startswith("invalid arguments for `note`") for e in errors)
    assert "is not of type 'string'" in errors[0] and "'times' is a required" in errors[1]
    assert "Additional properties" in errors[2] and "NUL" in errors[3]
    assert log.read_text().splitlines() == ['["fine", "2"]']  # only the valid call ran


# --- the command executor fills placeholders once ----------------------------------------

ARGV_AGENT = ("import json, sys; sys.stdin.read(); print(json.dumps(sys.argv[1:]))")


def _project(tmp_path, toml: str, src: str):
    (tmp_path / "wlisp.toml").write_text(toml)
    (tmp_path / "main.wl").write_text(src)
    return tmp_path / "main.wl"


def test_placeholders_are_filled_once_and_literally(tmp_path):
    main = _project(tmp_path, f"""
[executors.argv]
type = "command"
argv = ["{sys.executable}", "-c", "{ARGV_AGENT}", "{{system}}", "{{model}}", "{{agent}}"]
[agents]
default = "argv"
""", '(defagent worker :system "S {attempt} {model}" :model "M-{agent}")\n'
     '(defworkflow main [] (spawn worker "go"))\n')
    res = cli("run", str(main), "--json", cwd=tmp_path, env={"WLISP_HOME": str(tmp_path / "st")})
    assert res.returncode == 0, res.stderr
    argv = json.loads(json.loads(res.stdout)["value"]["output"])
    assert argv == ["S {attempt} {model}", "M-{agent}", "worker"]


# --- secrets ---------------------------------------------------------------------------

ENV_AGENT = ("import json, os, sys; sys.stdin.read(); "
             "print(json.dumps(sorted(k for k in os.environ if k.startswith('T_'))))")


def test_agents_get_only_their_own_secrets(tmp_path):
    main = _project(tmp_path, f"""
[executors.env]
type = "command"
argv = ["{sys.executable}", "-c", "{ENV_AGENT}"]
pass_env = ["T_GITHUB_TOKEN"]
env = {{ T_OWN_API_KEY = "${{T_SOURCE}}" }}
[executors.other]
type = "openai"
base_url = "http://127.0.0.1:9"
api_key_env = "T_OTHER_KEY"
[agents]
default = "env"
""", '(defagent worker)\n(defworkflow main [] (spawn worker "go"))\n')
    env = {"T_OTHER_KEY": "other-profile-key", "T_GITHUB_TOKEN": "ghp_passed_on_1",
           "T_NPM_TOKEN": "npm_not_passed", "T_SERVICE_API_KEY": "not-passed-key",
           "T_DB_PASSWORD": "hunter2-password", "T_SOURCE": "own-key-value",
           "T_PLAIN": "x", "WLISP_HOME": str(tmp_path / "st")}
    res = cli("run", str(main), "--json", cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    seen = json.loads(json.loads(res.stdout)["value"]["output"])
    assert seen == ["T_GITHUB_TOKEN", "T_OWN_API_KEY", "T_PLAIN", "T_SOURCE"]


def test_tools_of_the_openai_executor_see_no_api_key(server, tmp_path, monkeypatch):
    from wlisp.executors.openai_api import OpenAIExecutor
    from wlisp.runtime import run

    monkeypatch.setenv("T_MODEL_KEY", "model-key-value")
    monkeypatch.setenv("T_CI_TOKEN", "ci-token-value")
    spec = compile(f"""
(deftool env :command ["{sys.executable}" "-c" "{ENV_AGENT.replace('sys.stdin.read(); ', '')}"])
(defagent a :tools [env] :max-steps 3)
(defworkflow main [] (spawn a "look"))""")
    server.replies = [completion(tool_calls=[("env", {})]), completion("done")]
    ex = OpenAIExecutor(base_url=server.url, api_key_env="T_MODEL_KEY", model="m", timeout=5)
    assert run(spec, ex, {}).status == "completed"
    tool = [m for m in server.requests[1]["body"]["messages"] if m["role"] == "tool"][0]
    assert "T_MODEL_KEY" not in tool["content"] and "T_CI_TOKEN" not in tool["content"]


def test_a_key_echoed_by_the_server_is_never_stored_or_printed(server, tmp_path):
    main = _project(tmp_path, f"""
[executors.api]
type = "openai"
base_url = "{server.url}"
api_key_env = "T_LIVE_KEY"
model = "m"
[agents]
default = "api"
""", '(defagent a :retries 0)\n(defworkflow main [] (spawn a "hello"))\n')
    echo = {"status": 401, "body": {"error": {"message": f"Incorrect API key provided: {KEY}",
                                              "type": "invalid_request_error"}}}
    server.replies = [echo, completion(f"my key is {KEY}")]
    state = tmp_path / "st"
    env = {"T_LIVE_KEY": KEY, "WLISP_HOME": str(state)}
    first = cli("run", str(main), cwd=tmp_path, env=env)
    second = cli("run", str(main), "--json", cwd=tmp_path, env=env)
    assert server.requests[0]["auth"] == f"Bearer {KEY}"  # the key was used ...
    assert first.returncode == 1 and second.returncode == 0, (first.stderr, second.stderr)
    runs = cli("runs", "--json", cwd=tmp_path, env=env)
    ids = [r["id"] for r in json.loads(runs.stdout)]
    assert len(ids) == 2
    shown = [cli("show", i, "--json", cwd=tmp_path, env=env).stdout for i in ids]
    printed = first.stdout + first.stderr + second.stdout + second.stderr + "".join(shown)
    assert "***" in printed and KEY not in printed  # ... and never printed
    for path in state.rglob("*"):  # journal, WAL, steps.log
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("node", ["main/../../x", "main/./a", "main//a", "main/a\0b/.."])
def test_a_node_id_never_names_a_folder_outside_the_runs_steps(node, tmp_path):
    from wlisp.runtime.stepfiles import step_dir

    folder = os.path.realpath(step_dir(str(tmp_path), node, 1))
    assert folder.startswith(str(tmp_path / "steps") + os.sep) and "\0" not in folder


# --- terminal escapes in agents' text ------------------------------------------------------

ESCAPING_AGENT = ("import sys\nsys.stdin.read()\n"
                  "print('evil \\x1b[2J\\x1b]0;pwned-title\\x07 \\x9b31m red \\x1b[31mend', "
                  "flush=True)")


def test_escape_sequences_an_agent_prints_are_shown_not_obeyed(tmp_path):
    """Clearing the screen, setting the window title: the terminal never gets them."""
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.c]\ntype = "command"\nargv = [{json.dumps(sys.executable)}, "-c", '
        f'{json.dumps(ESCAPING_AGENT)}]\n[agents]\ndefault = "c"\n')
    (tmp_path / "m.wl").write_text('(defagent w)\n(defworkflow main [] (spawn w "go"))\n')
    env = {**os.environ, "WLISP_HOME": str(tmp_path / "st")}
    seen = [cli("run", "m.wl", "-v", cwd=tmp_path, env=env),
            cli("show", "last", cwd=tmp_path, env=env),
            cli("show", "last", "main/w", cwd=tmp_path, env=env),
            cli("report", "last", cwd=tmp_path, env=env)]
    assert seen[0].returncode == 0, seen[0].stderr
    for res in seen:
        printed = res.stdout + res.stderr
        assert "pwned-title" in printed  # shown ...
        assert not any(c in printed for c in "\x1b\x07\x9b"), res.args  # ... as text only
        assert "␛]0;pwned-title␇" in printed
