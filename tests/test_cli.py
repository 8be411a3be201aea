"""The command line, through click's CliRunner and as a real subprocess."""

import json
import os
import re
import subprocess

from click.testing import CliRunner

from wlisp.cli.commands import main

from .conftest import ROOT, wlisp_bin

EXAMPLE = os.path.join(ROOT, "examples", "review_panel.wl")
BAD = """(defagent reviewer)
(defworkflow main [diff]
  (let [a (spawn reviwer (fmt "Review {diff}"))
        b (loop [x nil] (spawn reviewer "again"))]
    [a b]))
"""


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def test_compile_prints_the_spec(tmp_path):
    res = run("compile", EXAMPLE)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["name"] == "main"
    out = tmp_path / "spec.json"
    assert run("compile", EXAMPLE, "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())["wlisp_spec"] == 1


def test_compile_accepts_a_spec_and_stdin(tmp_path):
    text = run("compile", EXAMPLE).output
    path = tmp_path / "spec.json"
    path.write_text(text)
    assert json.loads(run("compile", str(path)).output) == json.loads(text)
    assert json.loads(run("compile", "-", input=text).output) == json.loads(text)
    src = open(EXAMPLE).read()
    assert json.loads(run("compile", "-", input=src).output)["name"] == "main"


def test_check_reports_every_error_with_carets(tmp_path):
    bad = tmp_path / "bad.wl"
    bad.write_text(BAD)
    res = run("check", str(bad))
    assert res.exit_code == 1
    assert f"{bad}:3:18: error[W0203]: unknown agent `reviwer` (did you mean `reviewer`?)" \
        in res.output
    assert "                 ^^^^^^^" in res.output
    assert f"{bad}:4:11: error[W0305]" in res.output
    assert "2 errors in 1 file" in res.output


def test_check_json_diagnostics(tmp_path):
    bad = tmp_path / "bad.wl"
    bad.write_text(BAD)
    res = run("check", "--diagnostics-json", str(bad))
    found = json.loads(res.output)
    assert [(d["code"], d["line"], d["column"]) for d in found] == \
        [("W0203", 3, 18), ("W0305", 4, 11)]


def test_check_clean_files():
    res = run("check", EXAMPLE)
    assert res.exit_code == 0 and "no errors" in res.output


def test_missing_file_is_a_clear_error():
    res = run("compile", "nope.wl")
    assert res.exit_code == 2  # how wlisp was called (SPEC §10)
    assert "W0505" in res.output and "Traceback" not in res.output


def test_unknown_workflow_is_a_clear_error():
    res = run("compile", EXAMPLE, "--workflow", "mian")
    assert res.exit_code == 1 and "did you mean `main`" in res.output


def test_graph_mermaid_and_dot():
    res = run("graph", EXAMPLE)
    assert res.exit_code == 0 and res.output.startswith("flowchart TD")
    assert "subgraph" in res.output
    dot = run("graph", EXAMPLE, "--format", "dot").output
    assert dot.startswith('digraph "main"') and "cluster_" in dot


def test_schema_is_valid_json_schema():
    import jsonschema

    schema = json.loads(run("schema").output)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_usage_error_exit_code():
    assert run("compile").exit_code == 2


def test_real_subprocess_round_trip(tmp_path):
    bin_ = wlisp_bin()
    spec = subprocess.run([bin_, "compile", EXAMPLE], capture_output=True, text=True, check=True)
    again = subprocess.run([bin_, "compile", "-"], input=spec.stdout, capture_output=True,
                           text=True, check=True)
    assert json.loads(again.stdout) == json.loads(spec.stdout)
    bad = tmp_path / "bad.wl"
    bad.write_text("(defworkflow main [] (spawn x \"y\"")
    res = subprocess.run([bin_, "check", str(bad)], capture_output=True, text=True)
    assert res.returncode == 1
    assert "error[W0102]" in res.stderr and "Traceback" not in res.stderr


# --- wlisp run ----------------------------------------------------------------------

RUNNABLE = """(defagent writer)
(defagent critic)
(defworkflow main [topic n]
  (let [drafts (map (fn [i] (spawn writer (fmt "draft {i} on {topic}"))) (range n))
        pick (spawn critic (fmt "pick one:\\n{drafts}"))]
    pick.output))
"""


def test_run_prints_the_value_and_progress(tmp_path):
    src = tmp_path / "w.wl"
    src.write_text(RUNNABLE)
    res = subprocess.run([wlisp_bin(), "run", str(src), "--input", "topic=owls", "-i", "n=2"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[critic] pick one:"
    assert "finished  main/drafts[1]/writer" in res.stderr
    assert "run completed" in res.stderr


def test_run_json_and_spec_files_behave_the_same(tmp_path):
    src = tmp_path / "w.wl"
    src.write_text(RUNNABLE)
    spec = tmp_path / "w.json"
    subprocess.run([wlisp_bin(), "compile", str(src), "-o", str(spec)], check=True)
    outs = []
    for path in (src, spec):
        res = subprocess.run([wlisp_bin(), "run", str(path), "-i", "topic=owls", "-i", "n=3",
                              "--json", "-q"], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        data = json.loads(res.stdout)
        outs.append((data["status"], data["value"],
                     {k: v["status"] for k, v in data["nodes"].items()}))
    assert outs[0] == outs[1]


def test_run_exit_codes(tmp_path):
    failing = tmp_path / "f.wl"
    failing.write_text('(defagent a)\n(defworkflow main [] (do (spawn a "x") (fail "no way")))')
    res = run("run", str(failing), "-q")
    assert res.exit_code == 1 and "no way" in res.output
    gate = tmp_path / "g.wl"
    gate.write_text('(defworkflow main [] (human "Deploy?"))')
    res = run("run", str(gate), "-q")
    assert res.exit_code == 3 and "waiting at main/human: Deploy?" in res.output
    assert run("run", str(gate), "--concurrency", "0").exit_code == 2
    assert run("run", str(gate), "--input", "nope").exit_code == 2


def test_run_with_scripted_answers_names_unmatched_steps(tmp_path):
    src = tmp_path / "w.wl"
    src.write_text(RUNNABLE)
    answers = tmp_path / "a.yaml"
    answers.write_text("answers:\n  - agent: writer\n    output: a draft\n")
    res = run("run", str(src), "-i", "topic=owls", "-i", "n=1", "-e", "scripted",
              "--answers", str(answers), "-q")
    assert res.exit_code == 1
    assert "no scripted answer" in res.output and "main/pick" in res.output


def test_bad_answer_file_is_a_usage_error(tmp_path):
    src = tmp_path / "w.wl"
    src.write_text(RUNNABLE)
    answers = tmp_path / "a.toml"
    answers.write_text("[[answer]]\nagnet = 'writer'\n")
    res = run("run", str(src), "-e", "scripted", "--answers", str(answers))
    assert res.exit_code == 2 and "unknown key(s) agnet" in res.output


def test_runs_and_show_list_the_journal(tmp_path):
    src = tmp_path / "w.wl"
    src.write_text(RUNNABLE)
    state = str(tmp_path / "state")
    res = run("run", str(src), "-i", "topic=owls", "-i", "n=2", "--state-dir", state,
              "--run-id", "a-rather-long-run-id-2026", "-q")
    assert res.exit_code == 0, res.output
    listing = run("runs", "--state-dir", state)
    assert listing.exit_code == 0 and "a-rather-long-run-id-2026" in listing.output
    rows = json.loads(run("runs", "--state-dir", state, "--json").output)
    assert rows[0]["id"] == "a-rather-long-run-id-2026" and rows[0]["steps"] == 3
    shown = json.loads(run("show", "a-rather-long-run-id-2026", "--state-dir", state,
                           "--json").output)
    assert shown["status"] == "completed"
    assert shown["nodes"]["main/drafts[1]/writer"]["status"] == "completed"
    tree = run("show", "a-rather-long-run-id-2026", "--state-dir", state).output
    assert "✓ pick" in tree and "main/" not in tree.split("logs:")[0]
    assert "w.wl · main" in tree and re.search(r"✓ pick .*  line \d+\n", tree)  # its file once


def test_compile_to_a_path_that_cannot_be_written_is_a_diagnostic(tmp_path):
    src = tmp_path / "w.wl"
    src.write_text('(defagent w) (defworkflow main [] (spawn w "x"))')
    res = subprocess.run([wlisp_bin(), "compile", str(src), "-o", str(tmp_path / "nodir" /
                                                                      "x.json")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "W0701" in res.stderr and "cannot write" in res.stderr
    assert "Traceback" not in res.stderr


def test_show_json_keeps_every_steps_outcome_and_source(tmp_path):
    """Regression: steps that ran in the run had no `outcome` and no `source`."""
    src = tmp_path / "w.wl"
    src.write_text('(defagent w)\n(defworkflow main []\n  [(spawn w "a") (spawn w "b")])\n')
    state = str(tmp_path / "s")
    assert run("run", str(src), "--state-dir", state, "--run-id", "r", "-q").exit_code == 0
    shown = json.loads(run("show", "r", "--state-dir", state, "--json").output)
    for node in ("main/w", "main/w#2"):
        info = shown["nodes"][node]
        assert info["outcome"]["output"].startswith("[w]") and info["outcome"]["success"]
        assert info["source"].endswith(f"w.wl:3:{4 if node == 'main/w' else 18}")


def test_resume_is_public_api():
    import wlisp

    assert wlisp.resume is wlisp.runtime.resume and "resume" in wlisp.__all__
