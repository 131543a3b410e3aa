"""The export round trip, checked: the spec says what the module does, and loads its weights.

``check(module, input_shape, exported)`` compares ``analyze(spec)`` with
``summarize(module)``: total parameters and MACs, and for every module call
its layer's output shape, parameters, MACs and receptive field (summarize's
row for ``layer1.0.conv1``, call by call, against the spec row at the path
``exported.sources`` gives). Then ``build(spec)`` loads the module's
state_dict strictly, and both run one input in eval mode. The tests and
``benchmarks/export_roundtrip.py`` use it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from archcalc.analysis import analyze
from archcalc.bridge.build import build
from archcalc.bridge.export import Exported
from archcalc.bridge.summarize import summarize


@dataclass
class RoundTrip:
    """What agreed and what did not (``problems`` empty: the round trip holds)."""

    params: int = 0
    macs: int | None = 0
    layers: int = 0  # module calls compared row by row
    fields_unknown: int = 0  # of them, rows where summarize cannot follow the receptive field
    logits_diff: float | None = None  # max |module(x) − build(spec)(x)|; None: not run
    problems: list[str] = field(default_factory=list)


def check(
    module: nn.Module,
    input_shape: Sequence[int],
    exported: Exported,
    *,
    logits: bool = True,
    tolerance: float = 1e-5,
    seed: int = 0,
) -> RoundTrip:
    """Compare the module with its spec (numbers always; outputs when ``logits``)."""
    shape = tuple(input_shape)
    ours = analyze(exported.spec)
    theirs = summarize(module, shape)
    out = RoundTrip(params=ours.totals.params, macs=ours.totals.macs)
    for what, a, b in (
        ("params", ours.totals.params, theirs.totals.params),
        ("MACs", ours.totals.macs, theirs.totals.macs),
        ("output shape", ours.output_shape, theirs.output_shape),
    ):
        if a != b:
            out.problems.append(f"{what}: spec {a}, module {b}")
    rows = {r.path: r for r in ours.rows}
    by_source = {src: rows.get(path) for path, src in exported.sources.items()}
    seen: Counter[str] = Counter()
    for row in theirs.rows:
        if row.path.endswith(" (own parameters)"):
            # A container's own parameters: the layer scales made of them hold as many.
            container = row.path.removesuffix(" (own parameters)")
            scales = [p for p, c in exported.owned.items() if c == container]
            got = sum(r.params for p in scales if (r := by_source.pop(p, None)) is not None)
            if got != row.params:
                out.problems.append(f"{row.path}: params spec {got}, module {row.params}")
            continue
        if row.path.endswith("(own operations)"):
            continue
        seen[row.path] += 1
        key = row.path if seen[row.path] == 1 else f"{row.path} (call {seen[row.path]})"
        mine = by_source.pop(key, None)
        if mine is None:
            if key not in exported.moves:  # a Permute: the spec's layout never moves
                out.problems.append(f"{key}: no layer of the spec comes from it")
            continue
        out.layers += 1
        as_torch = mine.output_shape
        if key in exported.channels_last:  # torch holds it channels last
            as_torch = (*as_torch[1:], as_torch[0])
        pairs: list[tuple[str, object, object]] = [
            ("output shape", as_torch, row.output_shape),
            ("params", mine.params, row.params),
            ("MACs", mine.macs, row.macs),
        ]
        if row.receptive_field is None and mine.receptive_field is not None:
            out.fields_unknown += 1  # summarize stopped following it (a note says why)
        else:
            pairs.append(("receptive field", mine.receptive_field, row.receptive_field))
        for what, spec_value, module_value in pairs:
            if spec_value != module_value:
                out.problems.append(
                    f"{key} ({mine.path}): {what} spec {spec_value}, module {module_value}"
                )
    out.problems.extend(f"{src}: not a row of summarize" for src in by_source)
    if logits:
        out.logits_diff = _logits(module, exported, shape, out, seed)
        if out.logits_diff is not None and not out.logits_diff <= tolerance:
            out.problems.append(f"logits differ by {out.logits_diff:.3g} (> {tolerance:g})")
    return out


def _logits(
    module: nn.Module, exported: Exported, shape: tuple[int, ...], out: RoundTrip, seed: int
) -> float | None:
    built = build(exported.spec)
    try:
        built.load_state_dict(module.state_dict(), strict=True)
    except RuntimeError as err:
        out.problems.append(f"load_state_dict(strict=True): {str(err).splitlines()[0]}")
        return None
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((1, *shape), generator=gen)
    modes = {m: m.training for m in module.modules()}
    module.eval()
    built.eval()
    try:
        with torch.no_grad():
            want = _tensors(module(x))
            got = _tensors(built(x))
    finally:
        for m, training in modes.items():
            m.training = training
    if len(want) != len(got) or any(a.shape != b.shape for a, b in zip(want, got, strict=False)):
        out.problems.append("the outputs differ in number or shape")
        return None
    return max(float((a - b).abs().max()) for a, b in zip(want, got, strict=True))


def _tensors(value: object) -> list[torch.Tensor]:
    from torch.utils._pytree import tree_flatten

    return [t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)]
