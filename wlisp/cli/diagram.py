"""Draw a WorkflowSpec as Mermaid or Graphviz dot; nested graphs become subgraphs."""

from __future__ import annotations

from ..ir import Graph, Node, WorkflowSpec
from ..ir.nodes import node_refs

SHAPES_MERMAID = {"spawn": ('["', '"]'), "loop": ('(["', '"])'), "classify": ('{"', '"}'),
                  "tournament": ('[["', '"]]'), "map": ('[/"', '"/]'), "pipeline": ('[/"', '"/]'),
                  "value": ('(("', '"))'), "try": ('[["', '"]]'), "fail": ('>"', '"]'),
                  "human": ('[("', '")]')}
SHAPES_DOT = {"spawn": "box", "loop": "ellipse", "classify": "diamond", "tournament": "box3d",
              "map": "parallelogram", "pipeline": "parallelogram", "value": "circle",
              "try": "octagon", "fail": "invtriangle", "human": "house"}


def _label(node: Node) -> str:
    short = node.id.rsplit("/", 1)[-1]
    if node.kind == "spawn":
        return f"{short}<br/>{node.agent}" if short != node.agent else short
    if node.kind == "loop":
        return f"loop max {node.max}"
    return node.kind if short.startswith(node.kind) else f"{node.kind} {short}"


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
            out.append(f"{indent}{name(n.id)}{left}{_label(n)}{right}")
            for title, g in n.titled_graphs():
                counter[0] += 1
                sid = f"sg{counter[0]}"
                out.append(f'{indent}subgraph {sid}["{n.id.rsplit("/", 1)[-1]} {title}"]')
                emit(g, indent + "  ")
                out.append(f"{indent}end")
                out.append(f"{indent}{name(n.id)} -.- {sid}")
        for a, b, order in _edges(graph):
            out.append(f"{indent}{name(a)} {'-.->' if order else '-->'} {name(b)}")

    emit(spec.graph, "  ")
    return "\n".join(out)


def to_dot(spec: WorkflowSpec) -> str:
    out = [f'digraph "{spec.name}" {{', "  rankdir=TB;", '  node [fontname="Helvetica"];']
    name = _Names()
    counter = [0]

    def emit(graph: Graph, indent: str):
        for n in graph.nodes:
            label = _label(n).replace("<br/>", "\\n").replace('"', '\\"')
            out.append(f'{indent}{name(n.id)} [label="{label}", shape={SHAPES_DOT[n.kind]}, '
                       f'tooltip="{n.id}"];')
            for title, g in n.titled_graphs():
                counter[0] += 1
                out.append(f"{indent}subgraph cluster_{counter[0]} {{")
                out.append(f'{indent}  label="{n.id.rsplit("/", 1)[-1]} {title}";')
                emit(g, indent + "  ")
                out.append(f"{indent}}}")
        for a, b, order in _edges(graph):
            style = " [style=dashed]" if order else ""
            out.append(f"{indent}{name(a)} -> {name(b)}{style};")

    emit(spec.graph, "  ")
    out.append("}")
    return "\n".join(out)
