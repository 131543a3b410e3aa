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
from archcalc.kinds.base import MAX_INT, ArgReader
from archcalc.spec.model import (
    Concat,
    Layer,
    Repeat,
    Residual,
    Sequence,
    Spec,
    SpecNode,
    leaves_of,
)
from archcalc.spec.tree import Node, describe

# A spec that expands beyond this many layers is a mistake (or a bomb): the
# largest real CNNs have about a thousand, and the cap keeps any accepted spec
# analysed in about a second.
MAX_LAYERS = 20_000
COMPOSITES = ("repeat", "residual", "concat")
TOP_LEVEL_KEYS = ("name", "input", "layers", "blocks", "lint", "description")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BlockDef(NamedTuple):
    name: str
    params: dict[str, Node | None]  # None: required
    layers: Node
    loc: Loc | None


class _Context:
    """State of one parse call: the blocks, the layer budget, the block stack."""

    def __init__(self, blocks: dict[str, BlockDef]) -> None:
        self.blocks = blocks
        self.count = 0
        self.stack: list[str] = []

    def spend(self, n: int, loc: Loc | None, where: str) -> None:
        self.count += n
        if self.count > MAX_LAYERS:
            raise ArchcalcError.at(
                loc,
                f"the spec expands to more than {MAX_LAYERS:,} layers, archcalc's limit",
                where=where,
                hint="check `times:` in repeats and blocks",
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
    layers = _parse_list(top["layers"], "", "layers", ctx)
    if not layers:
        raise ArchcalcError.at(top["layers"].loc, "`layers` is empty", where="layers")
    return Spec(
        name=name,
        input_shape=input_shape,
        layers=layers,
        file=file,
        input_loc=top["input"].loc,
        lint_ignore=_parse_lint(top["lint"]) if "lint" in top else frozenset(),
    )


def _file_loc(file: str | None) -> Loc | None:
    return Loc(file, 1, 1) if file else None


def parse_input(node: Node) -> tuple[int, ...]:
    """``[C, H, W]`` (or ``[F]`` for a flat input), every size a positive integer."""
    if not node.is_list or len(node.value) not in (1, 3):
        raise ArchcalcError.at(
            node.loc,
            f"`input` expects [C, H, W] (or [features]), but gets {describe(node)}"
            + (f" of {len(node.value)}" if node.is_list else ""),
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
        if kinds.get(name) or name in COMPOSITES:
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
                    if not isinstance(p.value, str) or not _NAME.match(p.value):
                        raise ArchcalcError.at(
                            p.loc,
                            f"block parameter names are identifiers, not {describe(p)}",
                            where=where,
                        )
                    params[p.value] = None
            elif pnode.is_map:
                for p, default in pnode.value.items():
                    params[p] = default if default.value is not None else None
            else:
                raise ArchcalcError.at(
                    pnode.loc,
                    "`params` expects a list of names or a mapping of defaults",
                    where=where,
                )
        out[name] = BlockDef(name, params, body.value["layers"], loc)
    return out


def _parse_list(node: Node, prefix: str, where: str, ctx: _Context) -> tuple[SpecNode, ...]:
    if not node.is_list:
        raise ArchcalcError.at(
            node.loc, f"expects a list of layers, but gets {describe(node)}", where=where
        )
    out: list[SpecNode] = []
    seen: dict[str, Loc | None] = {}
    for i, item in enumerate(node.value):
        child = _parse_layer(item, i, prefix, f"{where}[{i}]", ctx)
        if child.name in seen:
            first = seen[child.name]
            at = f" (first at line {first.line})" if first else ""
            raise ArchcalcError.at(
                item.loc,
                f"the name `{child.name}` is used twice in one list{at}",
                where=f"{where}[{i}]",
                hint="give each layer a unique `name`",
            )
        seen[child.name] = item.loc
        out.append(child)
    return tuple(out)


def _split_entry(item: Node, where: str) -> tuple[str, Node, Loc | None]:
    """A list entry is ``kind`` or ``{kind: args}``; return (kind, args, loc of kind)."""
    if isinstance(item.value, str):
        return item.value, Node(None, item.loc), item.loc
    if item.is_map and len(item.value) == 1:
        ((kind, args),) = item.value.items()
        return kind, args, item.key_loc(kind)
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


def _take_name(args: Node, default: str, where: str) -> tuple[str, Node]:
    """Pop the optional ``name`` argument; check it is a usable module name."""
    if not args.is_map or "name" not in args.value:
        return default, args
    n = args.value["name"]
    if not isinstance(n.value, str) or not _NAME.match(n.value):
        raise ArchcalcError.at(
            n.loc,
            f"`name` expects an identifier (letters, digits, _), but gets {describe(n)}",
            where=where,
            hint="dots are added by nesting; names must not contain them",
        )
    rest = {k: v for k, v in args.value.items() if k != "name"}
    key_locs = {k: v for k, v in (args.key_locs or {}).items() if k != "name"}
    return n.value, Node(rest, args.loc, key_locs)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _parse_layer(item: Node, index: int, prefix: str, where: str, ctx: _Context) -> SpecNode:
    kind, args, kind_loc = _split_entry(item, where)
    loc = kind_loc or item.loc
    if kind in COMPOSITES:
        return _parse_composite(kind, args, index, prefix, where, loc, ctx)
    if kind in ctx.blocks:
        return _parse_block_call(ctx.blocks[kind], args, index, prefix, where, loc, ctx)
    spec_kind = kinds.get(kind)
    if spec_kind is None:
        choices = [*kinds.REGISTRY, *ctx.blocks, *COMPOSITES]
        raise ArchcalcError.at(
            loc,
            f"unknown layer kind `{kind}`",
            where=where,
            hint=suggest(kind.lower(), choices) or "run `archcalc kinds` to list them",
        )
    name, args = _take_name(args, f"{kind}_{index}", where)
    path = _join(prefix, name)
    label = f"{where} ({kind} {path})"
    ctx.spend(1, loc, label)
    try:
        parsed = spec_kind.parse(ArgReader(kind, args, spec_kind.main_arg))
    except ArchcalcError as err:
        raise err.located(loc, label) from None
    return Layer(kind=kind, name=name, path=path, args=parsed, loc=loc, where=where)


def _mapping_args(args: Node, kind: str, allowed: tuple[str, ...], where: str) -> dict[str, Node]:
    if not args.is_map:
        raise ArchcalcError.at(
            args.loc,
            f"{kind} expects a mapping with {', '.join(allowed)}, but gets {describe(args)}",
            where=where,
        )
    for key in args.value:
        if key not in allowed:
            raise ArchcalcError.at(
                args.key_loc(key),
                f"{kind} has no key `{key}`",
                where=where,
                hint=suggest(key, allowed) or f"{kind} takes {', '.join(allowed)}",
            )
    return dict(args.value)


def _parse_composite(
    kind: str, args: Node, index: int, prefix: str, where: str, loc: Loc | None, ctx: _Context
) -> SpecNode:
    if kind == "concat" and args.is_list:
        args = Node({"branches": args}, args.loc, {"branches": args.loc})
    name, args = _take_name(args, f"{kind}_{index}", where)
    path = _join(prefix, name)
    here = f"{where}.{kind}"
    if kind == "repeat":
        a = _mapping_args(args, "repeat", ("times", "layers"), where)
        if "times" not in a or "layers" not in a:
            raise ArchcalcError.at(
                args.loc,
                "repeat expects `times` and `layers`",
                where=where,
                hint="e.g. `repeat: {times: 3, layers: [...]}`",
            )
        times = a["times"].value
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ArchcalcError.at(
                a["times"].loc,
                f"`times` expects a positive integer, but gets {describe(a['times'])}",
                where=where,
            )
        if times > MAX_LAYERS:
            ctx.spend(times, a["times"].loc, where)
        first = _sequence("repeat", "0", _join(path, "0"), a["layers"], f"{here}.layers", loc, ctx)
        per_copy = len(leaves_of(first))
        ctx.spend(per_copy * (times - 1), a["times"].loc, where)
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
            raise ArchcalcError.at(args.loc, "residual expects `layers`", where=where)
        layers = _sequence("residual", name, path, a["layers"], f"{here}.layers", loc, ctx)
        if any(c.name == "shortcut" for c in layers.children):
            raise ArchcalcError.at(
                loc,
                "a layer inside a residual cannot be named `shortcut`",
                where=where,
                hint="that name holds the shortcut branch",
            )
        shortcut = None
        if "shortcut" in a and a["shortcut"].value not in (None, []):
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
    branches_node = a.get("branches")
    if branches_node is None or not branches_node.is_list or len(branches_node.value) < 2:
        raise ArchcalcError.at(
            (branches_node or args).loc,
            "concat expects a list of at least two branches",
            where=where,
            hint="e.g. `concat: [[conv2d: ...], [maxpool2d: ...]]`",
        )
    branches = tuple(
        _sequence(
            "branch",
            f"branch{i + 1}",
            _join(path, f"branch{i + 1}"),
            b,
            f"{here}[{i}]",
            b.loc or loc,
            ctx,
        )
        for i, b in enumerate(branches_node.value)
    )
    return Concat(name, path, branches, loc, where)


def _sequence(
    kind: str,
    name: str,
    path: str,
    node: Node,
    where: str,
    loc: Loc | None,
    ctx: _Context,
    count: bool = True,
) -> Sequence:
    saved = ctx.count
    children = _parse_list(node, path, where, ctx)
    if not count:
        ctx.count = saved  # already paid for by the caller (repeat copies)
    if not children:
        raise ArchcalcError.at(node.loc or loc, f"{kind} has no layers", where=where)
    return Sequence(kind, name, path, children, loc, where)


def _parse_block_call(
    block: BlockDef,
    args: Node,
    index: int,
    prefix: str,
    where: str,
    loc: Loc | None,
    ctx: _Context,
) -> Sequence:
    if block.name in ctx.stack:
        chain = " → ".join([*ctx.stack, block.name])
        raise ArchcalcError.at(loc, f"block `{block.name}` uses itself ({chain})", where=where)
    if args.value is None:
        args = Node({}, args.loc)
    if not args.is_map:
        raise ArchcalcError.at(
            args.loc,
            f"block `{block.name}` expects a mapping of parameters, but gets {describe(args)}",
            where=where,
        )
    name, args = _take_name(args, f"{block.name}_{index}", where)
    values: dict[str, Node] = {}
    for key, value in args.value.items():
        if key not in block.params:
            raise ArchcalcError.at(
                args.key_loc(key),
                f"block `{block.name}` has no parameter `{key}`",
                where=where,
                hint=suggest(key, block.params)
                or f"its parameters are {', '.join(block.params) or 'none'}",
            )
        values[key] = value
    for key, default in block.params.items():
        if key not in values:
            if default is None:
                raise ArchcalcError.at(
                    args.loc or loc,
                    f"block `{block.name}` expects parameter `{key}`, but it is missing",
                    where=where,
                    hint=f"e.g. `{block.name}: {{{', '.join(f'{p}: ...' for p in block.params)}}}`",
                )
            values[key] = default
    body = _substitute(block.layers, values, block.name, where)
    ctx.stack.append(block.name)
    try:
        return _sequence(
            block.name, name, _join(prefix, name), body, f"{where}.{block.name}", loc, ctx
        )
    finally:
        ctx.stack.pop()


def _substitute(node: Node, values: dict[str, Node], block: str, where: str) -> Node:
    """Replace every ``$param`` scalar in a block body by the call's value."""
    v: Any = node.value
    if isinstance(v, str) and v.startswith("$"):
        key = v[1:]
        if key not in values:
            raise ArchcalcError.at(
                node.loc,
                f"block `{block}` has no parameter `{key}`",
                where=where,
                hint=suggest(key, values) or f"its parameters are {', '.join(values) or 'none'}",
            )
        return values[key]
    if isinstance(v, dict):
        return Node(
            {k: _substitute(c, values, block, where) for k, c in v.items()}, node.loc, node.key_locs
        )
    if isinstance(v, list):
        return Node([_substitute(c, values, block, where) for c in v], node.loc)
    return node
