"""What the front ends print: diagnostics, how a run ended, the journal's runs and
one run's nodes. Results go to stdout, everything else to stderr."""

from __future__ import annotations

import datetime
import json

import click

from .progress import ICONS, STYLES


def report(err, sources, as_json: bool = False) -> None:
    """Diagnostics of a WlispError: rendered with carets, or as JSON on stdout."""
    from ..errors import render_all, to_json

    if as_json:
        click.echo(to_json(err.diagnostics))
    else:
        click.echo(render_all(err.diagnostics, sources), err=True)


def problem_lines(result) -> list[str]:
    """Why a run did not complete: its failed nodes (with source) and waiting gates."""
    lines = [f"  {info.get('source') or '?'}: {node_id} failed: {info.get('error')}"
             for node_id, info in result.nodes.items() if info["status"] == "failed"]
    lines += [f"  waiting at {gate}: {prompt}" for gate, prompt in result.gates.items()]
    return lines


def print_result(result, state_dir: str | None) -> None:
    """The value of a completed run on stdout; otherwise what happened and how to go on."""
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
    for line in problem_lines(result):
        click.echo(line, err=True)
    if state_dir and result.status == "paused":
        click.echo(f"continue with: wlisp resume {result.run_id} --answer VALUE{where}",
                   err=True)
    elif state_dir and result.status in ("failed", "budget_exhausted"):
        hint = " --budget steps=N" if result.status == "budget_exhausted" else ""
        click.echo(f"continue with: wlisp resume {result.run_id}{hint}{where}", err=True)


def when(ts) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def print_runs(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    table.add_column("run", no_wrap=True, min_width=max((len(r["id"]) for r in rows), default=3))
    for name in ("workflow", "status", "started", "steps", "cost"):
        table.add_column(name)
    for r in rows:
        table.add_row(r["id"], r["workflow"], r["status"], when(r["started"]), str(r["steps"]),
                      f"${r['cost']:.4f}")
    Console().print(table)


def show_json(run, nodes: dict, logs: str) -> str:
    keep = ("id", "workflow", "status", "created", "finished", "error", "parent", "digest",
            "source", "usage", "value")
    return json.dumps({**{k: getattr(run, k) for k in keep}, "nodes": nodes, "logs": logs},
                      indent=2, default=str)


def print_show(run, nodes: dict, logs: str) -> None:
    """A run's nodes as a tree: status, agent, attempts, time, reuse, source, errors."""
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

    usage = run.usage
    tree = Tree(Text(f"{run.id}  {run.workflow}  {run.status}  started {when(run.created)}  "
                     f"steps {usage.get('steps', 0)}  tokens {usage.get('tokens', 0)}  "
                     f"cost ${usage.get('cost', 0):.4f}", style="bold"))
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
    if run.error:
        console.print(Text(f"error: {run.error}", style="red"))
    console.print(Text(f"logs: {logs}", style="dim"))
