"""Properties: whatever text reaches `compile` and whatever JSON reaches
`WorkflowSpec.from_json`, the answer is a spec or WlispError, never another
exception; and whatever comes out is JSON data (no NaN, no Infinity, no lone
surrogates) that loads back as the same spec.

`WLISP_FUZZ=N` runs N examples of each property instead of the default.
"""

import copy
import glob
import json
import os

import jsonschema
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import wlisp
from wlisp.errors import CODES, WlispError
from wlisp.executors.mock import MockExecutor
from wlisp.ir import WorkflowSpec
from wlisp.ir.expr import ARGS, FORMS, expr_problems, expr_schema
from wlisp.ir.nodes import KINDS
from wlisp.ir.spec import BUG_MARK
from wlisp.lang.api import compile, compile_file
from wlisp.runtime.expr import compile_expr
from wlisp.values import jsondata

from .conftest import ROOT


def _examples(default: int) -> int:
    return int(os.environ.get("WLISP_FUZZ", default))


def fuzz_settings(default: int):
    return settings(max_examples=_examples(default), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def assert_strict_json(text: str) -> None:
    """JSON data every JSON tool can read: no NaN or Infinity, no lone surrogates."""
    data = jsondata.loads(text)
    json.dumps(data, allow_nan=False).encode("utf-8")
    text.encode("utf-8")


def assert_reloads(spec: WorkflowSpec) -> None:
    text = spec.to_json()
    assert_strict_json(text)
    assert WorkflowSpec.from_json(text) == spec


# --- source text -------------------------------------------------------------------

PRELUDE = '(defagent w :role :implement)\n(defschema S {:ok bool :n number})\n'
SYNTAX = ["(", ")", "[", "]", "{", "}", "'", "`", "~", "~@", " ", "\n", ",", ";c\n", "\ufeff"]
# atoms that read, and atoms at or past a limit of the reader
GOOD = [
    "0", "-1", "1.5", "1e308", "-1e308", "1e-999", "9" * 4300, '"ok"', '"{x}"', '"\\n\\t"',
    '"\\ud83d\\ude00"', '"\\u{1F600}"', '"""\n  tri {x}\n  """', "defworkflow", "main",
    "defagent", "defn", "def", "fn", "let", "if", "do", "spawn", "map", "loop", ":max",
    ":until", ":returns", "S", "w", "x", "x.ok", "fmt", "str", "+", "*", "/", "-", "get",
    "assoc", "keys", "parse-json", "json", "range", "reduce", "filter", "sort", "len",
    "first", "tournament", "classify", "try", ":catch", "nil", "true", ":k", "&",
    '"NaN"', '"1e999"', '"[1e999]"', '"\\"\\\\ud800\\""',  # text for parse-json
]
BAD = [
    "1e999", "-1e999", "9" * 4301, "-" + "9" * 4301, "1" * 400 + ".5", "0x10", "1e", ".5",
    '"\\ud800"', '"\\udc00"', '"\\ude00\\ud83d"', '"\\u{d800}"', '"\\u{110000}"',
    '"\\u12"', '"\\q"', '"unterminated', '"\\', ":", "a..b",
]
token_soup = st.lists(st.one_of(st.sampled_from(SYNTAX + GOOD + BAD), st.text(max_size=3)),
                      max_size=40).map(" ".join)
# mostly good atoms in balanced brackets, so that more of them reach evaluation
HEADS = [t for t in GOOD if t[0].isalpha() or t in "+*/-"]
trees = st.recursive(
    st.sampled_from(GOOD * 8 + BAD),
    lambda inner: st.one_of(
        st.builds(lambda h, xs: f"({' '.join([h, *xs])})", st.sampled_from(HEADS),
                  st.lists(inner, max_size=4)),
        st.lists(inner, max_size=4).map(lambda xs: f"[{' '.join(xs)}]"),
        st.lists(st.tuples(st.one_of(st.sampled_from(HEADS), inner), inner), max_size=3).map(
            lambda kvs: "{" + " ".join(f"{k} {v}" for k, v in kvs) + "}")),
    max_leaves=20)


@st.composite
def programs(draw):
    body = draw(st.one_of(token_soup, trees))
    shape = draw(st.sampled_from(["raw", "body", "bom-body"]))
    if shape == "raw":
        return body
    text = PRELUDE + f"(defworkflow main [x]\n  {body})\n"
    return "\ufeff" + text if shape == "bom-body" else text


@given(programs())
@fuzz_settings(300)
def test_any_text_compiles_or_is_a_diagnostic(text):
    try:
        spec = compile(text, "soup.wl")
    except WlispError as err:
        assert err.diagnostics
        event(f"refused: {err.diagnostics[0].code}")
        for d in err.diagnostics:
            assert d.code in CODES, d
            assert d.span is None or (d.span.line >= 1 and d.span.col >= 1), d
        return
    event("compiled")
    assert_reloads(spec)


# --- WorkflowSpec JSON -------------------------------------------------------------

def _base_specs() -> list[dict]:
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.wl"),
                                 recursive=True)):
        try:
            out.append(json.loads(compile_file(path).to_json()))
        except WlispError:  # a file that needs --workflow
            continue
    return out


BASES = _base_specs()
HOLE = "\x00hole\x00"

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-10 ** 4299, 10 ** 4299),
    st.floats(),  # NaN and Infinity included: json.dumps writes them, JSON has none
    st.text(max_size=8), st.sampled_from(["\ud800", "\udfff", "main", "main/x", "+", "lit",
                                          "spawn", ""]))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(sorted(FORMS) + sorted(ARGS)
                                                            + ["id", "kind", "nodes", "x"]),
                                            inner, max_size=3)),
    max_leaves=8)


def _slots(doc) -> list[tuple]:
    """Every (container, key) in the document, without recursion."""
    out, stack = [], [doc]
    while stack:
        x = stack.pop()
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
        for k, v in items:
            out.append((x, k))
            stack.append(v)
    return out


def _mutate(doc, draw) -> str | None:
    """Apply one random mutation to `doc`; return text when the mutation is textual."""
    slots = _slots(doc)
    if not slots:
        return None
    container, key = draw(st.sampled_from(slots))
    op = draw(st.sampled_from(["delete", "replace", "wrap", "text", "kind", "swap", "copy"]))
    if op == "delete":
        del container[key]
    elif op == "replace":
        container[key] = draw(json_values)
    elif op == "wrap":
        for _ in range(draw(st.integers(1, 30))):
            container[key] = draw(st.sampled_from([
                {"vec": [container[key]]}, [container[key]], {"get": container[key]},
                {"lit": container[key]}, {"nodes": [container[key]]}]))
    elif op == "kind":
        nodes = [c for c, k in slots if k == "kind" and isinstance(c, dict)]
        if nodes:
            draw(st.sampled_from(nodes))["kind"] = draw(st.sampled_from(KINDS))
    elif op in ("swap", "copy"):
        other, okey = draw(st.sampled_from(slots))
        value = copy.deepcopy(other[okey])
        if op == "swap":
            other[okey] = container[key]
        container[key] = value
    else:  # what json.dumps cannot write: nesting thousands deep, numbers past the limits
        inner = draw(st.sampled_from(RAW)) if draw(st.booleans()) else json.dumps(container[key])
        depth = draw(st.sampled_from([0, 200, 5_000, 100_000]))
        opener, closer = draw(st.sampled_from([('{"vec": [', "]}"), ("[", "]"), ('{"a": ', "}")]))
        container[key] = HOLE
        return json.dumps(doc).replace(json.dumps(HOLE), opener * depth + inner
                                       + closer * depth)
    return None


RAW = ["9" * 4301, "-" + "9" * 5000, "1e999", "-1e999", "1e308", "NaN", "Infinity", "-Infinity",
       '"\\ud800"', '"\\udfff\\ud800"', '"\\ud83d\\ude00"', '"\\u0000"']


@st.composite
def mutated_specs(draw):
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        text = _mutate(doc, draw)
        if text is not None:
            return text
    return json.dumps(doc, ensure_ascii=draw(st.booleans()))


def _expressions(spec: WorkflowSpec):
    stack = [spec.graph]
    while stack:
        graph = stack.pop()
        yield graph.result
        for node in graph.nodes:
            for name, holds, _ in node.fields():
                if holds == "expr":
                    yield getattr(node, name)
            stack.extend(node.graphs())


@given(mutated_specs())
@fuzz_settings(300)
def test_any_json_loads_as_a_valid_spec_or_is_a_diagnostic(text):
    try:
        spec = WorkflowSpec.from_json(text)
    except WlispError as err:
        assert err.diagnostics
        event(f"refused: {err.diagnostics[0].code}")
        for d in err.diagnostics:
            assert d.code.startswith("W06"), d
            assert BUG_MARK not in d.message, d.message  # the last net caught it: a bug
        return
    event("loaded")
    assert_reloads(spec)
    for e in _expressions(spec):  # what loads, the runtime can compile
        compile_expr(e)


@given(mutated_specs())
@fuzz_settings(100)
def test_a_spec_that_loads_runs_to_an_end(text):
    """The loader refuses what the runtime cannot run: a loop without a body, a schema
    that is not a JSON Schema, a builtin called with the wrong number of arguments."""
    try:
        spec = WorkflowSpec.from_json(text)
    except WlispError:
        return
    result = wlisp.run(spec, executor=MockExecutor(), inputs={p: "x" for p in spec.params})
    event(f"ran: {result.status}")
    assert result.status in ("completed", "failed", "paused", "budget_exhausted", "cancelled")


# --- the expression vocabulary: its checks and its published schema agree ---------

_EXPR_VALIDATOR = jsonschema.Draft202012Validator(
    {"$ref": "#/$defs/expr", "$defs": {"expr": expr_schema()}})
expr_like = st.recursive(
    st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=3), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(sorted(FORMS) + sorted(ARGS) + ["params", "body"]),
                        inner, min_size=1, max_size=3),
        st.builds(lambda k, v: {k: v}, st.sampled_from(sorted(FORMS)), inner),
        st.builds(lambda p, b: {"fn": {"params": p, "body": b}},
                  st.lists(st.text(max_size=2), max_size=2), inner)),
    max_leaves=12)


@given(expr_like)
@fuzz_settings(500)
def test_the_expression_checks_and_the_published_schema_agree(e):
    problems = list(expr_problems(e))
    assert _EXPR_VALIDATOR.is_valid(e) == (not problems), problems


def test_a_loaded_loop_whose_until_is_not_a_function_fails_as_a_step():
    """Found by the 25,000-example run of the property above: a TypeError escaped."""
    spec = compile('(defagent w) (defworkflow main [] (loop [d nil] :max 2 '
                   ':until (fn [v] true) (spawn w "x")))')
    data = json.loads(spec.to_json())
    data["graph"]["nodes"][0]["until"] = {"lit": [1]}
    result = wlisp.run(WorkflowSpec.from_dict(data), executor=MockExecutor(), inputs={})
    assert result.status == "failed" and "is not a function" in result.error


def test_a_loaded_prompt_that_renders_a_function_fails_as_a_step():
    """Found by the same run: `str` over a function raised out of the scheduler."""
    spec = compile("(defagent w) (defworkflow main [x] (spawn w (str \"a \" x)))")
    data = json.loads(spec.to_json())
    fn = {"fn": {"params": ["x"], "body": 1}}
    for args in (["a ", fn], ["a ", fn, " b"]):
        data["graph"]["nodes"][0]["prompt"] = {"call": "str", "args": args}
        result = wlisp.run(WorkflowSpec.from_dict(data), executor=MockExecutor(),
                           inputs={"x": "1"})
        assert result.status == "failed" and "no JSON form" in result.error
