"""Reader: wlisp text → data with source spans, parsed by Lark (grammar/wlisp.lark).

The grammar only tokenises and matches brackets; this module classifies atoms
(numbers, keywords, symbols), decodes strings, and turns Lark's errors into
diagnostics that point at the unclosed bracket or the bad token.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from ..errors import Span, WlispError
from ..values.datum import Keyword, List, Map, Symbol, Vector
from ..values.jsondata import MAX_INT_DIGITS, SURROGATE, number_problem
from .syntax import bracket_problem, strip_bom

_INT = re.compile(r"[+-]?\d+\Z")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?\Z")
_NAME = re.compile(r"[^\d:.][^:]*\Z|[+-]\Z")
# a UTF-16 surrogate pair written as two escapes is one character, as in JSON
_ESCAPE = re.compile(r'\\(u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}'
                     r'|u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|.)', re.S)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", '"': '"', "\\": "\\"}
_QUOTES = {"quote": "quote", "quasiquote": "quasiquote", "unquote": "unquote",
           "splice": "unquote-splicing"}


def grammar_text() -> str:
    return resources.files("wlisp.grammar").joinpath("wlisp.lark").read_text()


@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    return Lark(grammar_text(), parser="lalr", lexer="contextual", maybe_placeholders=False)


def read(text: str, filename: str = "<input>") -> list:
    """Read every datum in `text`. Raises WlispError with a reader diagnostic."""
    from lark import Token
    from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    text = strip_bom(text)
    _refuse_surrogates(text, filename)
    try:
        tree = _parser().parse(text)
    except (UnexpectedCharacters, UnexpectedToken, UnexpectedEOF) as exc:
        raise _syntax_error(text, filename, exc) from None
    except LarkError as exc:  # pragma: no cover - defensive
        raise WlispError.at("W0101", f"cannot read: {exc}", Span(filename, 1, 1, 1, 2)) from None
    builder = _Builder(filename, Token)
    try:
        return [builder.datum(child) for child in tree.children]
    except RecursionError:
        raise WlispError.at("W0405", "forms are nested too deeply to read",
                            Span(filename, 1, 1, 1, 2)) from None


def _refuse_surrogates(text: str, filename: str) -> None:
    """Text given as a Python string may hold a lone UTF-16 surrogate, which no
    encoding can write out (a file read as UTF-8 never does)."""
    m = SURROGATE.search(text)
    if m is not None:
        line = text.count("\n", 0, m.start()) + 1
        col = m.start() - text.rfind("\n", 0, m.start())
        raise WlispError.at("W0101", f"unexpected character U+{ord(m.group()):04X} (a lone "
                            "surrogate is not a character)", Span(filename, line, col, line,
                                                                    col + 1))


class _Builder:
    """Turns Lark's tree into data; one method per datum kind."""

    def __init__(self, filename: str, token_cls):
        self.file = filename
        self.Token = token_cls

    def span(self, tok) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    def span2(self, first, last) -> Span:
        return Span(self.file, first.line, first.column, last.end_line, last.end_column)

    def datum(self, node):
        if isinstance(node, self.Token):
            return self.token(node)
        kind = node.data
        kids = node.children
        if kind in _QUOTES:
            inner = self.datum(kids[1])
            span = Span(self.file, kids[0].line, kids[0].column,
                        *self._end(kids[1], inner))
            sym = Symbol(_QUOTES[kind], self.span(kids[0]))
            return List((sym, inner), span, (sym.span, getattr(inner, "span", None)
                                             or self._node_span(kids[1])))
        span = self.span2(kids[0], kids[-1])
        inner = kids[1:-1]
        items, spans = [], []
        for k in inner:  # one span per item: the datum's own, else computed once here
            item = self.datum(k)
            items.append(item)
            spans.append(getattr(item, "span", None) or self._node_span(k))
        spans = tuple(spans)
        if kind == "list":
            return List(items, span, spans)
        if kind == "vector":
            return Vector(items, span, spans)
        if len(items) % 2:
            raise WlispError.at("W0104", "a map literal needs an even number of forms "
                                f"(got {len(items)})", span)
        pairs, pair_spans = [], {}
        for i in range(0, len(items), 2):
            key = items[i]
            try:
                hash(key)
            except TypeError:
                raise WlispError.at("W0303", "a map key must be a number, string, keyword "
                                    "or symbol", spans[i]) from None
            pairs.append((key, items[i + 1]))
            pair_spans[key] = (spans[i], spans[i + 1])
        return Map(pairs, span=span, pair_spans=pair_spans)

    def _node_span(self, node) -> Span:
        if isinstance(node, self.Token):
            return self.span(node)
        first, last = node.children[0], node.children[-1]
        while not isinstance(first, self.Token):
            first = first.children[0]
        while not isinstance(last, self.Token):
            last = last.children[-1]
        return self.span2(first, last)

    def _end(self, node, datum):
        sp = getattr(datum, "span", None) or self._node_span(node)
        return sp.end_line, sp.end_col

    def token(self, tok):
        span = self.span(tok)
        if tok.type == "ATOM":
            return atom(str(tok), span)
        if tok.type == "STRING":
            return unescape(str(tok)[1:-1], span, offset=1)
        return triple_quoted(str(tok), span)


def atom(text: str, span: Span):
    """Classify an atom token: number, constant, keyword or symbol."""
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "nil":
        return None
    if _INT.match(text) or _FLOAT.match(text):
        return _number(text, span)
    if text.startswith(":"):
        name = text[1:]
        if not name or ":" in name:
            raise WlispError.at("W0107", f"invalid keyword `{text}`", span)
        return Keyword(name, span)
    if not _NAME.match(text) or _bad_dots(text):
        raise WlispError.at("W0107", f"invalid number or symbol `{text}`", span)
    return Symbol(text, span)


def _number(text: str, span: Span):
    if _INT.match(text):
        if len(text.lstrip("+-")) <= MAX_INT_DIGITS:
            return int(text)
        problem = f"integers may have at most {MAX_INT_DIGITS} digits"
    else:
        problem = number_problem(float(text))
        if problem is None:
            return float(text)
    shown = text if len(text) <= 24 else f"{text[:10]}…{text[-10:]}"
    raise WlispError.at("W0107", f"number `{shown}` is out of range: {problem}", span)


def _bad_dots(text: str) -> bool:
    if "." not in text or text in (".", ".."):
        return text == ".."
    return any(part == "" for part in text.split("."))


def unescape(body: str, span: Span, offset: int = 1) -> str:
    if "\\" not in body:
        return body

    def repl(m: re.Match) -> str:
        code = m.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if len(code) == 11:  # a surrogate pair: high, then low
            hi, lo = int(code[1:5], 16), int(code[7:], 16)
            return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
        why = ""
        if code.startswith("u") and len(code) > 1:
            value = int(code[2:-1] if code[1] == "{" else code[1:], 16)
            if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
                return chr(value)
            why = (": a lone surrogate is not a character" if 0xD800 <= value <= 0xDFFF
                   else ": the last character is U+10FFFF")
        before = body[: m.start()]
        line = span.line + before.count("\n")
        col = (len(before) - before.rfind("\n")) if "\n" in before else span.col + offset + len(before)
        raise WlispError.at("W0105", f"invalid escape `\\{code}` in string{why}",
                            Span(span.file, line, col, line, col + 1 + len(code)))

    return _ESCAPE.sub(repl, body)


def triple_quoted(token: str, span: Span) -> str:
    """Drop the first newline and the closing line's indentation, then dedent."""
    body = token[3:-3]
    if body.startswith("\r\n"):
        body = body[2:]
    elif body.startswith("\n"):
        body = body[1:]
    lines = body.split("\n")
    if len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
    cut = min(indents, default=0)
    text = "\n".join(ln[cut:] for ln in lines)
    return unescape(text, span, offset=3)


def _syntax_error(text: str, filename: str, exc) -> WlispError:
    """Explain a Lark error in terms of brackets and tokens, pointing where it helps."""
    from lark.exceptions import UnexpectedCharacters

    problem = bracket_problem(text)
    if problem is not None:
        code, message, (line, col), note = problem
        notes = [(note[0], Span(filename, note[1][0], note[1][1], note[1][0], note[1][1] + 1))] \
            if note else []
        return WlispError.at(code, message, Span(filename, line, col, line, col + 1), *notes)
    line, col = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        return WlispError.at("W0101", f"unexpected character `{ch}`",
                             Span(filename, line, col, line, col + 1))
    token = getattr(exc, "token", None)
    if token is not None and token.type in ("QUOTE", "BACKQUOTE", "TILDE", "TILDE_AT",
                                            "RPAR", "RSQB", "RBRACE", "$END"):
        line, col = _dangling_prefix(text, line, col)
        return WlispError.at("W0108", "a quote or unquote prefix must be followed by a form",
                             Span(filename, line, col, line, col + 1))
    return WlispError.at("W0101", "unexpected input", Span(filename, line, col, line, col + 1))


def _dangling_prefix(text: str, line: int, col: int) -> tuple[int, int]:
    """Step back from the token after a dangling quote to the quote itself."""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return line, col
    row_no, i = line, col - 2
    while row_no >= 1:
        row = lines[row_no - 1]
        while i >= 0 and row[i] in " \t,":
            i -= 1
        if i >= 0:
            return (row_no, i + 1) if row[i] in "'`~@" else (line, col)
        row_no -= 1
        if row_no >= 1:
            i = len(lines[row_no - 1]) - 1
    return line, col
