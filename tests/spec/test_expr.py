"""Block arithmetic: ``out: $c * 4`` in a block's body (docs/spec.md, "Blocks")."""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.kinds.base import MAX_INT
from archcalc.spec import expr
from archcalc.spec.expr import MAX_EXPR_CHARS, MAX_EXPR_DEPTH, Value, evaluate

# --- a reference evaluator: Python's own arithmetic, restricted to the grammar


class _Overflow(Exception):
    pass


class _DivZero(Exception):
    pass


def _reference(text: str, env: dict[str, int]) -> int:
    """``text`` evaluated by Python's parser and operators, every intermediate bounded.

    ``$a`` becomes the Python name ``a``; any node outside + - * // unary-minus,
    integer constants and names fails the test, so the reference never runs
    anything else.
    """
    tree = ast.parse(text.replace("$", ""), mode="eval")

    def check(v: int) -> int:
        if not -MAX_INT <= v <= MAX_INT:
            raise _Overflow
        return v

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return check(node.value)
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return check(-walk(node.operand))
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)  # left first, as archcalc
            if isinstance(node.op, ast.Add):
                return check(left + right)
            if isinstance(node.op, ast.Sub):
                return check(left - right)
            if isinstance(node.op, ast.Mult):
                return check(left * right)
            if isinstance(node.op, ast.FloorDiv):
                if right == 0:
                    raise _DivZero
                return check(left // right)
        raise AssertionError(f"outside the grammar: {ast.dump(node)}")

    return walk(tree)


def _lookup(env: dict[str, int]) -> Callable[[str], Value]:
    return lambda name: Value(env[name], None)


_LEAF = st.one_of(st.integers(0, 30).map(str), st.sampled_from(["$a", "$b", "$c"]))
_SPACE = st.sampled_from(["", " ", "  "])


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.builds(
        lambda left, s1, op, s2, right, paren: (
            f"({left}{s1}{op}{s2}{right})" if paren else f"{left}{s1}{op}{s2}{right}"
        ),
        children,
        _SPACE,
        st.sampled_from(["+", "-", "*", "//"]),
        _SPACE,
        children,
        st.booleans(),
    )
    # "- -3" and "--3" are both Python; a space keeps "-" from gluing to nothing odd.
    unary = st.builds(lambda s, child: f"-{s}{child}", _SPACE, children)
    return binary | unary


_EXPRESSIONS = st.recursive(_LEAF, _extend, max_leaves=12).filter(
    lambda t: len(t) <= MAX_EXPR_CHARS and t.count("(") <= MAX_EXPR_DEPTH
)


@settings(max_examples=400, deadline=None)
@given(
    text=_EXPRESSIONS,
    a=st.integers(-50, 50),
    b=st.integers(-50, 50),
    c=st.sampled_from([0, 1, 2, 7, MAX_INT, -MAX_INT]),
)
def test_expressions_evaluate_like_python(text: str, a: int, b: int, c: int) -> None:
    env = {"a": a, "b": b, "c": c}
    # The referenced names only: the lookup is asked for no others.
    try:
        want = _reference(text, env)
    except _Overflow:
        with pytest.raises(ArchcalcError, match=r"past archcalc's limit of ±2,147,483,647"):
            evaluate(text, _lookup(env))
        return
    except _DivZero:
        with pytest.raises(ArchcalcError, match=r"by zero"):
            evaluate(text, _lookup(env))
        return
    assert evaluate(text, _lookup(env)) == want


# --- precedence and associativity, visibly


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$c * 4", 28),
        ("$c + 1 * 2", 9),  # * before +
        ("($c + 1) * 2", 16),
        ("($c + 1) // 2", 4),
        ("$c - 2 - 1", 4),  # left to right: (7 - 2) - 1, not 7 - (2 - 1) = 6
        ("$c // 2 // 2", 1),  # (7 // 2) // 2, not 7 // (2 // 2) = 7
        ("$c - 2 + 1", 6),  # (7 - 2) + 1, not 7 - 3 = 4
        ("$c * 2 // 4", 3),  # (14) // 4, not 7 * 0 = 0
        ("$c // 2 * 4", 12),  # (3) * 4, not 7 // 8 = 0
        ("-$c + 10", 3),  # unary minus binds tighter than +
        ("-$c // 2", -4),  # (-7) // 2 rounds down, as Python's does
        ("$c - -1", 8),
        ("--$c", 7),
        ("$c // -2", -4),
        ("(((($c))))", 7),
        ("$c-1", 6),  # spaces are optional
        ("2 * $c * $c - $c", 91),
    ],
)
def test_precedence_and_associativity(text: str, value: int) -> None:
    assert evaluate(text, _lookup({"c": 7})) == value
    assert _reference(text, {"c": 7}) == value  # the table is Python's own arithmetic


# --- in a spec


def _block(body: str, call: str, params: str = "[c]") -> str:
    return (
        "input: [3, 16, 16]\n"
        "blocks:\n"
        "  b:\n"
        f"    params: {params}\n"
        "    layers:\n"
        f"      - {body}\n"
        "layers:\n"
        f"  - b: {call}\n"
    )


BOTTLENECK = """\
input: [16, 32, 32]
blocks:
  bottleneck:
    params: {c: null, stride: 1}
    layers:
      - residual:
          layers:
            - conv2d: {name: reduce, out: $c, kernel: 1, bias: false}
            - relu
            - conv2d: {name: conv, out: $c, kernel: 3, stride: $stride, padding: 1, bias: false}
            - relu
            - conv2d: {name: expand, out: $c * 4, kernel: 1, bias: false}
          shortcut:
            - conv2d: {name: proj, out: $c * 4, kernel: 1, stride: $stride, bias: false}
  stage:
    params: [c]
    layers:
      - bottleneck: {c: $c, stride: 2}
      - bottleneck: {c: ($c + 1) // 2}
layers:
  - stage: {name: s1, c: 8}
"""


def test_a_bottleneck_block_with_arithmetic_is_analysed_with_the_right_shapes() -> None:
    analysis = archcalc.analyze(archcalc.loads(BOTTLENECK))
    shapes = {row.path: row.output_shape for row in analysis.rows}
    assert shapes["s1.bottleneck_0.residual_0.expand"] == (32, 16, 16)  # 8 * 4
    assert shapes["s1.bottleneck_0.residual_0.shortcut.proj"] == (32, 16, 16)
    assert shapes["s1.bottleneck_1.residual_0.reduce"] == (4, 16, 16)  # (8 + 1) // 2
    assert shapes["s1.bottleneck_1.residual_0.expand"] == (16, 16, 16)  # 4 * 4
    assert analysis.output_shape == (16, 16, 16)
    # 1×1 convolutions without bias: in × out weights each.
    params = {row.path: row.params for row in analysis.rows}
    assert params["s1.bottleneck_0.residual_0.expand"] == 8 * 32
    assert params["s1.bottleneck_1.residual_0.expand"] == 4 * 16


def test_times_and_nested_calls_read_arithmetic() -> None:
    text = (
        "input: [3, 8, 8]\n"
        "blocks:\n"
        "  inner:\n    params: [c]\n"
        "    layers: [{repeat: {times: $c - 1, layers: [{conv2d: {out: $c * 2, kernel: 1}}]}}]\n"
        "  outer:\n    params: [c]\n"
        "    layers: [{inner: {c: $c * 2}}]\n"
        "layers:\n  - outer: {c: 2}\n"
    )
    leaves = archcalc.loads(text).leaves()
    assert len(leaves) == 3  # times: 2 * 2 - 1
    assert {leaf.args.out for leaf in leaves} == {8}  # (2 * 2) * 2


def test_arithmetic_in_a_list_argument_and_a_plain_name_beside_it() -> None:
    spec = archcalc.loads(_block("{conv2d: {out: $c, kernel: [$c - 2, ($c + 1) // 2]}}", "{c: 3}"))
    assert spec.leaves()[0].args.kernel == (1, 2)


def test_a_computed_value_is_blamed_at_the_expression() -> None:
    # 1 - 2 = -1 is no output size: the error is where `$c - 2` is written.
    with pytest.raises(ArchcalcError, match=r"^s\.yaml:6:24: .*`out` expects a positive integer"):
        archcalc.loads(_block("{linear: {out: $c - 2}}", "{c: 1}"), filename="s.yaml")


def test_plain_names_still_take_any_value() -> None:
    spec = archcalc.loads(_block("{conv2d: {out: 4, kernel: $k}}", "{k: [1, 3]}", "[k]"))
    assert spec.leaves()[0].args.kernel == (1, 3)


def test_arithmetic_outside_a_block_is_a_plain_string() -> None:
    with pytest.raises(ArchcalcError, match=r"`out` expects an integer, but gets '\$c \* 4'"):
        archcalc.loads("input: [1, 4, 4]\nlayers: [flatten, {linear: $c * 4}]\n")


# --- errors, located at the expression and naming the call


@pytest.mark.parametrize(
    ("out", "call", "match"),
    [
        (
            "$cc * 4",
            "{c: 8}",
            r"^s\.yaml:6:24: layers\[0\]: block `b` has no parameter `cc` \(in `\$cc \* 4`\)"
            r" — did you mean `c`\?",
        ),
        (
            "$c * 4",
            "{c: abc}",
            r"^s\.yaml:6:24: layers\[0\]: `\$c` is 'abc' \(from s\.yaml:8:12\), "
            r"arithmetic needs an integer \(in `\$c \* 4`\)",
        ),
        ("$c * 4", "{c: [1, 2]}", r"`\$c` is a list \(from s\.yaml:8:12\), arithmetic needs"),
        ("$c * 4", "{c: true}", r"`\$c` is `true` .*arithmetic needs an integer"),
        ("$c * 4", "{c: 2.5}", r"`\$c` is `2\.5` .*arithmetic needs an integer"),
        (
            "$c // ($c - 8)",
            "{c: 8}",
            r"^s\.yaml:6:24: layers\[0\]: `\$c // \(\$c - 8\)` divides 8 by zero "
            r"with \$c = 8 \(from s\.yaml:8:12\)",
        ),
        (
            "$c * 65536",
            "{c: 65536}",
            r"^s\.yaml:6:24: layers\[0\]: `\$c \* 65536` computes 65536 \* 65536 = 4294967296 "
            r"with \$c = 65536 \(from s\.yaml:8:12\), past archcalc's limit of ±2,147,483,647",
        ),
        (
            "$c + 1",
            "{c: 2147483647}",
            r"computes 2147483647 \+ 1 = 2147483648 with \$c = 2147483647",
        ),
        ("-$c - 2", "{c: 2147483647}", r"computes -2147483647 - 2 = -2147483649"),
        ("$c + 1", "{c: 99999999999}", r"`\$c` is 99999999999 \(from s\.yaml:8:12\), past"),
        ("$c + 2147483648", "{c: 1}", r"has the number 2147483648 at character 6, past"),
        ("$c *", "{c: 8}", r"^s\.yaml:6:24: layers\[0\]: the expression `\$c \*` ends where"),
        ("$c ** 2", "{c: 8}", r"uses `\*\*` at character 4 — powers are not supported"),
        ("$c / 2", "{c: 8}", r"uses `/` at character 4 — write `//` for integer division"),
        ("$c % 2", "{c: 8}", r"uses `%` at character 4 — remainders are not supported"),
        (
            "$c + __import__('os')",
            "{c: 8}",
            r"has `__import__` at character 6, which is not a value",
        ),
        ("($c + 1", "{c: 8}", r"has a `\(` at character 1 that is never closed"),
        ("$c + 1)", "{c: 8}", r"has an unmatched `\)` at character 7"),
        ("$ + 1", "{c: 8}", r"has a `\$` without a parameter name at character 1"),
        ("$c (2)", "{c: 8}", r"has `\(` at character 4, where an operator belongs"),
        ("$c + * 2", "{c: 8}", r"has `\*` at character 6, where a value belongs"),
        ("$c + 1.5", "{c: 8}", r"has `\.` at character 7, where an operator belongs"),
        ("(" * 17 + "$c" + ")" * 17, "{c: 8}", r"nests parentheses deeper than 16 levels"),
    ],
)
def test_arithmetic_errors_are_located(out: str, call: str, match: str) -> None:
    with pytest.raises(ArchcalcError, match=match):
        archcalc.loads(_block(f'{{linear: {{out: "{out}"}}}}', call), filename="s.yaml")


def test_errors_in_a_nested_call_name_that_call() -> None:
    text = (
        "input: [3, 8, 8]\n"
        "blocks:\n"
        "  inner:\n    params: [c]\n    layers: [{conv2d: {out: $c // $c, kernel: 1}}]\n"
        "  outer:\n    params: [c]\n    layers: [{inner: {c: $c - 2}}]\n"
        "layers:\n  - outer: {name: first, c: 4}\n  - outer: {name: second, c: 2}\n"
    )
    with pytest.raises(
        ArchcalcError,
        match=r"^s\.yaml:5:29: layers\[1\]\.outer\[0\]: `\$c // \$c` divides 0 by zero "
        r"with \$c = 0 \(from s\.yaml:8:26\)",
    ):
        archcalc.loads(text, filename="s.yaml")


def test_times_with_arithmetic_is_checked_like_any_times() -> None:
    with pytest.raises(ArchcalcError, match=r"`times` expects a positive integer, but gets `0`"):
        archcalc.loads(_block("{repeat: {times: $c - 1, layers: [relu]}}", "{c: 1}"))


def test_a_hostile_expression_is_refused_fast() -> None:
    hostile = "(" * 300 + "$c + " * 80 + "$c" + ")" * 300
    assert len(hostile) > 1000
    start = time.perf_counter()
    with pytest.raises(ArchcalcError, match=r"is longer than 200 characters"):
        archcalc.loads(_block(f'{{linear: {{out: "{hostile}"}}}}', "{c: 1}"), filename="s.yaml")
    assert time.perf_counter() - start < 5


def test_deep_nesting_within_the_length_cap_never_recurses_far() -> None:
    # 100 unary minuses are a loop; 99 parentheses stop at the depth cap.
    assert evaluate("-" * 100 + "$c", _lookup({"c": 3})) == 3
    with pytest.raises(ArchcalcError, match=r"nests parentheses deeper than 16 levels"):
        evaluate("(" * 99 + "$c" + ")" * 99, _lookup({"c": 3}))


def test_only_strings_with_a_dollar_and_an_operator_are_arithmetic() -> None:
    assert expr.is_expression("$c * 4")
    assert expr.is_expression("($c)")
    assert not expr.is_expression("$c")
    assert not expr.is_expression("4 * 2")
    assert not expr.is_expression(4)


def test_the_docs_example_is_analysed() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "spec.md").read_text(encoding="utf-8")
    section = doc[doc.index("### Arithmetic on parameters") :]
    start = section.index("```yaml\n") + len("```yaml\n")
    example = section[start : section.index("```", start)]
    spec = archcalc.loads("input: [16, 32, 32]\n" + example + "layers: [{stage: {c: 8, g: 2}}]\n")
    shapes = {row.path: row.output_shape for row in archcalc.analyze(spec).rows}
    assert shapes["stage_0.bottleneck_0.residual_0.expand"] == (32, 16, 16)
    assert shapes["stage_0.bottleneck_1.residual_0.reduce"] == (4, 16, 16)
    assert len([p for p in shapes if ".repeat_3." in p]) == 1  # times: 2 - 1
