"""Quarantine as taint (SPEC §7, §12): a corpus of programs that try to smuggle the
raw text of a quarantined step into a prompt, a routing decision or the result —
each must be refused — next to the crossings that are allowed."""

from __future__ import annotations

import json

import pytest

from wlisp.errors import WlispError
from wlisp.ir.spec import WorkflowSpec
from wlisp.lang.api import compile

PRELUDE = """
(defagent q :trust :quarantined :role :explore)
(defagent w)
(defschema S {:label (enum "a" "b") :n int :summary string})
"""


# Each program carries raw text of `q` somewhere it must not go.
SMUGGLING = {
    # direct and aliased
    "direct-output": '(let [r (spawn q "read")] (spawn w r.output))',
    "whole-outcome": '(let [r (spawn q "read")] (spawn w (fmt "{r}")))',
    "let-alias": '(let [r (spawn q "read") o r.output v o] (spawn w v))',
    "str": '(let [r (spawn q "read")] (spawn w (str "x" r.output)))',
    "json-of-outcome": '(let [r (spawn q "read" :returns S)] (spawn w (json r)))',
    "get-output": '(let [r (spawn q "read")] (spawn w (get r :output)))',
    "upper": '(let [r (spawn q "read")] (spawn w (upper r.output)))',
    "vector-first": '(let [r (spawn q "read")] (spawn w (first [r.output "b"])))',
    "vector-get": '(let [r (spawn q "read")] (spawn w (get [r.output] 0)))',
    "map-literal": '(let [r (spawn q "read")] (spawn w (get {:a r.output} :a)))',
    "nested-vector": '(let [r (spawn q "read")] (spawn w (str [[r.output]])))',
    # fields that are not validated answers
    "structured-unvalidated": '(let [r (spawn q "read")] (spawn w (str r.structured)))',
    "field-unvalidated": '(let [r (spawn q "read")] (spawn w (str (get r :title))))',
    "session-id": '(let [r (spawn q "read" :returns S)] (spawn w r.session-id))',
    "finish-reason": '(let [r (spawn q "read" :returns S)] (spawn w (str r.finish-reason)))',
    "error": '(let [r (spawn q "read" :returns S)] (spawn w (str r.error)))',
    # chosen by conditionals
    "if-value": '(let [r (spawn q "read" :returns S) v (if (= r.label "a") r.output "b")]'
                ' (spawn w v))',
    "if-test-raw": '(let [r (spawn q "read")] (if (= r.output "yes") (spawn w "go") "no"))',
    "when": '(let [r (spawn q "read" :returns S)] (spawn w (str (when r.n r.output))))',
    "cond": '(let [r (spawn q "read" :returns S)] (spawn w (cond (= r.n 1) "one" '
            ':else r.output)))',
    "cond-test-raw": '(let [r (spawn q "read")] (cond (starts-with? r.output "x") '
                     '(spawn w "x") :else "y"))',
    "case-value": '(let [r (spawn q "read" :returns S)] (spawn w (case r.label "a" '
                  'r.output "b" "bee")))',
    "case-on-raw": '(let [r (spawn q "read")] (case r.output "a" (spawn w "a") "b" '
                   '(spawn w "b")))',
    "classify-branch-value": '(let [r (spawn q "read" :returns S) v (classify r.label '
                             '("a" r.output) ("b" "bee"))] (spawn w v))',
    "classify-on-raw": '(classify (get (spawn q "read") :output) ("a" (spawn w "a")) '
                       '("b" (spawn w "b")))',
    "or": '(let [r (spawn q "read")] (spawn w (or r.output "default")))',
    "and": '(let [r (spawn q "read")] (spawn w (str (and true r.output))))',
    # map
    "map-spawns": '(let [xs (map (fn [i] (spawn q (fmt "e{i}"))) [1 2])] '
                  '(spawn w (fmt "all: {xs}")))',
    "map-over-split": '(let [r (spawn q "read")] (map (fn [line] (spawn w line)) '
                      '(split r.output "\\n")))',
    "map-runtime-items": '(let [r (spawn q "read")] (map (fn [line] (spawn w (fmt "do {line}")))'
                         ' (split r.output ",")))',
    "pure-map": '(let [r (spawn q "read")] (spawn w (join (map (fn [s] (upper s)) '
                '(split r.output ",")) " ")))',
    "filter": '(let [r (spawn q "read")] (spawn w (str (filter (fn [s] true) '
              '(split r.output ",")))))',
    "reduce": '(let [r (spawn q "read")] (spawn w (reduce (fn [a s] (str a s)) "" '
              '(split r.output ","))))',
    # try
    "try-around-output": '(let [r (spawn q "read")] (spawn w (try r.output :catch '
                         '(fn [e] "x"))))',
    "try-around-spawn": '(let [v (try (spawn q "read" :returns S) :catch (fn [e] e))] '
                        '(spawn w (str v)))',
    "catch-message": '(let [v (try (spawn q "read" :returns S) :catch (fn [e] e.message))] '
                     '(spawn w (str v)))',
    # loop
    "loop-var": '(loop [d ""] :max 3 (spawn w (fmt "improve {d}")) (spawn q "read"))',
    "loop-result": '(let [v (loop [d nil] :max 2 (spawn q "read"))] (spawn w (str v)))',
    "loop-until-raw": '(loop [d nil] :max 3 :until (fn [v] (= v.output "done")) '
                      '(spawn q "read"))',
    # pipeline
    "pipeline-prev": '(pipeline ["a" "b"] (fn [prev item] (spawn q item)) '
                     '(fn [prev item] (spawn w (fmt "{prev}"))))',
    "pipeline-runtime-prev": '(pipeline (split x ",") (fn [prev item] (spawn q item)) '
                             '(fn [prev item] (spawn w (str prev))))',
    # tournament
    "tournament-judge": '(tournament [(spawn q "one") (spawn q "two")] '
                        '(fn [a b] (spawn w (fmt "A: {a} B: {b}"))))',
    "tournament-result": '(let [best (tournament [(spawn q "one") (spawn q "two")] '
                         '(fn [a b] (spawn q "pick")))] (spawn w (str best)))',
    # helpers, macros, workflows
    "defn-helper": '(let [r (spawn q "read")] (spawn w (out-of r)))',
    "macro": '(let [r (spawn q "read")] (spawn w (raw-of r)))',
    "workflow-call": '(let [r (spawn q "read")] (echo r.output))',
    "workflow-returns-raw": '(let [r (sub-reader "u")] (spawn w (str r)))',
    # the result and its parts
    "result": '(spawn q "read")',
    "result-vector": '(let [r (spawn q "read")] [1 r.output])',
    "result-map": '(let [r (spawn q "read")] {:text r.output})',
    "quarantined-to-quarantined": '(let [r (spawn q "read")] (get (spawn q (fmt "{r.output}")'
                                  ' :returns S) :n))',
    "system-via-fmt-of-structured": '(let [r (spawn q "read")] (spawn w (fmt "{r.structured}")))',
}

HELPERS = """
(defn out-of [r] (str "text: " r.output))
(defmacro raw-of [r] `(str (get ~r :output)))
(defworkflow echo [t] (spawn w t))
(defworkflow sub-reader [u] (spawn q u))
"""


def program(src: str) -> str:
    return PRELUDE + HELPERS + f"(defworkflow main [x]\n{src})"


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_smuggling_is_refused(name):
    with pytest.raises(WlispError) as info:
        compile(program(SMUGGLING[name]), "main")
    codes = {d.code for d in info.value.diagnostics}
    assert codes == {"W0401"}, (name, [d.message for d in info.value.diagnostics])


def test_the_corpus_is_large():
    assert len(SMUGGLING) >= 50


# Crossings that are allowed: validated fields of a :returns answer, routing on them,
# counts and success flags, and quarantined steps reading untrusted text.
ALLOWED = {
    "validated-field": '(let [r (spawn q "read" :returns S)] (spawn w (fmt "{r.label} {r.n}")))',
    "free-string-field": '(let [r (spawn q "read" :returns S)] (spawn w r.summary))',
    "structured-validated": '(let [r (spawn q "read" :returns S)] (spawn w (json r.structured)))',
    "route-on-label": '(let [r (spawn q "read" :returns S)] (case r.label "a" (spawn w "a") '
                      '"b" (spawn w "b")))',
    "human-sees-raw": '(let [r (spawn q "read")] (human (fmt "ok? {r.output}") '
                      ':returns bool))',
    "success-flag": '(let [r (spawn q "read")] (if r.success (spawn w "ok") "failed"))',
    "map-validated": '(let [xs (map (fn [i] (spawn q (fmt "e{i}") :returns S)) [1 2])] '
                     '(spawn w (str (map (fn [r] r.label) xs))))',
    "classifier": '(classify (spawn q "which?") (:a (spawn w "a")) (:b (spawn w "b")))',
    "loop-verdict": '(get (loop [d nil] :max 3 :until (fn [v] (= v.label "a")) '
                    '(spawn q "read" :returns S)) :label)',
    "branch-outputs": '(let [r (spawn q "read" :returns S) v (case r.label "a" (spawn w "a") '
                      '"b" (spawn w "b")) u (spawn w (fmt "check {v}"))] u.output)',
}


def test_allowed_crossings_compile():
    for name, src in ALLOWED.items():
        try:
            compile(program(src), "main")
        except WlispError as exc:
            pytest.fail(f"{name}: {exc}")


def _steps(spec):
    for node, _ in spec.walk():
        if node.kind == "spawn":
            yield node


@pytest.mark.parametrize("src", [
    '(let [r (spawn q "read" :returns S)] (case r.label "a" (spawn w "a") "b" (spawn w "b")))',
    '(classify (spawn q "which?") (:a (spawn w "a")) (:b (spawn w "b")))',
    '(get (try (spawn q "x" :returns S) :catch (fn [e] (spawn w "recover"))) :label)',
    '(get (tournament [(spawn q "one" :returns S) (spawn q "two" :returns S)] '
    '(fn [a b] (spawn w (fmt "{a.label} or {b.label}?")))) :n)',
    '(get (loop [d nil] :max 3 :until (fn [v] (= v.label "a")) (spawn w "try") '
    '(spawn q "judge" :returns S)) :n)',
    '(let [r (spawn q "read" :returns {:items (list-of int)})] '
    '(map (fn [i] (spawn w (fmt "{i}"))) r.items))',
])
def test_steps_a_quarantined_value_chooses_run_quarantined(src):
    spec = compile(program(src), "main")
    workers = [n for n in _steps(spec) if n.agent == "w"]
    assert workers and all(n.trust == "quarantined" for n in workers), \
        [(n.id, n.trust) for n in workers]


def test_trusted_steps_stay_trusted_when_nothing_quarantined_chooses_them():
    spec = compile(program('(let [r (spawn q "read" :returns S)] '
                           '[(spawn w (fmt "{r.label}")) (spawn w "other")])'), "main")
    assert [n.trust for n in _steps(spec) if n.agent == "w"] == [None, None]


def test_a_loaded_spec_is_checked_the_same_way():
    spec = compile(program('(let [r (spawn q "read" :returns S)] (spawn w r.summary))'),
                   "main")
    data = json.loads(spec.to_json())
    data["graph"]["nodes"][1]["prompt"] = {"call": "str", "args": [
        {"get": {"ref": data["graph"]["nodes"][0]["id"]}, "path": ["output"]}]}
    with pytest.raises(WlispError) as info:
        WorkflowSpec.from_dict(data)
    assert [d.code for d in info.value.diagnostics] == ["W0401"]


def test_a_loaded_spec_marks_chosen_steps_quarantined():
    spec = compile(program('(let [r (spawn q "read" :returns S)] (case r.label "a" '
                           '(spawn w "a") "b" (spawn w "b")))'), "main")
    data = json.loads(spec.to_json())
    for branch in data["graph"]["nodes"][1]["branches"]:
        branch["body"]["nodes"][0].pop("trust")
        branch["body"]["nodes"][0].pop("chosen_by")
    loaded = WorkflowSpec.from_dict(data)
    assert {n.trust for n in _steps(loaded) if n.agent == "w"} == {"quarantined"}


def test_the_diagnostic_points_at_the_use_and_names_the_step():
    src = program('(let [r (spawn q "read" :returns S)\n'
                  '      v (case r.label "a" r.output :else "b")]\n'
                  '  (spawn w v))')
    with pytest.raises(WlispError) as info:
        compile(src, "main")
    d = info.value.diagnostics[0]
    assert "quarantined step `main/r`" in d.message
    assert d.span is not None and src.splitlines()[d.span.line - 1].strip().startswith(
        "(spawn w v)")
    assert any(span is not None and span.line < d.span.line for _, span in d.notes)


@pytest.mark.parametrize("opts, ok", [
    (":trust :quarantined", True),
    (":trust :quarantined :role :explore", True),
    (":trust :quarantined :isolation :read-only", True),
    (":trust :quarantined :role :implement", False),
    (":trust :quarantined :isolation :worktree", False),
    (":trust :quarantined :isolation :shared", False),
    (":trust :quarantined :isolation :remote", False),
    (":trust :quarantined :role :plan", False),
])
def test_a_quarantined_agent_is_read_only(opts, ok):
    src = f'(defagent a {opts})\n(defschema T {{:n int}})\n' \
          '(defworkflow main [] (get (spawn a "read" :returns T) :n))'
    if ok:
        spec = compile(src, "main")
        assert spec.agents["a"]["isolation"] == "read-only"
        return
    with pytest.raises(WlispError) as info:
        compile(src, "main")
    assert [d.code for d in info.value.diagnostics] == ["W0407"]
    assert info.value.diagnostics[0].span.line == 1


def test_a_loaded_spec_with_a_writing_quarantined_agent_is_refused():
    spec = compile('(defagent a :trust :quarantined)\n(defschema T {:n int})\n'
                   '(defworkflow main [] (get (spawn a "read" :returns T) :n))', "main")
    data = json.loads(spec.to_json())
    data["agents"]["a"]["isolation"] = "worktree"
    with pytest.raises(WlispError) as info:
        WorkflowSpec.from_dict(data)
    assert [d.code for d in info.value.diagnostics] == ["W0407"]


def test_loops_nested_deep_over_quarantined_values_are_checked_quickly():
    """Each loop is read until its variable settles; an enclosing loop starts it where
    it settled, so 40 nested loops take about 80 passes, not 2**40."""
    src = '(get (spawn q "read" :returns S) :label)'
    for i in range(40):
        src = f'(loop [v{i} nil] :max 2 (spawn w (fmt "{{v{i}}}")) {src})'
    spec = compile(program(src), "main")
    assert sum(1 for n in _steps(spec) if n.trust == "quarantined" and n.chosen_by) == 0
    with pytest.raises(WlispError) as info:  # and the raw text still cannot get out
        compile(program(src.replace(':label)', ':output)')), "main")
    assert {d.code for d in info.value.diagnostics} == {"W0401"}
