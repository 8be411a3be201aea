"""Typed workflow inputs with defaults: `(defworkflow main [(brief string) (rounds int 3)] ...)`.
Through the real CLI: values read as their declared type, a wrong one refused before
any step runs (exit 1, W0311 at the parameter), defaults optional, types in the spec."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import wlisp
from wlisp.errors import WlispError
from wlisp.executors.mock import MockExecutor
from wlisp.ir.spec import WorkflowSpec
from wlisp.lang.api import compile

from .conftest import wlisp_bin

PROGRAM = """(defagent w)
(defschema Tone (enum "formal" "casual"))
(defworkflow main [(brief string) (rounds int 3) (tags (list-of string) []) (tone Tone "formal")
                   (dry bool false) (opts {:depth int} {:depth 1})]
  (let [r (spawn w (fmt "{brief} x{rounds} {tags} {dry} {opts.depth}"))]
    (case tone "formal" [r.output brief rounds tags dry opts] "casual" "hey")))
"""


def cli(tmp_path, *args):
    (tmp_path / "main.wl").write_text(PROGRAM)
    return subprocess.run([wlisp_bin(), *args], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "WLISP_HOME": str(tmp_path / "state")},
                          timeout=60)


def test_defaults_fill_what_is_not_given(tmp_path):
    res = cli(tmp_path, "run", "main.wl", "-i", "brief=hello", "--json")
    assert res.returncode == 0, res.stderr
    output, brief, rounds, tags, dry, opts = json.loads(res.stdout)["value"]
    assert (brief, rounds, tags, dry, opts) == ("hello", 3, [], False, {"depth": 1})


def test_values_are_read_as_their_declared_type(tmp_path):
    res = cli(tmp_path, "run", "main.wl", "-i", "brief=123", "-i", "rounds=5",
              "-i", 'tags=["a","b"]', "-i", "dry=yes", "-i", 'opts={"depth": 2}', "--json")
    assert res.returncode == 0, res.stderr
    _, brief, rounds, tags, dry, opts = json.loads(res.stdout)["value"]
    assert (brief, rounds, tags, dry, opts) == ("123", 5, ["a", "b"], True, {"depth": 2})


@pytest.mark.parametrize("given, col, words", [
    ("rounds=three", 35, "expected int"),
    ("rounds=2.5", 35, "expected int"),
    ("tone=rude", 77, 'one of "formal", "casual"'),
    ("dry=maybe", 20, "yes/no"),
    ('tags=["a", 1]', 50, "expected list"),
    ('opts={"depth": "deep"}', 37, "expected record"),
])
def test_a_mistyped_input_is_refused_before_any_step(tmp_path, given, col, words):
    res = cli(tmp_path, "run", "main.wl", "-i", "brief=x", "-i", given)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "error[W0311]" in res.stderr and words in res.stderr, res.stderr
    assert f"main.wl:{4 if given.startswith(('dry', 'opts')) else 3}:{col}" in res.stderr
    assert not (tmp_path / "state").exists() or "finished" not in res.stderr


def test_the_spec_carries_types_and_defaults_and_checks_python_inputs():
    spec = compile(PROGRAM)
    assert spec.inputs["rounds"]["type"] == {"type": "integer"}
    assert spec.inputs["rounds"]["default"] == 3
    loaded = WorkflowSpec.from_json(spec.to_json())
    assert loaded.inputs == spec.inputs
    res = wlisp.run(loaded, executor=MockExecutor(), inputs={"brief": "b"})
    assert res.status == "completed" and res.value[2] == 3
    with pytest.raises(WlispError) as info:
        wlisp.run(loaded, executor=MockExecutor(), inputs={"brief": "b", "rounds": "3"})
    assert info.value.diagnostics[0].code == "W0311"


def test_a_default_that_is_not_of_its_type_is_a_compile_error():
    with pytest.raises(WlispError) as info:
        compile('(defworkflow main [(rounds int "three")] rounds)')
    d = info.value.diagnostics[0]
    assert d.code == "W0303" and "default of `rounds`" in d.message and d.span.col == 32


def test_case_over_a_typed_input_must_be_exhaustive():
    with pytest.raises(WlispError) as info:
        compile('(defagent w) (defworkflow main [(tone (enum "a" "b") "a")] '
                '(case tone "a" (spawn w "x")))')
    assert info.value.diagnostics[0].code == "W0310"


# --- typed results ------------------------------------------------------------------------

def test_a_workflow_result_is_checked_against_its_declared_type():
    ok = compile('(defagent w) (defworkflow main [] :returns {:score int :note string} '
                 '(let [r (spawn w "rate" :returns {:score int})] {:score r.score '
                 ':note "fine"}))')
    assert ok.returns["properties"]["score"] == {"type": "integer"}
    assert WorkflowSpec.from_json(ok.to_json()).returns == ok.returns
    res = wlisp.run(ok, executor=MockExecutor(), inputs={})
    assert res.status == "completed", res.error
    bad = compile('(defagent w) (defworkflow main [] :returns {:score int} '
                  '(let [r (spawn w "rate")] {:score r.output}))')
    res = wlisp.run(bad, executor=MockExecutor(), inputs={})
    assert res.status == "failed"
    assert "is not of its declared type" in res.error and "score" in res.error


SUB = ('(defagent w) (defworkflow sub [] :returns {:score int :note string} '
       '(let [r (spawn w "rate" :returns {:score int})] {:score r.score :note "ok"})) '
       '(defworkflow sub2 [] :returns {:n int} (spawn w "x" :returns {:n int})) ')


@pytest.mark.parametrize("main, field", [
    ("(defworkflow main [] (let [s (sub)] s.scor))", "scor"),
    ("(defworkflow main [] (let [a (sub2)] a.m))", "m"),
])
def test_reading_a_field_a_callees_type_does_not_declare_is_an_error(main, field):
    with pytest.raises(WlispError) as info:
        compile(SUB + main, "main")
    d = info.value.diagnostics[0]
    assert d.code == "W0206" and f"no field `{field}`" in d.message


def test_declared_fields_of_a_callees_result_are_read():
    spec = compile(SUB + "(defworkflow main [] (let [s (sub) a (sub2)] [s.score a.n]))",
                   "main")
    assert wlisp.run(spec, executor=MockExecutor(), inputs={}).status == "completed"


def test_a_callee_whose_known_result_is_not_of_its_type_is_a_compile_error():
    with pytest.raises(WlispError) as info:
        compile('(defworkflow bad [] :returns {:n int} {:n "x"}) '
                '(defworkflow main [] (bad))', "main")
    assert info.value.diagnostics[0].code == "W0303"
    assert "not of its declared type" in info.value.diagnostics[0].message
