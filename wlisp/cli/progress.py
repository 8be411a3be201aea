"""Live progress for `wlisp run`: a rich tree on a terminal, plain lines otherwise.

Both are event sinks (runtime/events.py); they write to stderr so that stdout
carries only the final value.
"""

from __future__ import annotations

import sys
import time

from ..contract import Event
from .untrusted import terminal_safe

ICONS = {"running": "…", "finished": "✓", "failed": "✗", "skipped": "↷", "pruned": "✂",
         "cancelled": "⊘", "paused": "⏸", "retried": "↻"}
MAX_SHOWN = 40
# what happens to nodes; executors send other kinds too (`process_started`, ...)
NODE_EVENTS = frozenset({"started", "finished", "failed", "skipped", "pruned", "cancelled",
                         "paused", "retried"})
STYLES = {"finished": "green", "failed": "red", "skipped": "yellow", "pruned": "dim",
          "cancelled": "yellow", "paused": "cyan", "retried": "magenta", "running": "blue"}


def _tokens(usage) -> str:
    if not usage:
        return ""
    n = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
    return f" {n} tok" if n else ""


class PlainProgress:
    """One line per finished, failed, retried or pruned node (for logs and pipes); with
    `verbose`, every line the agents print too."""

    def __init__(self, stream=None, verbose: bool = False):
        self.stream = stream or sys.stderr
        self.verbose = verbose

    def emit(self, e: Event) -> None:
        said = terminal_safe(e.message)
        if e.kind == "agent" and self.verbose and e.data.get("type") != "tool_use":
            print(f"[{e.time:7.2f}s] │ {e.node}: {said}", file=self.stream, flush=True)
            return
        if e.kind == "agent" and e.data.get("type") == "tool_use":  # what agents do
            print(f"[{e.time:7.2f}s] ⚙ tool      {e.node} [{e.agent}]: {said[:120]}",
                  file=self.stream, flush=True)
            return
        if e.kind in ("started", "run_started") or e.kind not in NODE_EVENTS | {"run_finished"}:
            return
        if e.kind == "run_finished":
            line = f"[{e.time:7.2f}s] run {e.data.get('status')}"
        else:
            took = f" ({e.elapsed:.2f}s)" if e.elapsed is not None else ""
            agent = f" [{e.agent}]" if e.agent else ""
            why = f": {said}" if e.message and e.kind != "finished" else ""
            line = (f"[{e.time:7.2f}s] {ICONS.get(e.kind, ' ')} {e.kind:<9} {e.node}{agent}"
                    f"{took}{_tokens(e.usage)}{why}")
        print(line, file=self.stream, flush=True)


class Follow:
    """Passes every event on, and prints what the agents of the followed steps print
    (`wlisp run --follow NODE`: that node and every step under it) as it comes,
    above the live tree when there is one."""

    def __init__(self, inner, nodes: str, live=None, stream=None):
        self.inner, self.nodes, self.live = inner, nodes, live
        self.stream = stream or sys.stderr

    def follows(self, node: str) -> bool:
        rest = node[len(self.nodes):] if node.startswith(self.nodes) else None
        return rest is not None and (not rest or rest[0] in "/@[#")

    def emit(self, e: Event) -> None:
        if self.inner is not None:
            self.inner.emit(e)
        if e.kind == "agent" and self.follows(e.node or ""):
            line = f"[{e.time:7.2f}s] │ {e.node}: {terminal_safe(e.message)}"
            if self.live is not None:
                self.live.console.print(line, markup=False, highlight=False)
            else:
                print(line, file=self.stream, flush=True)


def follow_target(spec, node: str) -> str:
    """The node id `--follow` names: the workflow's name may be left out; it must be a
    node of the spec (or a name above some), else a usage error with a suggestion."""
    import re

    from ..errors import did_you_mean, usage_error

    full = node if node == spec.name or node.startswith(spec.name + "/") else \
        f"{spec.name}/{node}"
    static = re.sub(r"@\d+|\[[\d.]+\]", "", full)
    ids = [n.id for n, _ in spec.walk()]
    probe = Follow(None, static)
    if not any(probe.follows(re.sub(r"@\d+|\[[\d.]+\]", "", i)) for i in ids):
        raise usage_error(f"--follow: the workflow has no node `{full}`"
                          + did_you_mean(full, ids))
    return full


class LiveProgress:
    """A tree of node instances with status, time and tokens, redrawn as events arrive."""

    def __init__(self, title: str):
        from rich.console import Console
        from rich.live import Live

        self.title = title
        self.console = Console(stderr=True)
        self.nodes: dict[str, dict] = {}
        self.t0 = time.monotonic()
        self.counts: dict[str, int] = {}
        # the tree is rebuilt at each refresh (8 Hz), not per event: big fan-outs stay cheap
        self.live = Live(console=self.console, refresh_per_second=8, transient=False,
                         get_renderable=self._render)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        self.live.refresh()
        self.live.__exit__(*exc)

    def emit(self, e: Event) -> None:
        if e.kind == "agent":  # a running agent's latest text or tool use
            self.nodes.setdefault(e.node, {"kind": e.node_kind, "agent": e.agent})[
                "activity"] = terminal_safe(" ".join((e.message or "").split())[:80])
            return
        if e.kind not in NODE_EVENTS:  # the run's own, and executors' (processes, ...)
            return
        state = "running" if e.kind == "started" else e.kind
        entry = self.nodes.setdefault(e.node, {"kind": e.node_kind, "agent": e.agent})
        if entry.get("state") in self.counts:
            self.counts[entry["state"]] -= 1
        self.counts[state] = self.counts.get(state, 0) + 1
        entry.update(state=state, elapsed=e.elapsed, usage=e.usage,
                     message=terminal_safe(e.message))

    def _render(self):
        from rich.text import Text
        from rich.tree import Tree

        summary = "  ".join(f"{ICONS.get(k, k)} {v}" for k, v in self.counts.items() if v)
        tree = Tree(Text(f"{self.title}  {time.monotonic() - self.t0:.1f}s  {summary}",
                         style="bold"))
        branches = {"": tree}
        shown = list(self.nodes)
        if len(shown) > MAX_SHOWN:  # keep what matters: problems and running nodes, then recent
            keep = [k for k in shown if self.nodes[k].get("state") in ("running", "failed")]
            shown = (keep + shown[-MAX_SHOWN:])[-MAX_SHOWN:]
            shown = sorted(set(shown), key=shown.index)
        for node_id in shown:
            info = self.nodes[node_id]
            parent = _parent(node_id, branches)
            state = info.get("state", "running")
            took = f" {info['elapsed']:.2f}s" if info.get("elapsed") is not None else ""
            label = Text(f"{ICONS.get(state, ' ')} {node_id.rsplit('/', 1)[-1]}",
                         style=STYLES.get(state, ""))
            if info.get("agent") and info["agent"] not in node_id.rsplit("/", 1)[-1]:
                label.append(f" [{info['agent']}]", style="dim")
            label.append(f"{took}{_tokens(info.get('usage'))}", style="dim")
            if state in ("failed", "skipped") and info.get("message"):
                label.append(f"  {info['message'][:100]}", style="red")
            elif state == "running" and info.get("activity"):
                label.append(f"  {info['activity']}", style="italic dim")
            branches[node_id] = parent.add(label)
        return tree


def _parent(node_id: str, branches: dict):
    """The closest displayed ancestor: the longest id prefix already in the tree."""
    prefix = node_id
    while "/" in prefix:
        prefix = prefix.rsplit("/", 1)[0]
        base = prefix.split("@")[0].split("[")[0]
        for candidate in (prefix, base):
            if candidate in branches:
                return branches[candidate]
    return branches[""]
