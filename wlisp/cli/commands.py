"""The `wlisp` command line: thin click commands that call the library and print.

Imports of the compiler and runtime happen inside the commands so that
`wlisp --help` starts fast. User mistakes print diagnostics and exit 1 (source
errors) or 2 (usage errors); a traceback appears only with `--debug`.
"""

from __future__ import annotations

import json
import os
import sys

import click

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PAUSED = 3


class Context:
    def __init__(self, debug: bool):
        self.debug = debug


def _guarded(ctx: Context, fn, as_json: bool = False):
    """`fn(sources)`, with a WlispError turned into diagnostics and an exit status."""
    from ..errors import Sources, WlispError
    from .render import report

    sources = Sources()
    try:
        return fn(sources)
    except WlispError as err:
        if ctx.debug:
            raise
        report(err, sources, as_json)
        # how wlisp was called (SPEC §10): options, inputs, run ids, a file that is not there
        usage = all(d.code.startswith("W07") or d.code == "W0505" for d in err.diagnostics)
        sys.exit(EXIT_USAGE if usage else EXIT_FAILED)


def _load_spec(path: str, workflow: str | None, sources):
    """A .wl file compiles; a .json file (or `-` with JSON) loads as a spec."""
    from ..ir import WorkflowSpec
    from ..lang.api import compile, compile_file, read_source

    if path == "-":
        text = sys.stdin.read()
        if text.lstrip().startswith("{"):
            return WorkflowSpec.from_json(text)
        return compile(text, "<stdin>", workflow, sources)
    if path.endswith(".json"):
        return WorkflowSpec.from_json(read_source(path))
    return compile_file(path, workflow, sources)


def _write_file(path: str, text: str) -> None:
    from ..errors import usage_error

    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise usage_error(f"cannot write {path}: {exc.strerror or exc}") from None


def _executor(name, answers, config, near, sources, search=True):
    from ..executors import executor_label, make_executor
    from ..executors.config import config_for

    cfg = config_for(config, near, sources, search)
    return (make_executor(name, answers=answers, config=cfg),
            executor_label(name, cfg, answers), cfg)


def _tracing(otel: str | None, content: bool) -> dict:
    """The run options that trace a run to `otel` (none when it is not set). The SDK
    flushes the spans when the process exits."""
    from ..errors import usage_error

    if not otel:
        return {}
    try:
        from ..runtime.tracing import collector_problem, otlp_tracer
    except ImportError:
        raise usage_error("--otel needs OpenTelemetry: pip install 'wlisp[otel]'",
                          "W0903") from None
    try:
        problem = collector_problem(otel)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if problem:
        click.echo(f"warning: {problem}; the run goes on untraced", err=True)
        return {}
    return {"tracer": otlp_tracer(otel)[0], "trace_content": content}


def _progress(title: str, quiet: bool, verbose: bool = False, follow: str | None = None):
    """(event sink, live display or None): a live tree on a terminal, else plain lines;
    `verbose`: plain lines with every line the agents print; `follow`: the lines of
    that node's steps too."""
    from .progress import Follow, LiveProgress, PlainProgress

    if verbose and not quiet:
        return PlainProgress(verbose=True), None
    sink = live = None
    if quiet:
        pass
    elif sys.stderr.isatty():
        sink = live = LiveProgress(title)
    else:
        sink = PlainProgress()
    return (Follow(sink, follow, live) if follow else sink), live


def _drive(obj: Context, coro_factory, live, run_id: str, store: str | None):
    """Run to the end. SIGINT, SIGTERM and SIGHUP cancel the run the same way: what
    finished is journaled, the agents' process groups are killed, and the exit status
    (128 + the signal) says the run was interrupted and can be resumed."""
    from ..runtime.runner import INTERRUPTS, Interrupted, run_sync

    def execute(_sources):
        if live is None:
            return run_sync(coro_factory(), INTERRUPTS)
        with live:
            return run_sync(coro_factory(), INTERRUPTS)

    try:
        return _guarded(obj, execute)
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = getattr(exc, "signum", 2)
        where = f" --state-dir {store}" if store else ""
        how = f"continue with: wlisp resume {run_id}{where}" if store else "(not journaled)"
        click.echo(f"run {run_id} interrupted ({exc.args[0] if exc.args else 'SIGINT'}); the "
                   f"journal keeps what finished; {how}", err=True)
        sys.exit(128 + signum)


def _finish(result, as_json: bool, state_dir: str | None) -> None:
    from .render import print_result

    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print_result(result, state_dir)
    sys.exit({"completed": 0, "paused": EXIT_PAUSED}.get(result.status, EXIT_FAILED))


def _read_journal(obj: Context, state_dir, read):
    """Open the journal (it must exist), read from it, close it; errors as diagnostics."""
    from ..runtime.journal import Journal, default_state_dir

    def load(_sources):
        journal = Journal(state_dir or default_state_dir(), create=False)
        try:
            return read(journal)
        finally:
            journal.close()

    return _guarded(obj, load)


state_dir_option = click.option(
    "--state-dir", type=click.Path(file_okay=False),
    help="Journal directory (default: WLISP_HOME, else .wlisp in the project: the "
    "nearest wlisp.toml, else the git root, else here).")
executor_option = click.option(
    "--executor", "-e", help="A profile of wlisp.toml or a built-in (mock, scripted) for every "
    "step; default: wlisp.toml's [agents] routing, else mock.")
answers_option = click.option("--answers", type=click.Path(dir_okay=False),
                              help="Answer file (TOML/JSON/YAML) for the scripted executor.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress output.")
otel_option = click.option(
    "--otel", metavar="URL", envvar="OTEL_EXPORTER_OTLP_ENDPOINT", show_envvar=True,
    help="Send the run's trace to this OTLP/HTTP endpoint (needs wlisp[otel]).")
otel_content_option = click.option(
    "--otel-content", is_flag=True, envvar="WLISP_OTEL_CONTENT",
    help="Put prompts and outputs in the trace too (off: they may be private).")
follow_option = click.option("--follow", "-f", metavar="NODE",
                             help="Print what the agents of NODE (and the steps under it) "
                             "print, as they print it.")
concurrency_option = click.option("--concurrency", "-c", type=int,
                                  help="Bound on concurrent steps.")


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                                "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.version_option(package_name="wlisp")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """wlisp: write LLM-agent workflows as s-expressions, compile them to a JSON
    WorkflowSpec, and run them against an executor."""
    ctx.obj = Context(debug)


@main.command("compile")
@click.argument("file")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the spec here.")
@click.option("--workflow", "-w", help="Workflow to compile (default: `main` or the only one).")
@click.option("--diagnostics-json", is_flag=True, help="Print diagnostics as JSON.")
@click.pass_obj
def compile_cmd(obj: Context, file: str, output: str | None, workflow: str | None,
                diagnostics_json: bool) -> None:
    """Print the WorkflowSpec of FILE as JSON."""
    spec = _guarded(obj, lambda s: _load_spec(file, workflow, s), diagnostics_json)
    text = spec.to_json(indent=2)
    if output:
        _guarded(obj, lambda _: _write_file(output, text + "\n"), diagnostics_json)
    else:
        click.echo(text)


@main.command("check")
@click.argument("files", nargs=-1, required=True)
@click.option("--diagnostics-json", is_flag=True, help="Print diagnostics as JSON.")
@click.option("--config", "with_config", is_flag=True,
              help="Check the nearest wlisp.toml too (every key, every profile's type).")
@click.pass_obj
def check_cmd(obj: Context, files: tuple[str, ...], diagnostics_json: bool,
              with_config: bool) -> None:
    """Report every error in FILES without running anything."""
    from ..errors import Sources, WlispError, render_all, to_json
    from ..executors.config import config_for
    from ..lang.api import check_files
    from .dryrun import agent_checks

    sources = Sources()
    found = check_files(files, sources)
    if with_config:
        try:
            config = config_for(None, files[0], sources, True)
            if not found:
                specs = [spec for path in files for spec in _every_spec(path, sources)]
                found = agent_checks(specs, config)[1]
        except WlispError as err:
            found = [*found, *err.diagnostics]
    if diagnostics_json:
        click.echo(to_json(found))
    elif found:
        click.echo(render_all(found, sources), err=True)
        n = len(found)
        click.echo(f"\n{n} error{'s' if n != 1 else ''} in {len(files)} file"
                   f"{'s' if len(files) != 1 else ''}", err=True)
    else:
        click.echo(f"ok: {len(files)} file{'s' if len(files) != 1 else ''} checked, no errors")
    sys.exit(EXIT_FAILED if found else 0)


def _every_spec(path: str, sources) -> list:
    from ..lang.api import compile_every

    return [_load_spec(path, None, sources)] if path.endswith(".json") else \
        compile_every(path, sources)


@main.command("graph")
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "ascii"]),
              help="mermaid (the default), dot, or ascii: an indented tree for a terminal.")
@click.option("--workflow", "-w", help="Workflow to draw.")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Write to a file: .mmd (Mermaid), .dot, .txt (text), or .svg/.png/.pdf "
              "(drawn by Graphviz's `dot`).")
@click.pass_obj
def graph_cmd(obj: Context, file: str, fmt: str, workflow: str | None, output) -> None:
    """Draw the node graph of FILE (Mermaid, Graphviz dot, or text for a terminal)."""
    from .diagram import DRAWS, write_graph

    spec = _guarded(obj, lambda s: _load_spec(file, workflow, s))
    if output is None:
        click.echo(DRAWS[fmt or "mermaid"](spec))
    else:
        _guarded(obj, lambda _s: write_graph(spec, output, fmt))


@main.command("run", short_help="Compile FILE (or load a spec) and run it.")
@click.argument("file")
@click.option("--input", "-i", "inputs", multiple=True, metavar="K=V|K=@FILE",
              help="A workflow input: JSON or text, or @file for a file's contents.")
@click.option("--workflow", "-w", help="Workflow to run (default: `main` or the only one).")
@executor_option
@answers_option
@click.option("--config", type=click.Path(dir_okay=False),
              help="wlisp.toml to use (default: the nearest one above the workflow).")
@concurrency_option
@state_dir_option
@click.option("--run-id", help="Name this run (letters, digits, . _ -).")
@click.option("--resume", "resume_from", metavar="RUN",
              help="Reuse the completed steps of RUN that still match (incremental re-run).")
@click.option("--no-journal", is_flag=True, help="Run in memory, without a journal.")
@click.option("--dry-run", is_flag=True, help="Check everything the run needs (inputs, "
              "wlisp.toml, each agent's executor) and show the plan; run nothing.")
@click.option("--verbose", "-v", is_flag=True, help="Print every line the agents print, "
              "as they print it.")
@follow_option
@otel_option
@otel_content_option
@json_option
@quiet_option
@click.pass_obj
def run_cmd(obj: Context, file, inputs, workflow, executor, answers, config, concurrency,
            state_dir, run_id, resume_from, no_journal, dry_run, verbose, follow, otel,
            otel_content, as_json, quiet) -> None:
    """Compile FILE (or load a spec .json) and run it; print the final value."""
    if dry_run:
        return _dry_run(obj, file, inputs, workflow, executor, config, resume_from,
                        state_dir, as_json)
    from ..runtime import run_async
    from ..runtime.inputs import check_inputs, parse_input_pairs
    from ..runtime.journal import default_state_dir
    from ..runtime.run import new_run_id
    from .progress import follow_target

    def prepare(sources):
        _check_run_flags(run_id, resume_from, no_journal, state_dir)
        spec = _load_spec(file, workflow, sources)
        ex, label, cfg = _executor(executor, answers, config, file, sources)
        values = check_inputs(spec, parse_input_pairs(inputs, spec))  # before any step
        return (spec, ex, label, cfg, values, follow and follow_target(spec, follow),
                _tracing(otel, otel_content))

    spec, ex, label, cfg, values, follow, traced = _guarded(obj, prepare)
    store = None if no_journal else (state_dir or default_state_dir(file))
    if resume_from and store:  # `last`, a prefix
        resume_from = _read_journal(obj, store, lambda journal: journal.resolve(resume_from))
    profile = {"name": executor, "config": cfg.path,
               **({"answers": os.path.abspath(answers)} if answers else {})}
    run_id = run_id or new_run_id()
    sink, live = _progress(f"{spec.name} ({label})", quiet, verbose, follow)
    result = _drive(obj, lambda: run_async(
        spec, ex, values, events=sink, concurrency=concurrency, run_id=run_id, store=store,
        reuse_from=resume_from, executor_profile=profile, **traced), live, run_id, store)
    _finish(result, as_json, store)


def _check_run_flags(run_id, resume_from, no_journal, state_dir) -> None:
    from ..errors import usage_error

    if run_id == "last":
        raise usage_error("`last` names the newest run in every command; pick another run id")
    given = [flag for flag, value in (("--run-id", run_id), ("--resume", resume_from),
                                      ("--state-dir", state_dir)) if value]
    if no_journal and given:
        raise usage_error(f"--no-journal runs in memory, and {' and '.join(given)} "
                          "need the journal: drop one of them")


def _dry_run(obj: Context, file, inputs, workflow, executor, config, resume_from,
             state_dir, as_json: bool) -> None:
    from ..errors import render_all, to_json
    from ..executors.config import config_for
    from ..runtime.inputs import check_inputs, parse_input_pairs
    from ..runtime.journal import default_state_dir
    from .dryrun import plan, plan_lines, reuse_lines, reuse_plan

    def prepare(sources):
        spec = _load_spec(file, workflow, sources)
        values = check_inputs(spec, parse_input_pairs(inputs, spec))
        return spec, values, config_for(config, file, sources, True), sources

    spec, values, cfg, sources = _guarded(obj, prepare, as_json)
    the_plan, problems = plan(spec, cfg, executor)
    if resume_from:
        def earlier(journal):
            rid = journal.run(journal.resolve(resume_from)).id  # `last`, a prefix; known
            return rid, journal.completed([rid])
        rid, cached = _read_journal(obj, state_dir or default_state_dir(file), earlier)
        the_plan["reuse"] = reuse_plan(spec, values, cached, rid)
    if as_json:
        click.echo(json.dumps({"ok": not problems, **the_plan,
                               "problems": json.loads(to_json(problems))}, indent=2))
    else:
        for line in plan_lines(the_plan) + (reuse_lines(the_plan["reuse"]) if resume_from
                                            else []):
            click.echo(line)
        if problems:
            click.echo(render_all(problems, sources), err=True)
    sys.exit(EXIT_FAILED if problems else 0)


@main.command("resume", short_help="Continue RUN: journaled steps reused, the rest run again.")
@click.argument("run_id", metavar="RUN")
@click.option("--answer", "answer", multiple=True, metavar="VALUE|NODE=VALUE",
              help="Answer a human gate (JSON or text); NODE= picks one of several gates.")
@click.option("--budget", multiple=True, metavar="steps=N,cost=USD,...",
              help="Raise the run's budget.")
@click.option("--executor", "-e", help="Executor (default: the one the run started with).")
@click.option("--answers", type=click.Path(dir_okay=False),
              help="Answer file for the scripted executor.")
@click.option("--config", type=click.Path(dir_okay=False),
              help="wlisp.toml to use (default: the one the run started with).")
@concurrency_option
@state_dir_option
@follow_option
@otel_option
@otel_content_option
@json_option
@quiet_option
@click.pass_obj
def resume_cmd(obj: Context, run_id, answer, budget, executor, answers, config, concurrency,
               state_dir, follow, otel, otel_content, as_json, quiet) -> None:
    """Continue RUN: journaled steps are reused, failed and unfinished ones run again."""
    from ..errors import usage_error
    from ..ir.spec import WorkflowSpec
    from ..runtime import resume_async
    from ..runtime.budget import parse_budget
    from ..runtime.gates import gate_answers, waiting_gates, waiting_message
    from ..runtime.journal import Journal, default_state_dir
    from .progress import follow_target

    store = state_dir or default_state_dir()

    def prepare(sources):
        journal = Journal(store, create=False)
        try:
            resolved[0] = journal.resolve(run_id)  # `last`, a prefix
            run = journal.run(resolved[0])
            if run.status == "paused" and not answer:
                raise usage_error(waiting_message(run.id, waiting_gates(journal, run.id)))
            given = gate_answers(journal, run.id, answer)
        finally:
            journal.close()
        profile = run.executor
        ex, label, _ = _executor(executor or profile.get("name"),  # -e: the run's answers
                                 answers or (None if executor else profile.get("answers")),
                                 config or profile.get("config"), None, sources, search=False)
        target = follow and follow_target(WorkflowSpec.from_json(run.spec, validate=False),
                                          follow)
        return ex, given, parse_budget(budget), label, target, _tracing(otel, otel_content)

    resolved = [run_id]
    ex, given, raised, label, follow, traced = _guarded(obj, prepare)
    run_id = resolved[0]
    sink, live = _progress(f"{run_id} ({label})", quiet, follow=follow)
    result = _drive(obj, lambda: resume_async(run_id, ex, store=store, answers=given,
                                              budget=raised or None, events=sink,
                                              concurrency=concurrency, **traced),
                    live, run_id, store)
    _finish(result, as_json, store)


@main.command("runs")
@state_dir_option
@click.option("--limit", default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def runs_cmd(obj: Context, state_dir, limit, as_json) -> None:
    """List journaled runs, newest first."""
    from ..runtime.journal import DB_NAME, default_state_dir
    from .render import print_runs

    where = state_dir or default_state_dir()
    a_file = os.path.exists(where) and not os.path.isdir(where)  # (the journal says so)
    if not a_file and not os.path.exists(os.path.join(where, DB_NAME)):  # no run yet
        rows = []
    else:
        rows = _read_journal(obj, where, lambda journal: journal.runs(limit))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo(f"no runs yet in {os.path.abspath(where)} (`wlisp run FILE` records them "
                   "there)")
    else:
        print_runs(rows)


@main.command("show")
@click.argument("run_id", metavar="RUN")
@click.argument("node", required=False)
@state_dir_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_cmd(obj: Context, run_id, node, state_dir, as_json) -> None:
    """A run's nodes (status, attempts, timings, usage, errors, source), or one NODE in
    full: its prompt and output per attempt, structured answer, usage, source."""
    from .inspect import step_text, step_view
    from .render import print_show, show_json
    from .untrusted import terminal_safe

    def read(journal):
        rid = journal.resolve(run_id)  # `last`, a prefix
        return journal.run(rid), journal.node_view(rid), journal.log_dir(rid)

    run, nodes, logs = _read_journal(obj, state_dir, read)
    if node is not None:
        view = step_view(run, nodes, logs, node)
        if view is None:
            from ..errors import did_you_mean, usage_error

            def missing(_sources):
                raise usage_error(f"run {run.id} has no node `{node}`"
                                  + did_you_mean(node, list(nodes)))
            _guarded(obj, missing)
        click.echo(json.dumps(view, indent=2, ensure_ascii=False) if as_json
                   else terminal_safe(step_text(view)))
    elif as_json:
        click.echo(show_json(run, nodes, logs))
    else:
        print_show(run, nodes, logs)


@main.command("report")
@click.argument("run_id", metavar="RUN")
@state_dir_option
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md",
              show_default=True)
@click.pass_obj
def report_cmd(obj: Context, run_id, state_dir, fmt) -> None:
    """A readable report of RUN: what ran, what it answered, what failed and why, usage."""
    from .inspect import report, report_markdown
    from .untrusted import terminal_safe

    def read(journal):
        rid = journal.resolve(run_id)
        return journal.run(rid), journal.node_view(rid)

    run, nodes = _read_journal(obj, state_dir, read)
    data = report(run, nodes)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str) if fmt == "json"
               else terminal_safe(report_markdown(data)), nl=fmt == "json")


@main.command("serve", short_help="A read-only web view of the project's runs.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; only this machine unless you say otherwise.")
@state_dir_option
@click.pass_obj
def serve_cmd(obj: Context, port: int, host: str, state_dir) -> None:
    """Serve the runs of the project's journal at http://HOST:PORT/ (read-only): the
    list of runs, each run's graph coloured by status (live while it runs), each step's
    prompt, output and attempts, and the run's report."""
    from ..errors import usage_error
    from ..runtime.journal import default_state_dir

    def prepare(_sources):
        try:
            from .viewer import serve
        except ImportError:
            raise usage_error("wlisp serve needs its web stack: pip install "
                              "'wlisp[serve]'", "W0903") from None
        return serve
    serve = _guarded(obj, prepare)
    store = os.path.abspath(state_dir or default_state_dir())
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: serving on {host}: anyone who can reach it can read these "
                   "runs' prompts and outputs", err=True)
    click.echo(f"serving the runs in {store} at http://{host}:{port}/ (Ctrl-C stops)",
               err=True)
    serve(store, host, port)


@main.command("repl")
@executor_option
@answers_option
@click.option("--config", type=click.Path(dir_okay=False),
              help="wlisp.toml to use (default: the nearest one above the current directory).")
@quiet_option
@click.pass_obj
def repl_cmd(obj: Context, executor: str | None, answers: str | None, config: str | None,
             quiet: bool) -> None:
    """Interactive session (scripted when stdin is not a terminal)."""
    from .repl import main as repl_main

    sys.exit(repl_main(executor, answers, config, quiet, obj.debug))


@main.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the WorkflowSpec format."""
    from ..ir.validate import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
