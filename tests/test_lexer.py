"""The pygments lexer: it must agree with the reader about every token."""

import glob
import os

import pytest
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from wlisp.cli.highlight import WlispLexer

from .conftest import ROOT


def tokens(text):
    """(type, text) pairs without whitespace."""
    return [(t, v) for t, v in WlispLexer().get_tokens(text) if t is not Whitespace]


def kind_of(text, word):
    return next(t for t, v in tokens(text) if v == word)


def test_lexing_keeps_every_character():
    src = open(os.path.join(ROOT, "examples", "review_panel.wl"), encoding="utf-8").read()
    assert "".join(v for _, v in WlispLexer().get_tokens(src)) == src


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "examples", "*.wl")))
                         + sorted(glob.glob(os.path.join(ROOT, "stdlib", "*.wl"))))
def test_real_programs_have_no_error_tokens(path):
    src = open(path, encoding="utf-8").read()
    bad = [v for t, v in tokens(src) if t is Error]
    assert bad == []


def test_atoms_are_classified_like_the_reader_does():
    text = '(f 42 -3 1.5 1e-3 true false nil :kw sym ns/name a.b.c)'
    got = dict((v, t) for t, v in tokens(text))
    assert got["42"] is Number.Integer and got["-3"] is Number.Integer
    assert got["1.5"] is Number.Float and got["1e-3"] is Number.Float
    assert got["true"] is Keyword.Constant and got["nil"] is Keyword.Constant
    assert got[":kw"] is String.Symbol
    assert got["sym"] is Name and got["ns/name"] is Name and got["a.b.c"] is Name


def test_tokens_the_reader_rejects_are_errors():
    for bad in ("1abc", ":a:b", ":", "a..b"):
        assert kind_of(f"(f {bad})", bad) is Error, bad


def test_special_forms_are_keywords_only_at_the_head_of_a_list():
    assert kind_of("(spawn writer \"hi\")", "spawn") is Keyword
    assert kind_of("( loop [x 1] :max 2 x)", "loop") is Keyword
    assert kind_of("[spawn]", "spawn") is Name
    assert kind_of("(f spawn)", "spawn") is Name


def test_builtins_and_schema_types():
    assert kind_of("(map upper xs)", "map") is Name.Builtin
    assert kind_of("(map upper xs)", "upper") is Name.Builtin
    assert kind_of("(defschema S {:tags (list-of string)})", "list-of") is Keyword.Type
    assert kind_of("(defschema S {:tags (list-of string)})", "string") is Keyword.Type


def test_the_name_after_a_definer_is_a_definition():
    assert kind_of("(defn review [x] x)", "review") is Name.Function
    assert kind_of("(defworkflow main [d] d)", "main") is Name.Function
    assert kind_of("(defagent writer :role :plan)", "writer") is Name.Class
    assert kind_of("(defschema Review {:ok bool})", "Review") is Name.Class
    assert kind_of("(def upper 1)", "upper") is Name.Variable  # even a builtin's name
    # only the first name: the parameters of a defn are ordinary names
    assert kind_of("(defn review [x] x)", "x") is Name


def test_strings_escapes_and_comments():
    toks = tokens('"a (b" ; (not code\n"\\n\\q" """say "hi"\n  there""" ~@x \'y')
    assert (Punctuation, "(") not in toks  # the bracket inside the string is text
    assert (Comment.Single, "; (not code") in toks
    assert (String.Escape, "\\n") in toks
    assert (Error, "\\q") in toks  # the reader rejects this escape too
    assert (String, '"""') in toks and (String, '"') in toks
    assert (Operator, "~@") in toks and (Operator, "'") in toks


def test_unterminated_string_does_not_break_the_lexer():
    toks = tokens('(spawn w "never closed')
    assert toks[-1][0] in String


def test_usable_through_pygments():
    html = highlight('(defagent w) ; hi', WlispLexer(), HtmlFormatter())
    assert "defagent" in html and 'class="c1"' in html
