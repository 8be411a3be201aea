"""The `wlisp` command line: a thin layer that wires click commands to the library.

Imports of the compiler and friends happen inside the commands so that
`wlisp --help` starts fast. User mistakes print diagnostics and exit 1 (source
errors) or 2 (usage errors); a traceback appears only with `--debug`.
"""

from __future__ import annotations

import json
import sys

import click

EXIT_FAILED = 1
EXIT_USAGE = 2


class Context:
    def __init__(self, debug: bool):
        self.debug = debug


def _report(err, sources, as_json: bool) -> None:
    from ..errors import render_all, to_json

    if as_json:
        click.echo(to_json(err.diagnostics))
    else:
        click.echo(render_all(err.diagnostics, sources), err=True)


def _sources():
    from ..errors import Sources

    return Sources()


def _compile_path(path: str, workflow: str | None, sources):
    """A .wl file compiles; a .json file (or `-` with JSON) loads as a spec."""
    from ..ir.spec import WorkflowSpec
    from ..lang.api import compile, compile_file, read_source

    if path == "-":
        text = sys.stdin.read()
        if text.lstrip().startswith("{"):
            return WorkflowSpec.from_json(text)
        return compile(text, "<stdin>", workflow, sources)
    if path.endswith(".json"):
        return WorkflowSpec.from_json(read_source(path))
    return compile_file(path, workflow, sources)


def _run_guarded(ctx: Context, fn, as_json: bool = False):
    """Turn WlispError into diagnostics and an exit code, never a traceback."""
    from ..errors import WlispError

    sources = _sources()
    try:
        return fn(sources)
    except WlispError as err:
        if ctx.debug:
            raise
        _report(err, sources, as_json)
        usage = all(d.code.startswith("W07") for d in err.diagnostics)
        sys.exit(EXIT_USAGE if usage else EXIT_FAILED)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    spec = _run_guarded(obj, lambda s: _compile_path(file, workflow, s), diagnostics_json)
    text = spec.to_json(indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        click.echo(text)


@main.command("check")
@click.argument("files", nargs=-1, required=True)
@click.option("--diagnostics-json", is_flag=True, help="Print diagnostics as JSON.")
@click.pass_obj
def check_cmd(obj: Context, files: tuple[str, ...], diagnostics_json: bool) -> None:
    """Report every error in FILES without running anything."""
    from ..errors import WlispError, render_all, to_json
    from ..ir.spec import WorkflowSpec
    from ..lang.api import check, read_source

    sources = _sources()
    found = []
    for path in files:
        try:
            if path.endswith(".json"):
                WorkflowSpec.from_json(read_source(path))
            else:
                found += check(read_source(path), path, sources)
        except WlispError as err:
            found += err.diagnostics
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


@main.command("graph")
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@click.option("--workflow", "-w", help="Workflow to draw.")
@click.pass_obj
def graph_cmd(obj: Context, file: str, fmt: str, workflow: str | None) -> None:
    """Draw the node graph of FILE (Mermaid or Graphviz dot)."""
    from .diagram import to_dot, to_mermaid

    spec = _run_guarded(obj, lambda s: _compile_path(file, workflow, s))
    click.echo(to_mermaid(spec) if fmt == "mermaid" else to_dot(spec))


from . import run_commands as cli_run  # noqa: E402  (after the helpers it uses; registers run, resume, ...)


@main.command("repl")
@cli_run.executor_option
@cli_run.answers_option
@click.option("--config", type=click.Path(dir_okay=False),
              help="wlisp.toml to use (default: the nearest one above the current directory).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
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


cli_run.register(main)  # run, resume, runs, show

if __name__ == "__main__":  # pragma: no cover
    main()
