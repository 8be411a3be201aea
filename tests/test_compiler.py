"""Compile-time evaluation and workflow forms → IR (SPEC §3–§4)."""

import json

import pytest

from wlisp.errors import WlispError
from wlisp.lang.api import compile

AGENTS = """
(defagent writer :role :implement)
(defagent critic :role :verify)
(defagent judge)
"""


def nodes(spec):
    return {n.id: n for n, _ in spec.walk()}


def top(spec):
    return [n.id for n in spec.graph.nodes]


def result_of(src):
    """Compile a workflow whose value is static and return that value."""
    spec = compile(AGENTS + f"(defworkflow main [] {src})")
    return spec.graph.result


# --- compile-time language ----------------------------------------------------------

@pytest.mark.parametrize("src,value", [
    ("(+ 1 2 3)", 6), ("(- 10 4)", 6), ("(* 2 3)", 6), ("(/ 10 4)", 2.5), ("(/ 10 5)", 2),
    ("(mod 7 3)", 1), ("(max 1 5 3)", 5), ("(= [1 2] [1 2])", True), ("(< 1 2 3)", True),
    ('(str "a" 1 :k nil)', "a1k"), ('(join ", " ["a" "b"])', "a, b"),
    ('(upper "ab")', "AB"), ('(contains? "abc" "b")', True), ('(replace "aXa" "X" "-")', "a-a"),
    ("(len [1 2 3])", 3), ("(get {:a 1} :a)", 1), ("(get-in {:a {:b 2}} [:a :b])", 2),
    ("(first [4 5])", 4), ("(last [4 5])", 5), ("(nth [4 5] 1)", 5),
    ("(reduce + 0 [1 2 3])", 6), ("(len (filter (fn [x] (> x 1)) [1 2 3]))", 2),
    ("(first (sort [3 1 2]))", 1), ("(len (distinct [1 1 2]))", 2), ("(len (range 5))", 5),
    ('(parse-json "{\\"a\\": [1]}")', {"lit": {"a": [1]}}), ("(json [1 :a])", '[1, "a"]'),
    ("(let [[a b] [1 2]] (+ a b))", 3), ("(let [x 1 y (+ x 1)] y)", 2),
    ("(if false 1 2)", 2), ("(when true 1 2)", 2), ("(cond false 1 :else 3)", 3),
    ("(case :b :a 1 :b 2 :else 3)", 2), ("(and 1 nil 2)", None), ("(or nil 2)", 2),
    ("(not nil)", True), ("((fn [& xs] (len xs)) 1 2 3)", 3),
    ("(do (defn sq [x] (* x x)) (sq 4))", 16),
    ("(do (defmacro twice [x] `(+ ~x ~x)) (twice 4))", 8),
    ("(do (defmacro lst [& xs] `[~@xs]) (len (lst 1 2 3)))", 3),
    ("(quote (a b))", {"lit": ["a", "b"]}),
    ('(let [who "you"] (fmt "hi {who} {{x}}"))', "hi you {x}"),
    ("(let [m {:a {:b 5}}] m.a.b)", 5),
])
def test_static_evaluation(src, value):
    assert result_of(src) == value


def test_static_recursion_unrolls():
    src = "(do (defn fact [n] (if (<= n 1) 1 (* n (fact (- n 1))))) (fact 10))"
    assert result_of(src) == 3628800


def test_residual_expressions_over_inputs():
    spec = compile(AGENTS + '(defworkflow main [n s] [(+ n 1) (upper s) (fmt "n={n}")])')
    assert spec.graph.result == {"vec": [
        {"call": "+", "args": [{"input": "n"}, 1]},
        {"call": "upper", "args": [{"input": "s"}]},
        {"call": "str", "args": ["n=", {"input": "n"}]}]}
    assert spec.graph.nodes == []


def test_pure_map_over_runtime_collection_is_an_expression():
    spec = compile(AGENTS + "(defworkflow main [xs] (map (fn [x] (* x 2)) xs))")
    r = spec.graph.result
    assert r["call"] == "map" and r["args"][0]["fn"]["body"]["call"] == "*"
    assert spec.graph.nodes == []


# --- workflow forms ------------------------------------------------------------------

def test_spawn_ids_follow_bindings_and_agents():
    spec = compile(AGENTS + """
(defworkflow main [task]
  (let [draft (spawn writer (fmt "Write {task}"))
        review (spawn critic (fmt "Review {draft}"))
        again (spawn critic "second" :id "second")]
    [draft review again (spawn writer "x") (spawn writer "y")]))""")
    assert top(spec) == ["main/draft", "main/review", "main/second",
                         "main/writer", "main/writer#2"]
    review = nodes(spec)["main/review"]
    assert review.prompt == {"call": "str", "args": ["Review ", {"ref": "main/draft"}]}
    assert review.after == []


def test_a_binding_of_several_steps_names_them_by_agent_under_it():
    spec = compile(AGENTS + """
(defworkflow main [task]
  (let [pair [(spawn writer "a") (spawn critic "b")]
        nested (spawn critic (str "on " (spawn writer "inner")))
        same (spawn writer "1")
        same (spawn writer "2")]
    [pair nested same]))""")
    assert top(spec) == ["main/pair/writer", "main/pair/critic", "main/nested/writer",
                         "main/nested", "main/same", "main/same#2"]


def test_ids_are_stable_across_compilations():
    src = AGENTS + """
(defworkflow main [xs]
  (let [a (map (fn [x] (spawn writer (fmt "{x}"))) xs)
        b (loop [d nil] :max 3 (spawn critic (fmt "{d}")))]
    [a b]))"""
    assert compile(src).to_json() == compile(src).to_json()


def test_body_forms_run_in_order_but_let_bindings_do_not():
    spec = compile(AGENTS + """
(defworkflow main []
  (let [a (spawn writer "a") b (spawn writer "b")]
    (spawn critic "first")
    (spawn critic "second")
    (spawn judge "third")))""")
    n = nodes(spec)
    assert n["main/b"].after == []
    assert n["main/critic"].after == []
    assert n["main/critic#2"].after == ["main/critic"]
    assert n["main/judge"].after == ["main/critic#2"]


def test_sequence_point_after_a_big_fanout_uses_a_join_node():
    many = " ".join(f'(spawn writer "{i}")' for i in range(12))
    spec = compile(AGENTS + f"""
(defworkflow main []
  (do (parallel {many})
      (spawn critic "after all")))""")
    n = nodes(spec)
    (join,) = [i for i in n if i.endswith("/join")]
    assert n[join].kind == "value" and len(n[join].after) == 12
    assert n["main/critic"].after == [join]


def test_explicit_after():
    spec = compile(AGENTS + """
(defworkflow main []
  (let [a (spawn writer "a") b (spawn critic "b" :after [a])] b))""")
    assert nodes(spec)["main/b"].after == ["main/a"]


def test_static_map_unrolls_into_bodies():
    spec = compile(AGENTS + """
(defworkflow main [diff]
  (map (fn [aspect] (spawn critic (fmt "Review {aspect} of {diff}"))) ["security" "style"]
       :limit 1))""")
    (m,) = spec.graph.nodes
    assert m.kind == "map" and m.limit == 1 and len(m.bodies) == 2
    assert m.bodies[1].nodes[0].id == "main/map[1]/critic"
    assert m.bodies[1].nodes[0].prompt["args"][0] == "Review style of "


def test_runtime_map_becomes_a_map_node_with_a_template_body():
    spec = compile(AGENTS + "(defworkflow main [xs] (map (fn [x] (spawn writer (fmt \"{x}\"))) xs))")
    (m,) = spec.graph.nodes
    assert m.kind == "map" and m.items == {"input": "xs"} and m.var == "x"
    assert m.body.nodes[0].id == "main/map/writer"
    assert m.body.nodes[0].prompt == {"call": "str", "args": [{"var": "x", "in": "main/map"}]}


def test_loop_compiles_with_until_and_var():
    spec = compile(AGENTS + """
(defschema V {:passed bool :feedback string})
(defworkflow main [task]
  (let [best (loop [prev nil] :max 4 :until (fn [v] v.passed)
               (spawn critic (fmt "Improve {task} given {prev}") :returns V))]
    (loop-info best)))""")
    (loop,) = spec.graph.nodes
    assert loop.kind == "loop" and loop.max == 4 and loop.var == "prev"
    assert loop.until["fn"]["body"] == {"get": {"var": "v", "in": loop.until["fn"]["in"]},
                                        "path": ["passed"]}
    assert loop.id == "main/best" and loop.body.nodes[0].id == "main/best/critic"
    assert spec.graph.result == {"info": "main/best"}


def test_classify_with_agent_classifier_constrains_labels():
    spec = compile(AGENTS + """
(defworkflow main [ticket]
  (classify (spawn judge (fmt "Triage: {ticket}"))
    (:bug (spawn writer "fix"))
    (:question "answered")
    (:else (fail "unknown kind"))))""")
    judge, cls = spec.graph.nodes
    assert judge.returns["properties"]["label"]["enum"] == ["bug", "question", "other"]
    assert cls.kind == "classify" and cls.mode == "agent"
    assert [b.label for b in cls.branches] == ["bug", "question"]
    assert cls.id == "main/classify" and cls.branches[0].body.nodes[0].id == "main/bug/writer"
    assert cls.otherwise.nodes[0].kind == "fail"


def test_if_on_runtime_value_is_a_classify_with_expression():
    spec = compile(AGENTS + """
(defschema S {:score number})
(defworkflow main []
  (let [s (spawn critic "score" :returns S)]
    (if (> s.score 0.5) (spawn writer "ship") "stop")))""")
    cls = spec.graph.nodes[1]
    assert cls.kind == "classify" and cls.mode == "expr"
    assert cls.on == {"call": "boolean", "args": [
        {"call": ">", "args": [{"get": {"ref": "main/s"}, "path": ["score"]}, 0.5]}]}
    assert cls.branches[0].label is True and cls.otherwise.result == "stop"
    assert cls.id == "main/if" and cls.branches[0].body.nodes[0].id == "main/writer"


def test_an_if_without_steps_in_its_branches_is_an_expression_not_a_classify_node():
    spec = compile(AGENTS + """
(defschema S {:score number})
(defworkflow main []
  (let [s (spawn critic "score" :returns S)
        next (spawn writer (if (> s.score 0.5) (fmt "ship {s}") "stop"))]
    next))""")
    assert [n.kind for n in spec.graph.nodes] == ["spawn", "spawn"]
    (chosen,) = spec.graph.nodes[1].prompt["args"]  # the prompt is rendered to a string
    assert chosen["if"][2] == "stop"
    assert spec.graph.nodes[1].id == "main/next"


def test_a_patterns_ifs_do_not_nest_the_ids_of_the_phases_after_them():
    from pathlib import Path

    examples = Path(__file__).parent.parent / "examples"
    spec = compile((examples / "design_plan_implement.wl").read_text(),
                   str(examples / "design_plan_implement.wl"))
    flat = [(n.kind, n.id) for n, _ in spec.walk()]
    assert ("spawn", "main/change/round/review") in flat
    assert ("loop", "main/plan/round") in flat
    assert not any("classify" in i or "then" in i for _, i in flat)
    # the only classify nodes left route between phases; the draft's `(if prev ...)` is
    # an expression in the draft's prompt
    assert [k for k, _ in flat].count("classify") == 2


def test_case_without_else_has_no_otherwise_branch():
    spec = compile(AGENTS + "(defworkflow main [x] (case x :a 1 :b 2))")
    (cls,) = spec.graph.nodes
    assert cls.on == {"input": "x"} and cls.otherwise is None


def test_tournament_constrains_the_judge():
    spec = compile(AGENTS + """
(defworkflow main []
  (tournament [(spawn writer "a") (spawn writer "b") (spawn writer "c")]
              (fn [a b] (spawn judge (fmt "A: {a}\\nB: {b}")))
              :format :round-robin))""")
    t = spec.graph.nodes[-1]
    assert t.kind == "tournament" and t.format == "round-robin"
    assert len(t.entrants["vec"]) == 3
    assert t.judge.params == ["a", "b"]
    assert t.judge.nodes[0].returns["properties"]["winner"]["enum"] == ["a", "b"]


def test_pipeline_static_items_build_one_chain_per_item():
    spec = compile(AGENTS + """
(defworkflow main []
  (pipeline ["x" "y"]
    (fn [prev item] (spawn writer (fmt "draft {item}")))
    (fn [prev item] (spawn critic (fmt "review {prev}")))))""")
    (p,) = spec.graph.nodes
    assert len(p.chains) == 2 and len(p.chains[0]) == 2
    assert p.chains[1][0].nodes[0].id == "main/pipeline[1]/stage1/writer"
    assert p.chains[1][1].params == ["prev"]


def test_try_and_catch():
    spec = compile(AGENTS + """
(defworkflow main []
  (try (spawn writer "risky") :catch (fn [e] (fmt "failed: {e}"))))""")
    (t,) = spec.graph.nodes
    assert t.kind == "try" and t.var == "e"
    assert t.catch.result == {"call": "str", "args": ["failed: ", {"var": "e", "in": "main/try"}]}


def test_human_gate():
    spec = compile(AGENTS + '(defworkflow main [] (human "Ship it?" :returns {:ok bool}))')
    (h,) = spec.graph.nodes
    assert h.kind == "human" and h.prompt == "Ship it?" and h.returns["required"] == ["ok"]


def test_workflow_calls_inline_with_their_own_namespace():
    spec = compile(AGENTS + """
(defworkflow review [x] (spawn critic (fmt "review {x}") :id "r"))
(defworkflow main [task]
  (let [a (review task) b (review "other")] [a b]))""")
    assert top(spec) == ["main/a/review/r", "main/b/review/r"]


def test_agents_and_schemas_in_the_spec():
    spec = compile("""
(deftool grep :description "search" :params {:pattern string} :command ["grep" "-rn" "{pattern}" "."])
(defagent explorer :role :explore :tools [grep] :max-steps 8 :exclusive true)
(defschema Hit {:file string :line int})
(defworkflow main [] (spawn explorer "find" :returns (list-of Hit)))""")
    a = spec.agents["explorer"]
    assert (a["role"], a["isolation"], a["context"], a["exclusive"]) == \
        ("explore", "read-only", "system-only", True)
    assert spec.tools["grep"]["command"] == ["grep", "-rn", "{pattern}", "."]
    ret = spec.graph.nodes[0].returns
    assert ret["type"] == "array" and ret["items"]["required"] == ["file", "line"]


def test_quarantine_propagates_to_classify_branches():
    spec = compile("""
(defagent browser :trust :quarantined)
(defagent worker)
(defworkflow main []
  (let [page (spawn browser "read the page" :returns {:kind (enum "a" "b")})]
    (case page.kind
      "a" (spawn worker "do a")
      "b" (spawn worker "do b"))))""")
    cls = spec.graph.nodes[1]
    assert cls.branches[0].body.nodes[0].trust == "quarantined"


def test_workflow_options_recorded():
    spec = compile(AGENTS + """
(defworkflow main [] :description "d" :budget {:steps 5 :cost 1.5} :concurrency 3
  (spawn writer "x"))""")
    assert spec.budget == {"steps": 5, "cost": 1.5} and spec.concurrency == 3
    assert spec.description == "d"


def test_import_file_and_stdlib(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "agents.wl").write_text(
        '(defagent helper)\n(defn ask [q] (spawn helper (fmt "Q: {q}")))\n')
    main = tmp_path / "main.wl"
    main.write_text('(import "lib/agents.wl" :only [ask])\n'
                    '(import patterns :as p)\n'
                    '(defworkflow main [] (ask "why"))\n')
    from wlisp.lang.api import compile_file
    spec = compile_file(main)
    assert spec.graph.nodes[0].agent == "helper"


def test_macro_errors_carry_an_expansion_note():
    with pytest.raises(WlispError) as info:
        compile(AGENTS + """
(defmacro ask [who q] `(spawn ~who ~q))
(defworkflow main [] (ask wirter "x"))""")
    d = info.value.diagnostics[0]
    assert d.code == "W0203" and "did you mean `writer`" in d.message
    assert d.span.line == 7 and d.span.col == 27
    assert any("expansion of macro `ask`" in note for note, _ in d.notes)


def test_many_errors_are_reported_at_once(diags):
    found = diags(AGENTS + """
(defworkflow main []
  (let [a (spawn wirter "x")
        b (spawn critc "y")
        c (loop [x 1] (spawn writer "z"))]
    [a b c]))""")
    assert [c for c, _, _ in found] == ["W0203", "W0203", "W0305"]


def test_spec_json_is_plain_json():
    spec = compile(AGENTS + '(defworkflow main [x] (spawn writer (fmt "{x}")))')
    assert json.loads(spec.to_json())["wlisp_spec"] == 1


def test_error_form_is_a_compile_time_diagnostic_with_the_caller(tmp_path, diags):
    (tmp_path / "lib.wl").write_text('(defn check-n [n] (when (< n 1) (error "n must be >= 1")) n)\n')
    main = tmp_path / "main.wl"
    main.write_text('(import "lib.wl")\n(defworkflow main [] (check-n 0))\n')
    from wlisp.lang.api import check as check_text
    (d,) = check_text(main.read_text(), str(main))
    assert (d.code, d.message) == ("W0403", "n must be >= 1")
    assert d.span.file.endswith("lib.wl")
    assert any(s and s.file == str(main) and s.line == 2 for _, s in d.notes)


def test_nil_options_are_unset_and_returns_takes_expressions():
    spec = compile(AGENTS + """
(defschema S {:x int})
(defn ask [agent prompt opts] (spawn agent prompt :returns (get opts :schema) :timeout nil))
(defworkflow main [] [(ask writer "a" {:schema S}) (ask writer "b" {})])""")
    a, b = spec.graph.nodes
    assert a.returns == "S" and b.returns is None and a.timeout is None


def test_assoc_keeps_a_static_map_with_runtime_values():
    spec = compile(AGENTS + "(defworkflow main [x] (get (assoc {} :a x :b 2) :b))")
    assert spec.graph.result == 2


def test_result_maps_have_plain_string_keys():
    from wlisp.runtime import run

    from .recording import Recorder
    res = run(compile(AGENTS + "(defworkflow main [] {:score 1})"), Recorder(), {})
    (key,) = res.value
    assert type(key) is str


def test_filter_over_static_steps_with_a_runtime_predicate_is_a_runtime_filter():
    from wlisp.runtime import run

    from .recording import Recorder
    spec = compile(AGENTS + """
(defschema R {:ok bool})
(defworkflow main []
  (let [checks [(spawn critic "a" :returns R) (spawn critic "b" :returns R)]]
    (len (filter (fn [c] c.ok) checks))))""")
    assert spec.graph.result["call"] == "len"
    answers = iter([{"ok": True}, {"ok": False}])
    res = run(spec, Recorder({"critic": lambda s: next(answers)}), {})
    assert res.value == 1
