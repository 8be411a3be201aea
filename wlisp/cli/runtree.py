"""A run's node instances as a tree in the user's words, for `wlisp show`.

Ids are made of binding names (`lang/builder.py`), so the tree is their path:
`main/plan/round@2/review` sits under `plan / round`, in `iteration 2`, as
`review`. Loop iterations and map items become their own rows, a routing node
says which branch it chose, and a name that only groups one thing is folded into
its child (`plan / round`). Rows come in the order of the source (the spec's
graphs), then of iterations and items.
"""

from __future__ import annotations

import json
import re

_PART = re.compile(r"(@\d+|\[[^\]]*\])")
_NUMBERS = re.compile(r"@(\d+)|\[([\d.]+)\]")


class Row:
    """One row: its label, the node's record when it is a node (else a group), rows."""

    __slots__ = ("segment", "node", "rec", "children", "item")

    def __init__(self, segment: str):
        self.segment, self.node, self.rec, self.item = segment, None, None, None
        self.children: dict[str, Row] = {}

    @property
    def label(self) -> str:
        seg = self.segment
        if seg.startswith("@"):
            return f"iteration {seg[1:]}"
        if self.item is not None:  # a map item: its index and value
            first, _, rest = seg.partition(" / ")
            return f"{first} {self.item}" + (f" / {rest}" if rest else "")
        if self.rec is not None and self.rec.get("kind") == "classify" and "label" in self.rec:
            return f"{seg} → {branch_name(seg, self.rec['label'])}"
        return seg

    def to_json(self) -> dict:
        return {"label": self.label, "node": self.node, "status": (self.rec or {}).get("status"),
                "children": [c.to_json() for c in self.children.values()]}


def branch_name(segment: str, label) -> str:
    """What a routing node chose: then/else for an `if`, else the label itself."""
    if segment.split("#")[0] in ("if", "when", "cond") and isinstance(label, bool):
        return "then" if label else "else"
    return "nil" if label is None else str(label).lower() if isinstance(label, bool) else \
        str(label)


def parts(node_id: str) -> list[str]:
    """`main/plan/round@2/review` → ['plan', 'round', '@2', 'review'] (no workflow)."""
    out = []
    for seg in node_id.split("/")[1:]:
        out.extend(p for p in _PART.split(seg) if p)
    return out


def source_order(spec_json: str | None, labels: dict | None = None) -> dict[str, int]:
    """Static node id -> its place in the spec, graphs before what follows them; the
    map items' `labels` by map id go into `labels`."""
    order: dict[str, int] = {}

    def visit(x):
        if isinstance(x, dict):
            if isinstance(x.get("id"), str) and "kind" in x:
                order.setdefault(_NUMBERS.sub("", x["id"]), len(order))
                if labels is not None and isinstance(x.get("labels"), list):
                    labels[_NUMBERS.sub("", x["id"])] = x["labels"]
            for v in x.values():
                visit(v)
        elif isinstance(x, list):
            for v in x:
                visit(v)
    try:
        visit(json.loads(spec_json or "null"))
    except ValueError:
        pass
    return order


def _sort_key(order: dict, node_id: str):
    numbers = [int(n) for m in _NUMBERS.finditer(node_id) for n in re.findall(r"\d+", m[0])]
    return (order.get(_NUMBERS.sub("", node_id), len(order)), numbers)


def build(nodes: dict, spec_json: str | None = None) -> Row:
    """The tree of `nodes` (instance id -> record) of a run of `spec_json`."""
    root = Row("")
    labels: dict = {}
    order = source_order(spec_json, labels)
    for node_id in sorted(nodes, key=lambda n: _sort_key(order, n)):
        rec = nodes[node_id]
        row = root
        for seg in parts(node_id):
            row = row.children.setdefault(seg, Row(seg))
        row.node, row.rec = node_id, rec
    _name_items(root, labels)
    _fold(root)
    return root


def _name_items(row: Row, labels: dict) -> None:
    """A map's item rows get the values the user wrote (`[1] security`), or for a map
    over run-time values, the items its record names."""
    items = (row.rec or {}).get("items") or labels.get(_NUMBERS.sub("", row.node or ""), ())
    for i, item in enumerate(items):
        if f"[{i}]" in row.children:
            row.children[f"[{i}]"].item = item
    for child in row.children.values():
        _name_items(child, labels)


def _fold(row: Row) -> None:
    for key, child in list(row.children.items()):
        while child.rec is None and len(child.children) == 1 and \
                not next(iter(child.children)).startswith(("@", "[")):
            (only,) = child.children.values()
            only.segment = f"{child.segment} / {only.segment}"
            only.item = child.item
            child = only
        row.children[key] = child
        _fold(child)
