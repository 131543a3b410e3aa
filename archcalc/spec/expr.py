"""Integer arithmetic on block parameters: ``$w * 4``, ``($c + 1) // 2``, ``$c // $g``.

A spec is untrusted input, so an expression is never handed to ``eval``: it is
read by a small precedence-climbing parser into postfix form and run on a
stack. The grammar is integers, ``$name`` references, ``+ - * //``, unary minus
and parentheses, nothing else::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "//") unary)*
    unary   := "-"* primary
    primary := INTEGER | "$" NAME | "(" expr ")"

Precedence and associativity are Python's: unary minus binds tightest, then
``*`` and ``//``, then ``+`` and ``-``, each left to right; ``//`` rounds down
(towards minus infinity) as Python's does. Every literal, every intermediate
value and the result stay within ±MAX_INT, like every integer argument.

Hostile input stays cheap: an expression is at most MAX_EXPR_CHARS characters,
read once left to right, and the parser recurses only into parentheses, at most
MAX_EXPR_DEPTH deep; running the postfix form uses a loop and a list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

from archcalc.errors import ArchcalcError, Loc
from archcalc.kinds.base import MAX_INT

# A real expression is a dozen characters (`($c + 1) // 2`); the cap keeps every
# error message that quotes one short and every expression's cost tiny.
MAX_EXPR_CHARS = 200
# Parentheses nest at most this deep: the parser recurses once per level, and the
# spec reader above it may already be several hundred frames down.
MAX_EXPR_DEPTH = 16
# What turns a `$`-string into an expression rather than a plain `$name`. `%` and `/`
# are not operators here, but a string with them is read as an (unsupported) expression
# so that its error names the operator instead of a parameter called `c % 2`.
OPERATOR_CHARS = frozenset("+-*/%()")

_TOKEN = re.compile(
    r"\s+|(?P<num>[0-9]+)|(?P<ref>\$[A-Za-z_][A-Za-z0-9_]*)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>//|\*\*|[-+*/%()])|(?P<other>.)",
    re.S,
)
_GRAMMAR = "block arithmetic is integers, `$name`s, + - * // and parentheses"
_NOT_OPERATORS = {
    "**": "powers are not supported",
    "/": "write `//` for integer division",
    "%": "remainders are not supported",
}


class Value(NamedTuple):
    """A parameter's integer value and where it was written, as messages cite it."""

    value: int
    origin: Loc | None  # formatted only when a message cites it


# Postfix operations: each is (opcode, argument). PUSH pushes the argument, REF the
# value of parameter number `argument`, NEG negates the top, and the rest combine the
# top two.
PUSH, REF, NEG, ADD, SUB, MUL, FLOORDIV = range(7)
_SYMBOL = {ADD: "+", SUB: "-", MUL: "*", FLOORDIV: "//"}


class Program(NamedTuple):
    """An expression in postfix form and the parameters it reads, each once."""

    code: tuple[tuple[int, int], ...]
    names: tuple[str, ...]


class _Fault(NamedTuple):
    """What went wrong running a program, for the message its caller writes."""

    left: int
    op: int
    right: int
    result: int | None  # None: division by zero


def is_expression(value: object) -> bool:
    """Whether a YAML value is block arithmetic: a string with a ``$`` and an operator."""
    return isinstance(value, str) and "$" in value and not OPERATOR_CHARS.isdisjoint(value)


def shown(text: str) -> str:
    """An expression as a message quotes it: whole, unless it is past the length cap."""
    if len(text) <= MAX_EXPR_CHARS:
        return f"`{text}`"
    return f"`{text[:40]}…` ({len(text):,} characters)"


# Pure functions of their arguments, memoised (bounded): a block's body is read again
# for every call and every repeat copy, so one expression may be met 5,000 times (the layer cap).
@functools.lru_cache(maxsize=1024)
def compile_expression(text: str) -> Program:
    """Parse ``text`` into postfix form, or raise an (unlocated) ArchcalcError."""
    if len(text) > MAX_EXPR_CHARS:
        raise ArchcalcError(
            f"the expression {shown(text)} is longer than {MAX_EXPR_CHARS} characters",
            hint="block arithmetic is a short formula such as `($c + 1) // 2`",
        )
    return _Parser(text).program()


def evaluate(text: str, lookup: Callable[[str], Value]) -> int:
    """The value of ``text``, with each ``$name`` given by ``lookup``.

    Syntax is checked in full before any name is looked up, and every name is
    looked up before anything is computed, so a message names the first mistake
    a reader would fix. Intermediates past ±MAX_INT and ``// 0`` are errors that
    quote the expression and the values it read.
    """
    program = compile_expression(text)
    env = {name: lookup(name) for name in program.names}
    out = _run(text, tuple(v.value for v in env.values()))
    if isinstance(out, int):
        return out
    hint = "check the values the block is called with"
    if out.result is None:
        raise ArchcalcError(f"{shown(text)} divides {out.left} by zero{_with(env)}", hint=hint)
    raise ArchcalcError(
        f"{shown(text)} computes {out.left} {_SYMBOL[out.op]} {out.right} = {out.result}"
        f"{_with(env)}, past archcalc's limit of ±{MAX_INT:,}",
        hint=hint,
    )


@functools.lru_cache(maxsize=4096)
def _run(text: str, values: tuple[int, ...]) -> int | _Fault:
    """Run the compiled ``text`` with its parameters' values, in their order of first use."""
    stack: list[int] = []
    push, pop = stack.append, stack.pop
    for op, arg in compile_expression(text).code:
        if op == PUSH:
            push(arg)
        elif op == REF:
            push(values[arg])
        elif op == NEG:
            push(-pop())  # within ±MAX_INT when its operand is
        else:
            right = pop()
            left = pop()
            if op == ADD:
                result = left + right
            elif op == SUB:
                result = left - right
            elif op == MUL:
                result = left * right
            elif right == 0:
                return _Fault(left, op, right, None)
            else:
                result = left // right
            if not -MAX_INT <= result <= MAX_INT:
                return _Fault(left, op, right, result)
            push(result)
    return stack[-1]


def _with(env: Mapping[str, Value]) -> str:
    """The values an expression read, as a message lists them: ` with $c = 8 (from f:3:5)`."""
    if not env:
        return ""
    parts = [
        f"${name} = {v.value}" + (f" (from {v.origin})" if v.origin else "")
        for name, v in env.items()
    ]
    return " with " + ", ".join(parts)


class _Parser:
    """Precedence climbing over the tokens of one expression, emitting postfix."""

    def __init__(self, text: str) -> None:
        self.text = text
        # (kind, text, 1-based position); whitespace dropped. At most MAX_EXPR_CHARS.
        self.tokens: list[tuple[str, str, int]] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            if kind is not None:
                self.tokens.append((kind, m.group(), m.start() + 1))
        self.pos = 0
        self.code: list[tuple[int, int]] = []
        self.names: dict[str, int] = {}

    def program(self) -> Program:
        self._expr(0)
        if self.pos < len(self.tokens):
            kind, tok, at = self.tokens[self.pos]
            if tok == ")":
                raise self._error(f"has an unmatched `)` at character {at}")
            raise self._unexpected(kind, tok, at, "an operator")
        return Program(tuple(self.code), tuple(self.names))

    def _error(self, what: str, hint: str = _GRAMMAR) -> ArchcalcError:
        return ArchcalcError(f"the expression {shown(self.text)} {what}", hint=hint)

    def _unexpected(self, kind: str, tok: str, at: int, expected: str) -> ArchcalcError:
        if tok in _NOT_OPERATORS:
            return self._error(
                f"uses `{tok}` at character {at}", f"{_NOT_OPERATORS[tok]}; {_GRAMMAR}"
            )
        if kind == "word":
            return self._error(
                f"has `{tok[:40]}` at character {at}, which is not a value",
                f"write `${tok[:40]}` for a block parameter; {_GRAMMAR}",
            )
        if tok == "$":
            return self._error(f"has a `$` without a parameter name at character {at}")
        return self._error(f"has `{tok}` at character {at}, where {expected} belongs")

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _expr(self, depth: int) -> None:
        self._term(depth)
        while (op := self._peek()) in ("+", "-"):
            self.pos += 1
            self._term(depth)
            self.code.append((ADD if op == "+" else SUB, 0))

    def _term(self, depth: int) -> None:
        self._unary(depth)
        while (op := self._peek()) in ("*", "//"):
            self.pos += 1
            self._unary(depth)
            self.code.append((MUL if op == "*" else FLOORDIV, 0))

    def _unary(self, depth: int) -> None:
        # A loop, not recursion: `- - - - $c` costs no stack.
        negations = 0
        while self._peek() == "-":
            self.pos += 1
            negations += 1
        self._primary(depth)
        self.code.extend([(NEG, 0)] * negations)

    def _primary(self, depth: int) -> None:
        if self.pos >= len(self.tokens):
            raise self._error("ends where a value belongs")
        kind, tok, at = self.tokens[self.pos]
        self.pos += 1
        if kind == "num":
            # At most MAX_EXPR_CHARS digits: int() is cheap, and Python's own
            # 4,300-digit conversion limit is never reached.
            value = int(tok)
            if value > MAX_INT:
                raise self._error(
                    f"has the number {tok if len(tok) <= 20 else tok[:20] + '…'} "
                    f"at character {at}, "
                    f"past archcalc's limit of {MAX_INT:,}",
                    hint="integers in a spec are at most 2**31 - 1",
                )
            self.code.append((PUSH, value))
        elif kind == "ref":
            self.code.append((REF, self.names.setdefault(tok[1:], len(self.names))))
        elif tok == "(":
            if depth >= MAX_EXPR_DEPTH:
                raise self._error(
                    f"nests parentheses deeper than {MAX_EXPR_DEPTH} levels",
                    hint="block arithmetic is a short formula such as `($c + 1) // 2`",
                )
            self._expr(depth + 1)
            if self._peek() != ")":
                if self.pos >= len(self.tokens):
                    raise self._error(f"has a `(` at character {at} that is never closed")
                k, t, a = self.tokens[self.pos]
                raise self._unexpected(k, t, a, "an operator or `)`")
            self.pos += 1
        else:
            raise self._unexpected(kind, tok, at, "a value")
