"""Read YAML into a tree whose every value remembers its file, line and column.

Only plain YAML is accepted: mappings, sequences and the core scalar types.
Application tags (``!!python/object``), anchors and aliases (the "billion
laughs" bomb) and absurdly large or deep documents are refused with one
located line, because a spec is untrusted input.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import yaml

from archcalc.errors import ArchcalcError, Loc

# Specs are small; a real one is a few KiB. The cap keeps the worst case
# (parse time, memory) well inside a second.
MAX_SPEC_BYTES = 1024 * 1024
MAX_DEPTH = 200
# Five to ten values a layer: room for a spec at the layer cap (5,000), written out
# in full, twice over.
MAX_VALUES = 150_000
# Every mapping key in a spec is a name (a kind, an argument, a block, a parameter);
# the longest real one is about 20 characters. The cap keeps each error message short
# and each name cheap to compare.
MAX_NAME_CHARS = 64

# What YAML (and so PyYAML) refuses anywhere in a document: control characters other
# than tab and line breaks, surrogates, U+FFFE/U+FFFF. Found here first, so that the
# error names the line and column (PyYAML's C reader gives a byte offset only).
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Flow collections open and close with brackets; quoted scalars and comments hide them.
_FLOW_TOKENS = re.compile(r"""[\[\]{}]|'[^']*'|"(?:[^"\\]|\\.)*"|(?:^|(?<=[ \t]))#[^\n]*""", re.M)

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


class Node(NamedTuple):
    """A YAML value with its location.

    ``value`` is a scalar, a ``dict[str, Node]`` or a ``list[Node]``;
    ``key_locs`` holds the location of each mapping key (None means none).
    A NamedTuple for the same reason as :class:`Loc`: one per YAML value.
    """

    value: Any
    loc: Loc | None = None
    key_locs: dict[str, Loc | None] | None = None

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def key_loc(self, key: str) -> Loc | None:
        return (self.key_locs or {}).get(key) or self.loc


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
        return repr(v) if len(v) <= 40 else repr(v[:37] + "...")
    return f"`{v}`"


def parse_yaml(text: str, filename: str) -> Node:
    """Parse one YAML document into a located :class:`Node` tree.

    Built from the parser's event stream rather than PyYAML's composed nodes,
    so that the value budget, the depth limit and the alias ban stop a hostile
    document as soon as it crosses them, before it costs seconds or memory.
    """
    if len(text) > MAX_SPEC_BYTES:
        raise ArchcalcError(
            f"spec is {len(text) / 2**20:.1f} MiB; archcalc reads specs up to "
            f"{MAX_SPEC_BYTES // 2**20} MiB",
            file=filename,
            hint="use `blocks:` and `repeat:` to write long networks compactly",
        )
    bad = _NOT_YAML.search(text)
    if bad is not None:
        raise ArchcalcError.at(
            _loc_of(text, bad.start(), filename),
            f"the control character U+{ord(bad.group()):04X} is not allowed in YAML",
            hint="a spec is plain text: is this file binary, or was it pasted with escapes?",
        )
    loader = _Loader(text)
    try:
        root = _compose(loader, filename)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        _refuse_deep_flow(text, mark.index + 1 if mark else len(text), filename)
        loc = Loc(filename, mark.line + 1, mark.column + 1) if mark else None
        problem = err.problem or err.context or "invalid YAML"
        raise ArchcalcError.at(loc, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as err:
        _refuse_deep_flow(text, len(text), filename)
        raise ArchcalcError(f"YAML syntax error: {err}", file=filename) from None
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
    return root


def _loc_of(text: str, index: int, filename: str) -> Loc:
    """The line and column (1-based, in characters) of ``text[index]``."""
    line_start = text.rfind("\n", 0, index) + 1
    return Loc(filename, text.count("\n", 0, index) + 1, index - line_start + 1)


def _too_deep(loc: Loc) -> ArchcalcError:
    return ArchcalcError.at(
        loc,
        f"YAML nesting is deeper than archcalc reads ({MAX_DEPTH} levels)",
        hint="use `blocks:` to name and reuse deep structure",
    )


def _refuse_deep_flow(text: str, end: int, filename: str) -> None:
    """Refuse with archcalc's own message when ``text[:end]`` nests brackets past MAX_DEPTH.

    Run only once PyYAML has refused the text: its scanner reads a line of
    brackets ahead of the events that _compose counts, and some releases (libyaml
    0.2.5 at 1,000 levels) stop deep nesting with their own message first. A valid
    spec never pays for this scan.
    """
    depth = 0
    for token in _FLOW_TOKENS.finditer(text, 0, end):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(_loc_of(text, token.start(), filename))
        elif char in "]}":
            depth = max(depth - 1, 0)


def _compose(loader: Any, filename: str) -> Node | None:
    """Build the Node tree from parser events, iteratively (no recursion limit to hit)."""
    # Each open collection: [items or dict, loc, key_locs, pending key, pending key loc]
    stack: list[list[Any]] = []
    root: Node | None = None
    values = 0
    # Specs repeat the same few scalars (kind names, small sizes); resolving a
    # scalar's type runs PyYAML's regular expressions, so each is done once.
    scalars: dict[tuple[Any, ...], Any] = {}
    get_event = loader.get_event
    while True:
        event = get_event()
        cls = type(event)
        # Dispatch on the exact class, most frequent first: this loop runs once per
        # YAML value of every spec, up to 150,000 times for the largest.
        if cls is _Scalar:
            mark = event.start_mark
            loc = Loc(filename, mark.line + 1, mark.column + 1)
            values += 1
            if values > MAX_VALUES:
                raise _too_many(loc)
            memo = (event.tag, event.value, event.implicit, event.style)
            value = scalars.get(memo, scalars)
            if value is scalars:
                value = scalars[memo] = _scalar(loader, event, loc)
            node = Node(value, loc)
        elif cls is _MapStart or cls is _SeqStart:
            mark = event.start_mark
            loc = Loc(filename, mark.line + 1, mark.column + 1)
            values += 1
            if values > MAX_VALUES:
                raise _too_many(loc)
            is_map = cls is _MapStart
            if event.tag not in (None, "!", _MAP_TAG if is_map else _SEQ_TAG):
                raise _bad_tag(event.tag, loc)
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(loc)
            stack.append([{} if is_map else [], loc, {}, None, None])
            continue
        elif cls is _MapEnd or cls is _SeqEnd:
            items, start, key_locs, _, _ = stack.pop()
            node = Node(items, start, key_locs) if cls is _MapEnd else Node(items, start)
        elif cls is yaml.StreamEndEvent:
            return root
        elif cls is yaml.AliasEvent:
            mark = event.start_mark
            raise ArchcalcError.at(
                Loc(filename, mark.line + 1, mark.column + 1),
                "YAML anchors and aliases (&name, *name) are not supported in specs",
                hint="use `blocks:` to reuse layers",
            )
        else:  # stream and document start and end: nothing to build
            continue
        if not stack:
            if root is not None:  # pragma: no cover - the parser refuses a second document
                raise ArchcalcError.at(node.loc, "a spec file holds one YAML document")
            root = node
            continue
        top = stack[-1]
        container = top[0]
        if type(container) is list:
            container.append(node)
        elif top[3] is None:  # this node is a key
            raw = node.value
            if isinstance(raw, (dict, list)):
                raise ArchcalcError.at(node.loc, "mapping keys must be plain names")
            if raw == "<<":
                raise ArchcalcError.at(node.loc, "YAML merge keys (<<) are not supported in specs")
            if type(raw) is str:
                key = raw
            else:
                key = str(raw).lower() if isinstance(raw, bool) else str(raw)
            if len(key) > MAX_NAME_CHARS:
                raise _long_name(key, node.loc)
            if key in container:
                first = top[2][key]
                raise ArchcalcError.at(
                    node.loc, f"duplicate key `{key}` (first at line {first.line})"
                )
            top[3], top[4] = key, node.loc
        else:
            container[top[3]] = node
            top[2][top[3]] = top[4]
            top[3] = None


_Scalar = yaml.ScalarEvent
_MapStart, _MapEnd = yaml.MappingStartEvent, yaml.MappingEndEvent
_SeqStart, _SeqEnd = yaml.SequenceStartEvent, yaml.SequenceEndEvent


def _scalar(loader: Any, event: Any, loc: Loc) -> Any:
    if event.tag in (None, "!"):
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    else:
        tag = event.tag
    if tag not in _SCALAR_TAGS:
        raise _bad_tag(tag, loc)
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        return loader.construct_object(node, deep=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        raise ArchcalcError.at(loc, f"cannot read the value `{event.value}`") from None


def _too_many(loc: Loc) -> ArchcalcError:
    return ArchcalcError.at(
        loc,
        f"the spec holds more than {MAX_VALUES:,} YAML values; archcalc reads specs up to that",
        hint="use `blocks:` and `repeat:` to write long networks compactly",
    )


def _long_name(key: str, loc: Loc | None, where: str | None = None) -> ArchcalcError:
    return ArchcalcError.at(
        loc,
        f"the key {key[:20]!r}… is {len(key):,} characters long; "
        f"archcalc reads names up to {MAX_NAME_CHARS}",
        where=where,
        hint="every key in a spec is a name: a kind, an argument, a block or a parameter",
    )


def _bad_tag(tag: str, loc: Loc) -> ArchcalcError:
    return ArchcalcError.at(
        loc,
        f"YAML tag `{tag}` is not allowed in a spec",
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
            if len(k) > MAX_NAME_CHARS:
                raise _long_name(k, None, where)
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
