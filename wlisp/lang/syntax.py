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
# a byte order mark some editors write at the start of a UTF-8 file: not part of the text
BOM = "\ufeff"


def strip_bom(text: str) -> str:
    return text[1:] if text.startswith(BOM) else text


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
    return _Scanner(text).run()


class _Scanner:
    def __init__(self, text: str):
        self.text, self.n = text, len(text)
        self.i = self.line = self.line_start = 0
        self.prefixed = False  # a quote prefix waits for its form
        self.out = Scan()

    def run(self) -> Scan:
        text, out = self.text, self.out
        while self.i < self.n and not (out.in_string or out.stray):
            ch = text[self.i]
            col = self.i - self.line_start
            if ch == "\n":
                self.newline(self.i + 1)
            elif ch in " \t\r,":
                self.i += 1
            elif ch == ";":
                end = text.find("\n", self.i)
                self.i = self.n if end < 0 else end
                out.in_comment = end < 0
            elif ch == '"':
                self.string(col)
            elif ch in "'`~":
                self.start_item(col)
                self.prefixed = True
                self.i += 2 if text.startswith("~@", self.i) else 1
            elif ch in OPENERS:
                self.start_item(col, complete=True)
                out.frames.append(Frame(ch, self.line, col))
                self.i += 1
            elif ch in CLOSERS:
                self.closer(ch, col)
            else:
                self.atom(col)
        out.dangling_prefix = self.prefixed and not (out.in_string or out.stray)
        return out

    def newline(self, after: int) -> None:
        self.line, self.line_start, self.i = self.line + 1, after, after

    def start_item(self, col: int, complete: bool = False) -> Frame | None:
        """A form starts at `col`: count it in the innermost frame (unless a quote
        prefix already did). `complete`: it is not an atom an option could follow."""
        frames = self.out.frames
        frame = frames[-1] if frames else None
        if self.prefixed:
            self.prefixed = False
        elif frame is not None:
            frame.items += 1
            if frame.items == 2 and self.line == frame.line:
                frame.arg_col = col
        if frame is not None and complete:
            frame.prev = None
        return frame

    def string(self, col: int) -> None:
        self.start_item(col, complete=True)
        text, start = self.text, (self.line, col)
        quote = '"""' if text.startswith('"""', self.i) else '"'
        i = self.i + len(quote)
        while i < self.n and not text.startswith(quote, i):
            if text[i] == "\\":
                i += 1
            elif text[i] == "\n":
                self.line, self.line_start = self.line + 1, i + 1
            i += 1
        if i >= self.n:
            self.out.in_string, self.out.string_start = True, start
        self.i = i + len(quote)

    def closer(self, ch: str, col: int) -> None:
        frames = self.out.frames
        if not frames or frames[-1].opener != CLOSERS[ch]:
            self.out.stray, self.out.stray_at = True, (self.line, col, ch)
            return
        frames.pop()
        self.prefixed = False
        self.i += 1

    def atom(self, col: int) -> None:
        start = self.i
        while self.i < self.n and self.text[self.i] not in DELIMITERS:
            self.i += 1
        frame = self.start_item(col)
        if frame is not None:
            if frame.items == 1:
                frame.head = self.text[start:self.i]
            frame.prev = self.text[start:self.i]


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
