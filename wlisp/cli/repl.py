"""`wlisp repl`: an interactive session (SPEC §11), and its scriptable twin for pipes.

One `Session` evaluates inputs for both front ends, so what a script sees is
what a person sees:

- `interactive()` reads inputs with prompt-toolkit: multi-line editing that
  submits when the form is complete, auto-indentation, highlighting (the
  pygments lexer in `lexer.py`), completion (`complete.py`), history.
- `stream()` reads a non-terminal stdin line by line, evaluates each input as
  soon as it is complete, prints one result per form on stdout and
  diagnostics on stderr, and keeps going after errors.

Definitions accumulate in one compiler module. A form that creates steps
compiles to a WorkflowSpec and runs at once against the session's executor;
Ctrl-C cancels the run, not the session.
"""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import nullcontext

from ..errors import Diagnostic, Span, WlispError, did_you_mean, render_all, usage_error
from ..values.datum import List, Symbol
from .editing import COMMANDS, command_of, submit_ready
from .render import show
from .untrusted import terminal_safe

# Forms evaluated as definitions (their value is printed, nothing runs).
DEFINITIONS = frozenset({"def", "defn", "defmacro", "defagent", "deftool", "defschema",
                         "defworkflow", "import"})
# Highlighting in the terminal's own ANSI palette, so it reads on light and dark themes.
STYLE = {
    "pygments.comment": "italic ansibrightblack",
    "pygments.keyword": "bold ansimagenta",
    "pygments.keyword.constant": "ansicyan",
    "pygments.keyword.type": "ansicyan",
    "pygments.name.builtin": "ansiblue",
    "pygments.name.function": "bold ansiyellow",
    "pygments.name.class": "bold ansiyellow",
    "pygments.name.variable": "bold",
    "pygments.literal.string": "ansigreen",
    "pygments.literal.string.escape": "bold ansigreen",
    "pygments.literal.string.symbol": "ansicyan",
    "pygments.literal.number": "ansiyellow",
    "pygments.operator": "ansimagenta",
    "pygments.error": "ansired underline",
}


class Session:
    """Evaluates REPL inputs: commands, definitions, expressions, runs."""

    def __init__(self, executor: str | None = None, answers: str | None = None, *,
                 config=None, sources=None, out=None, err=None, live: bool = False,
                 quiet: bool = False, debug: bool = False):
        from ..errors import Sources
        from ..executors.config import Config

        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.live, self.quiet, self.debug = live, quiet, debug
        self.config = config or Config()
        self.sources = sources or Sources()
        self.answers = answers
        self.use_executor(executor)  # a WlispError here is a usage error
        self.errors = 0      # inputs that reported an error (the exit status of a script)
        self.count = 0       # inputs so far, to name them `<repl:N>`
        self.done = False
        self.reset()

    def use_executor(self, name: str | None, answers: str | None = None) -> None:
        """`name` (a wlisp.toml profile or a built-in) for every step; None: the routing
        of wlisp.toml, or mock without one. The old executor stays if this fails."""
        from ..executors import executor_label, make_executor
        from ..executors.profiles import reads_answers

        answers = answers or self.answers  # kept for a later `:executor scripted`
        given = answers if name is None or reads_answers(name, self.config) else None
        self.executor = make_executor(name, answers=given, config=self.config)
        self.answers = answers
        self.executor_name = executor_label(name, self.config, given)

    def reset(self) -> None:
        from ..lang.api import new_evaluator

        self.comp = new_evaluator(self.sources)
        self.comp.allow_redefine = True
        self.env = self.comp.new_module()

    # --- output -----------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(terminal_safe(text), file=self.out, flush=True)

    def fail(self, message: str) -> None:
        self.errors += 1
        print(terminal_safe(f"error: {message}"), file=self.err, flush=True)

    def report(self, diags: list[Diagnostic]) -> None:
        self.errors += 1
        print(render_all(diags, self.sources), file=self.err, flush=True)

    # --- inputs -------------------------------------------------------------------------

    def submit(self, text: str, name: str | None = None, line: int = 1,
               full: str | None = None) -> None:
        """Evaluate one complete input: a `:command`, or any number of forms.

        `name` and `line` say where the input came from, so that diagnostics
        point into it; `full` is the whole text of that source (a script's
        stdin so far) for the caret excerpt. Nothing raised here ends the
        session: user mistakes become diagnostics, internal errors a message.
        """
        self.count += 1
        name = name or f"<repl:{self.count}>"
        self.sources.add(name, full if full is not None else text)
        try:
            cmd = command_of(text)
            if cmd is None:
                self.eval_text(text, name, line)
            else:
                self.command(cmd[0], cmd[1], text, name, line)
        except WlispError as err:
            self.report(err.diagnostics)
        except KeyboardInterrupt:
            self.fail("interrupted")
        except Exception as exc:  # a bug in wlisp must not end the session
            if self.debug:
                traceback.print_exc(file=self.err)
            self.fail(f"internal error: {type(exc).__name__}: {exc}"
                      + ("" if self.debug else " (`wlisp --debug repl` shows the traceback)"))
        finally:
            self.comp.diagnostics.clear()

    def eval_text(self, text: str, name: str, line: int = 1) -> None:
        """Evaluate the forms of `text`, which starts at line `line` of source `name`."""
        from ..lang.reader import read

        for form in read("\n" * (line - 1) + text, name):
            self.eval_form(form)

    def eval_form(self, form, quiet_defs: bool = False) -> None:
        """Define, print or run one form; its errors are reported, later forms still run."""
        try:
            if _head(form) in DEFINITIONS:
                value = self.comp.guarded(self.comp.eval, form, self.env)
                for d in self.comp.diagnostics:
                    if d.code == "W0406":
                        d.notes.append(("in the REPL, evaluate the expression on its own to "
                                        "run it now, or define a function or workflow", None))
                self._raise_recorded()
                if not quiet_defs:
                    self.say(show(value))
                return
            value, spec = self.compile([form])
            if spec is None:
                self.say(show(value))
            else:
                self.run(spec)
        except WlispError as err:
            self.report(err.diagnostics)
        finally:
            self.comp.diagnostics.clear()

    def compile(self, forms):
        """(value, None) for a compile-time value, (None, spec) for steps to run.

        Agents, functions and workflows exist only at compile time, so the
        compiler refuses them as a workflow's result (W0309); the REPL still
        prints them, by evaluating such a form once more outside a workflow.
        """
        from ..lang.compiler import compile_expression
        from ..lang.values import has_ref

        span = getattr(forms[0], "span", None) if forms else None
        before = dict(self.env.vars)
        try:
            compiled = compile_expression(self.comp, forms, self.env, name="repl", span=span)
            self._forget_run_values(before)
            return compiled
        except WlispError as err:
            self.comp.diagnostics.clear()
            if len(forms) != 1 or any(d.code != "W0309" for d in err.diagnostics):
                raise
            value = self.comp.guarded(self.comp.eval, forms[0], self.env)
            if self.comp.diagnostics or has_ref(value):
                raise err from None
            return value, None

    def _forget_run_values(self, before: dict) -> None:
        """Undo `def`s of a step's result made inside an input, like `(do (def a (spawn ...)) a)`.

        Such a name refers to a node of this input's run only; kept, it would
        make every later input that uses it fail with a dangling reference.
        """
        from ..lang.values import has_ref

        for name, value in list(self.env.vars.items()):
            if before.get(name) is not value and has_ref(value):
                if name in before:
                    self.env.vars[name] = before[name]
                else:
                    del self.env.vars[name]
                print(f"warning: `{name}` holds a step's result, which exists only in this "
                      "input's run, so it is not kept; use `let` within one input",
                      file=self.err)

    def _raise_recorded(self) -> None:
        if self.comp.diagnostics:
            diags = list(self.comp.diagnostics)
            self.comp.diagnostics.clear()
            raise WlispError(diags)

    # --- running ----------------------------------------------------------------------

    def run(self, spec) -> None:
        """Run `spec` now with progress; Ctrl-C cancels the run and returns to the prompt."""
        from ..runtime import run_async
        from ..runtime.runner import Interrupted, run_sync
        from .render import problem_lines

        sink, shown = None, nullcontext()
        if self.live and not self.quiet:
            from .progress import LiveProgress

            sink = shown = LiveProgress(f"{spec.name} ({self.executor_name})")
        elif not self.quiet:
            from .progress import PlainProgress

            sink = PlainProgress(self.err)
        try:
            with shown:  # Ctrl-C cancels the run's task, then raises here
                result = run_sync(run_async(spec, self.executor, {}, events=sink))
        except (Interrupted, KeyboardInterrupt):
            self.fail("interrupted: the run was cancelled (definitions are kept)")
            return
        if result.status == "completed":
            self.say(show(result.value, runtime=True, top=True))
            return
        self.fail(f"run {result.status}: {result.error}")
        for line in problem_lines(result):
            print(line, file=self.err)
        if result.gates:
            print("  (the REPL cannot answer human gates: use `wlisp run` and "
                  "`wlisp resume --answer`)", file=self.err)

    # --- commands -----------------------------------------------------------------------

    def command(self, name: str, arg: str, text: str, source: str, line: int) -> None:
        if name not in COMMANDS:
            at = text.index(":")
            row = line + text.count("\n", 0, at)
            col = at - text.rfind("\n", 0, at)
            raise WlispError.at("W0701", f"unknown command `:{name}`"
                                + did_you_mean(f":{name}", [f":{c}" for c in COMMANDS])
                                + "; `:help` lists them",
                                Span(source, row, col, row, col + 1 + len(name)))
        if not COMMANDS[name][0] and arg.strip():
            raise usage_error(f"`:{name}` takes no argument")
        handlers = {"help": self.cmd_help, "quit": self.cmd_quit, "reset": self.cmd_reset,
                    "spec": self.cmd_spec, "graph": self.cmd_graph, "load": self.cmd_load,
                    "expand": self.cmd_expand,
                    "executor": self.cmd_executor}
        handlers[name](arg, source, line)

    def cmd_help(self, _arg, _source, _line) -> None:
        self.say(help_text())

    def cmd_quit(self, _arg, _source, _line) -> None:
        self.done = True

    def cmd_reset(self, _arg, _source, _line) -> None:
        self.reset()
        self.say("definitions cleared")

    def cmd_spec(self, arg, source, line) -> None:
        spec = self.spec_of(arg, source, line, "spec")
        if spec is not None:
            self.say(spec.to_json(indent=2))

    def cmd_graph(self, arg, source, line) -> None:
        from .diagram import to_mermaid

        spec = self.spec_of(arg, source, line, "graph")
        if spec is not None:
            self.say(to_mermaid(spec))

    def cmd_expand(self, arg, source, line) -> None:
        from ..lang.forms.sugar import macro_of
        from ..lang.reader import read
        from ..values.datum import pr_str

        forms = read("\n" * (line - 1) + arg, source)
        if len(forms) != 1:
            raise usage_error("`:expand` takes one form, e.g. `:expand (unless x 1)`")
        x = forms[0]
        while (m := macro_of(self.comp, x, self.env)) is not None:
            x = self.comp.expand_once(m, x)
        self.say(pr_str(x))

    def spec_of(self, arg: str, source: str, line: int, what: str):
        """Compile the argument of `:spec`/`:graph` without running it.

        A workflow's name gives that workflow's spec (its parameters become
        inputs); anything else compiles like an input would. Prints and returns
        None when there are no steps.
        """
        from ..lang.compiler import WorkflowDef, compile_workflow
        from ..lang.reader import read

        forms = read("\n" * (line - 1) + arg, source)
        if not forms:
            raise usage_error(f"`:{what}` needs an expression or a workflow name, e.g. "
                         f"`:{what} (spawn writer \"hi\")`")
        wf = _lookup(self.env, forms[0]) if len(forms) == 1 else None
        if isinstance(wf, WorkflowDef):
            spec = compile_workflow(self.comp, wf)
            self._raise_recorded()
            return spec
        value, spec = self.compile(forms)
        if spec is None:
            self.say(f"no steps: this is the compile-time value {show(value)}")
        return spec

    def cmd_load(self, arg, _source, _line) -> None:
        from ..lang.api import read_source
        from ..lang.reader import read

        path = arg.strip()
        if len(path) > 1 and path[0] == path[-1] and path[0] in "\"'":
            path = path[1:-1]
        if not path:
            raise usage_error("`:load` needs a file name, e.g. `:load examples/triage.wl`")
        text = read_source(path)
        self.sources.add(path, text)
        before = dict(self.env.vars)
        errors = self.errors
        for form in read(text, path):
            self.eval_form(form, quiet_defs=True)
        names = [k for k, v in self.env.vars.items() if before.get(k) is not v]
        self.say(f"loaded {path}" + (f": {' '.join(names)}" if names else "")
                 + ("" if self.errors == errors else " (with errors, above)"))

    def cmd_executor(self, arg, _source, _line) -> None:
        parts = arg.split()
        if len(parts) > 2:
            raise usage_error("`:executor` takes a name and, for `scripted`, an answer file")
        if parts:
            self.use_executor(parts[0], parts[1] if len(parts) > 1 else None)
        extra = f" (answers: {self.answers})" if self.executor_name == "scripted" else ""
        where = f"; config: {self.config.path}" if self.config.path else ""
        self.say(f"executor: {self.executor_name}{extra}{where}")


def _head(form) -> str | None:
    if isinstance(form, List) and form and isinstance(form[0], Symbol):
        return form[0].name
    return None


def _lookup(env, form):
    if not isinstance(form, Symbol):
        return None
    scope = env.find(form.name)
    return scope[form.name] if scope is not None else None


def help_text() -> str:
    width = max(len(f":{n} {a}") for n, (a, _) in COMMANDS.items())
    rows = [f"  {f':{n} {a}'.strip():<{width}}  {d}" for n, (a, d) in COMMANDS.items()]
    return "\n".join([
        "Type wlisp forms; Enter evaluates once the brackets balance, otherwise it starts",
        "a new, indented line. Definitions accumulate; a form that spawns agents runs",
        "at once against the executor. Commands:",
        *rows,
        "Keys: Tab completes, Alt-Enter (or Esc Enter) always inserts a newline,",
        "Ctrl-C clears the input or interrupts a run, Ctrl-D on an empty line leaves.",
    ])


# --- printing values -------------------------------------------------------------------


# --- front ends ----------------------------------------------------------------------------


def stream(session: Session, lines, name: str = "<stdin>") -> int:
    """Evaluate inputs from `lines` (a non-terminal stdin) as soon as each is complete.

    Diagnostics carry the input's real line numbers. Returns the exit status:
    0 when every input succeeded, 1 when any reported an error.
    """
    full, buf, first = "", "", 1
    for number, line in enumerate(lines, 1):
        full += line
        if not buf:
            first = number
        buf += line
        if submit_ready(buf):
            if buf.strip():
                session.submit(buf, name, first, full)
            buf = ""
            if session.done:
                break
    if buf.strip() and not session.done:  # unfinished at the end: the reader says why
        session.submit(buf, name, first, full)
    return 1 if session.errors else 0


def history_path() -> str:
    """`WLISP_HISTORY`, else `$XDG_DATA_HOME/wlisp/history` (~/.local/share by default)."""
    explicit = os.environ.get("WLISP_HISTORY")
    if explicit:
        return explicit
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return os.path.join(base, "wlisp", "history")


def interactive(session: Session) -> int:
    """The prompt-toolkit loop: Ctrl-C clears the input, Ctrl-D (or `:quit`) leaves."""
    try:
        prompt = _prompt_session(session)
    except ImportError:
        print("error: the interactive REPL needs prompt_toolkit (pip install prompt_toolkit);"
              " scripts work without it: wlisp repl < forms.wl", file=sys.stderr)
        return 2
    from importlib.metadata import version

    session.say(f"wlisp {version('wlisp')} repl, executor {session.executor_name}. "
                ":help for help, Ctrl-D to leave.")
    while not session.done:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if text.strip():
            session.submit(text)
    return 0


def _prompt_session(session: Session):
    """A PromptSession wired to the scanner, lexer and completer (imports prompt_toolkit)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
    from prompt_toolkit.lexers import PygmentsLexer
    from prompt_toolkit.styles import Style

    from .editing import completions, indent_for, names_in
    from .highlight import WlispLexer

    class WlispCompleter(Completer):
        paths = PathCompleter(expanduser=True)

        def get_completions(self, document, complete_event):
            cmd = command_of(document.text)
            if cmd is not None and cmd[0] == "load":
                arg = document.text_before_cursor.split("load", 1)[1].lstrip()
                yield from self.paths.get_completions(Document(arg), complete_event)
                return
            prefix, found = completions(document.text_before_cursor, names_in(session.env))
            for text, kind in found:
                yield Completion(text, -len(prefix), display_meta=kind)

    keys = KeyBindings()

    def newline(buf) -> None:
        buf.insert_text("\n" + " " * indent_for(buf.document.text_before_cursor))

    @keys.add("enter")
    def _enter(event) -> None:
        buf = event.current_buffer
        if buf.complete_state is not None:
            chosen = buf.complete_state.current_completion
            buf.complete_state = None
            if chosen is not None:  # Enter takes the highlighted completion, nothing more
                return
        if not buf.document.text_after_cursor.strip() and submit_ready(buf.text):
            buf.validate_and_handle()
        else:
            newline(buf)

    @keys.add("escape", "enter")
    def _newline(event) -> None:
        newline(event.current_buffer)

    path = history_path()
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        open(path, "a").close()  # FileHistory opens the file late: find problems now
        history = FileHistory(path)
    except OSError as exc:
        print(f"warning: history is not saved ({path}: {exc.strerror})", file=sys.stderr)
        history = InMemoryHistory()

    return PromptSession(
        "wl> ", multiline=True, key_bindings=keys, history=history,
        lexer=PygmentsLexer(WlispLexer), completer=WlispCompleter(),
        complete_while_typing=False, auto_suggest=AutoSuggestFromHistory(),
        prompt_continuation=lambda width, _line, _wrap: "." * (width - 1) + " ",
        input_processors=[HighlightMatchingBracketProcessor()],
        style=Style.from_dict(STYLE), include_default_pygments_style=False)


def main(executor: str | None = None, answers: str | None = None, config: str | None = None,
         quiet: bool = False, debug: bool = False) -> int:
    """`wlisp repl`: interactive on a terminal, scripted otherwise. Returns the exit status.

    The executor comes from `--executor`, else the routing of `wlisp.toml`
    (`--config`, or the nearest one above the current directory), else mock.
    """
    from ..errors import Sources
    from ..executors.config import config_for

    tty = sys.stdin.isatty() and sys.stdout.isatty()
    sources = Sources()
    try:
        session = Session(executor, answers, config=config_for(config, None, sources),
                          sources=sources, live=tty and sys.stderr.isatty(), quiet=quiet,
                          debug=debug)
    except WlispError as err:
        print(render_all(err.diagnostics, sources), file=sys.stderr)
        return 2
    if tty:
        return interactive(session)
    return stream(session, sys.stdin)
