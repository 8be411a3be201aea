"""The REPL: its scanner and completion, value printing, scripted sessions on a
non-terminal stdin, and one end-to-end session in a real terminal (tmux)."""

import io
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time

import pytest

from wlisp.cli.editing import command_of, completions, indent_for, is_complete, submit_ready
from wlisp.cli.render import show
from wlisp.cli.repl import Session, history_path, stream

from .conftest import ROOT, wlisp_bin
from .terminal import Tmux

# --- the completeness scanner ----------------------------------------------------------


@pytest.mark.parametrize("text", [
    "", "   ", "; only a comment", "42", "(+ 1 2)", "[1 [2 {:a 3}]]",
    '"a (string"', '(str "(" "[" "{")', '(f "\\"")', '(a ; )\n)',
    '"""triple\n (with a paren\n"""', "'x", "`(a ~b ~@c)",
    "(+ 1 2) (+ 3 4)",
    ")", "(]", "[1 2))",  # stray closers: complete, so the reader can say what is wrong
])
def test_complete_inputs(text):
    assert is_complete(text)


@pytest.mark.parametrize("text", [
    "(", "(+ 1", "(let [a 1", "{:a [1 2]", '"open', '(str "a)', '"""triple "" still open',
    '(f "\\")', "(a ; closing paren in a comment )", "'", "(+ 1 2) (", "(f\n  (g x)\n",
])
def test_incomplete_inputs(text):
    assert not is_complete(text)


def test_commands_are_complete_unless_their_code_is_not():
    assert submit_ready(":help") and submit_ready(":load my (odd file.wl")
    assert not submit_ready(":spec (spawn w")
    assert submit_ready(':spec (spawn w "x")')
    assert not submit_ready(":graph [a\n  b")


def test_command_of_keeps_columns_of_the_argument():
    assert command_of("(+ 1 2)") is None
    name, arg = command_of("  :spec (f x)")
    assert name == "spec" and arg == "       " + " (f x)" and len(arg) == len("  :spec (f x)")
    assert command_of(":quit")[0] == "quit"


@pytest.mark.parametrize("before, column", [
    ("(let [a (spawn w \"one\")", 6),          # inside the binding vector: one past `[`
    ("(spawn reviewer", 7),                    # a call: aligned with the first argument
    ("(defagent w :role :plan", 2),            # definitions and bodies: two spaces
    ("(defworkflow main [d]\n  (let [x 1]", 4),
    ("{:a 1", 1),
    ("((f x)", 1),                             # head is not a name: one past `(`
    ("(f\n", 2),
    ("(f (g x)\n", 3),
    ('"""\n    text', 4),                      # inside a string: keep the indentation
    ("(+ 1 2)", 0),
])
def test_indentation(before, column):
    assert indent_for(before) == column


NAMES = {"writer": "agent", "Review": "schema", "helper": "function", "main": "workflow",
         "limit": "value", "upper": "builtin", "map": "builtin"}


def names(text):
    return [c for c, _ in completions(text, NAMES)[1]]


def test_completion_of_heads_offers_special_forms_and_callables():
    assert names("(sp") == ["spawn"]
    assert names("(de")[:3] == ["def", "defagent", "defmacro"]
    got = names("(")
    assert "helper" in got and "main" in got and "upper" in got
    assert "limit" not in got and "writer" not in got  # not callable


def test_completion_knows_the_form_being_typed():
    assert names("(spawn ") == ["writer"]
    assert names('(spawn writer "hi" :re') == [":retries", ":returns"]
    assert names('(spawn writer "hi" :returns R') == ["Review"]
    assert names("(defagent w :role :") == [":explore", ":plan", ":implement", ":verify",
                                            ":custom"]
    assert ":system" in names("(defagent w :") and ":id" not in names("(defagent w :")
    assert names("(loop [x 1] :") == [":id", ":max", ":until"]
    assert names("(tournament [a b] j :format :r") == [":round-robin"]
    assert names("(f l") == ["limit"]
    assert names("(defschema S {:ok b") == ["bool"]
    assert names("(defschema S {:tags (list-of R") == ["Review"]
    assert names("(defschema S (l") == ["list-of"]


def test_completion_is_silent_in_strings_and_comments():
    assert names('(spawn writer "(sp') == []
    assert names("; (sp") == []


def test_completion_of_commands():
    assert names(":h") == [":help"]
    assert names(":") == [":help", ":spec", ":graph", ":expand", ":load", ":executor", ":reset",
                         ":quit"]


# --- printing values -------------------------------------------------------------------------


def outcome(output="hi", **kw):
    return {"task_id": "repl/w", "session_id": "s", "agent": "w", "output": output,
            "success": True, **kw}


def test_outcomes_print_as_a_short_summary():
    assert show(outcome(), runtime=True) == '#<outcome w ok "hi">'
    assert show(outcome("x", structured={"ok": True}), runtime=True) == \
        "#<outcome w ok {:ok true}>"
    failed = outcome("boom", success=False, error="boom")
    assert show(failed, runtime=True) == '#<outcome w failed "boom">'
    assert show([outcome(), outcome()], runtime=True) == \
        '[#<outcome w ok "hi"> #<outcome w ok "hi">]'


def test_a_long_top_level_output_follows_its_summary():
    text = show(outcome("line one\nline two"), runtime=True, top=True)
    assert text == '#<outcome w ok "line one…">\n  line one\n  line two'
    assert "\n" not in show([outcome("line one\nline two")], runtime=True, top=True)


def test_maps_and_vectors_print_in_wlisp_syntax():
    assert show({"a": [1, "x", None, True], "two words": 1.5}, runtime=True) == \
        '{:a [1 "x" nil true] "two words" 1.5}'
    wide = show([{"n": i, "name": "item-" * 3} for i in range(5)], runtime=True)
    assert wide.splitlines()[1] == ' {:n 1 :name "item-item-item-"}'
    numbers = show(list(range(60)), runtime=True).splitlines()
    assert len(numbers) == 2 and all(len(ln) <= 100 for ln in numbers)


# --- sessions (scripted stdin) ------------------------------------------------------------------


def run_repl(script, *args, cwd):
    res = subprocess.run([wlisp_bin(), "repl", *args], input=script, capture_output=True,
                         text=True, timeout=60, cwd=cwd)
    assert "Traceback" not in res.stderr, res.stderr
    return res


@pytest.fixture
def repl(tmp_path):
    """`wlisp repl` on a piped stdin, in an empty directory (no wlisp.toml around)."""
    return lambda script, *args: run_repl(script, *args, cwd=tmp_path)


def test_scripted_session_prints_one_result_per_form(repl):
    res = repl('(defagent w :role :plan)\n(def n 3)\n(+ n 1) (str "a" "b")\n'
               '{:k [n "s"]}\n'
               '(let [a (spawn w "one")\n      b (spawn w "two")]\n  [a.output b])\n'
               "w\n(fn [x] x)\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "#<agent w>", "3", "4", '"ab"', '{:k [3 "s"]}',
        '["[w] one" #<outcome w ok "[w] two">]', "#<agent w>", "#<fn anonymous>"]
    assert "run completed" in res.stderr  # progress goes to stderr


def test_errors_are_diagnostics_with_carets_and_the_session_goes_on(repl):
    res = repl('(defagent w)\n\n(spawn wx "hi")\n(+ 1 "a")\n(fail "no")\n:nope\n'
               "(defn f [x]\n  (+ x 1)\n(f 2)\n")
    assert res.returncode == 1
    err = res.stderr
    assert '<stdin>:3:8: error[W0203]: unknown agent `wx` (did you mean `w`?)' in err
    assert '3 | (spawn wx "hi")\n  |        ^^' in err
    assert "<stdin>:4:1: error[W0403]" in err
    assert "error: run failed: <stdin>:5:1: `repl/fail` failed: no" in err
    assert "unknown command `:nope`" in err
    # the last form never closes: the reader points at its opening bracket at the end
    assert "<stdin>:7:1: error[W0102]: unclosed `(`" in err
    assert res.stdout.splitlines() == ["#<agent w>"]


def test_definitions_accumulate_and_reset_forgets_them(repl):
    res = repl("(def x 1)\n(def x (+ x 1))\n(defn twice [v] (* 2 v))\n(twice x)\n"
               ":reset\nx\n")
    assert res.stdout.splitlines() == ["1", "2", "#<fn twice>", "4", "definitions cleared"]
    assert "unknown name `x`" in res.stderr


def test_a_step_result_defined_inside_an_input_is_not_kept(repl):
    res = repl('(defagent r)\n(def q 1)\n(do (def q (spawn r "k")) q)\nq\n')
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["#<agent r>", "1", '#<outcome r ok "[r] k">', "1"]
    assert "warning: `q` holds a step's result" in res.stderr


def test_spec_and_graph_commands_compile_without_running(repl):
    res = repl('(defagent w)\n:spec (spawn w "hi")\n:graph [(spawn w "a") (spawn w "b")]\n'
               ':spec (+ 1 2)\n(defworkflow main [topic] (spawn w topic))\n:spec main\n'
               ":spec (spawn\n  wx \"x\")\n", "--quiet")
    out = res.stdout
    assert '"id": "repl/w"' in out and '"prompt": "hi"' in out
    assert "flowchart" in out
    assert "no steps: this is the compile-time value 3" in out
    assert '"params": [\n    "topic"\n  ]' in out
    assert "run completed" not in res.stderr  # nothing ran
    assert "<stdin>:8:3: error[W0203]" in res.stderr  # the caret lands in the argument


def test_load_executor_and_quit(repl, tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text('[[answer]]\nagent = "w"\noutput = "scripted hello"\n')
    lib = tmp_path / "lib.wl"
    lib.write_text('(defagent w)\n(defn ask [q] (spawn w q))\n')
    res = repl(f":load {lib}\n(ask \"hi\")\n:executor scripted {answers}\n(ask \"hi\")\n"
               ":executor\n:load nowhere.wl\n:quit\n(+ 1 1)\n")
    lines = res.stdout.splitlines()
    assert lines[0] == f"loaded {lib}: w ask"
    assert lines[1] == '#<outcome w ok "[w] hi">'
    assert lines[2].startswith("executor: scripted") and lines[3] == \
        '#<outcome w ok "scripted hello">'
    assert lines[4].startswith("executor: scripted") and len(lines) == 5  # :quit stopped it
    assert "cannot read `nowhere.wl`" in res.stderr


def test_wlisp_toml_routes_agents_to_profiles(tmp_path):
    (tmp_path / "wlisp.toml").write_text(
        '[executors.canned]\ntype = "scripted"\nanswers = "answers.toml"\n\n'
        '[agents]\nw = "canned"\n')
    (tmp_path / "answers.toml").write_text('[[answer]]\noutput = "from the profile"\n')
    below = tmp_path / "project" / "src"
    below.mkdir(parents=True)
    script = ('(defagent w)\n(defagent other)\n(spawn w "hi")\n(spawn other "x")\n'
              ':executor\n:executor mock\n(spawn w "hi")\n')
    res = run_repl(script, "-q", cwd=below)  # found upward from the current directory
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "#<agent w>", "#<agent other>", '#<outcome w ok "from the profile">',
        '#<outcome other ok "[other] x">',  # not routed: the mock fallback
        f"executor: wlisp.toml; config: {tmp_path / 'wlisp.toml'}",
        f"executor: mock; config: {tmp_path / 'wlisp.toml'}", '#<outcome w ok "[w] hi">']
    res = run_repl('(defagent w)\n(spawn w "hi")\n', "--config", str(tmp_path / "wlisp.toml"),
                   "--executor", "mock", "-q", cwd=ROOT)
    assert res.stdout.splitlines()[-1] == '#<outcome w ok "[w] hi">'


def test_a_bad_wlisp_toml_is_a_usage_error_with_its_line(tmp_path):
    (tmp_path / "wlisp.toml").write_text('[executors.x]\ntype = "nope"\n')
    res = run_repl("(+ 1 1)\n", cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert "wlisp.toml:2" in res.stderr and 'type = "nope"' in res.stderr


def test_usage_errors_exit_2_without_a_traceback(repl):
    res = repl("(+ 1 1)\n", "--executor", "nope")
    assert res.returncode == 2 and "unknown executor `nope`" in res.stderr
    res = repl("(+ 1 1)\n", "--executor", "scripted")
    assert res.returncode == 2 and "--answers" in res.stderr


def test_ctrl_c_interrupts_a_run_and_keeps_the_session(tmp_path):
    answers = tmp_path / "slow.toml"
    answers.write_text('[[answer]]\noutput = "slow"\ndelay = 30\n')
    out, err = io.StringIO(), io.StringIO()
    session = Session("scripted", str(answers), out=out, err=err, quiet=True)
    session.submit("(defagent w)")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    session.submit('(spawn w "hi")')
    assert time.monotonic() - started < 5
    session.submit("(+ 1 2)")
    assert "interrupted: the run was cancelled" in err.getvalue()
    assert out.getvalue().splitlines() == ["#<agent w>", "3"]


def test_stream_keeps_line_numbers_across_multi_line_inputs():
    out, err = io.StringIO(), io.StringIO()
    session = Session(out=out, err=err, quiet=True)
    status = stream(session, io.StringIO("; comment\n\n(+ 1\n   2)\n(+ 1 x)\n"))
    assert status == 1 and out.getvalue() == "3\n"
    assert err.getvalue().startswith("<stdin>:5:6: error[W0201]: unknown name `x`")


def test_history_lives_in_the_user_data_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("WLISP_HISTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_path() == str(tmp_path / "wlisp" / "history")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == str(tmp_path / ".local" / "share" / "wlisp" / "history")
    monkeypatch.setenv("WLISP_HISTORY", str(tmp_path / "h"))
    assert history_path() == str(tmp_path / "h")


# --- end to end, in a real terminal -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux to drive a terminal")
def test_interactive_session_in_a_terminal(tmp_path):
    history = tmp_path / "data" / "history"
    slow = tmp_path / "slow.toml"
    slow.write_text('[[answer]]\nprompt = "slow"\noutput = "late"\ndelay = 30\n'
                    '[[answer]]\noutput = "quick"\n')
    command = " ".join(shlex.quote(p) for p in [
        "env", f"WLISP_HISTORY={history}", "TERM=xterm-256color", wlisp_bin(), "repl",
        "--executor", "scripted", "--answers", str(slow)])
    tmux = Tmux(command, f"wlisp-test-{os.getpid()}", str(tmp_path))
    try:
        tmux.wait_for(lambda s: "wl>" in s)
        tmux.type("(defagent w)")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "#<agent w>" in s)

        # A multi-line form: Enter on an unfinished form opens an indented line.
        tmux.type('(let [a (spawn w "one")')
        tmux.keys("Enter")
        tmux.type('b (spawn w "two")]')
        tmux.keys("Enter")
        screen = tmux.wait_for(lambda s: '...       b (spawn w "two")]' in s)
        assert '["quick" "quick"]' not in screen  # not submitted yet
        tmux.type("[a.output b.output])")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: '["quick" "quick"]' in s)

        # Ctrl-C clears the input being typed.
        tmux.type("(this is abandoned")
        tmux.keys("C-c")
        tmux.type("(+ 40 2)")
        tmux.keys("Enter")
        screen = tmux.wait_for(lambda s: "\n42\n" in s)

        # A slow run shows progress; Ctrl-C cancels it and the session survives.
        tmux.type('(spawn w "slow")')
        tmux.keys("Enter")
        # (wait for this run's progress, so the key reaches the run and not the editor)
        tmux.wait_for(lambda s: s.count("repl (scripted)") == 2)
        tmux.keys("C-c")
        tmux.wait_for(lambda s: "interrupted: the run was cancelled" in s)
        tmux.type("(* 6 7)")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: s.count("\n42\n") == 2)

        tmux.keys("C-d")
        deadline = time.monotonic() + 5
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not tmux.alive(), "Ctrl-D should end the REPL"
    finally:
        tmux.close()
    saved = history.read_text()
    assert "+(defagent w)" in saved and '+      b (spawn w "two")]' in saved
    assert "abandoned" not in saved
