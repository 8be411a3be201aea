"""The compile-time Lisp: what anyone who has written Clojure or Scheme expects
(issue 15). Forms are evaluated in one session, like `wlisp repl`, and compared by
how they print."""

from __future__ import annotations

import pytest

from wlisp.errors import WlispError
from wlisp.lang.api import new_evaluator
from wlisp.lang.compiler import compile_expression
from wlisp.lang.reader import read
from wlisp.values.datum import List, Symbol, pr_str

DEFINITIONS = {"def", "defn", "defmacro", "defagent", "deftool", "defschema", "defworkflow",
               "import"}


class Session:
    def __init__(self):
        self.comp = new_evaluator()
        self.env = self.comp.new_module()

    def eval(self, text: str):
        value = None
        for form in read(text, "t.wl"):
            head = form[0].name if isinstance(form, List) and form and \
                isinstance(form[0], Symbol) else None
            try:
                if head in DEFINITIONS:
                    value = self.comp.guarded(self.comp.eval, form, self.env)
                    if self.comp.diagnostics:
                        raise WlispError(list(self.comp.diagnostics))
                else:
                    value, spec = compile_expression(self.comp, [form], self.env, name="t")
                    assert spec is None, "a compile-time value was expected"
            finally:
                self.comp.diagnostics.clear()
        return value


def lisp(text: str) -> str:
    return pr_str(Session().eval(text))


def code(text: str) -> str:
    with pytest.raises(WlispError) as info:
        Session().eval(text)
    return info.value.diagnostics[0].code


# --- lists stay lists ---------------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("(rest '(7 8 9))", "(8 9)"),
    ("(rest [7 8 9])", "[8 9]"),
    ("(conj '(2 3) 4)", "(4 2 3)"),
    ("(conj '(2 3) 4 5)", "(5 4 2 3)"),
    ("(conj [2 3] 4)", "[2 3 4]"),
    ("(concat '(do) [1 2])", "(do 1 2)"),
    ("(concat [1] '(2))", "[1 2]"),
    ("(map (fn [x] (* 2 x)) '(1 2))", "(2 4)"),
    ("(filter (fn [x] (> x 1)) '(1 2 3))", "(2 3)"),
    ("(sort '(3 1 2))", "(1 2 3)"),
    ("(distinct '(1 1 2))", "(1 2)"),
    ("(vector? '(1 2))", "false"),
    ("(vector? [1 2])", "true"),
    ("(list? '(1 2))", "true"),
    ("(list? [1 2])", "false"),
    ("(sequential? '(1))", "true"),
])
def test_sequence_functions_keep_lists_as_lists(src, printed):
    assert lisp(src) == printed


def test_a_macro_that_builds_a_call_with_concat_expands_to_a_call():
    assert lisp("(defmacro my-do [& body] (concat '(do) body)) (my-do 1 2 3)") == "3"


# --- indexes do not wrap ------------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("(get [1 2] -1)", "nil"), ("(get [1 2] 2)", "nil"), ("(get [1 2] 1)", "2"),
    ("(nth [1 2 3] -1 :none)", ":none"), ("(nth [1 2 3] 2)", "3"),
])
def test_get_out_of_range_is_nil_and_nth_has_its_default(src, printed):
    assert lisp(src) == printed


def test_nth_out_of_range_without_a_default_is_an_error():
    assert code("(nth [1 2 3] -1)") == "W0403"
    assert code("(nth [1 2 3] 3)") == "W0403"
