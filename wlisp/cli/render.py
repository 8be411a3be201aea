"""What the front ends print: diagnostics, how a run ended, the journal's runs and
one run's nodes. Results go to stdout, everything else to stderr."""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil

import click

from ..values.datum import List, pr_str
from .progress import ICONS, STYLES
from .untrusted import terminal_safe

WIDTH = 100          # values longer than this print one item per line
PREVIEW = 60         # characters of an outcome's output shown in its summary
_KEYWORD_NAME = re.compile(r"[^\s\d:.,;()\[\]{}\"'`~@][^\s:,;()\[\]{}\"'`~@]*\Z")


def report(err, sources, as_json: bool = False) -> None:
    """Diagnostics of a WlispError: rendered with carets, or as JSON on stdout."""
    from ..errors import render_all, to_json

    if as_json:
        click.echo(to_json(err.diagnostics))
    else:
        click.echo(render_all(err.diagnostics, sources), err=True)


def problem_lines(result) -> list[str]:
    """Why a run did not complete, beyond its error: the other failed nodes (with their
    source) and the gates it waits at."""
    lines = [f"  {info.get('source') or '?'}: {node_id} failed: {info.get('error')}"
             for node_id, info in result.nodes.items()
             if info["status"] == "failed" and node_id != result.failed_node]
    lines += [f"  waiting at {gate}: {prompt}" for gate, prompt in result.gates.items()]
    return lines


def print_result(result, state_dir: str | None) -> None:
    """The value of a completed run on stdout; otherwise what happened and how to go on."""
    where = f" --state-dir {state_dir}" if state_dir and not _is_default(state_dir) else ""
    if result.reused:
        click.echo(f"reused {result.reused} journaled step{'s' if result.reused != 1 else ''}",
                   err=True)
    if result.status == "completed":
        click.echo(terminal_safe(readable(result.value)))
        if state_dir:  # every run says how to find it again
            click.echo(f"run {result.run_id} completed; see it with: wlisp show "
                       f"{result.run_id}{where}", err=True)
        return
    click.echo(terminal_safe(f"run {result.run_id} {result.status}: {result.error}"), err=True)
    for line in problem_lines(result):
        click.echo(terminal_safe(line), err=True)
    if state_dir and result.status == "paused":
        click.echo(f"continue with: wlisp resume {result.run_id} --answer VALUE{where}",
                   err=True)
    elif state_dir and result.status in ("failed", "budget_exhausted"):
        hint = " --budget steps=N" if result.status == "budget_exhausted" else ""
        click.echo(f"continue with: wlisp resume {result.run_id}{hint}{where}", err=True)


def as_text(value) -> bool:
    """Whether `readable` shows `value` as text (else as JSON)."""
    return isinstance(value, str) or _is_outcome(value) or (
        isinstance(value, list) and bool(value) and all(_is_outcome(v) for v in value))


def readable(value) -> str:
    """A run's value as people read it: a text as it is, a step's outcome as its answer,
    a list of outcomes as each one's answer, numbered (`--json` keeps them whole);
    anything else as JSON."""
    if not as_text(value):
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, str):
        return value
    if _is_outcome(value):
        return value["output"]
    return "\n".join(f"[{i}] {v['output']}" for i, v in enumerate(value, 1))


def _is_default(state_dir: str) -> bool:
    """Whether `wlisp show` from here finds this journal without being told."""
    from ..runtime.journal import default_state_dir

    return os.path.abspath(state_dir) == os.path.abspath(default_state_dir())


def when(ts) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def print_runs(rows: list[dict], width: int | None = None) -> None:
    """One line per run, newest first, fitting the terminal (80 columns at least)."""
    from rich.cells import cell_len, set_cell_size

    width = width or max(80, shutil.get_terminal_size((80, 24)).columns)
    today = datetime.date.today()
    lines = []
    for r in rows:
        started = datetime.datetime.fromtimestamp(r["started"]) if r["started"] else None
        day = "-" if started is None else started.strftime(
            "%H:%M" if started.date() == today else "%m-%d")
        took = _seconds(r["duration"]) if r.get("duration") is not None else "-"
        what = " · ".join(x for x in (os.path.basename(r.get("file") or ""), r["workflow"],
                                       _inputs(r.get("inputs"))) if x)
        lines.append((r["id"], STATUS_WORDS.get(r["status"], r["status"]), day, took,
                      str(r["steps"]), _count(r.get("tokens", 0)), f"${r['cost']:.2f}", what))
    head = ("run", "status", "start", "took", "steps", "tok", "cost", "file · workflow · inputs")
    widths = [max(len(row[k]) for row in [head, *lines]) for k in range(7)]
    rest = max(10, width - sum(widths) - 7)
    for row in [head, *lines]:
        cells = [c.ljust(w) if k < 3 else c.rjust(w) for k, (c, w) in
                 enumerate(zip(row[:7], widths, strict=True))]
        what = row[7] if cell_len(row[7]) <= rest else \
            set_cell_size(row[7], rest - 1).rstrip() + "…"  # (columns, not characters: 日本)
        click.echo(terminal_safe(" ".join([*cells, what]).rstrip()))


STATUS_WORDS = {"completed": "ok", "budget_exhausted": "budget", "cancelled": "cancel"}


def _seconds(s: float) -> str:
    return f"{s:.1f}s" if s < 60 else f"{s / 60:.0f}m" if s < 3600 else f"{s / 3600:.1f}h"


def _count(n: int) -> str:
    return str(n) if n < 1000 else f"{n / 1000:.1f}k" if n < 1_000_000 else f"{n / 1e6:.1f}M"


def _inputs(inputs) -> str:
    """Inputs in a few characters: `topic=tide pools, n=2`."""
    if not isinstance(inputs, dict) or not inputs:
        return ""
    parts = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in inputs.items()]
    text = ", ".join(" ".join(p.split()) for p in parts)
    return text if len(text) <= 40 else text[:39] + "…"


def show_json(run, nodes: dict, logs: str) -> str:
    keep = ("id", "workflow", "status", "created", "finished", "error", "parent", "digest",
            "source", "usage", "value")
    return json.dumps({**{k: getattr(run, k) for k in keep}, "status": run.shown_status,
                       "nodes": nodes, "logs": logs}, indent=2, default=str)


def print_show(run, nodes: dict, logs: str) -> None:
    """A run's nodes as a tree named as the source names them (`runtree.py`): status,
    agent, attempts, time, reuse, source, errors."""
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

    from .runtree import build

    usage = run.usage
    where = f"{run.source} · " if run.source else ""
    head = Text(f"{run.id}  {where}{run.workflow}  {run.shown_status}\n"
                f"started {when(run.created)}  steps {usage.get('steps', 0)}  "
                f"tokens {usage.get('tokens', 0)}  cost ${usage.get('cost', 0):.4f}", style="bold")
    tree = Tree("", hide_root=True)

    def add(branch, row):
        for child in row.children.values():
            add(branch.add(_show_line(child, run.source)), child)
    add(tree, build(nodes, run.spec))
    console = Console()
    console.print(head)
    for name, value in (run.inputs or {}).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        console.print(Text(terminal_safe(f"input {name}: {_clip(text, 6)}")), highlight=False)
    console.print(tree)
    if run.error:  # it names the node and its source line (runtime/run.py `_located`)
        console.print(Text(terminal_safe(f"error: {run.error}"), style="red"))
    elif run.status == "completed":
        console.print(Text(terminal_safe("value: " + _clip(readable(run.value), 20))),
                      highlight=False)
    if run.shown_status == "interrupted":
        console.print(Text(f"its process is gone; continue with: wlisp resume {run.id}",
                           style="yellow"))
    console.print(Text(f"logs: {logs}", style="dim"))


def _clip(text: str, lines: int) -> str:
    """At most `lines` lines of `text` (`wlisp show RUN NODE` and --json have it whole)."""
    parts = text.splitlines() or [""]
    more = len(parts) - lines
    return "\n".join(parts[:lines]) + (f"\n… {more} more lines" if more > 0 else "")


def _show_line(row, file: str | None = None):
    """One node's row; a source line in the run's own `file` is written `line N`."""
    from rich.text import Text

    rec = row.rec
    if rec is None:
        return Text(row.label)
    state = {"completed": "finished"}.get(rec["status"], rec["status"])
    line = Text(f"{ICONS.get(state, ' ')} {row.label}", style=STYLES.get(state, ""))
    extras = [rec.get("agent") and f"[{rec['agent']}]",
              rec.get("iterations") and f"{rec['iterations']} iteration"
              f"{'s' if rec['iterations'] != 1 else ''}",
              rec.get("attempts", 0) > 1 and f"{rec['attempts']} attempts",
              rec.get("elapsed") is not None and f"{rec['elapsed']:.2f}s",
              rec.get("reused") and "reused",
              _line_in(rec.get("source"), file)]
    line.append("  " + "  ".join(x for x in extras if x), style="dim")
    if rec.get("error") and rec["status"] in ("failed", "skipped", "cancelled", "paused"):
        line.append(terminal_safe(f"\n    {rec['error'][:200]}"), style="red")
    return line


def _line_in(source: str | None, file: str | None) -> str | None:
    if source and file and source.startswith(file + ":"):
        return "line " + source[len(file) + 1:].split(":")[0]
    return source


# --- values, in wlisp syntax ------------------------------------------------------


def show(value, runtime: bool = False, top: bool = False, width: int = WIDTH) -> str:
    """Print a value readably, in wlisp syntax.

    Run results are JSON (`runtime`): map keys that can be keywords print as
    keywords, and step outcomes print as `#<outcome AGENT ok|failed PREVIEW>`.
    A value too long for one line prints one item per line. A top-level
    outcome whose output did not fit in its preview is followed by the whole
    output, indented, because that text is usually what the user asked for.
    """
    text = _pretty(value, runtime, 0, width)
    if top and runtime and _is_outcome(value):
        output = str(value.get("output") or "").strip()
        if value.get("structured") is None and _preview(output) != output:
            text += "\n" + "\n".join("  " + ln for ln in output.splitlines())
    return text


def _is_outcome(x) -> bool:
    return isinstance(x, dict) and "task_id" in x and "output" in x and "success" in x


def _preview(text: str) -> str:
    """The text itself when it is one short line, else its first line cut, with `…`."""
    whole = text.strip()
    first = whole.split("\n", 1)[0]
    return first if first == whole and len(first) <= PREVIEW else first[:PREVIEW] + "…"


def _outcome(x: dict) -> str:
    state = "ok" if x.get("success") else "failed"
    if x.get("structured") is not None:
        body = _flat(x["structured"], True)
        body = body if len(body) <= PREVIEW else body[:PREVIEW] + "…"
    else:
        body = pr_str(_preview(str(x.get("error") or x.get("output") or "")))
    return f"#<outcome {x.get('agent') or '?'} {state} {body}>"


def _key(k, runtime: bool) -> str:
    if runtime and isinstance(k, str) and _KEYWORD_NAME.match(k):
        return ":" + k
    return pr_str(k)


def _flat(x, runtime: bool) -> str:
    if runtime and _is_outcome(x):
        return _outcome(x)
    if isinstance(x, dict):
        return "{" + " ".join(f"{_key(k, runtime)} {_flat(v, runtime)}"
                              for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)) and not isinstance(x, str):
        inner = " ".join(_flat(v, runtime) for v in x)
        return f"({inner})" if isinstance(x, List) else f"[{inner}]"
    return pr_str(x)


def _pretty(x, runtime: bool, indent: int, width: int) -> str:
    flat = _flat(x, runtime)
    if indent + len(flat) <= width or not x or not isinstance(x, (dict, list, tuple)) \
            or isinstance(x, str) or (runtime and _is_outcome(x)):
        return flat
    pad = "\n" + " " * (indent + 1)
    if isinstance(x, dict):
        parts = []
        for k, v in x.items():
            key = _key(k, runtime)
            parts.append(f"{key} {_pretty(v, runtime, indent + len(key) + 2, width)}")
        return "{" + pad.join(parts) + "}"
    if any(isinstance(v, (dict, list, tuple)) and not isinstance(v, str) for v in x):
        inner = pad.join(_pretty(v, runtime, indent + 1, width) for v in x)
    else:  # scalars fill lines instead of taking one each
        rows, row = [], ""
        for item in (_flat(v, runtime) for v in x):
            if row and indent + 1 + len(row) + 1 + len(item) > width:
                rows.append(row)
                row = ""
            row = f"{row} {item}" if row else item
        inner = pad.join(rows + [row])
    return f"({inner})" if isinstance(x, List) else f"[{inner}]"
