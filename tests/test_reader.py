"""Reader: every datum kind, spans, escapes, triple-quoted strings, and properties."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wlisp.errors import WlispError
from wlisp.lang.reader import grammar_text, read
from wlisp.lang.syntax import ATOM_PATTERN
from wlisp.lang.syntax import bracket_problem as scan_brackets
from wlisp.values.datum import Keyword, List, Map, Symbol, Vector, pr_str


def one(text):
    (datum,) = read(text, "r.wl")
    return datum


def test_atoms():
    assert one("42") == 42 and isinstance(one("42"), int)
    assert one("-3") == -3
    assert one("1.5") == 1.5
    assert one("1e-3") == 0.001
    assert one("true") is True and one("false") is False and one("nil") is None
    assert one(":kw") == Keyword("kw") and isinstance(one(":kw"), Keyword)
    assert one("kebab-case?") == Symbol("kebab-case?")
    assert one("<=") == Symbol("<=")
    assert one("ns/name") == Symbol("ns/name")
    assert one("a.b.c") == Symbol("a.b.c")
    assert one("-") == Symbol("-") and one("+") == Symbol("+")


def test_collections_and_quotes():
    assert one("(a [1 2] {:k v})") == List([Symbol("a"), Vector([1, 2]),
                                            Map({Keyword("k"): Symbol("v")})])
    assert one("'x") == List([Symbol("quote"), Symbol("x")])
    assert one("`(a ~b ~@c)") == List([Symbol("quasiquote"), List([
        Symbol("a"), List([Symbol("unquote"), Symbol("b")]),
        List([Symbol("unquote-splicing"), Symbol("c")])])])
    # vectors and lists are different data even with the same items
    assert one("(1 2)") != one("[1 2]")


def test_commas_and_comments_are_whitespace():
    assert read("1, 2 ; three\n4", "r.wl") == [1, 2, 4]


def test_spans_cover_the_datum():
    form = one("\n  (spawn  reviewer \"x\")")
    assert (form.span.line, form.span.col, form.span.end_line, form.span.end_col) == (2, 3, 2, 24)
    assert form[1].span.col == 11
    # literals have spans through their parent collection
    assert form.span_at(2).col == 20


def test_string_escapes():
    assert one(r'"a\"b\\c\nd\te\u{41}\u0042"') == 'a"b\\c\nd\teAB'
    assert one('"multi\nline"') == "multi\nline"


def test_triple_quoted_strings_are_dedented():
    text = '(x """\n    Review this:\n      - item\n    Done.\n    """)'
    assert one(text)[1] == "Review this:\n  - item\nDone."
    assert one('"""one line"""') == "one line"
    assert one('"""has "quotes" inside"""') == 'has "quotes" inside'


@pytest.mark.parametrize("text,code,line,col", [
    ("(a b", "W0102", 1, 1),
    ("(a\n  [b c)", "W0103", 2, 7),
    (")", "W0103", 1, 1),
    ('"abc', "W0106", 1, 1),
    ('(x """abc)', "W0106", 1, 4),
    ('"a\\qb"', "W0105", 1, 3),
    ("{:a 1 :b}", "W0104", 1, 1),
    ("1abc", "W0107", 1, 1),
    ("(a 'b ')", "W0108", 1, 7),
    (":", "W0107", 1, 1),
])
def test_reader_errors_point_at_the_problem(text, code, line, col):
    with pytest.raises(WlispError) as info:
        read(text, "r.wl")
    d = info.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.col) == (code, line, col)


_HUGE = "9" * 4301


@pytest.mark.parametrize("text,code,col,end_col", [
    (f"(x {_HUGE})", "W0107", 4, 4 + len(_HUGE)),        # more digits than an int may have
    (f"(x -{_HUGE})", "W0107", 4, 5 + len(_HUGE)),
    ("(x 1e999)", "W0107", 4, 9),                           # floats must be finite (JSON)
    ("(x -1e999)", "W0107", 4, 10),
    (f"(x {'1' * 400}.5)", "W0107", 4, 406),
    ('(x "a\\ud800b")', "W0105", 6, 12),                  # a lone surrogate is no character
    ('(x "\\u{d800}")', "W0105", 5, 13),
    ('(x "\\ude00\\ud83d")', "W0105", 5, 11),           # a pair in the wrong order
    ('(x "\\u{d83d}\\u{de00}")', "W0105", 5, 13),       # braces name a code point, not a half
    ('(x "\\ud83d")', "W0105", 5, 11),
])
def test_numbers_out_of_range_and_lone_surrogates_are_reader_errors(text, code, col, end_col):
    with pytest.raises(WlispError) as info:
        read(text, "r.wl")
    (d,) = info.value.diagnostics
    assert (d.code, d.span.line, d.span.col, d.span.end_col) == (code, 1, col, end_col)


def test_a_lone_surrogate_character_in_the_text_is_a_reader_error():
    with pytest.raises(WlispError) as info:
        read('(x\n  "ab\ud800")', "r.wl")
    (d,) = info.value.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("W0101", 2, 6)


def test_numbers_at_the_limits_are_read():
    assert one("9" * 4300) == int("9" * 4300)
    assert one("-" + "9" * 4300) == -int("9" * 4300)
    assert one("1e308") == 1e308 and one("1e-999") == 0.0


def test_a_surrogate_pair_written_as_two_escapes_is_one_character():
    assert one('"\\ud83d\\ude00!"') == "\U0001F600!"
    assert one('"\\uD83D\\uDE00"') == one('"\\u{1F600}"') == "\U0001F600"


def test_a_byte_order_mark_at_the_start_is_skipped():
    form = one("\ufeff(a b)")
    assert form == List([Symbol("a"), Symbol("b")])
    assert (form.span.line, form.span.col, form.span.end_col) == (1, 1, 6)
    with pytest.raises(WlispError) as info:
        read("\ufeff(a 1abc)", "r.wl")
    assert info.value.diagnostics[0].span.col == 4


def test_scanner_reports_completeness():
    assert scan_brackets("(a [b] {c d})") is None
    assert scan_brackets("(a \"(\" ; )\n)") is None
    assert scan_brackets("(a")[0] == "W0102"
    assert scan_brackets('"""abc')[0] == "W0106"


# --- properties ----------------------------------------------------------------

_name = st.from_regex(r"[a-zA-Z*!?<>=_][a-zA-Z0-9*+!?<>=_\-]{0,8}", fullmatch=True).filter(
    lambda s: s not in ("true", "false", "nil"))
symbols = st.builds(Symbol, st.one_of(_name, st.builds(lambda a, b: f"{a}.{b}", _name, _name),
                                      st.builds(lambda a, b: f"{a}/{b}", _name, _name)))
keywords = st.builds(Keyword, _name)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**18, max_value=10**18),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30), keywords, symbols)
keys = st.one_of(keywords, st.text(max_size=8), st.integers(-100, 100))
data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5).map(List),
        st.lists(inner, max_size=5).map(Vector),
        st.dictionaries(keys, inner, max_size=4).map(Map)),
    max_leaves=30)


@given(data)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_print_then_read_gives_the_same_datum(datum):
    text = pr_str(datum)
    assert read(text, "p.wl") == [datum]


@given(st.text(max_size=200))
@settings(max_examples=400)
def test_random_text_never_crashes_the_reader(text):
    try:
        read(text, "fuzz.wl")
    except WlispError as err:
        assert err.diagnostics and err.diagnostics[0].code.startswith("W0")


_syntaxy = st.text(alphabet="()[]{}\"'`~@;:\\ \n.abc123-", max_size=120)


@given(_syntaxy)
@settings(max_examples=400)
def test_bracket_soup_never_crashes_the_reader(text):
    try:
        read(text, "fuzz.wl")
    except WlispError as err:
        d = err.diagnostics[0]
        assert d.span is not None and d.span.line >= 1 and d.span.col >= 1


def test_the_grammar_and_the_scanners_share_the_atom_pattern():
    """One vocabulary: the grammar's ATOM terminal is the pattern the scanner, the REPL
    and the highlighter use."""
    line = next(ln for ln in grammar_text().splitlines() if ln.startswith("ATOM:"))
    assert line.split(":", 1)[1].strip() == f"/{ATOM_PATTERN}/".replace('\\"', '"')
