"""Finding runs: one journal per project (the nearest wlisp.toml, else the git root,
else the current directory), every run ends with its id, run ids accept `last` and
unique prefixes, and `python -m wlisp` works. Through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT, wlisp_bin
from .terminal import Tmux

PROGRAM = '(defagent w)\n(defworkflow main [x] (spawn w (fmt "do {x}")))\n'


def cli(*args, cwd, home=None):
    env = {k: v for k, v in os.environ.items() if k != "WLISP_HOME"}
    if home:
        env["WLISP_HOME"] = str(home)
    return subprocess.run([wlisp_bin(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "wlisp.toml").write_text("")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.wl").write_text(PROGRAM)
    return tmp_path


def test_runs_are_journaled_in_the_project_and_listed_from_its_root(project):
    res = cli("run", "flows/main.wl", "-i", "x=1", cwd=project)
    assert res.returncode == 0, res.stderr
    assert (project / ".wlisp" / "wlisp.db").exists()
    assert not (project / "flows" / ".wlisp").exists()
    listed = cli("runs", "--json", cwd=project / "flows")  # from anywhere inside
    assert len(json.loads(listed.stdout)) == 1


def test_without_wlisp_toml_the_git_root_holds_the_journal(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "main.wl").write_text(PROGRAM)
    assert cli("run", "b/main.wl", "-i", "x=1", cwd=tmp_path / "a").returncode == 0
    assert (tmp_path / ".wlisp" / "wlisp.db").exists()


def test_a_journal_beside_the_file_from_wlisp_0_1_is_still_read(project):
    old = project / "flows" / ".wlisp"
    first = cli("run", "flows/main.wl", "-i", "x=1", "--state-dir", str(old), cwd=project)
    assert first.returncode == 0
    listed = cli("runs", "--json", cwd=project / "flows")
    assert len(json.loads(listed.stdout)) == 1


def test_every_run_ends_with_its_id_and_ids_accept_last_and_prefixes(project):
    first = cli("run", "flows/main.wl", "-i", "x=1", cwd=project)
    second = cli("run", "flows/main.wl", "-i", "x=2", cwd=project)
    runs = json.loads(cli("runs", "--json", cwd=project).stdout)
    newest, older = runs[0]["id"], runs[1]["id"]
    assert f"run {older} completed; see it with: wlisp show {older}" in first.stderr
    assert f"run {newest} completed" in second.stderr
    shown = json.loads(cli("show", "last", "--json", cwd=project).stdout)
    assert shown["id"] == newest
    unique = next(newest[:n] for n in range(1, len(newest) + 1)
                  if not older.startswith(newest[:n]))
    by_prefix = cli("show", unique, "--json", cwd=project)
    assert by_prefix.returncode == 0 and newest in by_prefix.stdout
    common = os.path.commonprefix([newest, older])
    if common:
        both = cli("show", common, cwd=project)
        assert both.returncode != 0 and "names several runs" in both.stderr
    again = cli("run", "flows/main.wl", "-i", "x=2", "--resume", "last", cwd=project)
    assert again.returncode == 0 and "reused" in again.stderr


def test_python_dash_m_wlisp_is_the_command(project):
    res = subprocess.run([sys.executable, "-m", "wlisp", "check", "flows/main.wl"],
                         cwd=project, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    helped = subprocess.run([sys.executable, "-m", "wlisp", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert helped.stdout.startswith("Usage: wlisp ")


# --- small things users hit ---------------------------------------------------------------

def test_usage_mistakes_exit_2(tmp_path):
    missing = cli("run", "nofile.wl", cwd=tmp_path, home=tmp_path / "s")
    assert missing.returncode == 2 and "cannot read `nofile.wl`" in missing.stderr
    (tmp_path / "two.wl").write_text('(defagent w)\n(defworkflow a [] (spawn w "x"))\n'
                                     '(defworkflow b [] (spawn w "y"))\n')
    several = cli("run", "two.wl", cwd=tmp_path, home=tmp_path / "s")
    assert several.returncode == 2 and "--workflow" in several.stderr


def test_help_shows_resume_whole():
    res = subprocess.run([wlisp_bin(), "--help"], capture_output=True, text=True, timeout=60)
    line = next(x for x in res.stdout.splitlines() if x.strip().startswith("resume"))
    assert not line.rstrip().endswith("...")


@pytest.mark.parametrize("src, words", [
    ('(spawn w "x" :retuns {:a int})', "did you mean `:returns`?"),
    ('(spawn w "x" :returns {:score float})', "did you mean `number`?"),
    ('(spawn w "x" :returns {:score float})', "types are string, int, number, bool"),
])
def test_diagnostics_suggest_what_wlisp_calls_it(tmp_path, src, words):
    (tmp_path / "f.wl").write_text(f"(defagent w)\n(defworkflow main [] {src})\n")
    res = cli("check", "f.wl", cwd=tmp_path)
    assert res.returncode == 1 and words in res.stderr, res.stderr


def test_a_mistake_in_a_helper_is_reported_once_however_often_it_is_called(tmp_path):
    (tmp_path / "h.wl").write_text(
        "(defagent w)\n"
        "(defn helper [x] (let [r (spawn w (fmt \"{x}\") :returns {:a int})] r.b))\n"
        "(defworkflow main [] [(helper 1) (helper 2) (helper 3)])\n")
    for command in ("check", "compile"):
        res = cli(command, "h.wl", cwd=tmp_path)
        assert res.returncode == 1
        assert res.stderr.count("error[W0206]") == 1, res.stderr
        assert "reported once; 3 calls of this code have it" in res.stderr


def test_an_unknown_input_is_named_before_the_missing_one(tmp_path):
    (tmp_path / "f.wl").write_text("(defagent w)\n(defworkflow main [diff] (spawn w diff))\n")
    res = cli("run", "f.wl", "-i", "dif=x", cwd=tmp_path, home=tmp_path / "s")
    assert res.returncode == 2
    assert "has no input `dif` (did you mean `diff`?)" in res.stderr


@pytest.mark.parametrize("long", ["tide pools and the pull of the moon on them, at length",
                                  "潮だまりと月の引力、その長い話について詳しく書いてください"])
def test_runs_lists_file_workflow_inputs_and_numbers_in_80_columns(project, long):
    from rich.cells import cell_len

    assert cli("run", "flows/main.wl", "-i", f"x={long}", cwd=project).returncode == 0
    res = subprocess.run([wlisp_bin(), "runs"], cwd=project, capture_output=True, text=True,
                         env={**{k: v for k, v in os.environ.items() if k != "WLISP_HOME"},
                              "COLUMNS": "80"}, timeout=60)
    head, row = res.stdout.splitlines()[:2]
    assert head.split()[:7] == ["run", "status", "start", "took", "steps", "tok", "cost"]
    assert f"main.wl · main · x={long[0]}" in row and " ok " in row  # inputs abbreviated
    assert all(cell_len(line) <= 80 for line in res.stdout.splitlines())  # wide ones count 2
    runs = json.loads(cli("runs", "--json", cwd=project).stdout)
    assert runs[0]["inputs"] == {"x": long} and runs[0]["file"].endswith("main.wl")
    assert runs[0]["tokens"] > 0 and runs[0]["duration"] >= 0


def test_a_list_of_outcomes_prints_as_numbered_texts(project):
    (project / "fan.wl").write_text('(defagent w)\n(defworkflow main [] (map (fn [i] '
                                    '(spawn w (fmt "part {i}"))) [1 2 3]))\n')
    res = cli("run", "fan.wl", "-q", cwd=project)
    assert res.stdout.splitlines() == ["[1] [w] part 1", "[2] [w] part 2", "[3] [w] part 3"]
    full = json.loads(cli("run", "fan.wl", "--json", cwd=project).stdout)
    assert full["value"][0]["task_id"] == "main/map[0]/w"  # --json keeps the outcomes


# --- reading runs -------------------------------------------------------------------------

RETRIED = """(defagent w :retries 1 :system "Be brief.")
(defworkflow main [x]
  (let [r (spawn w (fmt "rate {x}") :returns {:score int})]
    r.score))
"""


def test_show_one_node_has_every_attempt_and_the_structured_answer(tmp_path):
    (tmp_path / "wlisp.toml").write_text("")
    (tmp_path / "r.wl").write_text(RETRIED)
    (tmp_path / "answers.toml").write_text(
        '[[answer]]\nagent = "w"\noutputs = ["not json", "{\\"score\\": 4}"]\n')
    res = cli("run", "r.wl", "-i", "x=tea", "--executor", "scripted", "--answers",
              "answers.toml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    shown = cli("show", "last", "main/r", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "--- attempt 1 (failed) ---" in text and "--- attempt 2 (completed) ---" in text
    assert "rate tea" in text and "not json" in text and '"score": 4' in text
    assert "source: r.wl:3:11" in text
    data = json.loads(cli("show", "last", "main/r", "--json", cwd=tmp_path).stdout)
    assert data["structured"] == {"score": 4} and len(data["attempts"]) == 2


def test_show_draws_the_run_in_the_users_names(tmp_path):
    """Loops as their binding and iterations, routing with the branch it chose, the
    pattern's ifs not nesting later phases, and nothing named after node kinds."""
    shutil.copytree(os.path.join(ROOT, "examples"), tmp_path / "examples")
    (tmp_path / "wlisp.toml").write_text("")
    res = cli("run", "examples/design_plan_implement.wl", "-i", "brief=CSV",
              "--answers", "examples/design_plan_implement.answers.toml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [ln.strip("│├└─ ") for ln in cli("show", "last", cwd=tmp_path).stdout.splitlines()]
    assert lines[2] == "input brief: CSV"  # under the two header lines
    assert any(ln.startswith("value: {") for ln in lines)
    assert [ln.split("  ")[0] for ln in lines[3:7]] == [
        "✓ design / round", "iteration 1", "✓ draft", "✓ review"]
    assert any(ln.startswith("✓ if → then") for ln in lines)
    assert any(ln.startswith("✓ change / round") for ln in lines)
    assert not any("classify" in ln or "/loop" in ln for ln in lines)

    res = cli("run", "examples/triage.wl", "-i", "ticket=It crashes", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [ln.strip("│├└─ ") for ln in cli("show", "last", cwd=tmp_path).stdout.splitlines()]
    end = next(i for i, ln in enumerate(lines) if ln.startswith("logs:"))
    labels = [ln.split("  ")[0] for ln in lines[3:end]]
    assert labels == ["✓ triager", "✓ classify → bug", "bug", "✓ fix", "✓ support",
                      "✂ question / support", "✂ else / support",
                      "value: [support] Tell the customer what we fixed: mock summary"]

    res = cli("run", "examples/review_panel.wl", "-i", "diff=x", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    shown = cli("show", "last", cwd=tmp_path).stdout
    assert "✓ [1] security / reviewer  [reviewer]" in shown  # items by their value

    (tmp_path / "dyn.wl").write_text(
        '(defagent splitter) (defagent w)\n(defworkflow main [topic]\n'
        '  (let [plan (spawn splitter (fmt "split {topic}") :returns {:parts (list-of string)})'
        '\n        done (map (fn [p] (spawn w (fmt "write {p}"))) (get plan :parts))]\n'
        '    done))\n')
    assert cli("run", "dyn.wl", "-i", "topic=x", cwd=tmp_path).returncode == 0
    shown = cli("show", "last", cwd=tmp_path).stdout
    assert "└── ✓ [0] mock parts / w  [w]" in shown  # run-time items by their value too
    plan = shown.splitlines()[3]
    assert plan.startswith("✓ plan  [splitter]") and plan.endswith("s  line 3")


def test_answers_mean_the_scripted_executor_never_silently_real_agents(tmp_path):
    shutil.copytree(os.path.join(ROOT, "examples"), tmp_path / "examples")
    (tmp_path / "wlisp.toml").write_text("")
    args = ("run", "examples/essay_loop.wl", "-i", "topic=x", "--answers",
            "examples/essay_loop.answers.toml", "--json")
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["value"]["rounds"] == 2  # the file's answers, not mock's
    res = cli(*args, "-e", "mock", cwd=tmp_path)
    assert res.returncode == 2 and "--answers is read by the scripted executor" in res.stderr
    # a run started with answers goes on with them, or with the executor -e names
    assert cli("resume", "last", "-e", "mock", cwd=tmp_path).returncode == 0


def test_a_project_with_no_runs_yet_lists_none(tmp_path):
    (tmp_path / "wlisp.toml").write_text("")
    res = cli("runs", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("no runs yet in ")
    assert json.loads(cli("runs", "--json", cwd=tmp_path).stdout) == []
    assert not (tmp_path / ".wlisp").exists()  # looking creates nothing


@pytest.mark.parametrize("flags,words", [
    (["--run-id", "last"], "`last` names the newest run"),
    (["--no-journal", "--run-id", "zz"], "--no-journal runs in memory, and --run-id"),
    (["--no-journal", "--resume", "last"], "and --resume need the journal"),
])
def test_run_flags_that_cannot_both_hold_are_usage_errors(tmp_path, flags, words):
    (tmp_path / "wlisp.toml").write_text("")
    (tmp_path / "f.wl").write_text('(defagent w)\n(defworkflow main [] (spawn w "a"))\n')
    res = cli("run", "f.wl", *flags, cwd=tmp_path)
    assert res.returncode == 2 and words in res.stderr, res.stderr
    assert not (tmp_path / ".wlisp").exists()  # nothing ran


def test_report_is_markdown_to_paste_and_json(tmp_path):
    (tmp_path / "wlisp.toml").write_text("")
    (tmp_path / "f.wl").write_text('(defagent w)\n(defworkflow main [x] [(spawn w "a") '
                                   '(spawn w (fmt "b {x}"))])\n')
    assert cli("run", "f.wl", "-i", "x=1", cwd=tmp_path).returncode == 0
    md = cli("report", "last", cwd=tmp_path).stdout
    assert md.startswith("## wlisp run `") and "main: completed" in md
    assert "| step | agent | status |" in md and "`main/w`" in md
    assert md.endswith("**Result:**\n\n```\n[1] [w] a\n[2] [w] b 1\n```\n")  # as run prints it
    data = json.loads(cli("report", "last", "--format", "json", cwd=tmp_path).stdout)
    assert data["status"] == "completed" and len(data["steps"]) == 2
    assert data["inputs"] == {"x": 1}


# --- watching runs ------------------------------------------------------------------------

SLOW_AGENT = ("import sys, time\nsys.stdin.read()\nfor i in range(3):\n"
              "    print(f'working {i}', flush=True); time.sleep(0.4)\nprint('done')")


def _agent_project(tmp_path, agent: str, workflow: str, file: str) -> None:
    """Every agent of `workflow` runs the Python script `agent` as a command."""
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.slow]\ntype = "command"\nargv = [{json.dumps(sys.executable)}, "-c", '
        f'{json.dumps(agent)}]\n[agents]\ndefault = "slow"\n')
    (tmp_path / file).write_text(workflow)


def test_run_verbose_prints_agent_lines_as_they_come(tmp_path):
    _agent_project(tmp_path, SLOW_AGENT, '(defagent w)\n(defworkflow main [] (spawn w "go"))\n',
                   "m.wl")
    res = cli("run", "m.wl", "-v", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    said = [ln for ln in lines if "│ main/w:" in ln]
    assert [ln.split(": ", 1)[1] for ln in said] == ["working 0", "working 1", "working 2",
                                                      "done"]
    times = [float(ln[1:ln.index("s]")]) for ln in said]
    finished = next(float(ln[1:ln.index("s]")]) for ln in lines if "finished" in ln)
    assert times == sorted(times) and times[0] < finished - 0.8  # streamed, not at the end


TWO_AGENTS = ('(defagent a) (defagent b)\n(defworkflow main [] (let [left (spawn a "x") '
              'right (spawn b "y")] [left right]))\n')
STEPPING_AGENT = ("import sys, time\nsys.stdin.read()\nfor i in range(40):\n"
                  "    print(f'working {i}', flush=True); time.sleep(0.1)\nprint('done')")


def _slow_project(tmp_path):
    _agent_project(tmp_path, STEPPING_AGENT, TWO_AGENTS, "f.wl")


def test_follow_prints_one_steps_lines_and_names_a_wrong_node(tmp_path):
    _slow_project(tmp_path)
    res = cli("run", "f.wl", "--follow", "right", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    followed = [ln for ln in res.stderr.splitlines() if "│" in ln]
    assert followed and all("│ main/right: " in ln for ln in followed)
    assert followed[-1].endswith("done") and len(followed) == 41
    wrong = cli("run", "f.wl", "--follow", "rihgt", cwd=tmp_path)
    assert wrong.returncode == 2 and "did you mean `main/right`?" in wrong.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux to drive a terminal")
def test_the_live_tree_shows_running_steps_last_lines_and_the_followed_stream(tmp_path):
    """In a real terminal: the tree names steps by their bindings, each running step
    shows its agent's latest line, and the followed step's lines scroll above it."""
    _slow_project(tmp_path)
    command = f"TERM=xterm-256color {wlisp_bin()} run f.wl --follow left; sleep 30"
    tmux = Tmux(command, f"wlisp-live-{os.getpid()}", str(tmp_path))
    try:
        screen = tmux.wait_for(lambda s: "working 5" in s and "right [b]" in s)
        tree = [ln for ln in screen.splitlines() if "[a]" in ln or "[b]" in ln]
        assert any("… left [a]" in ln and "working" in ln for ln in tree), screen
        assert any("… right [b]" in ln and "working" in ln for ln in tree), screen
        assert any("│ main/left: working 0" in ln for ln in screen.splitlines()), screen
        assert "main/right:" not in screen  # only the followed step's stream
        tmux.wait_for(lambda s: "run " in s and "completed" in s, timeout=30)
        done = tmux.history()
        assert "✓ left [a]" in done and "✓ right [b]" in done
    finally:
        tmux.close()


FILED_AGENT = """import glob, os, sys, time
prompt = sys.stdin.read()
print("reading the code", flush=True)
live = os.path.join(os.environ["WLISP_HOME"], "runs", "*", "steps", "main", "w", "1", "live.log")
for _ in range(100):  # the line is in the step's file while the step still runs
    if any("reading the code" in open(p).read() for p in glob.glob(live)):
        break
    time.sleep(0.05)
else:
    sys.exit("live.log never had the line")
print("my key is " + os.environ["T_API_KEY"], flush=True)
print("x" * 495 + " " + os.environ["T_API_KEY"] + " tail", flush=True)  # across the cut
print("careful: disk almost full", file=sys.stderr)
print("done: " + prompt)
"""


def test_each_attempt_keeps_its_files_written_as_it_runs(tmp_path):
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.cmd]\ntype = "command"\nargv = [{json.dumps(sys.executable)}, "-c", '
        f'{json.dumps(FILED_AGENT)}]\nenv = {{ T_API_KEY = "${{T_SOURCE}}" }}\n'
        'pass_env = ["WLISP_HOME"]\n'
        '[agents]\ndefault = "cmd"\n')
    (tmp_path / "m.wl").write_text('(defagent w :system "Be careful.")\n'
                                   '(defworkflow main [] (spawn w "go"))\n')
    state = tmp_path / "state"
    env = {**os.environ, "WLISP_HOME": str(state), "T_SOURCE": "sk-live-123456"}
    res = subprocess.run([wlisp_bin(), "run", "m.wl"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    (folder,) = state.glob("runs/*/steps/main/w/1")
    files = {p.name: p.read_text() for p in folder.iterdir()}
    assert set(files) == {"prompt.md", "live.log", "stderr.txt", "output.txt", "outcome.json"}
    assert "Be careful." in files["prompt.md"] and files["prompt.md"].endswith("go")
    assert files["live.log"].splitlines()[:3] == ["reading the code", "my key is ***",
                                                  "x" * 495 + " *** tail"]
    assert files["stderr.txt"].strip() == "careful: disk almost full"
    assert json.loads(files["outcome.json"])["success"] is True
    assert "sk-live-123456" not in "".join(files.values())
    assert "sk-l" not in res.stderr + "".join(files.values())  # not even a piece of it
    shown = subprocess.run([wlisp_bin(), "show", "last", "main/w"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60).stdout
    assert f"files: {folder}" in shown


def test_an_attempts_files_say_what_the_journal_says_of_its_answer(tmp_path):
    """An answer that does not fit `:returns` failed, in outcome.json too."""
    _agent_project(tmp_path, "import sys\nsys.stdin.read()\nprint('no number here')",
                   '(defagent w)\n(defworkflow main [] (spawn w "go" :returns {:n int}'
                   ' :retries 0))\n', "m.wl")
    assert cli("run", "m.wl", cwd=tmp_path).returncode == 1
    (outcome,) = tmp_path.glob(".wlisp/runs/*/steps/main/w/1/outcome.json")
    said = json.loads(outcome.read_text())
    assert said["success"] is False and "n" in said["error"]
    shown = json.loads(cli("show", "last", "--json", cwd=tmp_path).stdout)
    assert shown["nodes"]["main/w"]["status"] == "failed"


# --- pictures -----------------------------------------------------------------------------

def test_graphs_draw_what_the_user_wrote():
    dot = subprocess.run([wlisp_bin(), "graph", "examples/design_plan_implement.wl",
                          "--format", "dot"], cwd=os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__))), capture_output=True, text=True,
                         timeout=60).stdout
    assert "design: loop ≤ 3" in dot and "plan: loop ≤ 3" in dot and "change: loop ≤ 4" in dot
    assert 'label="draft\\n[architect]"' in dot and "True" not in dot
    clusters = dot.count("subgraph cluster_")
    assert clusters and dot.count("lhead=cluster_") == clusters  # every body is reached
    mermaid = subprocess.run([wlisp_bin(), "graph", "examples/review_panel.wl"],
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             capture_output=True, text=True, timeout=60).stdout
    assert 'n0[/"reviews: map"/]' in mermaid and '["verdict<br/>[lead]"]' in mermaid
    assert "classify True" not in mermaid and "classify else" not in mermaid


def test_graph_ascii_is_a_tree_for_the_terminal(tmp_path):
    res = subprocess.run([wlisp_bin(), "graph", "examples/design_plan_implement.wl",
                          "--format", "ascii"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[:5] == [
        "main",
        "├─ design: loop ≤ 3",
        "│  ├─ draft [architect]",
        "│  └─ review [reviewer]  ← draft",
        "└─ if  ← design"]
    assert "      ├─ plan: loop ≤ 3" in res.stdout and "change: loop ≤ 4" in res.stdout
    out = tmp_path / "g.txt"
    assert cli("graph", os.path.join(ROOT, "examples", "triage.wl"), "-o", str(out),
               cwd=tmp_path).returncode == 0
    assert "   ├─ bug:\n   │  ├─ fix [engineer]\n   │  └─ [support]  ← fix" in out.read_text()
    panel = cli("graph", os.path.join(ROOT, "examples", "review_panel.wl"), "--format",
                "ascii", cwd=tmp_path).stdout
    assert "│  ├─ [1] security:\n│  │  └─ [reviewer]" in panel  # map items as written


def test_the_dot_graph_renders_with_graphviz(tmp_path):
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dot = subprocess.run([wlisp_bin(), "graph", "examples/design_plan_implement.wl",
                          "--format", "dot"], cwd=root, capture_output=True, text=True,
                         timeout=60).stdout
    res = subprocess.run(["dot", "-Tpng", "-o", str(tmp_path / "g.png")], input=dot,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name, starts", [("g.mmd", b"flowchart TD"), ("g.dot", b"digraph"),
                                          ("g.svg", b"<?xml"), ("g.png", b"\x89PNG"),
                                          ("g.pdf", b"%PDF"), ("g.txt", b"main")])
def test_graph_writes_files_by_extension(tmp_path, name, starts):
    import shutil

    if name.endswith((".svg", ".png", ".pdf")) and shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([wlisp_bin(), "graph", "examples/review_panel.wl", "-o",
                          str(tmp_path / name)], cwd=root, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / name).read_bytes().startswith(starts)


@pytest.mark.parametrize("args, words", [
    (["-o", "g.jpg"], "write a .mmd, .dot, .txt, .svg, .png or .pdf file"),
    (["-o", "graph"], "or give --format for another name"),
    (["--format", "ascii", "-o", "g.svg"], "a .svg file is svg, not ascii"),
    (["--format", "mermaid", "-o", "g.txt"], "a .txt file is ascii, not mermaid"),
])
def test_graph_refuses_a_file_name_that_does_not_say_what_it_holds(tmp_path, args, words):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([wlisp_bin(), "graph", os.path.join(root, "examples/triage.wl"),
                          *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and words in res.stderr, res.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_graph_format_names_what_goes_into_a_file_without_an_extension(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([wlisp_bin(), "graph", os.path.join(root, "examples/triage.wl"),
                          "--format", "dot", "-o", "graph"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and (tmp_path / "graph").read_text().startswith("digraph")


def test_check_with_config_checks_wlisp_toml_too(tmp_path):
    (tmp_path / "wlisp.toml").write_text('[executors.x]\ntype = "comand"\nargv = ["x"]\n')
    (tmp_path / "m.wl").write_text('(defagent w)\n(defworkflow main [] (spawn w "x"))\n')
    assert cli("check", "m.wl", cwd=tmp_path).returncode == 0
    res = cli("check", "m.wl", "--config", cwd=tmp_path)
    assert res.returncode == 1 and "wlisp.toml:2:1: error[W0901]" in res.stderr
    assert "did you mean `command`?" in res.stderr


def test_check_with_config_checks_each_agents_executor_in_every_workflow(tmp_path):
    """As `run --dry-run` does, for every workflow of the files, main or not."""
    (tmp_path / "wlisp.toml").write_text('[agents]\nreviewr = "mock"\nreviewer = "c"\n'
                                         '[executors.c]\ntype = "command"\n'
                                         'argv = ["no-such-agent-binary"]\n')
    (tmp_path / "m.wl").write_text('(defagent w) (defagent reviewer)\n'
                                   '(defworkflow one [] (spawn w "x"))\n'
                                   '(defworkflow two [] (spawn reviewer "y"))\n')
    res = cli("check", "m.wl", "--config", cwd=tmp_path)
    assert res.returncode == 1
    assert "wlisp.toml:2:1: error[W0901]: [agents] `reviewr` in wlisp.toml names no agent" \
        in res.stderr and "(did you mean `reviewer`?)" in res.stderr
    assert "wlisp.toml:6:1: error[W0904]: agent `reviewer` (profile `c`): " \
           "`no-such-agent-binary` is not on PATH" in res.stderr
    (tmp_path / "wlisp.toml").write_text('[agents]\nreviewer = "mock"\n')
    assert cli("check", "m.wl", "--config", cwd=tmp_path).returncode == 0
