"""Read YAML into a tree whose every value remembers its file, line and column.

Only plain YAML is accepted: mappings, sequences and the core scalar types.
Application tags (``!!python/object``), anchors and aliases (the "billion
laughs" bomb) and absurdly large or deep documents are refused with one
located line, because a spec is untrusted input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from archcalc.errors import ArchcalcError, Loc

# Specs are small; a real one is a few KiB. The cap keeps the worst case
# (parse time, memory) well inside a second.
MAX_SPEC_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 200

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

try:  # libyaml is ten times faster; fall back to the pure-Python reader.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


@dataclass(frozen=True)
class Node:
    """A YAML value with its location.

    ``value`` is a scalar, a ``dict[str, Node]`` or a ``list[Node]``;
    ``key_locs`` holds the location of each mapping key.
    """

    value: Any
    loc: Loc | None = None
    key_locs: dict[str, Loc | None] = field(default_factory=dict)

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def key_loc(self, key: str) -> Loc | None:
        return self.key_locs.get(key) or self.loc


def describe(node: Node) -> str:
    """How a value reads in an error message: its type and, for scalars, itself."""
    v = node.value
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if isinstance(v, str):
        return f"'{v}'" if len(v) <= 40 else f"'{v[:37]}...'"
    return f"`{v}`"


def parse_yaml(text: str, filename: str) -> Node:
    """Parse one YAML document into a located :class:`Node` tree."""
    if len(text) > MAX_SPEC_BYTES:
        raise ArchcalcError(
            f"spec is {len(text) / 2**20:.1f} MiB; archcalc reads specs up to "
            f"{MAX_SPEC_BYTES // 2**20} MiB",
            file=filename,
            hint="use `blocks:` and `repeat:` to write long networks compactly",
        )
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        loc = Loc(filename, mark.line + 1, mark.column + 1) if mark else None
        problem = err.problem or err.context or "invalid YAML"
        raise ArchcalcError.at(loc, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as err:
        raise ArchcalcError(f"YAML syntax error: {err}", file=filename) from None
    except RecursionError:
        raise ArchcalcError(
            f"YAML nesting is deeper than archcalc reads ({MAX_DEPTH} levels)", file=filename
        ) from None
    finally:
        loader.dispose()
    if root is None:
        raise ArchcalcError(
            "the spec is empty",
            file=filename,
            line=1,
            col=1,
            hint="a spec is a mapping with `input:` and `layers:`",
        )
    return _convert(root, filename, loader, depth=0, seen=set())


def _loc(node: yaml.Node, filename: str) -> Loc:
    return Loc(filename, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(node: yaml.Node, filename: str, loader: Any, depth: int, seen: set[int]) -> Node:
    loc = _loc(node, filename)
    if depth > MAX_DEPTH:
        raise ArchcalcError.at(loc, f"YAML nesting is deeper than archcalc reads ({MAX_DEPTH})")
    # The composer shares one node object between an anchor and each of its
    # aliases; a node met twice is an alias. Refusing aliases outright is what
    # defuses the exponential "billion laughs" document.
    if id(node) in seen and not isinstance(node, yaml.ScalarNode):
        raise ArchcalcError.at(
            loc,
            "YAML anchors and aliases (&name, *name) are not supported in specs",
            hint="use `blocks:` to reuse layers",
        )
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP_TAG:
            raise _bad_tag(node, loc)
        out: dict[str, Node] = {}
        key_locs: dict[str, Loc | None] = {}
        for key_node, value_node in node.value:
            kloc = _loc(key_node, filename)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                raise ArchcalcError.at(kloc, "mapping keys must be plain names")
            key = _convert(key_node, filename, loader, depth + 1, seen).value
            if not isinstance(key, str):
                key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                first = key_locs[key]
                at = f" (first at line {first.line})" if first else ""
                raise ArchcalcError.at(kloc, f"duplicate key `{key}`{at}")
            out[key] = _convert(value_node, filename, loader, depth + 1, seen)
            key_locs[key] = kloc
        return Node(out, loc, key_locs)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ_TAG:
            raise _bad_tag(node, loc)
        return Node([_convert(n, filename, loader, depth + 1, seen) for n in node.value], loc)
    if node.tag not in _SCALAR_TAGS:
        raise _bad_tag(node, loc)
    try:
        value = loader.construct_object(node, deep=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        raise ArchcalcError.at(loc, f"cannot read the value `{node.value}`") from None
    return Node(value, loc)


def _bad_tag(node: yaml.Node, loc: Loc) -> ArchcalcError:
    return ArchcalcError.at(
        loc,
        f"YAML tag `{node.tag}` is not allowed in a spec",
        hint="specs hold plain mappings, lists, numbers and strings only",
    )


def from_python(value: Any, where: str = "spec") -> Node:
    """Wrap a plain Python dict/list/scalar (a spec written in code) as a tree.

    Such values have no file position; errors then name the layer path only.
    """
    return _from_python(value, where, depth=0)


def _from_python(value: Any, where: str, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise ArchcalcError(f"nesting is deeper than archcalc reads ({MAX_DEPTH})", where=where)
    if isinstance(value, dict):
        items: dict[str, Node] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ArchcalcError(f"mapping keys must be strings, not {k!r}", where=where)
            items[k] = _from_python(v, f"{where}.{k}", depth + 1)
        return Node(items, None, {})
    if isinstance(value, (list, tuple)):
        return Node(
            [_from_python(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)], None
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return Node(value, None)
    raise ArchcalcError(
        f"expects plain data (dict, list, number, string), but gets {type(value).__name__}",
        where=where,
    )
