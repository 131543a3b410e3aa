"""``lower(spec)``: the nested spec as one dataflow graph of nodes in execution order.

Every shorthand means exactly its graph: a list chains each layer to the one
before; a block call, a repeat copy, a concat branch and a shortcut are lists
whose first layer reads the composite's input; ``residual`` ends in an ``add``
of its main branch and its shortcut (or its input); ``concat`` ends in a
``cat`` of its branches. Those implied merges are nodes too (``written`` is
False: they keep no leaf row, as before graphs). Named tensors resolve
lexically (docs/spec.md, "Graphs").
"""

from __future__ import annotations

from archcalc.errors import ArchcalcError, Loc, suggest
from archcalc.graph.model import Graph, Node, Scope
from archcalc.spec.model import (
    Concat,
    Layer,
    Merge,
    Repeat,
    Residual,
    Sequence,
    Spec,
    SpecNode,
)

# The names an unknown-name error lists, nearest (latest defined) first.
LISTED_NAMES = 8


class _Env:
    """The names one list has defined so far, and the lists around it."""

    __slots__ = ("input", "names", "parent")

    def __init__(self, parent: _Env | None, input_id: int) -> None:
        self.parent = parent
        self.input = input_id
        self.names: dict[str, int] = {}

    def lookup(self, name: str, loc: Loc | None, where: str) -> int:
        if name == "input":
            return self.input
        found: list[int] = []
        env: _Env | None = self
        while env is not None:
            if name in env.names:
                found.append(env.names[name])
            env = env.parent
        if len(found) == 1:
            return found[0]
        if found:
            raise ArchcalcError.at(
                loc,
                f"the name `{name}` is ambiguous here: a layer in this list and one in an "
                "enclosing list both have it",
                where=where,
                hint="rename one of them",
            )
        visible = self.visible()
        raise ArchcalcError.at(
            loc,
            f"no tensor named `{name}` is visible here",
            where=where,
            hint=suggest(name, visible)
            or "visible here: " + ", ".join(["input", *visible[:LISTED_NAMES]]),
        )

    def visible(self) -> list[str]:
        """Every name this list can read, the latest defined first."""
        out: dict[str, None] = {}
        env: _Env | None = self
        while env is not None:
            out.update(dict.fromkeys(reversed(env.names)))
            env = env.parent
        return list(out)


class _Lowering:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.scopes: dict[str, Scope] = {}

    def add(self, **fields: object) -> int:
        nid = len(self.nodes)
        self.nodes.append(Node(id=nid, **fields))  # type: ignore[arg-type]
        return nid

    def seq(
        self, children: tuple[SpecNode, ...], x: int, env: _Env, scope: tuple[str, ...]
    ) -> tuple[int, tuple[int | str, ...]]:
        """Lower one list: each child reads the previous output unless it names its input."""
        items: list[int | str] = []
        for child in children:
            if isinstance(child, Layer):
                src = x
                if child.source is not None:
                    src = env.lookup(child.source, child.source_loc or child.loc, child.label)
                x = self.add(
                    op=child.kind,
                    inputs=(src,),
                    args=child.args,
                    name=child.name,
                    path=child.path,
                    scope=scope,
                    loc=child.loc,
                    where=child.where,
                    layer=child,
                )
                items.append(x)
            elif isinstance(child, Merge):
                locs = child.input_locs or (child.loc,) * len(child.inputs)
                ins = tuple(
                    env.lookup(n, at or child.loc, child.label)
                    for n, at in zip(child.inputs, locs, strict=True)
                )
                x = self.add(
                    op=child.kind,
                    inputs=ins,
                    args=child.inputs,  # the names as written
                    name=child.name,
                    path=child.path,
                    scope=scope,
                    loc=child.loc,
                    where=child.where,
                )
                items.append(x)
            else:
                x = self.composite(child, x, env, scope)
                items.append(child.path)
            env.names[child.name] = x
        return x, tuple(items)

    def composite(self, node: SpecNode, x: int, env: _Env, scope: tuple[str, ...]) -> int:
        inner = (*scope, node.path)
        if isinstance(node, Sequence):  # in a list, a Sequence is a block call
            if node.source is not None:
                x = env.lookup(node.source, node.source_loc or node.loc, node.label)
            out, items = self.seq(node.children, x, _Env(None, x), inner)
            self.scope(node, "block", node.kind, node.kind, x, out, items, scope)
            return out
        if isinstance(node, Repeat):
            y = x
            for copy in node.copies:
                out, items = self.seq(copy.children, y, _Env(env, env.input), (*inner, copy.path))
                self.scope(copy, "copy", copy.kind, copy.kind, y, out, items, inner)
                y = out
            copies = tuple(c.path for c in node.copies)
            self.scope(node, "repeat", "repeat", f"repeat ×{node.times}", x, y, copies, scope)
            return y
        if isinstance(node, Residual):
            main, items = self.seq(node.layers.children, x, _Env(env, env.input), inner)
            short = x
            if node.shortcut is not None:
                sc = node.shortcut
                short, sitems = self.seq(sc.children, x, _Env(env, env.input), (*inner, sc.path))
                self.scope(sc, "shortcut", "shortcut", "shortcut", x, short, sitems, inner)
                items = (*items, sc.path)
            out = self.implied("add", (main, short), node, inner)
            op = "residual (+ projection)" if node.shortcut else "residual (+ identity)"
            self.scope(node, "residual", "residual", op, x, out, items, scope)
            return out
        assert isinstance(node, Concat)
        outs: list[int] = []
        for b in node.branches:
            out, items = self.seq(b.children, x, _Env(env, env.input), (*inner, b.path))
            self.scope(b, "branch", "branch", b.name, x, out, items, inner)
            outs.append(out)
        out = self.implied("cat", tuple(outs), node, inner)
        op = f"concat of {len(outs)}"
        branches = tuple(b.path for b in node.branches)
        self.scope(node, "concat", "concat", op, x, out, branches, scope)
        return out

    def implied(
        self, op: str, inputs: tuple[int, ...], node: Residual | Concat, scope: tuple[str, ...]
    ) -> int:
        return self.add(
            op=op,
            inputs=inputs,
            args=None,
            name=node.name,
            path=node.path,
            scope=scope,
            loc=node.loc,
            where=node.where,
            written=False,
        )

    def scope(
        self,
        node: Sequence | Repeat | Residual | Concat,
        role: str,
        kind: str,
        operation: str,
        x: int,
        out: int,
        items: tuple[int | str, ...],
        parent: tuple[str, ...],
    ) -> None:
        self.scopes[node.path] = Scope(
            path=node.path,
            role=role,
            kind=kind,
            operation=operation,
            loc=node.loc,
            where=node.where,
            input=x,
            output=out,
            items=items,
            parent=parent,
        )


def lower(spec: Spec) -> Graph:
    """The graph of ``spec``; an unknown or ambiguous tensor name is a located ArchcalcError.

    >>> from archcalc import loads
    >>> g = lower(loads("input: [8]\\nlayers: [{linear: 4}, relu]"))
    >>> [(n.op, n.inputs) for n in g.nodes], g.outputs
    ([('input', ()), ('linear', (0,)), ('relu', (1,))], (2,))
    """
    low = _Lowering()
    x = low.add(
        op="input",
        inputs=(),
        args=None,
        name="input",
        path="input",
        scope=(),
        loc=spec.input_loc,
        where="input",
    )
    env = _Env(None, x)
    out, items = low.seq(spec.layers, x, env, ())
    outputs: tuple[int, ...] = (out,)
    if spec.outputs:
        locs = spec.output_locs or (spec.outputs_loc,) * len(spec.outputs)
        outputs = tuple(
            env.lookup(n, at or spec.outputs_loc, "outputs")
            for n, at in zip(spec.outputs, locs, strict=True)
        )
    return Graph(nodes=tuple(low.nodes), outputs=outputs, items=items, scopes=low.scopes)
