"""The arranged lists as YAML: block definitions, calls, and the comments that say where from.

Every block call's body becomes a block. Flat, bodies that are identical
share one block. Folded, bodies of one class and one structure whose
arguments differ only in value share one block with parameters: a value the
same in every call stays written, one that varies becomes ``$name`` (or
arithmetic on another parameter where it always is: ``$c * 4``), and each call
passes its own (``bottleneck: {name: 0, c: 64, stride: 2}``). Arguments equal
to the kind's default in every call are left out.

The writer is archcalc's own, not PyYAML's dump: it keeps each layer on one
line in the examples' flow style and puts the module paths in comments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from archcalc import kinds
from archcalc.bridge.export import args as kind_args
from archcalc.bridge.export.structure import Arranged, Body, Entry
from archcalc.kinds.base import fmt_shape
from archcalc.spec.parse import COMPOSITES, MERGE_KINDS

# Containers whose class says nothing about what they hold: their blocks are named
# after where they are (resnet's `layer`, `downsample`) instead.
_GENERIC = {"Sequential", "ModuleList", "ModuleDict", "Module"}
# Plain YAML text: an identifier, or a dotted name that starts with a letter (`backbone.4`;
# `1.2` would read as a number).
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


@dataclass(eq=False)
class _Def:
    """One block definition and the bodies that call it."""

    key: Any
    bodies: list[Body]
    height: int
    name: str = ""
    params: list[str] = field(default_factory=list)
    # per entry: the written value of each argument (a literal, `$p` or arithmetic)
    texts: list[dict[str, Any]] = field(default_factory=list)
    values: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(body) → call args


def emit(
    arranged: Arranged, *, name: str, input_shape: tuple[int, ...], fold: bool, origin: str
) -> str:
    """The spec's YAML text."""
    writer = _Writer(fold)
    writer.collect(arranged.root, top=True)
    writer.define()
    lines = [
        f"# Exported by `archcalc export` from {origin} at {fmt_shape(input_shape)}: every layer",
        "# sits at its module's path, so build(spec) loads the module's state_dict as it is.",
        f"name: {_scalar(name)}",
        f"input: {_scalar(list(input_shape))}",
    ]
    if writer.defs:
        lines.append("blocks:")
        for d in writer.ordered:
            lines.extend(writer.block_lines(d))
    lines.append("layers:")
    lines.extend(writer.entry_lines(arranged.root, None, "  "))
    if arranged.outputs:
        lines.append(f"outputs: {_scalar(arranged.outputs)}")
    return "\n".join(lines) + "\n"


class _Writer:
    def __init__(self, fold: bool) -> None:
        self.fold = fold
        self.keys: dict[int, Any] = {}  # id(body) → its structure key
        self.heights: dict[int, int] = {}
        self.defs: dict[Any, _Def] = {}
        self.of: dict[int, _Def] = {}  # id(body) → its block
        self.ordered: list[_Def] = []

    # -- structure -------------------------------------------------------------------
    def collect(self, body: Body, top: bool = False) -> Any:
        """The structure key of ``body`` (its class, names, kinds, argument names; and,
        flat, the values too); bodies with one key share a block."""
        parts: list[Any] = [body.scope.what]
        height = 0
        for e in body.entries:
            src = tuple(e.source) if isinstance(e.source, list) else e.source
            if e.times:
                inner = _copy_body(e)
                copy = [self.collect(c.body) if c.body else None for c in inner.entries]
                for c in inner.entries:
                    if c.body is not None:
                        height = max(height, self.heights[id(c.body)] + 1)
                written = [(c.kind, c.name, repr(c.source), _freeze(c.args)) for c in inner.entries]
                parts.append(("repeat", e.name, e.times, tuple(copy), tuple(written)))
            elif e.body is not None:
                child = self.collect(e.body)
                height = max(height, self.heights[id(e.body)] + 1)
                parts.append(("call", child, e.name, src))
            else:
                # Folded, only the argument names must agree; flat, the values too.
                args = tuple(e.args) if self.fold else _freeze(e.args)
                parts.append((e.kind, e.name, src, args))
        key = _freeze(parts)
        self.keys[id(body)] = key
        self.heights[id(body)] = height
        if not top:
            d = self.defs.get(key)
            if d is None:
                d = self.defs[key] = _Def(key, [], height)
            d.bodies.append(body)
            self.of[id(body)] = d
        return key

    def define(self) -> None:
        """Name every block, then find its parameters, innermost blocks first."""
        self.ordered = sorted(self.defs.values(), key=lambda d: d.height)
        used: set[str] = set()
        first: dict[str, list[str | None]] = {}  # a base name → the names in its first block
        for d in self.ordered:
            body = d.bodies[0]
            names = [e.name for e in body.entries]
            base = _block_base(body)
            extra = [
                n
                for n in names
                if n is not None
                and re.fullmatch(r"[A-Za-z_]+", n)
                and n not in first.get(base, names)
            ]
            if base in first and extra:  # Bottleneck with a downsample: bottleneck_downsample
                base = _block_base(body, extra[0])
            first.setdefault(base, names)
            d.name = _unique(base, used)
            used.add(d.name)
        for d in self.ordered:
            self._parameters(d)

    def _values(self, body: Body) -> list[tuple[tuple[int, str], Any]]:
        """Each slot of ``body``: ((entry index, argument), value), in order."""
        out: list[tuple[tuple[int, str], Any]] = []
        for i, e in enumerate(body.entries):
            if e.times:
                continue  # written whole: a repeat's values are in its block's key
            if e.body is not None:
                out.extend(((i, k), v) for k, v in self.call_args(e.body).items())
            else:
                out.extend(((i, k), v) for k, v in e.args.items())
        return out

    def call_args(self, body: Body) -> dict[str, Any]:
        return self.of[id(body)].values.get(id(body), {})

    def _parameters(self, d: _Def) -> None:
        rows = [self._values(b) for b in d.bodies]
        slots = [s for s, _ in rows[0]]
        columns = [[row[j][1] for row in rows] for j in range(len(slots))]
        texts: dict[tuple[int, str], Any] = {}
        params: list[tuple[str, list[Any]]] = []
        for slot, col in zip(slots, columns, strict=True):
            if all(_same(v, col[0]) for v in col):
                texts[slot] = col[0]
                continue
            texts[slot] = _relation(col, params) or self._new_param(slot, col, params, d)
        d.params = [p for p, _ in params]
        for b_i, b in enumerate(d.bodies):
            d.values[id(b)] = {p: col[b_i] for p, col in params}
        first = d.bodies[0]
        d.texts = []
        for i, e in enumerate(first.entries):
            if e.times:
                d.texts.append({})
                continue
            text = {k: texts[(i, k)] for k in (self.call_args(e.body) if e.body else e.args)}
            if e.body is None:
                constant = [k for k in text if not _is_param_text(text[k], d.params)]
                text = _without_defaults(e.kind, text, constant, [b.entries[i] for b in d.bodies])
            d.texts.append(text)

    @staticmethod
    def _new_param(slot: tuple[int, str], col: list[Any], params: list[Any], d: _Def) -> str:
        base = {"out": "c"}.get(slot[1], slot[1])
        base = re.sub(r"[^A-Za-z0-9_]", "_", base)
        if not re.match(r"[A-Za-z_]", base):
            base = f"p{base}"
        taken = {p for p, _ in params}
        cand, k = base, 1
        while cand in taken:
            k += 1
            cand = f"{base}{k}"
        params.append((cand, col))
        return f"${cand}"

    # -- lines -----------------------------------------------------------------------
    def block_lines(self, d: _Def) -> list[str]:
        paths = [b.scope.path for b in d.bodies]
        shown = ", ".join(paths[:2]) + (f", … ({len(paths)} calls)" if len(paths) > 2 else "")
        lines = [f"  {d.name}:  # {d.bodies[0].scope.what}: {shown}"]
        if d.params:
            lines.append(f"    params: [{', '.join(d.params)}]")
        lines.append("    layers:")
        lines.extend(self.entry_lines(d.bodies[0], d, "      "))
        return lines

    def entry_lines(self, body: Body, d: _Def | None, indent: str) -> list[str]:
        lines = []
        for i, e in enumerate(body.entries):
            if e.times:
                lines.append(f"{indent}- repeat:")
                lines.append(f"{indent}    name: {_scalar(e.name)}")
                lines.append(f"{indent}    times: {e.times}")
                lines.append(f"{indent}    layers:")
                lines.extend(self.entry_lines(_copy_body(e), None, indent + "      "))
                continue
            if d is not None:
                text = d.texts[i]
            elif e.body is not None:
                text = self.call_args(e.body)
            else:
                text = _without_defaults(e.kind, dict(e.args), list(e.args), [e])
            if e.body is not None:
                callee = self.of[id(e.body)]
                line = _line(callee.name, e.name, e.source, text)
                if d is None and e.body.scope.what not in _GENERIC:
                    line += f"  # {e.body.scope.what}"
            else:
                line = _line(e.kind, e.name, e.source, text)
                before = body.entries[i - 1].node if i else None
                if e.node is not None and e.node.last and not (before and before.last):
                    line += "  # torch runs this stretch channels last, between two permutes"
            lines.append(f"{indent}- {line}")
        return lines


def _copy_body(e: Entry) -> Body:
    """The list each copy of a repeat runs: the body of the container's first call."""
    assert e.body is not None and e.body.entries[0].body is not None
    return e.body.entries[0].body


def _line(kind: str, name: str | None, source: Any, text: dict[str, Any]) -> str:
    if kind in MERGE_KINDS and isinstance(source, list) and not text:
        if name is None:
            return f"{kind}: {_scalar(source)}"
        return f"{kind}: {{name: {_scalar(name)}, from: {_scalar(source)}}}"
    parts = []
    if name is not None:
        parts.append(f"name: {_scalar(name)}")
    if source is not None:
        parts.append(f"from: {_scalar(source)}")
    parts.extend(f"{k}: {_scalar(v)}" for k, v in text.items())
    if not parts:
        return kind
    spec_kind = kinds.get(kind)
    main = spec_kind.main_arg if spec_kind is not None else None
    if len(parts) == 1 and main is not None and list(text) == [main]:
        return f"{kind}: {_scalar(text[main])}"
    return f"{kind}: {{{', '.join(parts)}}}"


def _scalar(v: Any) -> str:
    """One YAML value in flow style that reads back as exactly ``v``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:  # YAML 1.1 reads 1e-05 as text
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, str):
        if v.isdigit() and str(int(v)) == v:
            return v  # a torch child name such as 0: the spec reads the integer as the name
        if v.startswith("$") or (_PLAIN.match(v) and v.lower() not in _YAML_WORDS):
            return v
        if v.startswith("(") and "$" in v:
            return v
        return json.dumps(v, ensure_ascii=False)
    raise TypeError(f"cannot write {v!r}")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple((k, _freeze(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


def _is_int_column(col: list[Any]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in col)


def _relation(col: list[Any], params: list[tuple[str, list[Any]]]) -> str | None:
    """``$p``, or integer arithmetic on an earlier parameter that gives ``col`` in every call."""
    for p, pcol in params:
        if all(_same(a, b) for a, b in zip(col, pcol, strict=True)):
            return f"${p}"
    if not _is_int_column(col):
        return None
    for p, pcol in params:
        if not _is_int_column(pcol):
            continue
        for k in range(2, 65):
            if all(v == q * k for v, q in zip(col, pcol, strict=True)):
                return f"${p} * {k}"
            if all(v == q // k for v, q in zip(col, pcol, strict=True)):
                return f"${p} // {k}"
        if all(v == (q - 1) // 2 for v, q in zip(col, pcol, strict=True)):
            return f"(${p} - 1) // 2"
    return None


def _is_param_text(v: Any, params: list[str]) -> bool:
    return isinstance(v, str) and "$" in v


def _without_defaults(
    kind: str, text: dict[str, Any], constant: list[str], entries: list[Entry]
) -> dict[str, Any]:
    """``text`` less the constant arguments every call would get by default anyway."""
    if kind in MERGE_KINDS or kinds.get(kind) is None:
        return text
    dropped: list[str] = []
    for key in constant:
        trial = [*dropped, key]
        if all(_reads_same(kind, e.args, trial) for e in entries):
            dropped.append(key)
    return {k: v for k, v in text.items() if k not in dropped}


def _reads_same(kind: str, args: dict[str, Any], without: list[str]) -> bool:
    try:
        return bool(
            kind_args.parse(kind, {k: v for k, v in args.items() if k not in without})
            == kind_args.parse(kind, args)
        )
    except Exception:
        return False


def _block_base(body: Body, suffix: str | None = None) -> str:
    """A block's name from its class (snake case), or for a generic container from where it
    is called (resnet's `layer1` → `layer`); with ``suffix``, what sets it apart."""
    what = body.scope.what
    if what in _GENERIC:
        base = re.sub(r"[-_0-9]+$", "", body.scope.name) or "seq"
    else:
        base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", what)
    if suffix is not None:
        base = f"{base}_{suffix}"
    base = re.sub(r"[^a-z0-9_]", "_", base.lower()).strip("_") or "block"
    if not re.match(r"[a-z_]", base):
        base = f"b_{base}"
    if kinds.get(base) is not None or base in COMPOSITES or base in MERGE_KINDS:
        base = f"{base}_block"
    return base


def _unique(base: str, used: set[str]) -> str:
    cand, k = base, 1
    while cand in used:
        k += 1
        cand = f"{base}_{k}"
    return cand
