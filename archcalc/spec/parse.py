"""Turn a located YAML tree (or a Python dict) into a validated :class:`Spec`.

Parsing knows nothing of shapes: it checks the spec's form and each layer's
arguments, expands named blocks and repeats, and names every node. Shapes are
the analyser's job, so one parsed spec can be analysed at many input sizes.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from archcalc import kinds
from archcalc.errors import ArchcalcError, Loc, suggest
from archcalc.kinds.base import MAX_INT, ArgReader, check_input_order
from archcalc.spec import expr
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
from archcalc.spec.reserved import is_reserved
from archcalc.spec.tree import MAX_DEPTH, MAX_NAME_CHARS, Node, describe

# A spec that expands beyond this many layers is a mistake (or a bomb): the
# largest real CNNs have a few thousand (ResNet-1001: about 3,400 rows with its
# adds), and the cap keeps any accepted spec read, analysed and reported within a
# second. At 10,000 the slowest command (`report` on 3×3 convolutions) took 0.95 s
# on an idle 2-core machine, and a busy one pushed it past the second.
MAX_LAYERS = 5_000
# How many composites (repeat, residual, concat) and block calls may enclose a layer.
# Real networks use four or five (stage → block → residual → layers). Every consumer
# of a Spec (the analysis walk, Row.leaves, the renderers, build, a torch forward,
# state_dict, pickle) recurses once or twice per level; at 64 levels the deepest of
# them stays far inside Python's default recursion limit of 1,000 (tests/cli/
# test_bad_input.py runs them all at this depth). Literal YAML nesting alone stops
# near 66 composites (MAX_DEPTH); block calls are what could nest without end.
MAX_NESTING = 64
# A layer's dotted path (its torch module name) and its position in the YAML, as
# error messages name it. Real paths are under 60 characters, and MAX_NESTING
# default-named block calls (`stage_0.`) fit; each layer keeps both strings, so the
# caps bound memory (5,000 layers × 2.5 KB) at any nesting.
MAX_PATH_CHARS = 512
MAX_WHERE_CHARS = 2048
# The values one layer's arguments may expand to once block parameters are put in:
# a real layer has under twenty, and `$p` chains must not copy without end.
MAX_ARG_VALUES = 1_000
COMPOSITES = ("repeat", "residual", "concat")
# Merge kinds: several named inputs, no weights (docs/spec.md, "Graphs").
MERGE_KINDS = ("add", "mul", "cat")
TOP_LEVEL_KEYS = ("name", "input", "layers", "blocks", "outputs", "lint", "description")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A layer's or composite's name is a torch child name: an identifier, or a name torch
# containers give their children (`0` in a Sequential, `block1-0` in torchvision's
# RegNet), so that a spec exported from a module keeps its state_dict keys.
_CHILD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
# A dotted name (`backbone.4`) places a layer in containers no block call makes (what
# `archcalc export` writes for a module that gives or reads several tensors).
MAX_NAME_PARTS = 8


class BlockDef(NamedTuple):
    name: str
    params: dict[str, Node | None]  # None: required
    layers: Node
    loc: Loc | None


class Scope(NamedTuple):
    """The parameters of the block call whose body is being read.

    Substitution is lazy: a ``$name`` is looked up where it is read, not by
    copying the block's body for each call (which cost the body's size per call,
    quadratic for nested calls, unbounded for arguments passed but never used).
    """

    block: str
    values: dict[str, Bound]
    where: str


class Bound(NamedTuple):
    """A node and the scope its ``$name`` values resolve in (None: the spec's top level)."""

    node: Node
    scope: Scope | None


class _Context:
    """State of one parse call: the blocks, the layer budget, the nesting chain."""

    def __init__(self, blocks: dict[str, BlockDef]) -> None:
        self.blocks = blocks
        self.count = 0
        # Above zero while a repeat's later copies are read: the first copy paid for all.
        self.replaying = 0
        # The composites and block calls enclosing the node being read, outermost first.
        self.chain: list[str] = []
        # Whether the spec names tensors (from, merges, outputs): then it is lowered
        # once as it is read, so that a bad name is an error when the spec loads.
        self.names_tensors = False

    def enter(self, label: str, loc: Loc | None, where: str, path: str) -> None:
        """Go one level deeper, refusing the level past MAX_NESTING."""
        self.chain.append(label)
        if len(self.chain) > MAX_NESTING:
            shown = self.chain if len(self.chain) <= 7 else [*self.chain[:3], "…", *self.chain[-3:]]
            raise ArchcalcError.at(
                loc,
                f"composites and block calls nest deeper than {MAX_NESTING} levels "
                f"({' → '.join(shown)})",
                where=where,
                hint="does a chain of blocks call itself through many names? "
                "archcalc reads networks nested up to that depth",
            )
        _check_names(path, where, loc)

    def leave(self) -> None:
        self.chain.pop()

    def spend(self, n: int, loc: Loc | None, where: str, hint: str | None = None) -> None:
        if self.replaying:
            return
        self.count += n
        if self.count > MAX_LAYERS:
            raise ArchcalcError.at(
                loc,
                f"the spec expands to more than {MAX_LAYERS:,} layers, archcalc's limit",
                where=where,
                hint=hint or "check `times:` in repeats and blocks",
            )


def parse_spec(root: Node, default_name: str, file: str | None) -> Spec:
    """Validate a whole spec tree."""
    if not root.is_map:
        raise ArchcalcError.at(
            root.loc or _file_loc(file),
            "a spec is a mapping with `input:` and `layers:`, "
            f"but this file holds {describe(root)}",
        )
    top: dict[str, Node] = root.value
    for key in top:
        if key not in TOP_LEVEL_KEYS:
            raise ArchcalcError.at(
                root.key_loc(key),
                f"unknown top-level key `{key}`",
                hint=suggest(key, TOP_LEVEL_KEYS) or f"a spec has {', '.join(TOP_LEVEL_KEYS)}",
            )
    name = default_name
    if "name" in top:
        n = top["name"]
        if not isinstance(n.value, (str, int)) or isinstance(n.value, bool):
            raise ArchcalcError.at(n.loc, f"`name` expects a string, but gets {describe(n)}")
        name = str(n.value)
    if "input" not in top:
        raise ArchcalcError.at(
            root.loc or _file_loc(file),
            "the spec has no `input:`",
            hint="add `input: [C, H, W]`, e.g. `input: [1, 28, 28]` for MNIST",
        )
    input_shape = parse_input(top["input"])
    if "layers" not in top:
        raise ArchcalcError.at(root.loc or _file_loc(file), "the spec has no `layers:` list")
    blocks = _parse_blocks(top["blocks"]) if "blocks" in top else {}
    ctx = _Context(blocks)
    layers = _parse_list(Bound(top["layers"], None), "", "layers", ctx)
    if not layers:
        raise ArchcalcError.at(top["layers"].loc, "`layers` is empty", where="layers")
    outputs = _parse_outputs(top["outputs"]) if "outputs" in top else ()
    spec = Spec(
        name=name,
        input_shape=input_shape,
        layers=layers,
        file=file,
        input_loc=top["input"].loc,
        lint_ignore=_parse_lint(top["lint"]) if "lint" in top else frozenset(),
        outputs=outputs,
        outputs_loc=top["outputs"].loc if "outputs" in top else None,
        output_locs=tuple(n.loc for n in top["outputs"].value) if outputs else (),
    )
    if ctx.names_tensors or outputs:
        from archcalc.graph import lower

        lower(spec)  # every name resolves, or a located error now
    return spec


def _parse_outputs(node: Node) -> tuple[str, ...]:
    """``outputs: [a, b]``: the names of the tensors the network returns."""
    if not node.is_list or not node.value:
        raise ArchcalcError.at(
            node.loc,
            f"`outputs` expects a list of tensor names, but gets {describe(node)}",
            where="outputs",
            hint="e.g. `outputs: [logits, features]`",
        )
    return tuple(_tensor_name(item, "outputs") for item in node.value)


def _tensor_name(node: Node, where: str) -> str:
    """A name that refers to a tensor: a layer's name, or ``input``."""
    v = _child_name(node.value)
    if v is None:
        raise ArchcalcError.at(
            node.loc,
            f"expects the name of a tensor (a layer's `name`, or `input`), but gets "
            f"{describe(node)}",
            where=where,
        )
    return v


def _child_name(v: Any) -> str | None:
    """A layer's name as written (``conv1``, ``0``, ``block1-0``; YAML reads ``0`` as an
    integer), or a dotted path of such names (``backbone.4``), or None when it is neither."""
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_INT:
        v = str(v)
    if not isinstance(v, str):
        return None
    parts = v.split(".")
    if len(parts) > MAX_NAME_PARTS or not all(
        _CHILD_NAME.match(p) and len(p) <= MAX_NAME_CHARS for p in parts
    ):
        return None
    return v


def _file_loc(file: str | None) -> Loc | None:
    return Loc(file, 1, 1) if file else None


def parse_input(node: Node) -> tuple[int, ...]:
    """``[C, H, W]``, ``[C, L]``, ``[C, D, H, W]`` or ``[F]`` (flat), every size a positive integer.

    The rank chooses the network's dimensionality: conv1d reads [C, L], conv3d [C, D, H, W].
    """
    if not node.is_list or len(node.value) not in (1, 2, 3, 4):
        raise ArchcalcError.at(
            node.loc,
            "`input` expects [C, H, W] (or [C, L], [C, D, H, W], [features]), "
            f"but gets {describe(node)}" + (f" of {len(node.value)}" if node.is_list else ""),
            hint="the batch dimension is never written",
        )
    dims: list[int] = []
    for item in node.value:
        v = item.value
        if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > MAX_INT:
            raise ArchcalcError.at(
                item.loc or node.loc,
                f"`input` expects positive integer sizes, but gets {describe(item)}",
            )
        dims.append(v)
    check_input_order(node, tuple(dims))
    return tuple(dims)


def _parse_lint(node: Node) -> frozenset[str]:
    if not node.is_map or set(node.value) - {"ignore"}:
        raise ArchcalcError.at(node.loc, "`lint` expects `{ignore: [AC101, ...]}`")
    codes = node.value.get("ignore", Node([]))
    if not codes.is_list or not all(isinstance(c.value, str) for c in codes.value):
        raise ArchcalcError.at(codes.loc, "`lint.ignore` expects a list of codes such as AC101")
    return frozenset(c.value.upper() for c in codes.value)


def _parse_blocks(node: Node) -> dict[str, BlockDef]:
    if not node.is_map:
        raise ArchcalcError.at(node.loc, f"`blocks` expects a mapping, but gets {describe(node)}")
    out: dict[str, BlockDef] = {}
    for name, body in node.value.items():
        loc = node.key_loc(name)
        where = f"blocks.{name}"
        if not _NAME.match(name):
            raise ArchcalcError.at(loc, f"block name `{name}` is not a plain identifier")
        if kinds.get(name) or name in COMPOSITES or name in MERGE_KINDS:
            raise ArchcalcError.at(
                loc, f"block name `{name}` is already a layer kind", hint="choose another name"
            )
        if not body.is_map or "layers" not in body.value:
            raise ArchcalcError.at(
                body.loc, "a block expects `{params: [...], layers: [...]}`", where=where
            )
        for key in body.value:
            if key not in ("params", "layers"):
                raise ArchcalcError.at(
                    body.key_loc(key),
                    f"a block has no key `{key}`",
                    where=where,
                    hint=suggest(key, ("params", "layers")) or "a block has `params` and `layers`",
                )
        params: dict[str, Node | None] = {}
        pnode = body.value.get("params")
        if pnode is not None and pnode.value is not None:
            if pnode.is_list:
                for p in pnode.value:
                    if (
                        not isinstance(p.value, str)
                        or not _NAME.match(p.value)
                        or len(p.value) > MAX_NAME_CHARS
                    ):
                        raise ArchcalcError.at(
                            p.loc,
                            f"block parameter names are identifiers, not {describe(p)}",
                            where=where,
                        )
                    params[p.value] = None
            elif pnode.is_map:
                for p, default in pnode.value.items():
                    if not _NAME.match(p):
                        raise ArchcalcError.at(
                            pnode.key_loc(p),
                            f"block parameter names are identifiers, not {p!r}",
                            where=where,
                        )
                    params[p] = default if default.value is not None else None
            else:
                raise ArchcalcError.at(
                    pnode.loc,
                    "`params` expects a list of names or a mapping of defaults",
                    where=where,
                )
        out[name] = BlockDef(name, params, body.value["layers"], loc)
    return out


def _check_names(path: str, where: str, loc: Loc | None) -> None:
    """Refuse a node whose path or YAML position is too long to keep for each layer."""
    for what, text, cap in (
        ("layer path", path, MAX_PATH_CHARS),
        ("position in the spec", where, MAX_WHERE_CHARS),
    ):
        if len(text) > cap:
            raise ArchcalcError.at(
                loc,
                f"the {what} `{text[:60]}…` is {len(text):,} characters long; "
                f"archcalc names layers with up to {cap:,}",
                hint="nest fewer blocks and composites, or give them shorter names",
            )


def resolve(node: Node, scope: Scope | None) -> Bound:
    """``node`` itself, or what it stands for inside a block.

    Exactly ``$name`` is the call's value (any type, bound to the caller's
    scope); a string with ``$`` and an operator (``$c * 4``) is block
    arithmetic, computed here into an integer node at the expression's place.
    """
    v = node.value
    if scope is None or not isinstance(v, str):
        return Bound(node, scope)
    if expr.is_expression(v):
        return Bound(_arithmetic(node, v, scope), None)
    if not v.startswith("$"):
        return Bound(node, scope)
    key = v[1:]
    if key not in scope.values:
        raise ArchcalcError.at(
            node.loc,
            f"block `{scope.block}` has no parameter `{_shown(key)}`",
            where=scope.where,
            hint=suggest(key, scope.values)
            or f"its parameters are {', '.join(scope.values) or 'none'}",
        )
    return scope.values[key]


def _arithmetic(node: Node, text: str, scope: Scope) -> Node:
    """Compute ``$c * 4`` in the call's scope: an integer node where the expression is.

    Errors are located at the expression in the block's body and name the call
    (``where``) and where each value it read was written.
    """

    def lookup(key: str) -> expr.Value:
        if key not in scope.values:
            raise ArchcalcError(
                f"block `{scope.block}` has no parameter `{_shown(key)}` (in {expr.shown(text)})",
                hint=suggest(key, scope.values)
                or f"its parameters are {', '.join(scope.values) or 'none'}",
            )
        value = scope.values[key].node
        v = value.value
        if isinstance(v, bool) or not isinstance(v, int):
            raise ArchcalcError(
                f"`${key}` is {describe(value)}{_from(value)}, arithmetic needs an integer "
                f"(in {expr.shown(text)})",
                hint=f"call block `{scope.block}` with an integer `{key}`",
            )
        if not -MAX_INT <= v <= MAX_INT:
            raise ArchcalcError(
                f"`${key}` is {v}{_from(value)}, past archcalc's limit of ±{MAX_INT:,} "
                f"(in {expr.shown(text)})",
                hint=f"call block `{scope.block}` with a smaller `{key}`",
            )
        return expr.Value(v, value.loc)

    try:
        return Node(expr.evaluate(text, lookup), node.loc)
    except ArchcalcError as err:
        raise err.located(node.loc, scope.where) from None


def _from(value: Node) -> str:
    """Where a parameter's value was written, as an arithmetic error cites it."""
    return f" (from {value.loc})" if value.loc else ""


def concrete(bound: Bound) -> Node:
    """The node with every ``$name`` in it replaced, for a layer's argument reader.

    Only a layer's own arguments are copied (a few values each), and at most
    MAX_ARG_VALUES of them, MAX_DEPTH deep: parameters handed on through a
    chain of calls (``c: [$c, $c]``) could otherwise double at every call.
    """
    budget = [MAX_ARG_VALUES]
    return _concrete(bound, budget, 0)


def _concrete(bound: Bound, budget: list[int], depth: int) -> Node:
    node, scope = resolve(*bound)
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise ArchcalcError.at(
            node.loc,
            f"block parameters expand this layer's arguments past {MAX_ARG_VALUES:,} values "
            f"or {MAX_DEPTH} levels",
            where=scope.where if scope else None,
            hint="a layer's arguments are a few numbers",
        )
    v: Any = node.value
    if scope is None:  # written at the top level, or a default: nothing in it to replace
        return node
    if isinstance(v, dict):
        return Node(
            {k: _concrete(Bound(c, scope), budget, depth + 1) for k, c in v.items()},
            node.loc,
            node.key_locs,
        )
    if isinstance(v, list):
        return Node([_concrete(Bound(c, scope), budget, depth + 1) for c in v], node.loc)
    return node


def _shown(name: str) -> str:
    """A name as an error message quotes it: whole, unless it is absurdly long."""
    return name if len(name) <= MAX_NAME_CHARS else f"{name[:40]}… ({len(name):,} characters)"


def _parse_list(bound: Bound, prefix: str, where: str, ctx: _Context) -> tuple[SpecNode, ...]:
    node, scope = resolve(*bound)
    if not node.is_list:
        raise ArchcalcError.at(
            node.loc, f"expects a list of layers, but gets {describe(node)}", where=where
        )
    items: list[Node] = node.value
    if ctx.count + len(items) > MAX_LAYERS and not ctx.replaying:
        # Every entry is at least one layer (an empty body is an error), so a list this
        # long is refused before its entries are read: a 1 MiB file of 100,000 layers
        # would otherwise cost a tenth of a second more to be refused.
        past = MAX_LAYERS - ctx.count  # the entry that would pass the cap
        ctx.spend(
            len(items),
            resolve(items[past], scope).node.loc or node.loc,
            f"{where}[{past}]",
            hint=f"this list holds {len(items):,} entries, each at least one layer"
            if len(items) > MAX_LAYERS
            else None,
        )
    out: list[SpecNode] = []
    seen: dict[str, Loc | None] = {}
    containers: dict[str, str] = {}  # `backbone` for `backbone.4` → the dotted name
    for i, raw in enumerate(items):
        item = resolve(raw, scope)
        child = _parse_layer(item, i, prefix, f"{where}[{i}]", ctx)
        if child.name in seen:
            first = seen[child.name]
            at = f" (first at line {first.line})" if first else ""
            raise ArchcalcError.at(
                item.node.loc,
                f"the name `{child.name}` is used twice in one list{at}",
                where=f"{where}[{i}]",
                hint="give each layer a unique `name`",
            )
        _refuse_overlap(child.name, seen, containers, item.node.loc, f"{where}[{i}]")
        seen[child.name] = item.node.loc
        out.append(child)
    return tuple(out)


def _refuse_overlap(
    name: str, seen: dict[str, Loc | None], containers: dict[str, str], loc: Loc | None, where: str
) -> None:
    """`backbone.4` puts a layer inside a container `backbone`: no sibling may be that
    container's name (a layer or a block call is no container of others)."""
    parts = name.split(".")
    outer = [".".join(parts[:k]) for k in range(1, len(parts))]
    clash = next((o for o in outer if o in seen), None) or containers.get(name)
    if clash is not None:
        inner, whole = (name, clash) if clash in outer else (clash, name)
        raise ArchcalcError.at(
            loc,
            f"the name `{inner}` places a layer inside `{whole}`, which is a layer of its own "
            "in this list",
            where=where,
            hint="rename one of them",
        )
    for o in outer:
        containers.setdefault(o, name)


def _split_entry(bound: Bound, where: str) -> tuple[str, Bound, Loc | None]:
    """A list entry is ``kind`` or ``{kind: args}``; return (kind, args, loc of kind)."""
    item, scope = bound
    if isinstance(item.value, str):
        return item.value, Bound(Node(None, item.loc), None), item.loc
    if item.is_map and len(item.value) == 1:
        ((kind, args),) = item.value.items()
        return kind, resolve(args, scope), item.key_loc(kind)
    if item.is_map:
        keys = ", ".join(f"`{k}`" for k in item.value)
        hint = None
        if "name" in item.value:
            hint = "put `name` inside the arguments: `- conv2d: {name: conv1, out: 16, kernel: 3}`"
        raise ArchcalcError.at(
            item.loc,
            f"a layer is `kind` or a one-key mapping `kind: args`, but gets keys {keys}",
            where=where,
            hint=hint,
        )
    raise ArchcalcError.at(
        item.loc, f"a layer is `kind` or `kind: args`, but gets {describe(item)}", where=where
    )


def _take_name(args: Bound, default: str, where: str) -> tuple[str, Bound]:
    """Pop the optional ``name`` argument; check it is a usable module name."""
    node, scope = args
    if not node.is_map or "name" not in node.value:
        return default, args
    n = resolve(node.value["name"], scope).node
    name = _child_name(n.value)
    if name is None:
        raise ArchcalcError.at(
            n.loc,
            f"`name` expects an identifier (letters, digits, _; or a torch child name such as "
            f"`0` or `block1-0`) of at most {MAX_NAME_CHARS} characters, or up to "
            f"{MAX_NAME_PARTS} of them joined by dots (`backbone.4`), but gets {describe(n)}",
            where=where,
            hint="a dot puts the layer inside a container of that name; nesting adds dots too",
        )
    reserved = next((p for p in name.split(".") if is_reserved(p)), None)
    if reserved is not None:
        raise ArchcalcError.at(
            n.loc,
            f"the name `{reserved}` is an attribute of torch.nn.Module, so `archcalc build` "
            "cannot give it to a submodule",
            where=where,
            hint="choose another `name`",
        )
    rest = {k: v for k, v in node.value.items() if k != "name"}
    key_locs = {k: v for k, v in (node.key_locs or {}).items() if k != "name"}
    return name, Bound(Node(rest, node.loc, key_locs), scope)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _parse_layer(item: Bound, index: int, prefix: str, where: str, ctx: _Context) -> SpecNode:
    kind, args, kind_loc = _split_entry(item, where)
    loc = kind_loc or item.node.loc
    if kind in COMPOSITES:
        return _parse_composite(kind, args, index, prefix, where, loc, ctx)
    if kind in ctx.blocks:
        return _parse_block_call(ctx.blocks[kind], args, index, prefix, where, loc, ctx)
    if kind in MERGE_KINDS:
        return _parse_merge(kind, args, index, prefix, where, loc, ctx)
    spec_kind = kinds.get(kind)
    if spec_kind is None:
        choices = [*kinds.REGISTRY, *ctx.blocks, *COMPOSITES, *MERGE_KINDS]
        raise ArchcalcError.at(
            loc,
            f"unknown layer kind `{_shown(kind)}`",
            where=where,
            hint=suggest(kind.lower(), choices) or "run `archcalc kinds` to list them",
        )
    name, args = _take_name(args, f"{kind}_{index}", where)
    source, source_loc, args = _take_from(args, where)
    if source is not None:
        ctx.names_tensors = True
    path = _join(prefix, name)
    _check_names(path, where, loc)
    label = f"{where} ({kind} {path})"
    ctx.spend(1, loc, label)
    try:
        parsed = spec_kind.parse(ArgReader(kind, concrete(args), spec_kind.main_arg))
    except ArchcalcError as err:
        raise err.located(loc, label) from None
    return Layer(
        kind=kind,
        name=name,
        path=path,
        args=parsed,
        loc=loc,
        where=where,
        source=source,
        source_loc=source_loc,
    )


def _take_from(args: Bound, where: str) -> tuple[str | None, Loc | None, Bound]:
    """Pop the optional ``from`` argument: the named tensor a one-input layer reads."""
    node, scope = args
    if not node.is_map or "from" not in node.value:
        return None, None, args
    value = resolve(node.value["from"], scope).node
    rest = {k: v for k, v in node.value.items() if k != "from"}
    key_locs = {k: v for k, v in (node.key_locs or {}).items() if k != "from"}
    return _tensor_name(value, where), value.loc, Bound(Node(rest, node.loc, key_locs), scope)


def _parse_merge(
    kind: str, args: Bound, index: int, prefix: str, where: str, loc: Loc | None, ctx: _Context
) -> Merge:
    """``add: [a, b]`` or the long form ``add: {name: x, from: [a, b]}``."""
    if args.node.is_list:
        node = args.node
        args = Bound(Node({"from": node}, node.loc, {"from": node.loc}), args.scope)
    name, args = _take_name(args, f"{kind}_{index}", where)
    a = _mapping_args(args, kind, ("from",), where)
    names = a.get("from")
    if names is None or not names.node.is_list or len(names.node.value) < 2:
        raise ArchcalcError.at(
            (names or args).node.loc,
            f"{kind} expects a list of at least two tensor names",
            where=where,
            hint=f"e.g. `{kind}: [input, conv2]` or `{kind}: {{name: x, from: [a, b]}}`",
        )
    values = [resolve(n, names.scope).node for n in names.node.value]
    inputs = tuple(_tensor_name(v, where) for v in values)
    path = _join(prefix, name)
    _check_names(path, where, loc)
    ctx.spend(1, loc, f"{where} ({kind} {path})")
    ctx.names_tensors = True
    return Merge(
        kind=kind,
        name=name,
        path=path,
        inputs=inputs,
        loc=loc,
        where=where,
        input_locs=tuple(v.loc for v in values),
    )


def _mapping_args(args: Bound, kind: str, allowed: tuple[str, ...], where: str) -> dict[str, Bound]:
    node, scope = args
    if not node.is_map:
        raise ArchcalcError.at(
            node.loc,
            f"{kind} expects a mapping with {', '.join(allowed)}, but gets {describe(node)}",
            where=where,
        )
    for key in node.value:
        if key not in allowed:
            raise ArchcalcError.at(
                node.key_loc(key),
                f"{kind} has no key `{key}`",
                where=where,
                hint=suggest(key, allowed) or f"{kind} takes {', '.join(allowed)}",
            )
    return {k: resolve(v, scope) for k, v in node.value.items()}


def _parse_composite(
    kind: str, args: Bound, index: int, prefix: str, where: str, loc: Loc | None, ctx: _Context
) -> SpecNode:
    if kind == "concat" and args.node.is_list:
        node = args.node
        args = Bound(Node({"branches": node}, node.loc, {"branches": node.loc}), args.scope)
    name, args = _take_name(args, f"{kind}_{index}", where)
    path = _join(prefix, name)
    ctx.enter(kind if name.startswith(f"{kind}_") else f"{kind} {name}", loc, where, path)
    try:
        return _composite(kind, args, name, path, where, loc, ctx)
    finally:
        ctx.leave()


def _composite(
    kind: str, args: Bound, name: str, path: str, where: str, loc: Loc | None, ctx: _Context
) -> SpecNode:
    here = f"{where}.{kind}"
    if kind == "repeat":
        a = _mapping_args(args, "repeat", ("times", "layers"), where)
        if "times" not in a or "layers" not in a:
            raise ArchcalcError.at(
                args.node.loc,
                "repeat expects `times` and `layers`",
                where=where,
                hint="e.g. `repeat: {times: 3, layers: [...]}`",
            )
        times_node = a["times"].node
        times = times_node.value
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ArchcalcError.at(
                times_node.loc,
                f"`times` expects a positive integer, but gets {describe(times_node)}",
                where=where,
            )
        if times > MAX_LAYERS:
            ctx.spend(times, times_node.loc, where)
        before = ctx.count
        first = _sequence("repeat", "0", _join(path, "0"), a["layers"], f"{here}.layers", loc, ctx)
        per_copy = ctx.count - before  # the leaves of one copy, counted as they were read
        ctx.spend(per_copy * (times - 1), times_node.loc, where)
        copies = [first] + [
            _sequence(
                "repeat",
                str(i),
                _join(path, str(i)),
                a["layers"],
                f"{here}.layers",
                loc,
                ctx,
                count=False,
            )
            for i in range(1, times)
        ]
        return Repeat(name, path, times, tuple(copies), loc, where)
    if kind == "residual":
        a = _mapping_args(args, "residual", ("layers", "shortcut"), where)
        if "layers" not in a:
            raise ArchcalcError.at(args.node.loc, "residual expects `layers`", where=where)
        layers = _sequence("residual", name, path, a["layers"], f"{here}.layers", loc, ctx)
        if any(c.name == "shortcut" for c in layers.children):
            raise ArchcalcError.at(
                loc,
                "a layer inside a residual cannot be named `shortcut`",
                where=where,
                hint="that name holds the shortcut branch",
            )
        shortcut = None
        if "shortcut" in a and a["shortcut"].node.value not in (None, []):
            shortcut = _sequence(
                "shortcut",
                "shortcut",
                _join(path, "shortcut"),
                a["shortcut"],
                f"{here}.shortcut",
                loc,
                ctx,
            )
        return Residual(name, path, layers, shortcut, loc, where)
    a = _mapping_args(args, "concat", ("branches",), where)
    branches_bound = a.get("branches")
    if (
        branches_bound is None
        or not branches_bound.node.is_list
        or len(branches_bound.node.value) < 2
    ):
        raise ArchcalcError.at(
            (branches_bound or args).node.loc,
            "concat expects a list of at least two branches",
            where=where,
            hint="e.g. `concat: [[conv2d: ...], [maxpool2d: ...]]`",
        )
    branch_scope = branches_bound.scope
    branches = tuple(
        _sequence(
            "branch",
            f"branch{i + 1}",
            _join(path, f"branch{i + 1}"),
            Bound(b, branch_scope),
            f"{here}[{i}]",
            b.loc or loc,
            ctx,
        )
        for i, b in enumerate(branches_bound.node.value)
    )
    return Concat(name, path, branches, loc, where)


def _sequence(
    kind: str,
    name: str,
    path: str,
    bound: Bound,
    where: str,
    loc: Loc | None,
    ctx: _Context,
    count: bool = True,
) -> Sequence:
    if count:
        children = _parse_list(bound, path, where, ctx)
    else:  # a repeat's later copy, already paid for by the repeat
        ctx.replaying += 1
        try:
            children = _parse_list(bound, path, where, ctx)
        finally:
            ctx.replaying -= 1
    if not children:
        raise ArchcalcError.at(bound.node.loc or loc, f"{kind} has no layers", where=where)
    return Sequence(kind, name, path, children, loc, where)


def _parse_block_call(
    block: BlockDef,
    args: Bound,
    index: int,
    prefix: str,
    where: str,
    loc: Loc | None,
    ctx: _Context,
) -> Sequence:
    if block.name in ctx.chain:
        calls = [c for c in ctx.chain if c in ctx.blocks]
        chain = " → ".join([*calls[calls.index(block.name) :], block.name])
        raise ArchcalcError.at(loc, f"block `{block.name}` uses itself ({chain})", where=where)
    if args.node.value is None:
        args = Bound(Node({}, args.node.loc), args.scope)
    if not args.node.is_map:
        raise ArchcalcError.at(
            args.node.loc,
            f"block `{block.name}` expects a mapping of parameters, but gets {describe(args.node)}",
            where=where,
        )
    name, args = _take_name(args, f"{block.name}_{index}", where)
    # `from:` makes the call read a named tensor instead of the previous output.
    source, source_loc, args = _take_from(args, where)
    if source is not None:
        ctx.names_tensors = True
    node, scope = args
    values: dict[str, Bound] = {}
    for key, value in node.value.items():
        if key not in block.params:
            raise ArchcalcError.at(
                node.key_loc(key),
                f"block `{block.name}` has no parameter `{key}`",
                where=where,
                hint=suggest(key, block.params)
                or f"its parameters are {', '.join(block.params) or 'none'}",
            )
        # Bound to the caller's scope, unread: a value is resolved only where it is used.
        values[key] = resolve(value, scope)
    for key, default in block.params.items():
        if key not in values:
            if default is None:
                raise ArchcalcError.at(
                    node.loc or loc,
                    f"block `{block.name}` expects parameter `{key}`, but it is missing",
                    where=where,
                    hint=f"e.g. `{block.name}: {{{', '.join(f'{p}: ...' for p in block.params)}}}`",
                )
            values[key] = Bound(default, None)
    body = Bound(block.layers, Scope(block.name, values, where))
    ctx.enter(block.name, loc, where, _join(prefix, name))
    try:
        call = _sequence(
            block.name, name, _join(prefix, name), body, f"{where}.{block.name}", loc, ctx
        )
    finally:
        ctx.leave()
    if source is None:
        return call
    return Sequence(
        call.kind, call.name, call.path, call.children, call.loc, call.where, source, source_loc
    )
