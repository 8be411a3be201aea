"""Every bad input is a diagnostic, never a Python exception: the crashes that fuzzing
found in files (byte order marks), in compile-time values (map keys, numbers out of
range) and in WorkflowSpec JSON, one regression test each."""


import pytest

from wlisp.errors import Sources, WlispError, render_all
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


def test_arithmetic_out_of_range_at_run_time_is_refused_too():
    from wlisp.values.builtins import BuiltinError, apply

    for name, args in [("*", [1e308, 10]), ("+", [10 ** 4299 * 9, 10 ** 4299 * 9]),
                       ("-", [-1e308, 1e308]), ("/", [1e308, 1e-308])]:
        with pytest.raises(BuiltinError):
            apply(name, args)
