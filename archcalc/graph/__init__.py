"""A spec as one small dataflow graph: what analysis, build, lint and the report read.

``lower(spec)`` turns the nested spec (lists, blocks, ``repeat``, ``residual``,
``concat``, named tensors and explicit merges) into a :class:`Graph` of
:class:`Node` records in execution order, with a :class:`Scope` per composite
so that a consumer can fold rows by scope without re-deriving structure from
kind strings or block names. Torch-free.
"""

from archcalc.graph.lower import lower
from archcalc.graph.model import MERGES, Graph, Node, Scope

__all__ = ["MERGES", "Graph", "Node", "Scope", "lower"]
