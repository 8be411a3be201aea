"""The corpus of bad programs in tests/bad/: every one must produce exactly the
diagnostics its header announces, and never a Python traceback.

Header of a corpus file (leading `;` comment lines, first line required):

    ; expect: W0203 7:10, W0201 9:3          code line:col of each caret start
    ; expect: W0503 lib/cycle_b.wl:3:9       a location in another file (relative path)
    ; expect: W0301|W0302 5:3                either code is acceptable there
    ; xfail: reason                          the compiler is known to get this wrong
    ; xfail-compile: reason                  `api.compile` is known to mishandle it
    ; message: did you mean `reviewer`       some diagnostic's message contains this
    ; note: ask-twice                        some diagnostic's note contains this

The expectations were written from the source, before looking at the compiler's
output; where the compiler disagrees the file carries an `; xfail:` line instead
of a copied location.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wlisp.errors import CODES, WlispError
from wlisp.lang import api

BAD_DIR = Path(__file__).parent / "bad"
WLISP = os.path.join(os.path.dirname(sys.executable), "wlisp")

_LOC = re.compile(r"^(?P<codes>W\d{4}(?:\|W\d{4})*)\s+(?:(?P<file>[^\s:]+):)?"
                  r"(?P<line>\d+):(?P<col>\d+)$")


@dataclass(frozen=True)
class Expected:
    codes: frozenset[str]
    file: str
    line: int
    col: int

    def matches(self, code: str, file: str, line: int, col: int) -> bool:
        return (code in self.codes and _same_file(file, self.file)
                and (line, col) == (self.line, self.col))

    def __str__(self) -> str:
        return f"{'|'.join(sorted(self.codes))} {os.path.basename(self.file)}:{self.line}:{self.col}"


@dataclass
class Program:
    path: Path
    expected: list[Expected]
    xfail: str | None = None
    xfail_compile: str | None = None
    messages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def parse_header(path: Path) -> Program:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    first = lines[0] if lines else ""
    if not first.startswith("; expect:"):
        raise ValueError(f"{path.name}: first line must be `; expect: ...`")
    expected = []
    for item in first[len("; expect:"):].split(","):
        m = _LOC.match(item.strip())
        if not m:
            raise ValueError(f"{path.name}: bad expectation {item.strip()!r}")
        codes = frozenset(m["codes"].split("|"))
        unknown = codes - set(CODES)
        if unknown:
            raise ValueError(f"{path.name}: unknown code(s) {sorted(unknown)}")
        file = str(path.parent / m["file"]) if m["file"] else str(path)
        expected.append(Expected(codes, file, int(m["line"]), int(m["col"])))
    prog = Program(path, expected)
    for line in lines[1:]:
        if not line.startswith(";"):
            break
        key, _, value = line[1:].strip().partition(":")
        value = value.strip()
        if key == "xfail":
            prog.xfail = value
        elif key == "xfail-compile":
            prog.xfail_compile = value
        elif key == "message":
            prog.messages.append(value)
        elif key == "note":
            prog.notes.append(value)
    return prog


PROGRAMS = [parse_header(p) for p in sorted(BAD_DIR.glob("*.wl"))]


def _params(kind: str = "check"):
    out = []
    for prog in PROGRAMS:
        reason = prog.xfail if kind == "check" else prog.xfail_compile
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(prog, id=prog.path.stem, marks=marks))
    return out


def run_check(prog: Program):
    """`api.check` on the file; WlispError is a normal way to report, anything else is a bug."""
    text = prog.path.read_text(encoding="utf-8")
    try:
        return api.check(text, str(prog.path))
    except WlispError as err:
        return err.diagnostics


def _describe(diags) -> str:
    out = []
    for d in diags:
        where = (f"{os.path.basename(d.span.file)}:{d.span.line}:{d.span.col}"
                 if d.span else "<no span>")
        out.append(f"  {d.code} {where}: {d.message}")
    return "\n".join(out) or "  (none)"


def test_corpus_is_big_enough():
    assert len(PROGRAMS) >= 45
    assert sum(len(p.expected) > 1 for p in PROGRAMS) >= 3, "need several-errors cases"


@pytest.mark.parametrize("prog", _params())
def test_bad_program_diagnostics(prog: Program):
    diags = run_check(prog)
    report = ("\nexpected:\n  " + "\n  ".join(map(str, prog.expected))
              + f"\nactual:\n{_describe(diags)}")
    assert all(d.span is not None for d in diags), "diagnostic without a location" + report
    unmatched = list(diags)
    for exp in prog.expected:
        hit = next((d for d in unmatched
                    if exp.matches(d.code, d.span.file, d.span.line, d.span.col)), None)
        assert hit is not None, f"missing {exp}" + report
        unmatched.remove(hit)
    assert not unmatched, "unexpected diagnostics" + report
    for text in prog.messages:
        assert any(text.lower() in d.message.lower() for d in diags), \
            f"no message contains {text!r}" + report
    for text in prog.notes:
        notes = [m for d in diags for m, _ in d.notes]
        assert any(text.lower() in n.lower() for n in notes), \
            f"no note contains {text!r}; notes: {notes}" + report


@pytest.mark.parametrize("prog", _params("compile"))
def test_bad_program_does_not_compile(prog: Program):
    """`api.compile` refuses every bad program with WlispError, never another exception."""
    text = prog.path.read_text(encoding="utf-8")
    with pytest.raises(WlispError) as info:
        api.compile(text, str(prog.path))
    assert info.value.diagnostics


# --- the real command line ---------------------------------------------------

CLI_SAMPLES = ["001_unclosed_paren", "008_bad_escape", "016_unknown_agent",
               "025_fmt_hole_unknown_name", "029_spawn_unknown_option",
               "047_duplicate_id", "088_integer_too_long", "091_byte_order_mark",
               "078_multi_unknown_agents", "080_multi_mixed"]


def _cli_params():
    by_stem = {p.path.stem: p for p in PROGRAMS}
    out = []
    for stem in CLI_SAMPLES:
        prog = by_stem[stem]
        marks = [pytest.mark.xfail(strict=True, reason=prog.xfail)] if prog.xfail else []
        out.append(pytest.param(prog, id=stem, marks=marks))
    return out


def _wlisp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([WLISP, *args], cwd=BAD_DIR, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("prog", _cli_params())
def test_cli_check_renders_diagnostics(prog: Program):
    proc = _wlisp("check", prog.path.name)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    for exp in prog.expected:
        heads = [f"{prog.path.name}:{exp.line}:{exp.col}: error[{code}]" for code in exp.codes]
        assert any(h in proc.stderr for h in heads), f"none of {heads} in:\n{proc.stderr}"
    carets = [ln for ln in proc.stderr.splitlines() if re.fullmatch(r"\s*\|\s*\^+\s*", ln)]
    assert len(carets) >= len(prog.expected), proc.stderr


@pytest.mark.parametrize("prog", _cli_params()[-2:])
def test_cli_check_diagnostics_json(prog: Program):
    proc = _wlisp("check", prog.path.name, "--diagnostics-json")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    got = json.loads(proc.stdout)
    assert len(got) == len(prog.expected)
    for exp in prog.expected:
        assert any(d["code"] in exp.codes and d["severity"] == "error"
                   and (d["line"], d["column"]) == (exp.line, exp.col)
                   and d["end_line"] >= d["line"] for d in got), (str(exp), got)


def test_cli_check_reports_every_file_once():
    """Several files in one `wlisp check` call: each file's errors appear."""
    names = ["016_unknown_agent.wl", "043_arity_defn.wl"]
    proc = _wlisp("check", *names)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    for name in names:
        assert f"{name}:" in proc.stderr, proc.stderr
