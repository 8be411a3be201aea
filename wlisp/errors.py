"""Diagnostics: source spans, stable error codes, and the one caret renderer.

Every stage reports problems as `Diagnostic`s carrying a `Span`; a stage that
cannot go on raises `WlispError` holding one or more of them. Nothing a user
can type should surface as a Python traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NamedTuple

# Stable codes, one per kind of mistake. Tests and tools match on these.
CODES = {
    # reader
    "W0101": "unexpected character",
    "W0102": "unclosed bracket",
    "W0103": "unexpected closing bracket",
    "W0104": "map literal needs an even number of forms",
    "W0105": "invalid escape in string",
    "W0106": "unterminated string",
    "W0107": "invalid number or symbol",
    "W0108": "quote prefix without a form",
    # names
    "W0201": "unknown name",
    "W0202": "name already defined",
    "W0203": "unknown agent",
    "W0204": "unknown tool",
    "W0205": "unknown schema or type",
    "W0206": "unknown field",
    "W0207": "unknown keyword option",
    "W0208": "unknown workflow",
    # forms
    "W0301": "wrong number of arguments",
    "W0302": "malformed special form",
    "W0303": "wrong type of value",
    "W0304": "duplicate id",
    "W0305": "loop without :max",
    "W0306": "invalid option value",
    "W0307": "not callable",
    "W0308": "unquote outside quasiquote",
    "W0309": "runtime value where a compile-time value is needed",
    "W0310": "routing over an enum misses members or has labels that are not members",
    "W0311": "a workflow input does not match its declared type",
    # semantics
    "W0401": "raw text of a quarantined step reaches a prompt, a decision or the result",
    "W0402": "unbounded recursion on a runtime value",
    "W0403": "compile-time evaluation error",
    "W0404": "tournament needs at least 2 entrants",
    "W0405": "nesting too deep",
    "W0406": "spawn in a pure context",
    "W0407": "quarantined agent with write isolation",
    # imports and files
    "W0501": "cannot import",
    "W0502": "import outside the file's tree",
    "W0503": "import cycle",
    "W0504": "no workflow to compile",
    "W0505": "cannot read file",
    # WorkflowSpec loading
    "W0601": "invalid WorkflowSpec",
    "W0602": "dangling reference",
    "W0603": "dependency cycle",
    "W0604": "invalid loop :max",
    "W0605": "too few tournament entrants",
    "W0606": "WorkflowSpec from a newer wlisp",
    "W0607": "unknown node kind",
    # running
    "W0701": "usage error (inputs, executor, bounds, run ids)",
    "W0702": "invalid scripted answer file",
    # journal
    "W0801": "cannot open or write the journal",
    "W0802": "journal from a newer wlisp",
    "W0803": "run id already used",
    "W0804": "no such run",
    "W0805": "run held by a live process",
    # configuration
    "W0901": "invalid wlisp.toml",
    "W0902": "environment variable not set",
    "W0903": "optional dependency missing",
    "W0904": "an agent's executor cannot start",
}


class Span(NamedTuple):
    """A region of a source file; lines and columns are 1-based, `end_col` exclusive.
    (A named tuple: the reader makes one per token, so creation must be cheap.)"""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def __repr__(self) -> str:
        return f"Span({self.file!r}, {self.line}, {self.col}, {self.end_line}, {self.end_col})"

    def to_json(self) -> list:
        return list(self)

    @classmethod
    def from_json(cls, data) -> Span | None:
        # JSON Schema's integers include 5.0; positions are used as indexes
        return None if data is None else cls(data[0], *map(int, data[1:]))


@dataclass
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    notes: list[tuple[str, Span | None]] = field(default_factory=list)
    severity: str = "error"

    def to_json(self) -> dict:
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.span:
            out.update(file=self.span.file, line=self.span.line, column=self.span.col,
                       end_line=self.span.end_line, end_column=self.span.end_col)
        out["notes"] = [{"message": m, **({"file": s.file, "line": s.line, "column": s.col}
                                           if s else {})} for m, s in self.notes]
        return out


class WlispError(Exception):
    """A user-facing failure made of one or more diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic):
        self.diagnostics = diagnostics if isinstance(diagnostics, list) else [diagnostics]
        super().__init__(self.diagnostics[0].message if self.diagnostics else "error")

    @classmethod
    def at(cls, code: str, message: str, span: Span | None, *notes) -> WlispError:
        return cls(Diagnostic(code, message, span, list(notes)))


def usage_error(message: str, code: str = "W0701") -> WlispError:
    """A mistake in how wlisp was called (inputs, options, run ids): exit status 2."""
    return WlispError(Diagnostic(code, message))


class Sources:
    """Source texts by file name, so diagnostics can quote the offending line."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self._lines: dict[str, list[str]] = {}

    def add(self, name: str, text: str) -> None:
        self.texts[name] = text
        self._lines.pop(name, None)

    def lines(self, name: str) -> list[str] | None:
        """The file's lines, split once (holes and carets look them up often)."""
        lines = self._lines.get(name)
        if lines is None:
            text = self.texts.get(name)
            if text is None:
                return None
            lines = self._lines[name] = text.split("\n")
        return lines

    def line(self, name: str, lineno: int) -> str | None:
        lines = self.lines(name)
        if lines is None:
            return None
        return lines[lineno - 1].rstrip("\r") if 0 < lineno <= len(lines) else None


def render(diag: Diagnostic, sources: Sources | None = None) -> str:
    """Render `file:line:col: error[CODE]: message`, the source line and a caret."""
    head = f"{diag.span}: " if diag.span else ""
    out = [f"{head}{diag.severity}[{diag.code}]: {diag.message}"]
    out.extend(_excerpt(diag.span, sources))
    for message, span in diag.notes:
        where = f"{span}: " if span else ""
        out.append(f"  = note: {where}{message}")
    return "\n".join(out)


def _excerpt(span: Span | None, sources: Sources | None) -> list[str]:
    if span is None or sources is None:
        return []
    text = sources.line(span.file, span.line)
    if text is None:
        return []
    gutter = " " * len(str(span.line))
    width = (span.end_col - span.col) if span.end_line == span.line else len(text) - span.col + 1
    caret = " " * (span.col - 1) + "^" * max(1, width)
    text = text.replace("\t", " ")
    return [f"{gutter} |", f"{span.line} | {text}", f"{gutter} | {caret}"]


def render_all(diags: list[Diagnostic], sources: Sources | None = None) -> str:
    return "\n\n".join(render(d, sources) for d in diags)


def to_json(diags: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diags], indent=2)


def did_you_mean(name: str, candidates, cutoff: float = 0.6) -> str:
    """A ` (did you mean `x`?)` suffix when a close candidate exists."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1,
                                      cutoff=cutoff)
    return f" (did you mean `{close[0]}`?)" if close else ""
