"""Every bad input is a diagnostic, never a Python exception: the crashes that fuzzing
found in files (byte order marks), in compile-time values (map keys, numbers out of
range) and in WorkflowSpec JSON, one regression test each."""

import copy
import json

import pytest

from wlisp.errors import Sources, WlispError, render_all
from wlisp.ir import WorkflowSpec
from wlisp.lang.api import check, compile, compile_file

AGENTS = "(defagent writer :role :implement)\n"


def _codes_at(src):
    return [(d.code, d.span.line, d.span.col) for d in check(AGENTS + src, "t.wl")]


# --- files -------------------------------------------------------------------------

BOM = "\ufeff"


def test_a_byte_order_mark_before_a_file_is_skipped(tmp_path):
    (tmp_path / "lib.wl").write_text(BOM + '(defn ask [q] (fmt "Q: {q}"))\n', encoding="utf-8")
    main = tmp_path / "main.wl"
    main.write_text(BOM + '(import "lib.wl")\n(defworkflow main [] (ask "why"))\n',
                    encoding="utf-8")
    assert compile_file(main).graph.result == "Q: why"


def test_spans_after_a_byte_order_mark_are_those_an_editor_shows():
    text = BOM + "(defworkflow main [] zork)"
    (d,) = check(text, "t.wl")
    assert (d.code, d.span.line, d.span.col) == ("W0201", 1, 22)
    sources = Sources()
    with pytest.raises(WlispError) as info:
        compile(text, "t.wl", sources=sources)
    shown = render_all(info.value.diagnostics, sources).splitlines()
    assert shown[2:] == ["1 | (defworkflow main [] zork)", "  |                      ^^^^"]


# --- compile-time values -----------------------------------------------------------

@pytest.mark.parametrize("body,code,col", [
    ("{+ x}", "W0303", 24),                     # a builtin: has no JSON form
    ("{+ 1}", "W0303", 24),
    ("{(fn [] 1) x}", "W0303", 24),              # a function
    ("{writer x}", "W0303", 24),                 # an agent
    ("[{:a 1 + x}]", "W0303", 30),
    ("{(assoc {} :a 1) 2}", "W0303", 24),        # a map cannot be a key
    ("{x 1}", "W0309", 24),                      # a runtime value cannot be a key
])
def test_a_map_key_must_be_data_known_at_compile_time(body, code, col):
    assert _codes_at(f"(defworkflow main [x] {body})") == [(code, 2, col)]


def test_a_map_with_a_function_key_is_refused_where_it_is_written():
    assert _codes_at("(def table {+ 1})\n(defworkflow main [] 1)") == [("W0303", 2, 13)]


def test_a_branch_whose_value_is_not_data_is_reported_at_the_branch():
    assert _codes_at("(defworkflow main [x] (if x (assoc {} + 1) 2))") == [("W0309", 2, 29)]


def test_keys_that_are_data_still_work():
    spec = compile(AGENTS + '(defworkflow main [x] {:a x "b" x 1 x nil x [1 2] x})', "t.wl")
    assert [k for k, _ in spec.graph.result["map"]] == ["a", "b", "1", "", "[1, 2]"]


@pytest.mark.parametrize("expr", [
    "(* 1e308 10)", "(+ 1e308 1e308)", "(- -1e308 1e308)", "(/ 1e308 1e-308)",
    "(let [a 1e200] (* a a))",
    f"(* {'9' * 4300} 10)",                        # an integer too long to write out
    "(reduce * 1 (range 1 3000))",
    '(parse-json "NaN")', '(parse-json "1e999")', '(parse-json "[-Infinity]")',
    '(parse-json "\\"\\\\ud800\\"")',              # JSON text with a lone surrogate
])
def test_numbers_and_text_out_of_range_are_compile_time_errors(expr):
    src = f"(defworkflow main [] {expr})"
    assert [code for code, _, _ in _codes_at(src)] == ["W0403"]


@pytest.mark.parametrize("expr", [
    '(reduce (fn [a i] (str a a)) "ab" (range 40))',            # text doubling each time
    '(reduce (fn [a i] (join [a a a])) "ab" (range 30))',
    '(reduce (fn [a i] (replace a "a" "aaaaaaaaaa")) "a" (range 12))',
    '(reduce (fn [a i] (concat a a)) [1] (range 40))',           # a vector doubling
    '(reduce (fn [a i] (json [a a])) "ab" (range 40))',
    '(let [big (reduce (fn [a i] (str a a)) "a" (range 23))]'    # 8 MB, fine; a hundred
    ' (str (map (fn [i] big) (range 100))))',                    # of them are not
])
def test_text_and_vectors_that_would_exhaust_memory_are_errors(expr):
    src = f"(defworkflow main [] {expr})"
    assert [code for code, _, _ in _codes_at(src)] == ["W0403"]


def test_arithmetic_out_of_range_at_run_time_is_refused_too():
    from wlisp.values.library import BuiltinError, apply

    for name, args in [("*", [1e308, 10]), ("+", [10 ** 4299 * 9, 10 ** 4299 * 9]),
                       ("-", [-1e308, 1e308]), ("/", [1e308, 1e-308])]:
        with pytest.raises(BuiltinError):
            apply(name, args)


# --- WorkflowSpec JSON -------------------------------------------------------------

SPEC_SOURCE = AGENTS + """
(defschema R {:ok bool})
(defworkflow main [xs]
  (let [a (spawn writer "go" :returns R)
        b (loop [prev nil] :max 2 (spawn writer (fmt "again {prev}")))]
    (when a.ok (filter (fn [x] (> x 1)) xs))))
"""
SPEC = json.loads(compile(SPEC_SOURCE, "s.wl").to_json())


def _load(data) -> list[str]:
    """The codes `from_json` reports, once each; any other exception fails the test."""
    text = data if isinstance(data, str) else json.dumps(data)
    try:
        WorkflowSpec.from_json(text)
    except WlispError as err:
        return sorted({d.code for d in err.diagnostics})
    return []


def _with(path, value):
    data = copy.deepcopy(SPEC)
    *keys, last = path
    target = data
    for k in keys:
        target = target[k]
    target[last] = value
    return data


@pytest.mark.parametrize("expr", [
    {"get": {"ref": "main/a"}},                 # no path: the runtime raised KeyError
    {"get": {"ref": "main/a"}, "path": "ok"},
    {"get": {"ref": "main/a"}, "path": [["ok"]]},
    {"fn": {"params": ["x"]}},                  # no body
    {"fn": 3}, {"fn": {"params": "x", "body": 1}}, {"fn": {"params": [], "body": 1, "x": 2}},
    {"call": "str"},                            # no args
    {"call": 5, "args": []}, {"call": "str", "args": 5},
    {"ref": ["main/a"]}, {"ref": None}, {"info": {}}, {"input": 5}, {"var": {}},
    {"var": "x", "in": 5},
    {"vec": 5}, {"map": [1]}, {"map": [[1, 2]]}, {"map": [["a"]]}, {"map": [["a", 1, 2]]},
    {"if": [1]}, {"if": 5}, {"and": 5}, {"or": {"a": 1}},
    {"lit": 1, "ref": "main/a"},                # two expressions in one object
    {"path": ["a"]}, {"in": "x"}, {"args": []}, {}, {"teleport": 1},
    [1, 2],                                     # a bare array
    {"vec": [1, {"if": [1, 2]}]},               # nested problems are found too
    {"call": "get", "args": []},                # the runtime raised ExprError planning it
    {"call": "not", "args": [1, 2]},
])
def test_a_malformed_expression_is_refused(expr):
    assert _load(_with(["graph", "result"], expr)) == ["W0601"]


def _node(kind, data=None):
    data = data or SPEC
    return next(i for i, n in enumerate(data["graph"]["nodes"]) if n["kind"] == kind)


@pytest.mark.parametrize("field,value", [
    ("agent", ["writer"]), ("agent", 5), ("returns", 5), ("retries", -1), ("retries", "2"),
    ("timeout", 0), ("max_steps", 0), ("trust", "maybe"), ("role", "wizard"), ("model", 1),
    ("after", "main/b"), ("after", [1]), ("id", ""), ("id", 7), ("span", [1, 2]),
    ("prompt", {"call": "str"}),
])
def test_a_spawn_node_with_a_wrong_field_is_refused(field, value):
    assert _load(_with(["graph", "nodes", _node("spawn"), field], value)) == ["W0601"]


@pytest.mark.parametrize("path,value", [
    (["graph"], {"result": 1}),                  # a graph without nodes
    (["graph", "nodes"], 5), (["graph", "nodes"], [5]), (["graph", "params"], "xs"),
    (["graph", "nodes", 0], {"kind": "spawn"}),  # a node without id
    (["agents", "writer", "tools"], 5), (["agents", "writer", "tools"], [["grep"]]),
    (["agents", "writer", "role"], "wizard"), (["agents", "writer", "exclusive"], "yes"),
    (["tools"], {"grep": {"command": "grep -r"}}), (["schemas", "R"], 5),
    (["name"], None), (["params"], [1]), (["budget"], {"steps": "x"}), (["concurrency"], 0),
    (["wlisp_spec"], "1"), (["span"], ["s.wl", 1]),
])
def test_a_document_with_a_wrong_part_is_refused(path, value):
    assert _load(_with(path, value)) == ["W0601"]


def test_a_loop_node_with_a_wrong_field_is_refused():
    i = _node("loop")
    assert _load(_with(["graph", "nodes", i, "body"], {"result": 1})) == ["W0601"]
    assert _load(_with(["graph", "nodes", i, "max"], "3")) == ["W0601"]
    assert _load(_with(["graph", "nodes", i, "max"], 0)) == ["W0604"]


def test_a_newer_version_written_as_a_float_is_still_newer():
    assert _load(_with(["wlisp_spec"], 2.0)) == ["W0606"]


@pytest.mark.parametrize("text", [
    '{"wlisp_spec": 1, "name": "m", "graph": {"nodes": [], "result": NaN}}',
    '{"wlisp_spec": 1, "name": "m", "graph": {"nodes": [], "result": -Infinity}}',
    '{"wlisp_spec": 1, "name": "m", "graph": {"nodes": [], "result": 1e999}}',
    '{"wlisp_spec": 1, "name": "m", "graph": {"nodes": [], "result": "\\ud800"}}',
    '{"wlisp_spec": 1, "name": "m", "graph": {"nodes": [], "result": {"lit": {"\\udfff": 1}}}}',
    '{"wlisp_spec": 1, "name": "m", "graph": {"nodes": [], "result": ' + "9" * 5000 + "}}",
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 100_000 + "1" + "}" * 100_000,
    "\ufeff{}", "", "null", "[]", '"spec"', "{",
])
def test_text_that_is_not_a_json_spec_is_refused(text):
    assert _load(text) == ["W0601"]


def test_a_surrogate_pair_in_json_text_is_one_character():
    text = '{"wlisp_spec": 1, "name": "m", "graph": {"nodes": [], "result": "\\ud83d\\ude00"}}'
    spec = WorkflowSpec.from_json(text)
    assert spec.graph.result == "\U0001F600"
    spec.to_json().encode("utf-8")


def _nested_loops(depth: int) -> str:
    head = '{"nodes": [{"id": "main/l", "kind": "loop", "max": 1, "body": '
    inner = '{"nodes": [], "result": null}'
    graph = head * depth + inner + '}], "result": null}' * depth
    return '{"wlisp_spec": 1, "name": "m", "graph": ' + graph + "}"


def test_deeply_nested_graphs_are_refused_not_a_recursion_error():
    assert _load(_nested_loops(3000)) == ["W0601"]
    with pytest.raises(WlispError, match="graphs nest 101 deep; at most 100"):
        WorkflowSpec.from_json(_nested_loops(100))


def _nested_ifs(n: int) -> str:
    return "(defworkflow main [x] " + "(if x 1 " * n + "2" + ")" * n + ")"


def test_the_compiler_refuses_graphs_nested_deeper_than_the_loader_takes():
    spec = compile(_nested_ifs(99), "deep.wl")        # 100 graphs, one in the other
    assert WorkflowSpec.from_json(spec.to_json()) == spec
    (d,) = check(_nested_ifs(100), "deep.wl")
    assert (d.code, d.span.line, d.span.col) == ("W0405", 1, 23 + 99 * len("(if x 1 "))


def test_a_deep_expression_the_compiler_wrote_still_loads():
    src = "(defworkflow main [x] " + "(+ x " * 2000 + "1" + ")" * 2000 + ")"
    spec = compile(src, "deep.wl")
    assert WorkflowSpec.from_json(spec.to_json()) == spec


def test_a_span_written_with_floats_still_renders_a_caret():
    data = _with(["graph", "nodes", _node("spawn"), "agent"], "nobody")
    data["graph"]["nodes"][_node("spawn")]["span"] = ["s.wl", 5.0, 11.0, 5, 17]
    with pytest.raises(WlispError) as info:
        WorkflowSpec.from_json(json.dumps(data))
    sources = Sources()
    sources.add("s.wl", SPEC_SOURCE)
    shown = render_all(info.value.diagnostics, sources)
    assert shown.startswith("s.wl:5:11: error[W0602]") and "^^^^^^" in shown


def test_an_empty_budget_round_trips():
    spec = WorkflowSpec.from_json(json.dumps(_with(["budget"], {})))
    assert WorkflowSpec.from_json(spec.to_json()) == spec


def _drop(kind, field):
    data = copy.deepcopy(SPEC)
    node = next(n for n in _all_nodes(data) if n["kind"] == kind)
    del node[field]
    return data


def _all_nodes(data):
    stack = [data["graph"]]
    while stack:
        g = stack.pop()
        for n in g["nodes"]:
            yield n
            stack.extend(v for v in n.values() if isinstance(v, dict) and "nodes" in v)


def test_a_node_without_the_graph_its_kind_runs_is_refused():
    """A loop without `body` loaded, then the scheduler raised AttributeError."""
    assert _load(_drop("loop", "body")) == ["W0601"]
    pipeline = {"id": "main/p", "kind": "pipeline", "items": {"input": "xs"}}
    data = _with(["graph", "nodes"], [*SPEC["graph"]["nodes"], pipeline])
    assert _load(data) == ["W0601"]
    tried = {"id": "main/t", "kind": "try", "catch": {"nodes": [], "result": 1}}
    assert _load(_with(["graph", "nodes"], [*SPEC["graph"]["nodes"], tried])) == ["W0601"]


@pytest.mark.parametrize("schema", [
    {"type": "\nPer criterion:\n"}, {"properties": ["ok"]}, {"required": [["ok"]]},
    {"type": "object", "properties": {"ok": {"enum": 5}}},
])
def test_a_schema_that_is_not_a_json_schema_is_refused(schema):
    """jsonschema raised UnknownType, AttributeError or TypeError when a step answered."""
    assert _load(_with(["schemas", "R"], schema)) == ["W0601"]
    assert _load(_with(["graph", "nodes", _node("spawn"), "returns"], schema)) == ["W0601"]
