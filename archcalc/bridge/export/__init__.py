"""``archcalc export``: an existing torch module as an editable spec, with the same weights.

>>> import archcalc, torchvision
>>> spec = archcalc.export(torchvision.models.resnet18(), (3, 224, 224))
>>> model = archcalc.build(spec)
>>> model.load_state_dict(torchvision.models.resnet18().state_dict())  # strict: same keys
<All keys matched successfully>

The module is traced once (:mod:`.trace`), its containers become block calls
(:mod:`.structure`) and the result is written as YAML (:mod:`.emit`), read
back with ``archcalc.loads`` before it is returned, so the text and the Spec
always agree. What a spec cannot say stops the export with one
:class:`~archcalc.bridge.export.trace.Refusal` naming the module and the op.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torch import nn

from archcalc.bridge.export.emit import emit
from archcalc.bridge.export.structure import arrange
from archcalc.bridge.export.trace import Refusal, trace
from archcalc.errors import ArchcalcError
from archcalc.spec.load import loads
from archcalc.spec.model import Spec

__all__ = ["Exported", "Refusal", "export", "export_model", "export_target", "export_yaml"]


@dataclass(frozen=True)
class Exported:
    """A module as a spec: the Spec, its YAML text, and where each layer came from.

    ``sources`` maps each layer path of the spec that is a module's call to
    that module's path (`` (call 2)`` after it for a later call), for tests
    and for a person comparing the two. Where torch's layout is not the
    spec's: ``channels_last`` names the module calls whose output torch holds
    channels last (the spec's is C first), ``moves`` the calls that only moved
    the channels (ConvNeXt's Permute, no layer of the spec), and ``owned`` the
    layer scales made of a container's own parameter (its path → the container's).
    """

    spec: Spec
    text: str
    sources: Mapping[str, str]
    channels_last: frozenset[str] = frozenset()
    moves: frozenset[str] = frozenset()
    owned: Mapping[str, str] = field(default_factory=dict)


def export_model(
    module: nn.Module,
    input_shape: Sequence[int],
    *,
    flat: bool = False,
    name: str | None = None,
    origin: str | None = None,
) -> Exported:
    """Trace ``module`` at ``input_shape`` (no batch) and write it as a spec."""
    shape = tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
        raise ArchcalcError(
            f"input shape expects positive sizes without the batch, e.g. (3, 224, 224), "
            f"but gets {input_shape!r}"
        )
    traced = trace(module, shape)
    try:
        arranged = arrange(traced, idioms=not flat)
    except Refusal:
        if flat:
            raise
        # The idioms join tensors across containers; where that cannot be written, the
        # graph as traced may still be (arrange rewrites the trace, so trace again).
        traced = trace(module, shape)
        arranged = arrange(traced, idioms=False)
    title = name or _snake(type(module).__name__)
    text = emit(
        arranged,
        name=title,
        input_shape=shape,
        fold=not flat,
        origin=origin or f"a {type(module).__name__}",
    )
    try:
        spec = loads(text, f"<export of {title}>")
    except ArchcalcError as err:  # archcalc's limits (5,000 layers, 64 levels of nesting)
        raise ArchcalcError(
            f"the spec written for this module is refused: {err.message}",
            where=err.where,
            hint=err.hint or "`archcalc export --flat` writes it as traced",
        ) from None
    return Exported(
        spec,
        text,
        dict(arranged.sources),
        traced.channels_last,
        traced.moves,
        dict(traced.owned),
    )


def export(
    module: nn.Module, input_shape: Sequence[int], *, flat: bool = False, name: str | None = None
) -> Spec:
    """``module`` as a Spec whose ``build`` has exactly the module's state_dict keys."""
    return export_model(module, input_shape, flat=flat, name=name).spec


def export_yaml(
    module: nn.Module, input_shape: Sequence[int], *, flat: bool = False, name: str | None = None
) -> str:
    """The YAML text of :func:`export`."""
    return export_model(module, input_shape, flat=flat, name=name).text


def export_target(target: str, input_shape: Sequence[int], *, flat: bool = False) -> Exported:
    """``archcalc export pkg.mod:factory``: import the module (as `summary --module` does)."""
    from archcalc.bridge.summarize.target import load_target

    module = load_target(target)
    attr = target.partition(":")[2].split("(")[0].rsplit(".", 1)[-1]
    return export_model(module, input_shape, flat=flat, name=attr or None, origin=target)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
