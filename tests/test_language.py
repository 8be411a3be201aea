"""The compile-time Lisp: what anyone who has written Clojure or Scheme expects
(issue 15). Forms are evaluated in one session, like `wlisp repl`, and compared by
how they print."""

from __future__ import annotations

import pytest

from wlisp.errors import WlispError
from wlisp.lang.reader import read
from wlisp.values.datum import pr_str

from .test_docs import Session as DocsSession


class Session(DocsSession):
    """The docs' REPL-like session; here every value must be known at compile time."""

    def __init__(self):
        super().__init__("test_language")

    def eval(self, text: str):
        value = None
        for form in read(text, "t.wl"):
            value, spec = self.eval_form(form)
            assert spec is None, "a compile-time value was expected"
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


# --- nested quasiquote, gensym ------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("(def x 5) `(a `(b ~x))", "(a (quasiquote (b (unquote x))))"),
    ("(def x 5) `(a `(b ~~x))", "(a (quasiquote (b (unquote 5))))"),
    ("(def xs [1 2]) `(a `(b ~@xs ~~@xs))", "(a (quasiquote (b (unquote-splicing xs) "
                                             "(unquote 1 2))))"),
    ("`(let [t# 1 u# t#] [t# u#])", "(let [t__1__auto 1 u__2__auto t__1__auto] "
                                    "[t__1__auto u__2__auto])"),
    ("(gensym)", "G__1__auto"), ('(gensym "tmp")', "tmp__1__auto"),
])
def test_quasiquote_nests_and_names_fresh_symbols(src, printed):
    assert lisp(src) == printed


def test_a_macro_with_auto_gensyms_does_not_capture_the_callers_names():
    assert lisp("(defmacro add-twice [a] `(let [t# ~a] (+ t# t#))) "
                "(let [t 10] (add-twice (+ t 1)))") == "22"


# --- definitions and depth ----------------------------------------------------------------

def test_a_failed_def_keeps_the_previous_value():
    s = Session()
    s.eval("(def w 123)")
    with pytest.raises(WlispError):
        s.eval("(def w (abc))")
    assert pr_str(s.eval("w")) == "123"
    assert pr_str(s.eval("(+ w 1)")) == "124"


def test_recursion_in_the_repl_reaches_the_documented_bound_then_w0402():
    import subprocess

    from .conftest import wlisp_bin

    src = "(defn f [n] (if (= n 0) 0 (+ 1 (f (- n 1)))))\n(f 85)\n(f 299)\n(f 400)\n"
    res = subprocess.run([wlisp_bin(), "repl"], input=src, capture_output=True, text=True,
                         timeout=60)
    assert "\n85\n" in res.stdout + "\n" and "299" in res.stdout
    assert "W0402" in res.stdout + res.stderr and "RecursionError" not in res.stderr
    assert "maximum recursion depth" not in res.stdout + res.stderr


def test_seq_is_clojures_and_in_order_sequences_steps():
    assert lisp("(seq [])") == "nil" and lisp("(seq [1 2])") == "(1 2)"
    from wlisp.lang.api import compile

    spec = compile('(defagent w) (defworkflow main [] (in-order (spawn w "a") (spawn w "b")))')
    first, second = spec.graph.nodes
    assert second.after == [first.id] or first.id in str(second.to_json())


# --- more of the core ---------------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("(inc 1)", "2"), ("(dec 1)", "0"),
    ("(some (fn [x] (> x 2)) [1 2 3 4])", "true"), ("(some (fn [x] nil) [1])", "nil"),
    ("(every? (fn [x] (> x 0)) [1 2])", "true"),
    ("(remove (fn [x] (> x 1)) '(1 2 3))", "(1)"),
    ("(take 2 '(1 2 3))", "(1 2)"), ("(drop 1 [1 2 3])", "[2 3]"),
    ("(take-while (fn [x] (< x 3)) [1 2 3 1])", "[1 2]"),
    ("(drop-while (fn [x] (< x 3)) [1 2 3 1])", "[3 1]"),
    ("(mapcat (fn [x] [x x]) [1 2])", "[1 1 2 2]"),
    ("(into [] '(1 2))", "[1 2]"), ("(into '(1) [2 3])", "(3 2 1)"),
    ("(into {} [[:a 1]])", "{:a 1}"),
    ("(merge {:a 1} {:b 2} nil)", "{:a 1 :b 2}"),
    ("(update {:a 1} :a inc)", "{:a 2}"),
    ("(assoc-in {} [:a :b] 1)", "{:a {:b 1}}"),
    ("(update-in {:a {:b 1}} [:a :b] inc)", "{:a {:b 2}}"),
    ("(select-keys {:a 1 :b 2} [:a :c])", "{:a 1}"),
    ("(group-by (fn [x] (mod x 2)) [1 2 3])", "{1 [1 3] 0 [2]}"),
    ("(sort-by (fn [x] (- x)) [1 3 2])", "[3 2 1]"),
    ("(reverse '(1 2 3))", "(3 2 1)"),
    ("(identity 3)", "3"), ("(frequencies [:a :b :a])", "{:a 2 :b 1}"),
    ("(zipmap [:a :b] [1 2])", "{:a 1 :b 2}"),
    ("(interleave [1 2] [:a :b])", "[1 :a 2 :b]"),
    ("(partition 2 [1 2 3 4 5])", "[[1 2] [3 4]]"),
    ("(partition 2 1 [1 2 3])", "[[1 2] [2 3]]"),
    ("(list 1 2)", "(1 2)"), ("(cons 0 [1 2])", "(0 1 2)"), ("(vec '(1 2))", "[1 2]"),
    ("(vector 1 2)", "[1 2]"), ("(hash-map :a 1)", "{:a 1}"),
    ('(keyword "a")', ":a"), ("(keyword 'b)", ":b"), ('(symbol "x")', "x"),
    ("(name :k)", '"k"'), ("(name 'sym)", '"sym"'),
    ('(pr-str [1 "a" :k])', '"[1 \\"a\\" :k]"'),
    ("(apply + 1 [2 3])", "6"), ('(apply str ["a" "b"])', '"ab"'),
    ("(symbol? 'x)", "true"), ("(keyword? :a)", "true"), ("(int? 1.5)", "false"),
    ("(int? 2)", "true"), ("(some? nil)", "false"), ("(boolean? false)", "true"),
    ("(true? 1)", "false"), ("(false? false)", "true"),
    ("[(fn? inc) (fn? (fn [x] x)) (fn? 1)]", "[true true false]"),
])
def test_more_of_the_core(src, printed):
    assert lisp(src) == printed


def test_the_new_functions_also_work_on_run_time_values():
    import wlisp
    from wlisp.executors.mock import MockExecutor
    from wlisp.lang.api import compile

    spec = compile('(defworkflow main [x] (let [xs (split x ",")] '
                   '[(inc (len x)) (take 2 xs) (some (fn [s] (= s "b")) xs) '
                   '(sort-by (fn [s] (len s)) xs) (reverse xs) (frequencies xs) '
                   '(update {:n 1} :n (fn [v] (+ v (len xs)))) (merge {:a 1} {:b x}) '
                   '(group-by (fn [s] (len s)) xs) (mapcat (fn [s] [s s]) (take 1 xs))]))')
    assert "inc" in spec.to_json() and "sort-by" in spec.to_json()  # residual calls
    res = wlisp.run(spec, executor=MockExecutor(), inputs={"x": "a,bb,b"})
    assert res.status == "completed", res.error
    assert res.value == [7, ["a", "bb"], True, ["a", "b", "bb"], ["b", "bb", "a"],
                         {"a": 1, "bb": 1, "b": 1}, {"n": 4}, {"a": 1, "b": "a,bb,b"},
                         {"1": ["a", "b"], "2": ["bb"]}, ["a", "a"]]


def test_apply_needs_its_arguments_at_compile_time():
    from wlisp.lang.api import compile

    with pytest.raises(WlispError) as info:
        compile('(defworkflow main [x] (apply str (split x ",")))')
    assert info.value.diagnostics[0].code == "W0309"


# --- map destructuring --------------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("(let [{:keys [a b] :or {b 9} :as m} {:a 1}] [a b m])", "[1 9 {:a 1}]"),
    ("(let [{x :k} {:k 5}] x)", "5"),
    ("(defn f [{:keys [n]}] (* n 2)) (f {:n 4})", "8"),
    ('((fn [{:strs [s]}] s) {"s" 3})', "3"),
    ("(let [[{:keys [a]} b] [{:a 1} 2]] [a b])", "[1 2]"),
])
def test_map_destructuring_in_let_fn_and_defn(src, printed):
    assert lisp(src) == printed


def test_map_destructuring_of_a_steps_structured_answer():
    import wlisp
    from wlisp.executors.mock import MockExecutor
    from wlisp.lang.api import compile

    spec = compile('(defagent w) (defworkflow main [] (let [{:keys [score tag] :or '
                   '{tag "none"}} (spawn w "rate" :returns {:score int :tag string})] '
                   '[score tag]))')
    assert spec.graph.nodes[0].id == "main/score"  # named after the first key
    res = wlisp.run(spec, executor=MockExecutor(), inputs={})
    assert res.status == "completed" and isinstance(res.value[0], int)


# --- threading, binding conditionals, macroexpand -----------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("(-> 1 (+ 2) (* 3))", "9"), ('(-> "a,b" (split ",") first upper)', '"A"'),
    ("(->> [1 2 3] (map inc) (reduce +))", "9"),
    ("(cond-> 1 true inc false (* 10) true (* 2))", "4"),
    ("(if-let [x (get {:a 5} :a)] (* x 2) :none)", "10"), ("(if-let [x nil] 1 2)", "2"),
    ("(when-let [[a b] [1 2]] (+ a b))", "3"), ("(when-let [x false] 1)", "nil"),
    ("(defmacro unless [t & body] `(if ~t nil (do ~@body))) "
     "(macroexpand-1 '(unless x 1 2))", "(if x nil (do 1 2))"),
    ("(defmacro m1 [x] `(m2 ~x)) (defmacro m2 [x] `(+ ~x 1)) "
     "[(macroexpand-1 '(m1 5)) (macroexpand '(m1 5)) (macroexpand '(+ 1 2))]",
     "[(m2 5) (+ 5 1) (+ 1 2)]"),
])
def test_threading_binding_conditionals_and_macroexpand(src, printed):
    assert lisp(src) == printed


def test_threading_over_run_time_values_builds_expressions():
    from wlisp.lang.api import compile

    spec = compile('(defworkflow main [x] (-> x (split ",") first upper))')
    assert spec.graph.result == {"call": "upper", "args": [{"call": "first", "args": [
        {"call": "split", "args": [{"input": "x"}, ","]}]}]}


def test_the_repl_expands_macros_on_request():
    import subprocess

    from .conftest import wlisp_bin

    src = "(defmacro unless [t & body] `(if ~t nil (do ~@body)))\n:expand (unless x 1 2)\n"
    res = subprocess.run([wlisp_bin(), "repl"], input=src, capture_output=True, text=True,
                         timeout=60)
    assert "(if x nil (do 1 2))" in res.stdout, res.stdout + res.stderr


# --- named and multi-arity functions ------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("((fn fact [n] (if (<= n 1) 1 (* n (fact (- n 1))))) 5)", "120"),
    ('(defn greet ([] (greet "you")) ([who] (str "hi " who))) [(greet) (greet "bo")]',
     '["hi you" "hi bo"]'),
    ("(defn f ([x] 1) ([x & more] (len more))) [(f 1) (f 1 2 3)]", "[1 2]"),
    ("((fn ([a] a) ([a b] (+ a b))) 1 2)", "3"),
    ("(map (fn ([x] (* x 2)) ([x y] 0)) [1 2])", "[2 4]"),
    ('(defn doc "says" ([] 0) ([a] a)) (doc 7)', "7"),
])
def test_named_and_multi_arity_functions(src, printed):
    assert lisp(src) == printed


def test_a_call_with_no_matching_arity_names_them():
    with pytest.raises(WlispError) as info:
        Session().eval("(defn h ([x] 1) ([x y] 2)) (h 1 2 3)")
    assert "takes 1 or 2 arguments, got 3" in info.value.diagnostics[0].message


def test_two_arities_of_one_size_are_an_error():
    assert code("(defn g ([x] 1) ([y] 2))") == "W0302"


def test_a_multi_arity_function_works_over_run_time_values():
    from wlisp.lang.api import compile

    spec = compile('(defn tag ([s] (tag s "x")) ([s t] (str t ":" s))) '
                   '(defworkflow main [x] (map tag (split x ",")))')
    assert spec.graph.result["call"] == "map"


# --- compile-time try / throw -------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ('(try (error "boom") :catch (fn [e] (get e :message)))', '"boom"'),
    ('(try (throw {:message "bad" :code 7}) :catch (fn [e] (get-in e [:data :code])))', "7"),
    ("(try (nth [1] 5) :catch (fn [e] :caught))", ":caught"),
    ("(try 5 :catch (fn [e] :caught))", "5"),
    ('(defn safe-parse [s] (try (parse-json s) :catch (fn [e] nil))) '
     '[(safe-parse "[1]") (safe-parse "{bad")]', "[[1] nil]"),
    ('(def v (try (throw "x") :catch (fn [e] (str "got " (get e :message))))) v', '"got x"'),
])
def test_try_catches_errors_of_computing_values_at_compile_time(src, printed):
    assert lisp(src) == printed


def test_an_uncaught_throw_is_a_diagnostic_and_program_mistakes_are_not_caught():
    assert code('(throw "nobody catches this")') == "W0403"
    assert code("(try (no-such-function 1) :catch (fn [e] :caught))") == "W0201"


def test_a_workflow_try_over_a_step_stays_a_run_time_try():
    from wlisp.lang.api import compile

    spec = compile('(defagent w) (defworkflow main [] (try (spawn w "x") :catch '
                   '(fn [e] "fallback")))')
    assert spec.graph.nodes[0].kind == "try"


# --- functions of functions ---------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("((partial + 1 2) 3)", "6"), ('(map (partial str "x-") [1 2])', '["x-1" "x-2"]'),
    ("((comp inc inc) 1)", "3"), ("((comp str +) 1 2)", '"3"'),
    ('(map (comp upper first) ["ab" "cd"])', '["A" "C"]'),
    ("(map (fn [& xs] (len xs)) [[1] [2]])", "[1 1]"),
])
def test_partial_and_comp(src, printed):
    assert lisp(src) == printed


def test_partial_comp_and_variadic_functions_over_run_time_values():
    import wlisp
    from wlisp.executors.mock import MockExecutor
    from wlisp.lang.api import compile

    spec = compile('(defworkflow main [x] (let [xs (split x ",")] '
                   '[(map (partial str "x-") xs) (map (comp upper first) xs) '
                   '(map (fn [& parts] (len parts)) xs)]))')
    res = wlisp.run(spec, executor=MockExecutor(), inputs={"x": "ab,cd"})
    assert res.status == "completed", res.error
    assert res.value == [["x-ab", "x-cd"], ["A", "C"], [1, 1]]
