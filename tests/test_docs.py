"""The code in the docs runs, so the docs cannot rot.

Conventions for the pages in DOCS (a marker is an HTML comment on the line
before a fenced block: `<!-- test: DIRECTIVES -->`):

- A ```clojure / ```wlisp block with a `defworkflow` is a complete program: it is
  compiled and run with the `mock` executor (every input is "example", unless
  `inputs={"name": value}` is given) and must complete.
- Any other clojure block is a REPL-like session: its forms are evaluated in
  order, in one environment per page (definitions carry over to later blocks).
  A form followed by `;=> text` must print as `text`; a form that creates steps
  is compiled and run with `mock`.
- `error=W0203`: compiling the block must report that diagnostic code.
- `status=paused`: the program's run must end with that status (default completed).
- `skip`: not run (syntax sketches, other languages' code).
- `lines=N`: the block has N lines (the comparison page's line counts).
- `file=PATH`: the block is the file PATH of the repository, verbatim.
- ```python and ```bash blocks run only when marked `<!-- test -->`: Python is
  executed from the repository root; in shell blocks each `wlisp ...` command
  is run (with its `\\` continuations) and must exit 0, or `exit=N`.
"""

import glob
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass

import pytest

import wlisp
from wlisp.errors import WlispError
from wlisp.lang.api import new_evaluator
from wlisp.lang.compiler import compile_expression
from wlisp.lang.reader import read
from wlisp.values.datum import List, Symbol, pr_str

from .conftest import ROOT, wlisp_bin

DOCS = ["tutorial.md", "reference.md", "patterns.md", "python-api.md", "comparison.md",
        "runtime.md", "security.md"]
DEFINITIONS = {"def", "defn", "defmacro", "defagent", "deftool", "defschema", "defworkflow",
               "import"}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!-- test(?::\s*(.*?))?\s*-->\s*$")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str
    directives: dict

    @property
    def where(self):
        return f"docs/{self.page}:{self.line}"


def parse_directives(text):
    out = {}
    if "inputs=" in text:  # JSON may hold spaces: it takes the rest of the marker
        text, raw = text.split("inputs=", 1)
        out["inputs"] = json.loads(raw)
    for word in text.split():
        key, _, value = word.partition("=")
        out[key] = value or True
    return out


def blocks(page):
    text = open(os.path.join(ROOT, "docs", page), encoding="utf-8").read()
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        directives = None if marker is None else parse_directives(marker.group(1) or "")
        yield Block(page, line, m.group(1), m.group(2), directives)


ALL = [b for page in DOCS for b in blocks(page)]
LISP = [b for b in ALL if b.lang in ("clojure", "wlisp")]


def is_program(block):
    return "(defworkflow" in block.code


def run_program(block):
    shown = (block.directives or {}).get("file")  # a repository file: compiled where it is
    filename = os.path.join(ROOT, shown) if shown else \
        os.path.join(ROOT, "docs", f"{block.page}-{block.line}.wl")
    spec = wlisp.compile(block.code, filename)
    inputs = block.directives.get("inputs", {}) if block.directives else {}
    inputs = {p: inputs.get(p, "example") for p in spec.params}
    result = wlisp.run(spec, wlisp.MockExecutor(), inputs)
    want = block.directives.get("status", "completed") if block.directives else "completed"
    assert result.status == want, f"{block.where}: {result.error}"


class Session:
    """One page's clojure blocks evaluated in order, like `wlisp repl`."""

    def __init__(self, page):
        self.comp = new_evaluator()
        self.env = self.comp.new_module()
        self.page = page

    def eval_block(self, block):
        """Forms up to each `;=> expected` comment are one chunk; its last value is checked."""
        chunk, start = [], 0
        for i, line in enumerate(block.code.split("\n")):
            text, marker, expected = line.partition(";=>")
            chunk.append(text)
            if marker:
                where = f"docs/{block.page}:{block.line + 1 + start}"
                value = self.eval_text("\n".join(chunk), where)
                assert pr_str(value) == expected.strip(), f"{where}: {pr_str(value)}"
                chunk, start = [], i + 1
        self.eval_text("\n".join(chunk), f"docs/{block.page}:{block.line + 1 + start}")

    def eval_text(self, text, where):
        value = None
        for form in read(text, where):
            value, spec = self.eval_form(form)
            if spec is not None:
                result = wlisp.run(spec, wlisp.MockExecutor(), {})
                assert result.status == "completed", f"{where}: {result.error}"
        return value

    def eval_form(self, form):
        head = form[0].name if isinstance(form, List) and form and \
            isinstance(form[0], Symbol) else None
        try:
            if head in DEFINITIONS:
                value = self.comp.guarded(self.comp.eval, form, self.env)
                if self.comp.diagnostics:
                    raise WlispError(list(self.comp.diagnostics))
                return value, None
            return compile_expression(self.comp, [form], self.env, name="doc")
        finally:
            self.comp.diagnostics.clear()


def codes(err):
    return {d.code for d in err.diagnostics}


@pytest.mark.parametrize("page", DOCS)
def test_clojure_blocks_compile_and_run(page):
    session = Session(page)
    for block in (b for b in LISP if b.page == page):
        d = block.directives or {}
        if d.get("skip"):
            continue
        if "error" in d:
            with pytest.raises(WlispError) as info:
                run_program(block) if is_program(block) else session.eval_block(block)
            assert d["error"] in codes(info.value), f"{block.where}: {info.value}"
        elif is_program(block):
            run_program(block)
        else:
            session.eval_block(block)


@pytest.mark.parametrize("block", [b for b in ALL if b.directives is not None
                                   and b.lang == "python" and not b.directives.get("skip")],
                         ids=lambda b: b.where)
def test_python_blocks_run(block, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WLISP_HOME", str(tmp_path))
    exec(compile(block.code, block.where, "exec"), {"__name__": "docs"})


def shell_commands(code):
    joined = re.sub(r"\\\n\s*", " ", code)
    for line in joined.split("\n"):
        line = line.split(" #")[0].strip()
        if line.startswith("wlisp "):
            yield [a for w in shlex.split(line)
                   for a in (sorted(glob.glob(w, root_dir=ROOT)) if "*" in w else [w])]


@pytest.mark.parametrize("block", [b for b in ALL if b.directives is not None
                                   and b.lang in ("bash", "sh", "console")
                                   and not b.directives.get("skip")], ids=lambda b: b.where)
def test_shell_blocks_run(block, tmp_path):
    env = {**os.environ, "WLISP_HOME": str(tmp_path)}
    want = int(block.directives.get("exit", 0))
    commands = list(shell_commands(block.code))
    assert commands, f"{block.where}: no wlisp command to run"
    for argv in commands:
        res = subprocess.run([wlisp_bin(), *argv[1:]], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == want, f"{block.where}: {' '.join(argv)}\n{res.stderr}"


@pytest.mark.parametrize("block", [b for b in ALL if b.directives and "file" in b.directives],
                         ids=lambda b: b.where)
def test_blocks_that_show_a_file_show_it_verbatim(block):
    with open(os.path.join(ROOT, block.directives["file"]), encoding="utf-8") as f:
        assert block.code == f.read(), f"{block.where} differs from {block.directives['file']}"


def test_line_counts_on_the_comparison_page_are_true():
    wl, py = [b for b in ALL if b.directives and "lines" in b.directives]
    for b in (wl, py):
        assert len(b.code.rstrip("\n").split("\n")) == int(b.directives["lines"]), b.where

    def code(block, comment):
        return sum(1 for line in block.code.split("\n")
                   if line.strip() and not line.strip().startswith(comment))

    page = open(os.path.join(ROOT, "docs", "comparison.md"), encoding="utf-8").read()
    assert f"| lines (all) | {wl.directives['lines']} | {py.directives['lines']} |" in page
    assert f"comment lines) | {code(wl, ';')} | {code(py, '#')} |" in page


def test_the_flagship_is_well_under_100_lines_and_the_docs_link_each_other():
    flagship = open(os.path.join(ROOT, "examples", "design_plan_implement.wl")).read()
    assert len(flagship.splitlines()) < 60
    tutorial = open(os.path.join(ROOT, "docs", "tutorial.md"), encoding="utf-8").read()
    for page in DOCS[1:]:
        assert f"({page})" in tutorial, page
