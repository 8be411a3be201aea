"""Properties: no input, random or well-formed, crashes the compiler with anything
but a diagnostic; and compilation is deterministic."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wlisp.errors import WlispError
from wlisp.lang.api import check, compile
from wlisp.values.datum import Keyword, List, Map, Symbol, Vector, pr_str

PRELUDE = """
(defagent writer :role :implement)
(defagent critic :role :verify)
(defschema V {:passed bool :score number :text string})
"""

FORMS = ["spawn", "let", "if", "when", "cond", "case", "do", "fn", "map", "loop", "classify",
         "tournament", "pipeline", "try", "fail", "human", "fmt", "parallel", "seq", "and", "or",
         "not", "+", "-", "str", "get", "first", "len", "range", "filter", "reduce", "quote",
         "quasiquote", "unquote", "defn", "def", "defmacro", "loop-info"]
NAMES = ["writer", "critic", "V", "x", "y", "task", "prev", "a", "b", "x.passed", "task.score",
         "undefined-thing"]

symbols = st.sampled_from(FORMS + NAMES).map(Symbol)
keywords = st.sampled_from(["max", "until", "returns", "id", "else", "limit", "catch", "format",
                            "after", "trust", "bug", "oops"]).map(Keyword)
atoms = st.one_of(symbols, keywords, st.integers(-3, 5), st.text(max_size=12),
                  st.sampled_from(['"{task}"', "{x}"]).map(str), st.none(), st.booleans())


def _call(children):
    return st.builds(lambda head, args: List([head, *args]), symbols,
                     st.lists(children, max_size=4))


forms = st.recursive(
    atoms,
    lambda inner: st.one_of(_call(inner), st.lists(inner, max_size=4).map(Vector),
                            st.dictionaries(keywords, inner, max_size=3).map(Map)),
    max_leaves=25)


def program(body) -> str:
    return PRELUDE + f"(defworkflow main [task x]\n  {pr_str(body)})\n"


@given(forms)
@settings(max_examples=int(__import__("os").environ.get("WLISP_FUZZ", 500)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_random_well_formed_programs_compile_or_diagnose(body):
    text = program(body)
    try:
        spec = compile(text, "gen.wl")
    except WlispError as err:
        for d in err.diagnostics:
            assert d.code in __import__("wlisp.errors").errors.CODES, d.code
            if d.span is not None:
                assert d.span.line >= 1 and d.span.col >= 1
        return
    # whatever compiles is a valid spec that survives JSON
    from wlisp.ir import WorkflowSpec

    assert WorkflowSpec.from_json(spec.to_json()) == spec


@given(forms)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_compilation_is_deterministic(body):
    text = program(body)
    try:
        first = compile(text, "gen.wl").to_json()
    except WlispError as err:
        again = [(d.code, d.message, d.span) for d in check(text, "gen.wl")]
        assert again == [(d.code, d.message, d.span) for d in check(text, "gen.wl")]
        assert err.diagnostics
        return
    assert compile(text, "gen.wl").to_json() == first


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_random_text_never_crashes_check(text):
    for d in check(text, "fuzz.wl"):
        assert d.code.startswith("W")


def test_a_message_holding_a_function_is_a_diagnostic():
    for form in ("(fail (parallel not))", "(spawn writer [not])", "(error [not])"):
        diags = check(PRELUDE + f"(defworkflow main [] {form})", "msg.wl")
        assert [d.code for d in diags] == ["W0303"], (form, diags)


def test_deep_nesting_is_a_diagnostic():
    deep = "(do " * 3000 + "1" + ")" * 3000
    diags = check(PRELUDE + f"(defworkflow main [] {deep})", "deep.wl")
    assert all(d.code.startswith("W") for d in diags)


@given(forms)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_uncalled_helpers_are_linted_without_crashing(body):
    text = PRELUDE + f"(defn helper [x task] {pr_str(body)})\n(defworkflow main [] 1)\n"
    for d in check(text, "lint.wl"):
        assert d.code in __import__("wlisp.errors").errors.CODES


def test_lint_reports_typos_in_uncalled_helpers_only_once():
    text = PRELUDE + """
(defn helper [topic]
  (let [draft (spawn writer (fmt "about {topic}"))
        again (loop [prev nil] :max 2 (spawn critc (fmt "{prev}")))]
    [draft again (lenn draft) (case topic :a 1 :b 2) '(anything goes here)
     (spawn writer "x" :returns {:score number})]))
(defworkflow main [] 1)
"""
    found = [(d.code, d.message) for d in check(text, "lint.wl")]
    assert found == [("W0203", "unknown agent `critc` (did you mean `critic`?)"),
                     ("W0201", "unknown name `lenn` (did you mean `len`?)")]


def test_a_builtin_passed_where_it_gets_too_few_arguments_is_a_diagnostic():
    """Found by the property above: `(map map [x.passed])` compiled to a spec that
    did not load (`map` called with one argument)."""
    with pytest.raises(WlispError) as info:
        compile(PRELUDE + "(defworkflow main [task x]\n  (map map [x.passed]))\n", "gen.wl")
    assert [d.code for d in info.value.diagnostics] == ["W0301"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=80) | st.dictionaries(st.text(max_size=5), inner,
                                                                   max_size=80),
    max_leaves=400)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
@example(list(range(20)))  # more short items than a fixed cut would keep
@example([[[[[[1, 2]]]]]])  # deeper than a fixed depth
@example({"doc": "word " * 10_000, "n": 1})
def test_a_label_reads_the_start_of_an_item_as_rendering_it_whole_would(value):
    """Labels cut a large item before rendering it (a map over documents stays cheap),
    and read exactly as the label of the whole rendering."""
    from wlisp.values import builtins as B

    whole = " ".join(B.render(value)[:120].split())
    expected = whole if len(whole) <= 30 else whole[:29] + "…"
    assert B.short_label(value) == expected
