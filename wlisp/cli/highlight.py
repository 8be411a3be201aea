"""A pygments lexer for wlisp: the REPL's highlighting, and usable by docs and tools.

    from wlisp.cli.highlight import WlispLexer
    pygments.highlight(source, WlispLexer(), TerminalFormatter())

Atoms are classified exactly as the reader does (`reader.atom`), so what the
lexer calls a number, keyword or symbol is what the compiler will see, and a
token the reader rejects (`1abc`, `:a:b`) shows as an error. Special forms at
the head of a list are keywords, builtins are `Name.Builtin`, and the name
after a definition form (`defn`, `defagent`, ...) is marked as defined.
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, default
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

from ..errors import Span, WlispError
from ..lang.language import LANGUAGE
from ..lang.reader import atom
from ..lang.syntax import ATOM_PATTERN, QUOTE_PREFIXES
from ..lang.types import TYPE_NAMES
from ..values import datum as data
from ..values.library import BUILTINS

DEFINERS = {"def": Name.Variable, "defn": Name.Function, "defmacro": Name.Function,
            "defworkflow": Name.Function, "defagent": Name.Class, "deftool": Name.Class,
            "defschema": Name.Class}
_ESCAPE = r'\\(?:u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|[nrt0"\\])'
_SPAN = Span("<lexer>", 1, 1, 1, 2)


class WlispLexer(RegexLexer):
    """Lexer for wlisp source (`.wl`)."""

    name = "wlisp"
    aliases = ["wlisp", "wl"]
    filenames = ["*.wl"]
    mimetypes = ["text/x-wlisp"]

    tokens = {
        "root": [
            (r";[^\n]*", Comment.Single),
            (r"[\s,]+", Whitespace),
            (r'"""', String, "tstring"),
            (r'"', String, "string"),
            ("|".join(re.escape(p) for p in QUOTE_PREFIXES), Operator),
            (r"(\()(\s*)", bygroups(Punctuation, Whitespace), "head"),
            (r"[)\[\]{}]", Punctuation),
            (ATOM_PATTERN, Name),  # classified in get_tokens_unprocessed
        ],
        # Right after `(`: the head of a list, where special forms are keywords.
        # `Name.Head` only marks the token for get_tokens_unprocessed; it is never yielded.
        "head": [
            (ATOM_PATTERN, Name.Head, "#pop"),
            default("#pop"),
        ],
        "string": [
            (r'"', String, "#pop"),
            (_ESCAPE, String.Escape),
            (r"\\.?", Error),
            (r'[^"\\]+', String),
        ],
        "tstring": [
            (r'"""', String, "#pop"),
            (_ESCAPE, String.Escape),
            (r"\\.?", Error),
            (r'[^"\\]+|"', String),
        ],
    }

    def get_tokens_unprocessed(self, text, stack=("root",)):
        """Classify atom tokens; the name after a definer becomes a definition."""
        defining = None
        for index, token, value in super().get_tokens_unprocessed(text, stack):
            if token is Name.Head or token is Name:
                kind = classify(value, head=token is Name.Head)
                if defining is not None and kind in (Name, Name.Builtin, Keyword.Type):
                    kind = defining
                defining = DEFINERS.get(value) if token is Name.Head and kind is Keyword \
                    else None
                yield index, kind, value
                continue
            if token not in (Whitespace, Comment.Single):
                defining = None
            yield index, token, value


def classify(text: str, head: bool = False):
    """The token type of one atom, following the reader's rules."""
    try:
        value = atom(text, _SPAN)
    except WlispError:
        return Error
    if value is None or isinstance(value, bool):
        return Keyword.Constant
    if isinstance(value, int):
        return Number.Integer
    if isinstance(value, float):
        return Number.Float
    if isinstance(value, data.Keyword):
        return String.Symbol
    if head and text in LANGUAGE.forms:
        return Keyword
    if text in BUILTINS:
        return Name.Builtin
    if text in TYPE_NAMES:
        return Keyword.Type
    return Name
