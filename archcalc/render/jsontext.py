"""The CLI's JSON text: indented two spaces, short number lists (shapes, fields) on one line.

The text is exactly ``json.dumps(data, indent=2)`` with every list of plain
numbers then folded onto one line by :data:`NUMBER_LIST` (``[4, 16, 16]``).
Python 3.11's C encoder does not indent, and its pure-Python indenting encoder
and the folding pass took 0.3 s of a 10,000-layer ``summary --json``; this
writer produces the same text in one pass, about three times as fast. Anything
but plain JSON types (str, int, float, bool, None, list, tuple, dict) takes the
slow path, so the text never differs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

# Lists of plain numbers, as json.dumps(indent=2) writes them: folded onto one line.
NUMBER_LIST = re.compile(r"\[\s+([-0-9.,\s]+?)\s+\]")
_PLAIN_NUMBER = frozenset("-0123456789.")


def _fold(text: str) -> str:
    return NUMBER_LIST.sub(
        lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text
    )


def dumps_reference(data: object) -> str:
    """The definition: ``json.dumps(data, indent=2)``, number lists folded (slow, exact)."""
    return _fold(json.dumps(data, indent=2))


class _Unusual(Exception):
    """A value json.dumps would treat in its own way (a subclass, a bad key): take the slow path."""


def dumps(data: object) -> str:
    """``dumps_reference(data)``, written in one pass."""
    out: list[str] = []
    try:
        _value(data, "\n", out.append)
    except (_Unusual, RecursionError):
        return dumps_reference(data)
    return "".join(out)


def _string(s: str) -> str:
    text: str = encode_basestring_ascii(s)
    # The folding pass also reads inside strings (a name written `[ 1 ]`); a match there
    # cannot cross a quote, so folding each string alone gives the same text.
    return _fold(text) if "[" in text else text


def _float(x: float) -> str:
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    return float.__repr__(x)


def _number_list(items: list[Any] | tuple[Any, ...]) -> str | None:
    """``[4, 16, 16]`` where every item is an int or a float written without exponent."""
    texts = []
    for x in items:
        t = type(x)
        if t is int:
            texts.append(int.__repr__(x))
        elif t is float:
            r = _float(x)
            if not _PLAIN_NUMBER.issuperset(r):
                return None
            texts.append(r)
        else:
            return None
    return "[" + ", ".join(texts) + "]"


def _key(k: object) -> str:
    t = type(k)
    if t is str:
        return _string(k)  # type: ignore[arg-type]
    if k is None:
        return '"null"'
    if k is True:
        return '"true"'
    if k is False:
        return '"false"'
    if t is int:
        return '"' + int.__repr__(k) + '"'
    if t is float:
        return '"' + _float(k) + '"'  # type: ignore[arg-type]
    raise _Unusual


def _value(v: object, nl: str, put: Callable[[str], Any]) -> None:
    t = type(v)
    if t is str:
        put(_string(v))  # type: ignore[arg-type]
    elif v is None:
        put("null")
    elif v is True:
        put("true")
    elif v is False:
        put("false")
    elif t is int:
        put(int.__repr__(v))
    elif t is float:
        put(_float(v))  # type: ignore[arg-type]
    elif t is dict:
        if not v:
            put("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for k, x in v.items():  # type: ignore[attr-defined]
            # Strings, ints and None inline: most values are, and a call each is a third
            # of the time.
            tx = type(x)
            if tx is str:
                put(sep + _key(k) + ": " + _string(x))
            elif tx is int:
                put(sep + _key(k) + ": " + int.__repr__(x))
            elif x is None:
                put(sep + _key(k) + ": null")
            else:
                put(sep + _key(k) + ": ")
                _value(x, inner, put)
            sep = "," + inner
        put(nl + "}")
    elif t is list or t is tuple:
        if not v:
            put("[]")
            return
        folded = _number_list(v)  # type: ignore[arg-type]
        if folded is not None:
            put(folded)
            return
        inner = nl + "  "
        sep = "[" + inner
        for x in v:  # type: ignore[attr-defined]
            put(sep)
            _value(x, inner, put)
            sep = "," + inner
        put(nl + "]")
    else:
        raise _Unusual
