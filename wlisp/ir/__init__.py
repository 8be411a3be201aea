"""The WorkflowSpec: what the compiler emits and the runtime runs (SPEC §5).

`nodes` holds the node kinds and the table of their fields, `expr` the
residual-expression vocabulary, `validate` the checks on load and the JSON
Schema, `taint` quarantine as dataflow, `spec` the document itself.
"""

from .nodes import Branch, Graph, Node, make_node
from .spec import WorkflowSpec

__all__ = ["Branch", "Graph", "Node", "WorkflowSpec", "make_node"]
