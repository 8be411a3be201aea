"""Reading a run: one step in full (`wlisp show RUN NODE`) and a report to paste into a
pull request or a ticket (`wlisp report RUN --format md|json`)."""

from __future__ import annotations

import json
import os
import re

from ..runtime.commits import LOG_NAME
from ..runtime.stepfiles import step_dir

_SECTION = re.compile(r"^={78}\n# (?P<node>.+?) \(attempt (?P<attempt>\d+), (?P<status>\w+)\)\n"
                      r"\n## prompt\n\n", re.M)


def attempts_of(logs: str, node: str) -> list[dict]:
    """Every attempt of `node` as the run's log has it: prompt, output, status."""
    try:
        with open(os.path.join(logs, LOG_NAME), encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    found = list(_SECTION.finditer(text))
    out = []
    for k, m in enumerate(found):
        end = found[k + 1].start() if k + 1 < len(found) else len(text)
        body = text[m.end():end]
        prompt, _, output = body.partition("\n\n## output\n\n")
        if m["node"] == node:
            out.append({"attempt": int(m["attempt"]), "status": m["status"],
                        "prompt": prompt, "output": output.removesuffix("\n\n")})
    return out


def step_view(run, nodes: dict, logs: str, node: str) -> dict | None:
    """What `wlisp show RUN NODE` shows; None when the run has no such node."""
    rec = nodes.get(node)
    if rec is None:
        return None
    outcome = rec.get("outcome") or {}
    return {"node": node, "status": rec.get("status"), "agent": rec.get("agent"),
            "source": rec.get("source"), "elapsed": rec.get("elapsed"),
            "usage": rec.get("usage"), "error": rec.get("error"),
            "structured": outcome.get("structured"), "session_id": outcome.get("session_id"),
            "finish_reason": outcome.get("finish_reason"),
            "attempts": [{**a, "files": _folder(logs, node, a["attempt"])}
                         for a in attempts_of(logs, node)]}


def _folder(logs: str, node: str, attempt: int) -> str | None:
    folder = step_dir(logs, node, attempt)
    return folder if os.path.isdir(folder) else None


def step_text(view: dict) -> str:
    lines = [f"{view['node']}  [{view.get('agent') or '-'}]  {view['status']}",
             f"source: {view.get('source') or '-'}"]
    if view.get("elapsed") is not None:
        lines.append(f"time: {view['elapsed']:.2f}s")
    if view.get("usage"):
        lines.append("usage: " + ", ".join(f"{k} {v}" for k, v in view["usage"].items()))
    for a in view["attempts"]:
        lines += ["", f"--- attempt {a['attempt']} ({a['status']}) ---"]
        lines += [f"files: {a['files']}"] if a.get("files") else []
        lines += ["prompt:", a["prompt"], "", "output:", a["output"]]
    if view.get("structured") is not None:
        lines += ["", "structured:", json.dumps(view["structured"], indent=2,
                                                ensure_ascii=False)]
    if view.get("error"):
        lines += ["", f"error: {view['error']}"]
    return "\n".join(lines)


def report(run, nodes: dict) -> dict:
    """A run as data: what ran, what it answered, what failed and why, usage, cost."""
    steps = [{"node": n, "agent": r.get("agent"), "status": r.get("status"),
              "attempts": r.get("attempts"), "elapsed": r.get("elapsed"),
              "source": r.get("source"), "error": r.get("error"),
              "answer": (r.get("outcome") or {}).get("output")}
             for n, r in nodes.items() if r.get("kind") == "spawn"]
    return {"run": run.id, "workflow": run.workflow, "status": run.shown_status,
            "inputs": run.inputs, "error": run.error, "value": run.value,
            "usage": run.usage, "steps": steps}


def report_markdown(data: dict) -> str:
    usage = data.get("usage") or {}
    lines = [f"## wlisp run `{data['run']}` — {data['workflow']}: {data['status']}", ""]
    if data.get("inputs"):
        lines += ["**Inputs:** " + ", ".join(f"`{k}` = {_short(v)}"
                                             for k, v in data["inputs"].items()), ""]
    lines += [f"**Steps:** {usage.get('steps', len(data['steps']))} · **tokens:** "
              f"{usage.get('tokens', 0)} · **cost:** ${usage.get('cost', 0):.4f}", ""]
    if data.get("error"):
        lines += [f"**Error:** {data['error']}", ""]
    lines += ["| step | agent | status | attempts | time | answer or error |",
              "|---|---|---|---|---|---|"]
    for s in data["steps"]:
        said = s["error"] if s["status"] != "completed" else s["answer"]
        took = f"{s['elapsed']:.1f}s" if s.get("elapsed") is not None else "-"
        lines.append(f"| `{s['node']}` | {s['agent'] or '-'} | {s['status']} | "
                     f"{s['attempts'] or '-'} | {took} | {_cell(said)} |")  # (skipped: -)
    if data["status"] == "completed":
        lines += ["", "**Result:**", "", *_fenced(data.get("value"))]
    return "\n".join(lines) + "\n"


def _fenced(value) -> list[str]:
    """The value as `wlisp run` prints it (a step's answer as its text), fenced."""
    from .render import as_text, readable

    text = readable(value)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return [fence + ("" if as_text(value) else "json"), text[:4000], fence]


def _short(v) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _cell(v) -> str:
    return _short(v or "").replace("|", "\\|")
