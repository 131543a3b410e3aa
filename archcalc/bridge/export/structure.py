"""The traced scopes as the lists a spec writes: one block call per container call.

A block call reads one tensor (the previous output, or ``from:``) and gives
one (its last layer's), and its body sees only its own names. A container
call is checked against that, after two rewrites that keep every layer at its
module path:

- a node without weights whose inputs all come from outside its container
  moves out, in front of the call (DenseNet's ``torch.cat(inputs)`` at the top
  of each dense layer);
- dead work without weights is dropped.

A container that still reads several outside tensors, or gives several, is
refused, naming it. With ``idioms`` (the folded form) DenseNet's dense
connections are read the way a person writes them: a ``cat`` of every earlier
tensor is the previous ``cat`` joined with the newest one, and each dense
layer ends in ``cat: [input, conv2]``, so that every dense layer is the same
block. The values are the same tensors, in the same channel order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archcalc.bridge.export.trace import Refusal, TNode, Traced, TScope


@dataclass(eq=False)
class Entry:
    """One line of a list: a layer, a merge, or a block call (``body`` set)."""

    kind: str  # the layer kind or merge; "" for a block call
    args: dict[str, Any]
    name: str | None
    node: TNode | None = None
    body: Body | None = None
    # What it reads, until names are given: the entries (or `input`); empty: the previous
    # output. A merge lists every input.
    reads: list[Entry | str] = field(default_factory=list)
    merge: bool = False
    needs_name: bool = False
    source: str | list[str] | None = None  # `from:` as written (a list for a merge)
    # A container of `times` identical calls 0, 1, …: written as `repeat`, the copies'
    # body that of its first call.
    times: int = 0

    def label(self) -> str:
        if self.node is not None:
            return f"{self.node.module} ({self.node.what})"
        assert self.body is not None
        return self.body.scope.label()


@dataclass(eq=False)
class Body:
    """The list of a block call (or the top level): its scope and entries."""

    scope: TScope
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Arranged:
    root: Body
    outputs: list[str]  # names of the network's outputs, when more than the last
    sources: dict[str, str]  # spec path → "module path" (with " (call N)" after the first)


def arrange(traced: Traced, idioms: bool) -> Arranged:
    """The body of the top level, with every container a block call, or a Refusal."""
    nodes = traced.nodes
    outputs = set(traced.outputs)
    if idioms:
        _share_cat_prefixes(nodes)
    readers = _readers(nodes)
    _drop_dead(traced.root, nodes, readers, outputs)
    io: dict[int, tuple[int, int]] = {}  # id(scope) → (input node, output node)
    _check(traced.root, nodes, readers, outputs, io, idioms)
    root = _body(traced.root, 0, io)
    if not root.entries:
        raise Refusal("(root)", "output", "the network returns its input: there is no layer")
    by_out = {_out_of(e, io): e for e in root.entries}
    returned = [by_out.get(o) for o in traced.outputs]
    last = _out_of(root.entries[-1], io) if root.entries else 0
    if traced.outputs != (last,):
        for entry in returned:
            if entry is None:
                raise Refusal("(root)", "output", "the network returns a tensor no list names")
            entry.needs_name = True
    _name_all(root)
    if idioms:
        _find_repeats(root)
    out_names = [] if traced.outputs == (last,) else [_display(e) for e in returned if e]
    sources: dict[str, str] = {}
    _collect_sources(root, "", sources)
    return Arranged(root, out_names, sources)


# -- graph rewrites ---------------------------------------------------------------------


def _share_cat_prefixes(nodes: list[TNode]) -> None:
    """cat(a, b, c) after cat(a, b) is cat(cat(a, b), c): the same tensor, channel for channel."""
    seen: dict[tuple[int, ...], int] = {}
    for n in nodes:
        if n.op != "cat" or n.module is not None:
            continue
        original = n.inputs
        prefix = seen.get(original[:-1]) if len(original) > 2 else None
        seen.setdefault(original, n.id)
        if prefix is not None:
            n.inputs = (prefix, original[-1])


def _readers(nodes: list[TNode]) -> dict[int, list[int]]:
    readers: dict[int, list[int]] = {n.id: [] for n in nodes}
    for n in nodes:
        for i in n.inputs:
            readers[i].append(n.id)
    return readers


def _drop_dead(
    root: TScope, nodes: list[TNode], readers: dict[int, list[int]], outputs: set[int]
) -> None:
    """Remove work whose result nothing reads; refuse it where it holds weights."""
    alive = {n.id for n in nodes}
    changed = True
    while changed:
        changed = False
        for n in reversed(nodes[1:]):
            if n.id not in alive or n.id in outputs or any(r in alive for r in readers[n.id]):
                continue
            if n.holds:
                raise Refusal(
                    f"{n.module} ({n.what})",
                    "call",
                    "its result is never used; a spec's layers all feed the output",
                )
            alive.discard(n.id)
            changed = True
    _prune(root, alive)


def _prune(scope: TScope, alive: set[int]) -> None:
    kept: list[TNode | TScope] = []
    for item in scope.items:
        if isinstance(item, TScope):
            _prune(item, alive)
            if item.items:
                kept.append(item)
        elif item.id in alive:
            kept.append(item)
    scope.items = kept


# -- the one-in, one-out check ----------------------------------------------------------


def _members(scope: TScope) -> set[int]:
    out: set[int] = set()
    for item in scope.items:
        if isinstance(item, TScope):
            out |= _members(item)
        else:
            out.add(item.id)
    return out


def _check(
    scope: TScope,
    nodes: list[TNode],
    readers: dict[int, list[int]],
    outputs: set[int],
    io: dict[int, tuple[int, int]],
    idioms: bool,
) -> None:
    for item in list(scope.items):
        if isinstance(item, TScope):
            _check(item, nodes, readers, outputs, io, idioms)
    if scope.parent is None:
        if idioms:
            _sink_dense_cats(scope, nodes, readers, outputs, io)
        return
    mem = _members(scope)
    ext = _external(mem, nodes)
    while len(ext) > 1:
        movable = [
            it
            for it in scope.items
            if isinstance(it, TNode) and not it.holds and all(i not in mem for i in it.inputs)
        ]
        if not movable:
            break
        parent = scope.parent
        at = parent.items.index(scope)
        for it in movable:
            scope.items.remove(it)
            it.scope = parent
        parent.items[at:at] = movable
        mem = _members(scope)
        ext = _external(mem, nodes)
    if not ext:
        raise Refusal(
            scope.label(),
            "call",
            "it reads no tensor computed from the network's input",
            hint="a spec block takes one input; its layers would have to move out of it",
        )
    outs = _outs(mem, readers, outputs) if len(ext) == 1 else []
    if len(outs) > 1 and _sink_merge(scope, mem, outs, nodes, readers, outputs, ext):
        mem = _members(scope)
        outs = _outs(mem, readers, outputs)
    if len(ext) != 1 or len(outs) != 1:
        _dissolve(scope)
        return
    io[id(scope)] = (next(iter(ext)), outs[0])
    if idioms:
        _sink_dense_cats(scope, nodes, readers, outputs, io)


def _dissolve(scope: TScope) -> None:
    """A container that reads or gives several tensors (LR-ASPP's backbone returns two, its
    head reads both) is no block call: its items join its parent's list under dotted names
    (``backbone.4``), so every path stays its module's and each tensor can be named."""
    parent = scope.parent
    assert parent is not None
    at = parent.items.index(scope)
    for item in scope.items:
        if isinstance(item, TScope):
            item.name = f"{scope.name}.{item.name}"
            item.parent = parent
        else:
            item.scope = parent
            item.lifted = True
    parent.items[at : at + 1] = scope.items


def _outs(mem: set[int], readers: dict[int, list[int]], outputs: set[int]) -> list[int]:
    return sorted(n for n in mem if n in outputs or any(r not in mem for r in readers[n]))


def _sink_merge(
    scope: TScope,
    mem: set[int],
    outs: list[int],
    nodes: list[TNode],
    readers: dict[int, list[int]],
    outputs: set[int],
    ext: set[int],
) -> bool:
    """Several outputs read by one merge right after the call (DeepLab's ASPP joins the
    branches of its ModuleList): the merge moves into the container, its one output."""
    outside = {r for n in outs for r in readers[n] if r not in mem}
    if len(outside) != 1 or any(n in outputs for n in outs):
        return False
    merge = nodes[outside.pop()]
    parent = scope.parent
    if (
        merge.module is not None
        or merge.op not in ("add", "mul", "cat")
        or parent is None
        or merge.scope is not parent
        or not all(i in mem or i in ext for i in merge.inputs)
    ):
        return False
    parent.items.remove(merge)
    scope.items.append(merge)
    merge.scope = scope
    return True


def _external(mem: set[int], nodes: list[TNode]) -> set[int]:
    return {i for n in mem for i in nodes[n].inputs if i not in mem}


def _node_text(n: TNode) -> str:
    return n.module if n.module is not None else f"{n.op} in {n.scope.label() if n.scope else '?'}"


def _sink_dense_cats(
    scope: TScope,
    nodes: list[TNode],
    readers: dict[int, list[int]],
    outputs: set[int],
    io: dict[int, tuple[int, int]],
) -> None:
    """``cat: [x, block(x)]`` right after a block call becomes that block's last layer."""
    items = scope.items
    i = 0
    while i + 1 < len(items):
        call, nxt = items[i], items[i + 1]
        if isinstance(call, TScope) and isinstance(nxt, TNode) and id(call) in io:
            x, y = io[id(call)]
            if (
                nxt.op == "cat"
                and nxt.module is None
                and nxt.inputs == (x, y)
                and readers[y] == [nxt.id]
                and y not in outputs
            ):
                items.pop(i + 1)
                call.items.append(nxt)
                nxt.scope = call
                io[id(call)] = (x, nxt.id)
        i += 1


# -- lists and names --------------------------------------------------------------------


def _out_of(entry: Entry, io: dict[int, tuple[int, int]]) -> int:
    if entry.body is not None:
        return io[id(entry.body.scope)][1]
    assert entry.node is not None
    return entry.node.id


def _body(scope: TScope, x: int, io: dict[int, tuple[int, int]]) -> Body:
    body = Body(scope)
    made: dict[int, Entry] = {}
    prev = x

    def ref(nid: int) -> Entry | str:
        if nid == x:
            return "input"
        entry = made[nid]
        entry.needs_name = True
        return entry

    for item in scope.items:
        if isinstance(item, TScope):
            sx, sy = io[id(item)]
            entry = Entry("", {}, item.name, body=_body(item, sx, io))
            if sx != prev:
                entry.reads = [ref(sx)]
            made[sy] = entry
            prev = sy
        else:
            entry = Entry(item.op, dict(item.written), _layer_name(item, scope), node=item)
            if item.op in ("add", "mul", "cat") and item.module is None:
                entry.merge = True
                entry.reads = [ref(i) for i in item.inputs]
            elif item.inputs[0] != prev:
                entry.reads = [ref(item.inputs[0])]
            made[item.id] = entry
            prev = item.id
        body.entries.append(entry)
    return body


def _layer_name(node: TNode, scope: TScope) -> str | None:
    """A module call is named as its module (a functional op only where it is read)."""
    if node.module is None:
        return None
    prefix = f"{scope.path}." if scope.path else ""
    if node.module.startswith(prefix) and (node.lifted or "." not in node.module[len(prefix) :]):
        return node.module[len(prefix) :]
    return node.module.rsplit(".", 1)[-1]  # moved out of its container: no weights


def _name_all(body: Body) -> None:
    """Unique names in every list; refuse two calls of one module with weights."""
    for e in body.entries:
        if e.body is not None:
            _name_all(e.body)
    taken: dict[str, Entry] = {}
    for e in body.entries:
        if e.name is None:
            continue
        if e.name in taken:
            if _holds(e) or _holds(taken[e.name]):
                raise Refusal(
                    e.label(),
                    "call",
                    "it is called twice with the same weights; each spec layer holds its own",
                )
            e.name = None  # a later call of a module without weights: named by position
            continue
        taken[e.name] = e
    # Unnamed entries get `kind_index` when read; explicit names must not take those.
    defaults = {f"{e.kind}_{i}" for i, e in enumerate(body.entries) if e.name is None and e.kind}
    for e in body.entries:
        if e.name is None and e.needs_name:
            module = e.node.module if e.node is not None else None
            base = module.rsplit(".", 1)[-1] if module is not None else e.kind
            cand, k = base, 1
            while cand in taken or cand in defaults or cand == "input":
                k += 1
                cand = f"{base}_{k}"
            e.name = cand
            taken[cand] = e
    for e in body.entries:
        names = [r if isinstance(r, str) else _display(r) for r in e.reads]
        e.source = names if e.merge else (names[0] if names else None)


def _find_repeats(body: Body) -> None:
    """A container whose children are identical calls named 0, 1, … is a `repeat`.

    Only then: a repeat's copies are named from 0 under the repeat's own name, so
    `features.0.conv` … `features.3.conv` keep their paths. A copy's list cannot name
    the copy's input (`input` there is the enclosing block's), so a body that reads it
    stays a block.
    """
    for e in body.entries:
        if e.body is not None:
            _find_repeats(e.body)
            calls = e.body.entries
            if (
                len(calls) >= 2
                and all(c.body is not None and c.name == str(i) for i, c in enumerate(calls))
                and not any(c.reads for c in calls)
                and len({_shape_key(c.body) for c in calls if c.body is not None}) == 1
                and not any("input" in c.reads for c in _first_body(e).entries)
            ):
                e.times = len(calls)


def _first_body(e: Entry) -> Body:
    assert e.body is not None and e.body.entries[0].body is not None
    return e.body.entries[0].body


def _shape_key(body: Body) -> Any:
    """Everything a body writes: two bodies with one key are the same list."""
    return (
        body.scope.what,
        tuple(
            (
                e.kind,
                e.name,
                repr(e.source),
                repr(sorted(e.args.items(), key=str)),
                e.times,
                _shape_key(e.body) if e.body is not None else None,
            )
            for e in body.entries
        ),
    )


def _holds(e: Entry) -> bool:
    if e.node is not None:
        return e.node.holds
    assert e.body is not None
    return any(_holds(c) for c in e.body.entries)


def _display(e: Entry) -> str:
    assert e.name is not None
    return e.name


def _collect_sources(body: Body, prefix: str, out: dict[str, str]) -> None:
    for i, e in enumerate(body.entries):
        name = e.name if e.name is not None else f"{e.kind}_{i}"
        path = f"{prefix}.{name}" if prefix else name
        if e.body is not None:
            _collect_sources(e.body, path, out)
        elif e.node is not None and e.node.module is not None:
            call = f" (call {e.node.call})" if e.node.call > 1 else ""
            out[path] = e.node.module + call
