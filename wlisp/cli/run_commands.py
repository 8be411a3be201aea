"""`wlisp run`, `resume`, `runs`, `show`: running workflows and reading the journal."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import sys

import click

from .commands import EXIT_FAILED, Context, _compile_path, _run_guarded

EXIT_PAUSED = 3


def parse_inputs(pairs: tuple[str, ...]) -> dict:
    """`k=v` (JSON if it parses, else the text), `k=@file` (the file's text)."""
    from ..runtime import usage_error

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise usage_error(f"--input takes key=value or key=@file, got `{pair}`")
        if value.startswith("@"):
            try:
                with open(value[1:], encoding="utf-8") as f:
                    out[key] = f.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise usage_error(f"--input {key}: cannot read {value[1:]}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
            continue
        out[key] = _json_or_text(value)
    return out


def _json_or_text(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_budget(pairs: tuple[str, ...]) -> dict:
    from ..runtime import usage_error

    out = {}
    for pair in pairs:
        for item in pair.split(","):
            key, sep, value = item.partition("=")
            if key not in ("steps", "tokens", "cost", "wall") or not sep:
                raise usage_error(f"--budget takes steps=N, tokens=N, cost=USD or wall=SECONDS, "
                                  f"got `{item}`")
            try:
                number = float(value)
            except ValueError:
                raise usage_error(f"--budget {key} needs a number, got `{value}`") from None
            out[key] = int(number) if number.is_integer() and key != "cost" else number
    return out


def _progress(title: str, quiet: bool):
    if quiet:
        return None, None
    from .progress import LiveProgress, PlainProgress

    if sys.stderr.isatty():
        live = LiveProgress(title)
        return live, live
    return PlainProgress(), None


def _drive(obj: Context, coro_factory, live):
    import asyncio

    def execute(_sources):
        if live is None:
            return asyncio.run(coro_factory())
        with live:
            return asyncio.run(coro_factory())

    try:
        return _run_guarded(obj, execute)
    except KeyboardInterrupt:
        click.echo("interrupted; the journal keeps what finished (`wlisp resume RUN`)", err=True)
        sys.exit(130)


def _finish(result, as_json: bool, state_dir: str | None) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        _print_result(result, state_dir)
    sys.exit({"completed": 0, "paused": EXIT_PAUSED}.get(result.status, EXIT_FAILED))


def _print_result(result, state_dir: str | None) -> None:
    where = f" --state-dir {state_dir}" if state_dir else ""
    if result.reused:
        click.echo(f"reused {result.reused} journaled step{'s' if result.reused != 1 else ''}",
                   err=True)
    if result.status == "completed":
        value = result.value
        if isinstance(value, dict) and "output" in value and "task_id" in value:
            value = value["output"]
        click.echo(value if isinstance(value, str) else
                   json.dumps(value, indent=2, ensure_ascii=False))
        return
    click.echo(f"run {result.run_id} {result.status}: {result.error}", err=True)
    for node_id, info in result.nodes.items():
        if info["status"] == "failed":
            click.echo(f"  {info.get('source', '')}: {node_id} failed: {info.get('error')}",
                       err=True)
    for gate, prompt in result.gates.items():
        click.echo(f"  waiting at {gate}: {prompt}", err=True)
    if state_dir and result.status == "paused":
        click.echo(f"continue with: wlisp resume {result.run_id} --answer VALUE{where}",
                   err=True)
    elif state_dir and result.status in ("failed", "budget_exhausted"):
        hint = " --budget steps=N" if result.status == "budget_exhausted" else ""
        click.echo(f"continue with: wlisp resume {result.run_id}{hint}{where}", err=True)


def _config_path(given: str | None, near: str | None) -> str | None:
    from ..executors.config import find_config

    if given:
        return os.path.abspath(given)
    if near and near != "-":
        return find_config(near)
    return find_config(os.getcwd())


def _executor(name, answers, cfg_path, sources):
    from ..executors.config import load_config
    from ..executors.profiles import make_executor

    if cfg_path and os.path.isfile(cfg_path):
        with open(cfg_path, encoding="utf-8", errors="replace") as f:
            sources.add(cfg_path, f.read())  # so config errors can show the line
    elif cfg_path:
        from ..runtime import usage_error

        raise usage_error(f"no config file {cfg_path}")
    return make_executor(name, answers=answers, config=load_config(cfg_path))


def _routing(cfg_path) -> str:
    return os.path.basename(cfg_path) if cfg_path else "mock"


def register(main: click.Group) -> None:
    main.add_command(run_cmd)
    main.add_command(resume_cmd)
    main.add_command(runs_cmd)
    main.add_command(show_cmd)


state_dir_option = click.option(
    "--state-dir", type=click.Path(file_okay=False),
    help="Journal directory (default: .wlisp beside the workflow, or WLISP_HOME).")
executor_option = click.option(
    "--executor", "-e", help="A profile of wlisp.toml or a built-in (mock, scripted) for every "
    "step; default: wlisp.toml's [agents] routing, else mock.")
answers_option = click.option("--answers", type=click.Path(dir_okay=False),
                              help="Answer file (TOML/JSON/YAML) for the scripted executor.")


@click.command("run")
@click.argument("file")
@click.option("--input", "-i", "inputs", multiple=True, metavar="K=V|K=@FILE",
              help="A workflow input: JSON or text, or @file for a file's contents.")
@click.option("--workflow", "-w", help="Workflow to run (default: `main` or the only one).")
@executor_option
@answers_option
@click.option("--config", type=click.Path(dir_okay=False),
              help="wlisp.toml to use (default: the nearest one above the workflow).")
@click.option("--concurrency", "-c", type=int, help="Bound on concurrent steps.")
@state_dir_option
@click.option("--run-id", help="Name this run (letters, digits, . _ -).")
@click.option("--resume", "resume_from", metavar="RUN",
              help="Reuse the completed steps of RUN that still match (incremental re-run).")
@click.option("--no-journal", is_flag=True, help="Run in memory, without a journal.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.pass_obj
def run_cmd(obj: Context, file, inputs, workflow, executor, answers, config, concurrency,
            state_dir, run_id, resume_from, no_journal, as_json, quiet) -> None:
    """Compile FILE (or load a spec .json) and run it; print the final value."""
    from ..runtime import run_async
    from ..runtime.journal import default_state_dir

    def prepare(sources):
        spec = _compile_path(file, workflow, sources)
        source = sources.texts.get(file) if file != "-" else None
        if source is None and os.path.isfile(file):
            with open(file, "rb") as f:
                source = f.read().decode("utf-8", "replace")
        cfg_path = _config_path(config, file)
        ex = _executor(executor, answers, cfg_path, sources)
        return spec, ex, parse_inputs(inputs), source, cfg_path

    spec, ex, values, source, cfg_path = _run_guarded(obj, prepare)
    store = None if no_journal else (state_dir or default_state_dir(file))
    profile = {"name": executor, "config": cfg_path,
               **({"answers": os.path.abspath(answers)} if answers else {})}
    digest = hashlib.sha256(source.encode()).hexdigest()[:16] if source else None
    sink, live = _progress(f"{spec.name} ({executor or _routing(cfg_path)})", quiet)
    result = _drive(obj, lambda: run_async(
        spec, ex, values, events=sink, concurrency=concurrency, run_id=run_id, store=store,
        reuse_from=resume_from, executor_profile=profile, digest=digest), live)
    _finish(result, as_json, store)


@click.command("resume")
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
@click.option("--concurrency", "-c", type=int, help="Bound on concurrent steps.")
@state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.pass_obj
def resume_cmd(obj: Context, run_id, answer, budget, executor, answers, config, concurrency,
               state_dir, as_json, quiet) -> None:
    """Continue RUN: journaled steps are reused, failed and unfinished ones run again."""
    from ..runtime import resume_async, usage_error
    from ..runtime.journal import Journal, default_state_dir

    store = state_dir or default_state_dir()

    def prepare(sources):
        journal = Journal(store, create=False)
        try:
            run = journal.run(run_id)
            gates = [n for n, rec in journal.nodes(run_id).items() if rec["status"] == "paused"]
        finally:
            journal.close()
        profile = json.loads(run["executor"] or "{}")
        name = executor or profile.get("name")
        cfg_path = os.path.abspath(config) if config else profile.get("config")
        ex = _executor(name, answers or profile.get("answers"), cfg_path, sources)
        name = name or _routing(cfg_path)
        given = {}
        for a in answer:
            node, sep, value = a.partition("=")
            if sep and node in gates:
                given[node] = _json_or_text(value)
            elif len(gates) == 1:
                given[gates[0]] = _json_or_text(a)
            elif not gates:
                raise usage_error(f"run `{run_id}` is not waiting at a human gate")
            else:
                raise usage_error(f"run `{run_id}` waits at several gates ({', '.join(gates)});"
                                  " answer with --answer NODE=VALUE")
        return ex, given, parse_budget(budget), name

    ex, given, raised, name = _run_guarded(obj, prepare)
    sink, live = _progress(f"{run_id} ({name})", quiet)
    result = _drive(obj, lambda: resume_async(run_id, ex, store=store, answers=given,
                                              budget=raised or None, events=sink,
                                              concurrency=concurrency), live)
    _finish(result, as_json, store)


def _read_journal(obj: Context, state_dir, read):
    """Open the journal (it must exist), read from it, close it; errors as diagnostics."""
    from ..runtime.journal import Journal, default_state_dir

    def load(_sources):
        journal = Journal(state_dir or default_state_dir(), create=False)
        try:
            return read(journal)
        finally:
            journal.close()

    return _run_guarded(obj, load)


def _when(ts) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@click.command("runs")
@state_dir_option
@click.option("--limit", default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def runs_cmd(obj: Context, state_dir, limit, as_json) -> None:
    """List journaled runs, newest first."""
    rows = _read_journal(obj, state_dir, lambda journal: journal.runs(limit))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    table.add_column("run", no_wrap=True, min_width=max((len(r["id"]) for r in rows), default=3))
    for name in ("workflow", "status", "started", "steps", "cost"):
        table.add_column(name)
    for r in rows:
        table.add_row(r["id"], r["workflow"], r["status"], _when(r["started"]), str(r["steps"]),
                      f"${r['cost']:.4f}")
    Console().print(table)


@click.command("show")
@click.argument("run_id", metavar="RUN")
@state_dir_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_cmd(obj: Context, run_id, state_dir, as_json) -> None:
    """A run's nodes: status, attempts, timings, usage, errors and source location."""
    run, nodes, logs = _read_journal(obj, state_dir, lambda journal: (
        journal.run(run_id), journal.node_view(run_id), journal.log_dir(run_id)))
    if as_json:
        keep = ("id", "workflow", "status", "created", "finished", "error", "parent", "digest",
                "source")
        click.echo(json.dumps({**{k: run[k] for k in keep},
                               "usage": json.loads(run["usage"] or "{}"),
                               "value": json.loads(run["value"]) if run["value"] else None,
                               "nodes": nodes, "logs": logs}, indent=2, default=str))
        return
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

    from .progress import ICONS, STYLES

    usage = json.loads(run["usage"] or "{}")
    head = Text(f"{run['id']}  {run['workflow']}  {run['status']}  started "
                f"{_when(run['created'])}  steps {usage.get('steps', 0)}  tokens "
                f"{usage.get('tokens', 0)}  cost ${usage.get('cost', 0):.4f}", style="bold")
    tree = Tree(head)
    for node_id, rec in nodes.items():
        state = {"completed": "finished"}.get(rec["status"], rec["status"])
        line = Text(f"{ICONS.get(state, ' ')} {node_id}", style=STYLES.get(state, ""))
        extras = [rec.get("agent") and f"[{rec['agent']}]",
                  rec.get("attempts", 0) > 1 and f"{rec['attempts']} attempts",
                  rec.get("elapsed") is not None and f"{rec['elapsed']:.2f}s",
                  rec.get("reused") and "reused",
                  rec.get("source")]
        line.append("  " + "  ".join(x for x in extras if x), style="dim")
        if rec.get("error") and rec["status"] in ("failed", "skipped", "cancelled", "paused"):
            line.append(f"\n    {rec['error'][:200]}", style="red")
        tree.add(line)
    console = Console()
    console.print(tree)
    if run["error"]:
        console.print(Text(f"error: {run['error']}", style="red"))
    console.print(Text(f"logs: {logs}", style="dim"))
