"""The vocabulary of wlisp's syntax (SPEC §2) and the one scanner of unparsed text.

The grammar (`grammar/wlisp.lark`) parses complete text. Some tools need to
look at text that does not parse, or not yet: the reader explains a syntax
error in terms of brackets and strings, and the REPL decides whether an input
is complete, how to indent the next line and what to complete. They share
`scan`, which knows strings, triple-quoted strings, comments and quote prefixes
(so a `(` inside `"a (quote"` or `; (comment` is not a bracket), and the tables
below, which the highlighter uses too. A test checks that the grammar's atom
pattern is `ATOM_PATTERN`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
QUOTE_PREFIXES = ("~@", "'", "`", "~")
DELIMITERS = frozenset(' \t\r\n,;()[]{}"\'`~')
# one atom (number, symbol, keyword, constant): the grammar's ATOM terminal
ATOM_PATTERN = r"[^\s,;()\[\]{}\"'`~]+"


@dataclass
class Frame:
    """One open bracket, with what indentation and completion need to know about it."""

    opener: str
    line: int                      # 0-based line of the opener
    col: int                       # 0-based column of the opener
    items: int = 0                 # forms started inside so far
    head: str | None = None        # the first item, when it is an atom
    arg_col: int | None = None     # column of the second item, when on the opener's line
    prev: str | None = None        # the last complete atom (to know which option a value is for)


@dataclass
class Scan:
    """The state at the end of scanned text (positions are 0-based)."""

    frames: list[Frame] = field(default_factory=list)
    in_string: bool = False        # the text ends inside a string
    string_start: tuple[int, int] | None = None
    in_comment: bool = False       # the text ends inside a `;` comment
    dangling_prefix: bool = False  # the text ends with a quote prefix waiting for its form
    stray: bool = False            # a closer with no (or the wrong) opener: scanning stopped
    stray_at: tuple[int, int, str] | None = None  # (line, col, closer)


def scan(text: str) -> Scan:
    """Scan `text` and report the open brackets and strings at its end."""
    out = Scan()
    frames = out.frames
    i, n, line, line_start = 0, len(text), 0, 0
    prefixed = False

    def start_item(col: int) -> Frame | None:
        nonlocal prefixed
        frame = frames[-1] if frames else None
        if prefixed:
            prefixed = False
            return frame
        if frame is not None:
            frame.items += 1
            if frame.items == 2 and line == frame.line:
                frame.arg_col = col
        return frame

    while i < n:
        ch = text[i]
        col = i - line_start
        if ch == "\n":
            line, line_start = line + 1, i + 1
            i += 1
        elif ch in " \t\r,":
            i += 1
        elif ch == ";":
            while i < n and text[i] != "\n":
                i += 1
            out.in_comment = i >= n
        elif ch == '"':
            frame = start_item(col)
            if frame is not None:
                frame.prev = None
            start = (line, col)
            quote = '"""' if text.startswith('"""', i) else '"'
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":
                    line, line_start = line + 1, i + 1
                i += 1
            if i >= n:
                out.in_string, out.string_start = True, start
                return out
            i += len(quote)
        elif ch in "'`~":
            start_item(col)
            prefixed = True
            i += 2 if text.startswith("~@", i) else 1
        elif ch in OPENERS:
            frame = start_item(col)
            if frame is not None:
                frame.prev = None
            frames.append(Frame(ch, line, col))
            i += 1
        elif ch in CLOSERS:
            if not frames or frames[-1].opener != CLOSERS[ch]:
                out.stray, out.stray_at = True, (line, col, ch)
                return out
            frames.pop()
            prefixed = False
            i += 1
        else:
            start = i
            while i < n and text[i] not in DELIMITERS:
                i += 1
            frame = start_item(col)
            if frame is not None:
                if frame.items == 1:
                    frame.head = text[start:i]
                frame.prev = text[start:i]
    out.dangling_prefix = prefixed
    return out


def bracket_problem(text: str):
    """The first bracket or string problem, for a syntax error that should say so:
    (code, message, (line, col), note or None), 1-based; None when brackets balance
    and strings are closed."""
    s = scan(text)
    if s.in_string:
        line, col = s.string_start
        return ("W0106", "unterminated string", (line + 1, col + 1), None)
    if s.stray:
        line, col, ch = s.stray_at
        if not s.frames:
            return ("W0103", f"unexpected `{ch}` with no matching `{CLOSERS[ch]}`",
                    (line + 1, col + 1), None)
        f = s.frames[-1]
        return ("W0103", f"`{ch}` does not close `{f.opener}`", (line + 1, col + 1),
                (f"`{f.opener}` opened here", (f.line + 1, f.col + 1)))
    if s.frames:
        f = s.frames[-1]
        return ("W0102", f"unclosed `{f.opener}`: expected `{OPENERS[f.opener]}` before the end "
                "of the input", (f.line + 1, f.col + 1), None)
    return None
