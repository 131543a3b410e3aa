"""Design smells, found in an Analysis: each a :class:`Finding` with a stable code.

The codes, what each means and how to fix it are listed in docs/lint.md. A
spec silences codes with ``lint: {ignore: [AC101]}``; the CLI adds
``--ignore``. Every check reads only the analysis (shapes, parameters,
receptive fields and the parsed layer arguments), so lint costs no more than
the summary it sits beneath.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from math import prod
from typing import Any, Literal, NamedTuple

from archcalc.analysis.result import Analysis, Row
from archcalc.analysis.walk import analyze
from archcalc.design.anatomy import Anatomy, anatomy
from archcalc.errors import ArchcalcError, Loc, suggest
from archcalc.kinds import REGISTRY
from archcalc.kinds.base import Axes, Shape, fmt_shape
from archcalc.kinds.conv import ConvArgs
from archcalc.kinds.linear import LinearArgs
from archcalc.kinds.pooling import PoolArgs
from archcalc.spec.model import Spec

Severity = Literal["error", "warning", "info"]


class Rule(NamedTuple):  # a NamedTuple: it costs the summary's start-up far less
    code: str
    severity: Severity
    title: str


RULES: tuple[Rule, ...] = (
    Rule("AC101", "warning", "one layer holds most of the parameters"),
    Rule("AC102", "warning", "windows silently drop border pixels"),
    Rule("AC103", "info", "the final receptive field covers little of the input"),
    Rule("AC104", "warning", "softmax as the last layer"),
    Rule("AC105", "warning", "a long chain of saturating activations"),
    Rule("AC106", "warning", "a kernel larger than its input"),
    Rule("AC107", "warning", "dropout before batch norm"),
)
CODES: dict[str, Rule] = {r.code: r for r in RULES}

DOMINANT_SHARE = 0.5  # AC101: a share of all parameters at least this large
MIN_COVERAGE = 0.5  # AC103: per axis, below this the field "covers little"
SATURATING_CHAIN = 4  # AC105: this many sigmoid/tanh in a row
# AC105: the largest derivative of each saturating activation (sigmoid 0.25, tanh 1,
# hardsigmoid 1/6), as each kind declares it in its traits.
MAX_DERIVATIVE: dict[str, float] = {
    k.name: k.traits.max_derivative
    for k in REGISTRY.values()
    if k.traits and k.traits.activation == "saturating" and k.traits.max_derivative is not None
}
NORMALISERS = frozenset(k.name for k in REGISTRY.values() if k.traits and k.traits.normaliser)
# AC104: layers that leave the output's meaning unchanged after the last real layer.
PASS_THROUGH = frozenset(k.name for k in REGISTRY.values() if k.traits and k.traits.pass_through)


@dataclass(frozen=True)
class Finding:
    """One smell: which rule, how serious, which layer, why, and where it is written."""

    code: str
    severity: Severity
    path: str
    message: str
    loc: Loc | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
            "loc": str(self.loc) if self.loc else None,
        }


@dataclass(frozen=True)
class LintReport:
    """The findings left after silencing, and those silenced (by code)."""

    name: str
    file: str | None
    findings: tuple[Finding, ...]
    silenced: tuple[Finding, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "file": self.file,
            "findings": [f.to_dict() for f in self.findings],
            "silenced": sorted({f.code for f in self.silenced}),
        }


def check_codes(codes: Iterable[str], where: str, file: str | None = None) -> frozenset[str]:
    """Upper-cased ``codes``, each a known rule; an unknown one is the user's mistake."""
    out = frozenset(c.strip().upper() for c in codes if c.strip())
    for code in sorted(out):
        if code not in CODES:
            raise ArchcalcError(
                f"{where} expects lint codes ({', '.join(CODES)}), but gets {code}",
                file=file,
                hint=suggest(code, CODES) or "see docs/lint.md",
            )
    return out


def lint(analysis: Analysis, ignore: Iterable[str] = (), file: str | None = None) -> LintReport:
    """Every finding in ``analysis``, in execution order, minus the codes in ``ignore``."""
    silenced_codes = check_codes(ignore, "lint.ignore", file)
    anat = anatomy(analysis)
    found = [f for check in _CHECKS for f in check(analysis, anat)]
    position = _positions(analysis)
    found.sort(key=lambda f: (position(f.path), f.code))
    return LintReport(
        name=analysis.name,
        file=file,
        findings=tuple(f for f in found if f.code not in silenced_codes),
        silenced=tuple(f for f in found if f.code in silenced_codes),
    )


def lint_spec(
    spec: Spec, input_shape: Shape | None = None, ignore: Iterable[str] = ()
) -> LintReport:
    """Analyse ``spec`` and lint it, honouring its own ``lint: {ignore: [...]}``."""
    codes = check_codes(spec.lint_ignore, "lint.ignore", spec.file) | check_codes(
        ignore, "--ignore"
    )
    return lint(analyze(spec, input_shape), codes, spec.file)


def _positions(analysis: Analysis) -> Callable[[str], int]:
    """Where a path ends in execution order: a leaf's index, or a block's last leaf's.

    Leaves are looked up in a dict; only a composite's path (a rare finding,
    e.g. AC103 at a residual) scans the rows, so sorting stays linear.
    """
    leaf_index = {r.path: i for i, r in enumerate(analysis.rows)}

    def position(path: str) -> int:
        found = leaf_index.get(path)
        if found is not None:
            return found
        inside = [i for i, r in enumerate(analysis.rows) if r.path.startswith(path + ".")]
        return inside[-1] if inside else len(analysis.rows)

    return position


def _args(a: Analysis, row: Row) -> Any:
    """A leaf's parsed arguments, read from its graph node (a spec's layer or a torch module's)."""
    return a.graph.nodes[row.node].args if a.graph is not None and row.node is not None else None


def _finding(code: str, row: Row, message: str) -> Finding:
    return Finding(code, CODES[code].severity, row.path, message, _loc(row))


def _loc(row: Row) -> Loc | None:
    if row.layer is not None:
        return row.layer.loc
    leaves = [c for c in row.children if c.layer is not None or c.children]
    return _loc(leaves[-1]) if leaves else None


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# AC101 ---------------------------------------------------------------------


def _dominant_layer(a: Analysis, anat: Anatomy) -> Iterator[Finding]:
    largest = a.largest()
    # Convolutions are exempt: in a small network the widest convolution holds
    # most weights by nature, and its size does not grow with the input.
    # With a single weighted layer, "most of the parameters" says nothing.
    if (
        largest is None
        or a.share(largest) < DOMINANT_SHARE
        or sum(1 for r in a.rows if r.params) < 2
    ):
        return
    if largest.path not in {r.path for r in anat.head}:
        return
    why = (
        f"holds {_pct(a.share(largest))} of all parameters ({largest.params:,} of "
        f"{a.totals.params:,})"
    )
    last = anat.last_spatial
    args = _args(a, largest)
    # The suggestion is exact when the dense layer reads the flattened last map directly.
    if (
        last is not None
        and isinstance(args, LinearArgs)
        and largest.input_shape == (prod(last.output_shape),)
    ):
        c = last.output_shape[0]
        slim = c * args.out + (args.out if args.bias else 0)
        # An adaptive pool already fixes the map's size; otherwise it grows with the input.
        grows = "" if last.kind == "adaptive_avg_pool2d" else " that no longer grow with the input"
        yield _finding(
            "AC101",
            largest,
            (
                f"{why}, because it takes the flattened {fmt_shape(last.output_shape)} map of "
                f"{last.path}; a global-average-pooling head (`global_avg_pool` in place of "
                f"`flatten`) would feed it {c} features, leaving it {slim:,} parameters{grows}"
            ),
        )
    else:
        yield _finding(
            "AC101",
            largest,
            f"{why}; the dense head dominates the parameter budget "
            "— consider a narrower layer or a global-average-pooling head",
        )


# AC102 and AC106: sliding windows --------------------------------------------


class Window(NamedTuple):
    """A sliding window per spatial axis: effective kernel, stride, padding before/after."""

    kernel: Axes
    stride: Axes
    pad_before: Axes
    pad_after: Axes
    pooling: bool  # pooling can also fix a dropped border with ceil_mode


# What AC102 calls the pixels it drops on each axis, by the input's spatial rank.
_SIDES = {
    1: (("sample", "L"),),
    2: (("row", "H"), ("column", "W")),
    3: (("slice", "D"), ("row", "H"), ("column", "W")),
}


def window_of(args: object, shape: Shape = ()) -> Window | None:
    """The window of a convolution or pooling leaf's arguments on a ``shape`` input; else None."""
    sizes = shape[1:] or None
    if isinstance(args, ConvArgs):
        pads = args.pads(sizes)
        return Window(
            args.effective_kernel,
            args.stride,
            tuple(p[0] for p in pads),
            tuple(p[1] for p in pads),
            pooling=False,
        )
    if isinstance(args, PoolArgs):
        pads = args.pads(sizes)
        return Window(
            args.effective_kernel,
            args.stride,
            tuple(p[0] for p in pads),
            tuple(p[1] for p in pads),
            pooling=True,
        )
    return None


def dropped_border(n: int, out: int, kernel: int, stride: int, pad_before: int) -> int:
    """Input pixels past the end of the last window on one axis (0 when it reaches the edge).

    The last window starts at (out−1)·s in padded coordinates and ends at
    (out−1)·s + k' − 1; the last real pixel sits at pad_before + n − 1. With
    out = ⌊(n + P − k')/s⌋ + 1 this is ((n + P − k') mod s) − pad_after:
    the remainder the floor throws away, less what fell on padding.
    """
    return max(0, pad_before + n - (out - 1) * stride - kernel)


def _dropped_pixels(a: Analysis, anat: Anatomy) -> Iterator[Finding]:
    for row in a.rows:
        win = window_of(_args(a, row), row.input_shape)
        if win is None or len(row.input_shape) != len(win.kernel) + 1:
            continue
        lost = []
        for axis, (side, dim) in enumerate(_SIDES[len(win.kernel)]):
            n, out = row.input_shape[1 + axis], row.output_shape[1 + axis]
            k, s = win.kernel[axis], win.stride[axis]
            drop = dropped_border(n, out, k, s, win.pad_before[axis])
            # A stride wider than the kernel skips s − k' pixels between windows
            # anyway; the border is only "dropped" beyond that regular gap.
            if drop > max(0, s - k):
                pad = win.pad_before[axis] + win.pad_after[axis]
                lost.append(
                    (
                        f"{drop} {side}{'s' if drop > 1 else ''}",
                        f"{dim}: ({n} + {pad} − {k}) mod {s} = {(n + pad - k) % s}",
                    )
                )
        if lost:
            fix = "ceil_mode: true, padding" if win.pooling else "padding"
            yield _finding(
                "AC102",
                row,
                (
                    f"drops the last {' and '.join(t for t, _ in lost)} of its "
                    f"{fmt_shape(row.input_shape[1:])} input, which no window reaches "
                    f"({'; '.join(f for _, f in lost)}) — use {fix}, or an input size the "
                    "windows tile exactly"
                ),
            )


def _kernel_too_large(a: Analysis, anat: Anatomy) -> Iterator[Finding]:
    for row in a.rows:
        win = window_of(_args(a, row), row.input_shape)
        if win is None or len(row.input_shape) != len(win.kernel) + 1:
            continue
        sizes = row.input_shape[1:]
        over = [a for a, (k, n) in enumerate(zip(win.kernel, sizes, strict=True)) if k > n]
        if over:
            # Name the axes when only some overhang (a 3×3×3 kernel on a 2×7×7 clip: D only).
            names = [name for _, name in _SIDES[len(sizes)]]
            where = "" if len(over) == len(sizes) else " on " + "".join(names[a] for a in over)
            yield _finding(
                "AC106",
                row,
                (
                    f"its {fmt_shape(win.kernel)} (effective) kernel is larger than its "
                    f"{fmt_shape(sizes)} input{where}, so every window overhangs the input and "
                    "part of it "
                    "always multiplies padding — a kernel no larger than the input sees the same "
                    "pixels with fewer weights"
                ),
            )


# AC103 ---------------------------------------------------------------------


def _small_field(a: Analysis, anat: Anatomy) -> Iterator[Finding]:
    cov, last = anat.coverage, anat.last_spatial
    if cov is None or last is None or min(cov.axes) >= MIN_COVERAGE:
        return
    field = "×".join(f"{x:g}" for x in cov.field)
    sizes = "×".join(str(n) for n in cov.input_sizes)
    yield _finding(
        "AC103",
        last,
        (
            f"the final receptive field, {field} at {last.path}, covers "
            f"{' × '.join(_pct(x) for x in cov.axes)} of the {sizes} input (under "
            f"{MIN_COVERAGE:.0%} per axis), so no feature before the head sees a larger "
            "region — add layers, strides or dilation if objects span more"
        ),
    )


# AC104 ---------------------------------------------------------------------


def _softmax_last(a: Analysis, anat: Anatomy) -> Iterator[Finding]:
    last = next((r for r in reversed(a.rows) if r.kind not in PASS_THROUGH), None)
    if last is not None and last.kind == "softmax":
        yield _finding(
            "AC104",
            last,
            (
                "the network ends in softmax, but nn.CrossEntropyLoss expects raw logits and "
                "applies log-softmax itself, so training would squash twice and flatten the "
                "gradients — drop it and apply softmax only at inference"
            ),
        )


# AC105 ---------------------------------------------------------------------


class _Link(NamedTuple):
    """A chain of saturating activations as a linked list, last row first.

    Appending and branching (concat) share the chain before them instead of
    copying it, so following every path costs one step per row however long
    the chains grow; the counts a finding states are kept as it grows.
    """

    row: Row
    prev: _Link | None
    length: int
    sigmoids: int
    first: tuple[Row, ...]  # the first CHAIN_LISTED rows, for the message


Chain = _Link | None
CHAIN_LISTED = 8  # AC105 names up to this many rows, then the first few and the last


def _extend(chain: Chain, row: Row) -> _Link:
    if chain is None:
        return _Link(row, None, 1, int(row.kind == "sigmoid"), (row,))
    first = chain.first if len(chain.first) >= CHAIN_LISTED else (*chain.first, row)
    return _Link(row, chain, chain.length + 1, chain.sigmoids + (row.kind == "sigmoid"), first)


def _chain_names(chain: _Link) -> str:
    if chain.length <= CHAIN_LISTED:
        return ", ".join(r.path for r in chain.first)
    shown = chain.first[:3]
    hidden = chain.length - len(shown) - 1
    return f"{', '.join(r.path for r in shown)}, … {hidden:,} more …, {chain.row.path}"


def _saturating_chains(a: Analysis, anat: Anatomy) -> Iterator[Finding]:
    seen: set[int] = set()
    for chain in _chains(a):
        # A chain is its last link: the same one ends several branches at most.
        if chain.length < SATURATING_CHAIN or id(chain) in seen:
            continue
        seen.add(id(chain))
        first = chain.first[0]
        sigmoids = chain.sigmoids
        bound = (
            f"at most 0.25^{sigmoids} = {MAX_DERIVATIVE['sigmoid'] ** sigmoids:g}"
            if sigmoids
            else "at most 1 (tanh′ = 1 only at 0)"
        )
        yield _finding(
            "AC105",
            first,
            (
                f"{chain.length:,} saturating activations in a row ({_chain_names(chain)}) with "
                "no batch norm or residual between: backprop multiplies the gradient reaching "
                f"{first.path} by each one's derivative (sigmoid′ ≤ 0.25, tanh′ ≤ 1, near 0 once "
                f"saturated), a product of {bound} that only shrinks with depth — prefer ReLU, "
                "or add batch norm"
            ),
        )


def _chains(a: Analysis) -> list[_Link]:
    """Every maximal chain of saturating activations: one pass over the graph.

    Each node carries the chain that reaches it. A batch norm ends it; an
    ``add`` (a residual's, or one written) ends every chain reaching it, since
    its identity path carries the gradient around them; ``cat`` and ``mul``
    continue the longest. A branch that reads a residual's input (or any tensor
    an ``add`` also reads directly) starts afresh: the skip carries the gradient
    around the chain before it. A chain no later node extends is finished.
    """
    graph = a.graph
    assert graph is not None, "analyze() and summarize() both attach the graph"
    row_of = {r.node: r for r in a.rows if r.node is not None}
    skipped = {i for node in graph.nodes if node.op == "add" for i in node.inputs}
    residual_inputs = {p: s.input for p, s in graph.scopes.items() if s.role == "residual"}
    at: list[Chain] = [None] * len(graph.nodes)
    for node in graph.nodes[1:]:
        chains = [at[i] for i in node.inputs]
        if node.op == "add":
            continue  # None: no chain survives the merge
        if len(chains) != 1:  # cat, mul; a module fed only constants (no input)
            at[node.id] = max(chains, key=lambda c: c.length if c else 0, default=None)
            continue
        (src,) = node.inputs
        chain = chains[0]
        if src in skipped or any(residual_inputs.get(p) == src for p in node.scope):
            chain = None
        row = row_of.get(node.id)  # a module's functional op may have no row of its own
        if row is not None and row.kind in MAX_DERIVATIVE:
            chain = _extend(chain, row)
        elif row is not None and row.kind in NORMALISERS:
            chain = None
        at[node.id] = chain
    links = {id(c): c for c in at if c is not None}
    extended = {id(c.prev) for c in links.values() if c.prev is not None}
    return [c for key, c in links.items() if key not in extended]


# AC107 ---------------------------------------------------------------------


def _dropout_before_norm(a: Analysis, anat: Anatomy) -> Iterator[Finding]:
    # One backward pass finds the next normaliser after every row, so a spec of
    # thousands of dropouts costs no more than one of a few.
    next_norm: list[Row | None] = [None] * len(a.rows)
    norm: Row | None = None
    for i in range(len(a.rows) - 1, -1, -1):
        next_norm[i] = norm
        # Only a norm that keeps running statistics shifts: layer, group and instance norm
        # use each sample's own at inference, whatever dropout did before them.
        if a.rows[i].kind in NORMALISERS and getattr(
            _args(a, a.rows[i]), "track_running_stats", False
        ):
            norm = a.rows[i]
    for row, norm in zip(a.rows, next_norm, strict=True):
        p = getattr(_args(a, row), "p", 0.0)
        if row.kind not in PASS_THROUGH or not p or norm is None:
            continue
        yield _finding(
            "AC107",
            row,
            (
                f"dropout comes before the batch norm {norm.path}, whose running variance is "
                "learnt with dropout on but used with it off (the variance shift of Li et al. "
                "2019) — move dropout after the last batch norm"
            ),
        )


_CHECKS: tuple[Callable[[Analysis, Anatomy], Iterator[Finding]], ...] = (
    _dominant_layer,
    _dropped_pixels,
    _small_field,
    _softmax_last,
    _saturating_chains,
    _kernel_too_large,
    _dropout_before_norm,
)
