"""WorkflowSpec JSON: lossless round trips and validation on load (SPEC §5)."""

import copy
import glob
import json
import os

import jsonschema
import pytest

from wlisp.errors import WlispError
from wlisp.ir import WorkflowSpec
from wlisp.ir.validate import json_schema
from wlisp.lang.api import compile, compile_file

from .conftest import ROOT

SPEC_PROGRAM = """
(defagent writer :role :implement)
(defagent critic :role :verify)
(defagent judge)
(defschema V {:passed bool :overall_score number :feedback string})
(defworkflow main [task xs]
  :budget {:steps 50 :wall 600} :concurrency 8
  (let [draft (loop [prev nil] :max 3 :until (fn [v] v.passed)
                (spawn critic (fmt "Improve {task}: {prev}") :returns V))
        route (classify (spawn judge (fmt "kind of {task}"))
                (:small (spawn writer "small"))
                (:else (spawn writer "big")))
        best (tournament [(spawn writer "a") (spawn writer "b")]
                         (fn [a b] (spawn judge (fmt "{a} or {b}"))))
        each (map (fn [x] (spawn writer (fmt "{x}"))) xs :limit 2)
        chain (pipeline xs (fn [p i] (spawn writer (fmt "{i}")))
                           (fn [p i] (when p.success (spawn critic (fmt "{p}")))))
        safe (try (spawn writer "risky") :catch (fn [e] nil))
        ok (human "Continue?")]
    (when (> draft.overall_score 0.9) (fail "too good to be true"))
    [draft route best each chain safe ok (loop-info draft) (tournament-info best)]))
"""


def example_files():
    return sorted(glob.glob(os.path.join(ROOT, "examples", "*.wl")))


def test_round_trip_is_lossless():
    spec = compile(SPEC_PROGRAM, "prog.wl")
    text = spec.to_json()
    again = WorkflowSpec.from_json(text)
    assert again == spec
    assert again.to_json() == text


@pytest.mark.parametrize("path", example_files(), ids=os.path.basename)
def test_examples_compile_and_round_trip(path):
    spec = compile_file(path)
    assert WorkflowSpec.from_json(spec.to_json(indent=2)) == spec


def test_compiled_specs_satisfy_the_published_schema():
    validator = jsonschema.Draft202012Validator(json_schema())
    validator.validate(json.loads(compile(SPEC_PROGRAM, "prog.wl").to_json()))
    for path in example_files():
        validator.validate(json.loads(compile_file(path).to_json()))


def _load_error(data):
    with pytest.raises(WlispError) as info:
        WorkflowSpec.from_dict(data)
    return info.value.diagnostics


@pytest.fixture
def data():
    return json.loads(compile(SPEC_PROGRAM, "prog.wl").to_json())


def test_future_version_is_refused(data):
    data["wlisp_spec"] = 99
    (d,) = _load_error(data)
    assert d.code == "W0606" and "99" in d.message


def test_unknown_kind_is_refused(data):
    data["graph"]["nodes"][0]["kind"] = "teleport"
    codes = {d.code for d in _load_error(data)}
    assert codes & {"W0601", "W0607"}


def test_dangling_ref_is_refused(data):
    node = next(n for n in data["graph"]["nodes"] if n["kind"] == "spawn")
    node["prompt"] = {"ref": "main/nowhere"}
    assert any(d.code == "W0602" and "main/nowhere" in d.message for d in _load_error(data))


def test_ref_into_a_nested_graph_is_refused(data):
    data["graph"]["result"] = {"ref": "main/draft/loop/critic"}
    assert any(d.code == "W0602" for d in _load_error(data))


def test_cycle_is_refused(data):
    nodes = data["graph"]["nodes"]
    first, last = nodes[0], nodes[-1]
    first.setdefault("after", []).append(last["id"])
    assert any(d.code == "W0603" for d in _load_error(data))


def test_bad_loop_max_is_refused(data):
    loop = next(n for n in data["graph"]["nodes"] if n["kind"] == "loop")
    loop["max"] = 0
    assert any(d.code in ("W0604", "W0601") for d in _load_error(data))


def test_tournament_with_one_entrant_is_refused(data):
    t = next(n for n in data["graph"]["nodes"] if n["kind"] == "tournament")
    t["entrants"]["vec"] = t["entrants"]["vec"][:1]
    assert any(d.code == "W0605" for d in _load_error(data))


def test_unknown_agent_and_unbound_var_are_refused(data):
    broken = copy.deepcopy(data)
    spawn = next(n for n in broken["graph"]["nodes"] if n["kind"] == "spawn")
    spawn["agent"] = "ghost"
    spawn["prompt"] = {"var": "nope", "in": "x"}
    messages = " ".join(d.message for d in _load_error(broken))
    assert "ghost" in messages and "nope" in messages


def test_not_json_is_a_diagnostic():
    with pytest.raises(WlispError) as info:
        WorkflowSpec.from_json("{not json")
    assert info.value.diagnostics[0].code == "W0601"


def test_every_node_keeps_its_source_span():
    spec = compile(SPEC_PROGRAM, "prog.wl")
    for node, _ in spec.walk():
        assert node.span is not None and node.span.file == "prog.wl", node.id
