"""WorkflowSpec: the node graph the compiler emits and the runtime runs (SPEC §5).

A spec is a tree of `Graph`s (`ir/nodes.py`). Each graph holds nodes and a
result expression (`ir/expr.py`); control nodes own nested graphs. Node ids are
static and unique across the whole spec; a nested graph's nodes all start with
their owner's id, so the runtime names instances by swapping that prefix
(`main/fix/round/critic` runs as `main/fix/round@2/critic`). A classify node's
branches run once per instance of the graph around it, so their nodes start with
that graph's prefix instead (older specs' `…/classify/then/…` ids also do).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
from dataclasses import dataclass, field

from ..errors import Diagnostic, Span, WlispError
from ..values import jsondata
from .nodes import Graph
from .validate import SPEC_VERSION, check_document, validate_spec

# in the message of an exception the checks should have prevented (a bug)
BUG_MARK = "a loader bug"


@contextlib.contextmanager
def no_gc():
    """Compiling and loading make many small acyclic objects; cycle collection passes
    over the growing heap cost up to a third of the time and reclaim nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class WorkflowSpec:
    name: str
    graph: Graph
    params: list[str] = field(default_factory=list)
    description: str | None = None
    agents: dict = field(default_factory=dict)
    tools: dict = field(default_factory=dict)
    schemas: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)  # typed params: name -> {type, default}
    returns: dict | None = None                  # the result's type (a JSON Schema)
    budget: dict | None = None
    concurrency: int | None = None
    source: str | None = None
    span: Span | None = None
    version: int = SPEC_VERSION

    def to_dict(self) -> dict:
        out = {"wlisp_spec": self.version, "name": self.name}
        for f in dataclasses.fields(self):
            if f.name in ("name", "version", "graph", "span"):
                continue
            value = getattr(self, f.name)
            if value not in (None, {}, []) or f.name == "params":
                out[f.name] = value
        if self.span:
            out["span"] = self.span.to_json()
        out["graph"] = self.graph.to_json()
        return out

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False,
                          separators=None if indent else (",", ":"))

    @classmethod
    def from_dict(cls, data: dict, validate: bool = True) -> WorkflowSpec:
        """A spec from JSON data; with `validate` (the default) anything but a valid
        spec is a WlispError (W06xx), whatever the data."""
        if not validate:
            return cls._build(data)
        if not isinstance(data, dict):
            raise WlispError(Diagnostic("W0601", "a WorkflowSpec must be a JSON object"))
        try:
            with no_gc():
                check_document(data)
                spec = cls._build(data)
                validate_spec(spec)
        except WlispError:
            raise
        except RecursionError:
            raise WlispError(Diagnostic("W0601", "invalid WorkflowSpec: nested too deeply to "
                                        "load")) from None
        except Exception as exc:
            # the checks above should have refused whatever gets here: a bug, reported
            # as a diagnostic all the same (the property tests look for this message)
            raise WlispError(Diagnostic("W0601", f"invalid WorkflowSpec ({BUG_MARK}: "
                                        f"{type(exc).__name__}: {exc})")) from None
        return spec

    @classmethod
    def _build(cls, data: dict) -> WorkflowSpec:
        with no_gc():
            return cls(name=data["name"], graph=Graph.from_json(data["graph"]),
                       params=list(data.get("params", [])),
                       description=data.get("description"), agents=data.get("agents", {}),
                       tools=data.get("tools", {}), schemas=data.get("schemas", {}),
                       inputs=data.get("inputs", {}), returns=data.get("returns"),
                       budget=data.get("budget") or None, concurrency=data.get("concurrency"),
                       source=data.get("source"), span=Span.from_json(data.get("span")),
                       version=data["wlisp_spec"])

    @classmethod
    def from_json(cls, text: str | bytes, validate: bool = True) -> WorkflowSpec:
        """A spec from JSON text. Text that is not JSON data (NaN, Infinity, numbers out
        of range, lone surrogates, nesting too deep to read) is W0601 like any other
        invalid spec."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise WlispError(Diagnostic("W0601", "a WorkflowSpec is JSON text, not a "
                                        f"{type(text).__name__}"))
        try:
            data = jsondata.loads(text)
        except ValueError as exc:
            raise WlispError(Diagnostic("W0601", f"not a JSON WorkflowSpec: {exc}")) from None
        except RecursionError:
            raise WlispError(Diagnostic("W0601", "not a JSON WorkflowSpec: nested too deeply "
                                        "to read")) from None
        if not isinstance(data, dict):
            raise WlispError(Diagnostic("W0601", "a WorkflowSpec must be a JSON object"))
        return cls.from_dict(data, validate)

    def walk(self):
        """Every node of the spec, depth first, with its parent graph chain."""
        stack = [(self.graph, ())]
        while stack:
            graph, owners = stack.pop()
            for node in graph.nodes:
                yield node, owners
                for g in node.graphs():
                    stack.append((g, (*owners, node)))
