"""Draw a WorkflowSpec as Mermaid, Graphviz dot or text for a terminal; nested graphs
become subgraphs (indented branches in text)."""

from __future__ import annotations

import os
import shutil
import subprocess

from ..ir import Graph, Node, WorkflowSpec
from ..ir.nodes import node_refs

SHAPES_MERMAID = {"spawn": ('["', '"]'), "loop": ('(["', '"])'), "classify": ('{"', '"}'),
                  "tournament": ('[["', '"]]'), "map": ('[/"', '"/]'), "pipeline": ('[/"', '"/]'),
                  "value": ('(("', '"))'), "try": ('[["', '"]]'), "fail": ('>"', '"]'),
                  "human": ('[("', '")]')}
SHAPES_DOT = {"spawn": "box", "loop": "ellipse", "classify": "diamond", "tournament": "box3d",
              "map": "parallelogram", "pipeline": "parallelogram", "value": "circle",
              "try": "octagon", "fail": "invtriangle", "human": "house"}


GENERATED = ("map", "classify", "loop", "then", "else", "pipeline", "try", "catch",
             "tournament", "judge", "stage")


def _user_name(node_id: str) -> str | None:
    """The name the user gave this node: the last id segment that is not generated
    (`main/verdict/lead` -> `verdict`; `main/reviews/map[0]/reviewer` -> `reviews`)."""
    for seg in reversed(node_id.split("/")[1:-1]):
        if _base(seg) not in GENERATED:
            return seg
    return None


def _phase(node_id: str) -> str | None:
    """The first name the user wrote after the last generated segment of an id
    (`main/classify/then/plan/round/loop` -> `plan`)."""
    segs = node_id.split("/")[1:-1]
    generated = [i for i, seg in enumerate(segs) if _base(seg) in GENERATED]
    after = segs[generated[-1] + 1:] if generated else segs
    return after[0] if after else None


def _base(seg: str) -> str:
    return seg.split("[")[0].split("@")[0].split("#")[0].rstrip("0123456789")


ROUTING = ("if", "when", "cond", "case", "classify")


def label_of(node: Node) -> str:
    """Steps by their binding and agent, loops by their phase, routing by its form."""
    short = node.id.rsplit("/", 1)[-1]
    if node.kind == "spawn":
        named = short if _base(short) != node.agent else None
        if named is None and _base(node.id.split("/")[-2]) in GENERATED:  # a 0.1 spec
            named = _user_name(node.id)
        return f"{named}<br/>[{node.agent}]" if named else f"[{node.agent}]"
    if node.kind == "loop":
        phase = _phase(node.id)
        return f"{phase}: loop ≤ {node.max}" if phase else f"loop ≤ {node.max}"
    if node.kind == "classify" and _base(short) in ROUTING:
        return _base(short)
    named = short if _base(short) != node.kind else _user_name(node.id + "/x")
    kind = "route" if node.kind == "classify" else node.kind
    return f"{named}: {kind}" if named and named != node.kind else kind


def _title(title: str) -> str:
    """A nested graph's title as the user would say it (`True` -> then)."""
    return {"True": "then", "False": "else", "else": "else"}.get(title, title)


def bodies_of(node: Node):
    """(title, graph) of the nested graphs that hold anything."""
    return [(_title(t), g) for t, g in node.titled_graphs() if g.nodes]


def _edges(graph: Graph):
    ids = {n.id for n in graph.nodes}
    for n in graph.nodes:
        refs: set = set()
        node_refs(n, refs)
        deps = {d for d in refs if d in ids and d != n.id} - set(n.after)
        for d in sorted(deps):
            yield d, n.id, False
        for d in n.after:
            yield d, n.id, True


class _Names:
    def __init__(self):
        self.names: dict[str, str] = {}

    def __call__(self, nid: str) -> str:
        if nid not in self.names:
            self.names[nid] = f"n{len(self.names)}"
        return self.names[nid]


def to_mermaid(spec: WorkflowSpec) -> str:
    out = ["flowchart TD"]
    name = _Names()
    counter = [0]

    def emit(graph: Graph, indent: str):
        for n in graph.nodes:
            left, right = SHAPES_MERMAID[n.kind]
            out.append(f"{indent}{name(n.id)}{left}{label_of(n)}{right}")
            for title, g in bodies_of(n):
                counter[0] += 1
                sid = f"sg{counter[0]}"
                out.append(f'{indent}subgraph {sid}["{title}"]')
                emit(g, indent + "  ")
                out.append(f"{indent}end")
                out.append(f"{indent}{name(n.id)} -.-> {sid}")
        for a, b, order in _edges(graph):
            out.append(f"{indent}{name(a)} {'-.->' if order else '-->'} {name(b)}")

    emit(spec.graph, "  ")
    return "\n".join(out)


def to_text(spec: WorkflowSpec) -> str:
    """The graph as an indented tree for a terminal: each node with what it reads
    (`← draft`) or follows (`after x`), each nested graph under its node."""
    out = [spec.name]

    def emit(graph: Graph, prefix: str):
        reads: dict[str, list[str]] = {}
        labels = {n.id: label_of(n).split(":")[0].split("<br/>")[0].strip("[]")
                  for n in graph.nodes}
        for a, b, order in _edges(graph):
            reads.setdefault(b, []).append(("after " if order else "← ") + labels[a])
        for i, n in enumerate(graph.nodes):
            last = i == len(graph.nodes) - 1
            extra = f"  {', '.join(reads[n.id])}" if n.id in reads else ""
            out.append(f"{prefix}{'└─ ' if last else '├─ '}{label_of(n).replace('<br/>', ' ')}"
                       f"{extra}")
            inner = prefix + ("   " if last else "│  ")
            bodies = bodies_of(n)
            if len(bodies) == 1 and n.kind != "classify":  # a loop's or try's one body
                emit(bodies[0][1], inner)
                continue
            for j, (title, g) in enumerate(bodies):
                end = j == len(bodies) - 1
                out.append(f"{inner}{'└─ ' if end else '├─ '}{title}:")
                emit(g, inner + ("   " if end else "│  "))

    emit(spec.graph, "")
    return "\n".join(out)


def to_dot(spec: WorkflowSpec) -> str:
    out = [f'digraph "{spec.name}" {{', "  rankdir=TB; compound=true;",
           '  node [fontname="Helvetica"]; edge [fontname="Helvetica"];']
    name = _Names()
    counter = [0]

    def emit(graph: Graph, indent: str):
        for n in graph.nodes:
            label = label_of(n).replace("<br/>", "\\n").replace('"', '\\"')
            out.append(f'{indent}{name(n.id)} [label="{label}", shape={SHAPES_DOT[n.kind]}, '
                       f'tooltip="{n.id}"];')
            for title, g in bodies_of(n):
                counter[0] += 1
                cluster = f"cluster_{counter[0]}"
                out.append(f"{indent}subgraph {cluster} {{")
                out.append(f'{indent}  label="{title}"; style=rounded; color=gray;')
                emit(g, indent + "  ")
                out.append(f"{indent}}}")
                # the node runs its body: an edge into the cluster
                out.append(f"{indent}{name(n.id)} -> {name(g.nodes[0].id)} "
                           f"[lhead={cluster}, style=dotted, arrowhead=empty];")
        for a, b, order in _edges(graph):
            style = " [style=dashed]" if order else ""
            out.append(f"{indent}{name(a)} -> {name(b)}{style};")

    emit(spec.graph, "  ")
    out.append("}")
    return "\n".join(out)


# --- files -------------------------------------------------------------------------------

DRAWS = {"mermaid": to_mermaid, "dot": to_dot, "ascii": to_text}
PICTURES = ("svg", "png", "pdf")  # drawn by Graphviz from the dot text
GRAPH_FILES = {".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot",
               ".txt": "ascii", ".svg": "svg", ".png": "png", ".pdf": "pdf"}


def write_graph(spec: WorkflowSpec, output: str, fmt: str | None) -> None:
    """`wlisp graph -o FILE`: the file's extension says what goes in it; `fmt` (the
    `--format` given, if any) must agree, or name the kind of a file without one."""
    from ..errors import usage_error

    ext = os.path.splitext(output)[1].lower()
    kind = GRAPH_FILES.get(ext, fmt)
    drawn_from = "dot" if kind in PICTURES else kind
    if kind is None or fmt and fmt != drawn_from and ext in GRAPH_FILES:
        raise usage_error(f"`{output}`: " + (
            f"a {ext} file is {kind}, not {fmt}: drop --format or change the name" if kind
            else "write a .mmd, .dot, .txt, .svg, .png or .pdf file (or give --format for "
            "another name)"))
    if kind in PICTURES:
        _render_dot(to_dot(spec), output, kind)
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(DRAWS[kind](spec))
    except OSError as exc:
        raise usage_error(f"cannot write {output}: {exc.strerror or exc}") from None


def _render_dot(text: str, path: str, kind: str) -> None:
    from ..errors import usage_error

    if shutil.which("dot") is None:
        raise usage_error(f"drawing a .{kind} needs Graphviz's `dot` on PATH; write a .dot "
                          "or .mmd file instead")
    res = subprocess.run(["dot", f"-T{kind}", "-o", path], input=text, capture_output=True,
                         text=True, timeout=120)
    if res.returncode != 0:
        raise usage_error(f"`dot` could not draw {path}: {res.stderr.strip()[:500]}")
