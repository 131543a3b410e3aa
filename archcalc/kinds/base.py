"""What every layer kind is made of, and the helpers kinds share.

A kind is one :class:`LayerKind`, the single unit that knows everything about
it: how to read its arguments, one pure ``apply`` that turns an input shape
into an :class:`Effect` (output shape, parameters, buffers, MACs,
receptive-field step), its operation text, its torch module both ways (the
constructor and the ``from_torch`` reader, which import torch only when
called), its :class:`Traits` (what lint, anatomy and the report ask of it) and
its :class:`Window`. ``LayerKind.missing`` names what a kind still lacks;
tests/kinds/test_completeness.py holds every registered kind to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar

from archcalc.errors import ArchcalcError, suggest
from archcalc.spec.tree import Node, describe

if TYPE_CHECKING:
    import torch.nn

Shape = tuple[int, ...]
Pair = tuple[int, int]
# One int per spatial axis: (L,), (H, W) or (D, H, W), as the input's rank says.
Axes = tuple[int, ...]
# A receptive-field quantity: an int, or an exact fraction once upsampling or a
# transposed convolution has made the effective stride fractional.
Number = int | Fraction
# How each spatial rank's shapes read, for messages: 1 → C×L, 2 → C×H×W, 3 → C×D×H×W.
RANK_SHAPES = {1: "C×L", 2: "C×H×W", 3: "C×D×H×W"}
AXIS_NAMES = {1: "L", 2: "HW", 3: "DHW"}
# Torch's own limit for a tensor dimension is far above this; a spec with
# larger numbers is a typo or an attack, and refusing it keeps arithmetic small.
MAX_INT = 2**31 - 1
# Torch runs these arguments through float32 kernels and buffers; a larger
# magnitude there is infinity, so a float argument must be finite and within it.
MAX_FLOAT = 3.4028234663852886e38

A = TypeVar("A")


class ShapeError(Exception):
    """Raised inside ``apply``; the analyser adds location and layer path."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class SpatialStep:
    """A sliding window per spatial axis, for the receptive-field recurrence.

    ``kernel`` is the effective kernel d·(k−1)+1 and ``pad_before`` the padding
    on the first (top/left/front) side, which is what moves the field's start;
    both in units of the layer's input. Upsampling and transposed convolutions
    read less than one input pixel per output step: their ``stride`` (and so
    the field's jump) is a Fraction, and so may ``kernel`` and ``pad_before`` be.
    """

    kernel: tuple[Number, ...]
    stride: tuple[Number, ...]
    pad_before: tuple[Number, ...]


class GlobalStep:
    """Every output unit sees the whole input (flatten, global pooling)."""


GLOBAL = GlobalStep()
RFStep = SpatialStep | GlobalStep | None  # None: elementwise, field unchanged


@dataclass(frozen=True)
class Effect:
    """What a layer does to its input: all numbers, no display strings."""

    output_shape: Shape
    params: int = 0
    buffers: int = 0
    macs: int = 0
    rf: RFStep = None


# -- What autograd saves for backward (docs/memory.md) -------------------------
# A layer's rule says, for a training step, which tensors torch's autograd keeps
# until backward: its input, its output, tensors of its own (indices, masks,
# statistics, a padded copy) and, under autocast, low-precision copies of its
# weights. The graph pass (archcalc/analysis/memory.py) turns the rules into bytes,
# counting each storage once, as torch holds it once.

# Bytes per element of the dtypes the rules speak of.
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "bool": 1}


class SaveContext(NamedTuple):
    """What a layer's saved tensors depend on besides its arguments and input shape."""

    dtype: str  # the incoming tensor's dtype
    autocast: str | None  # the autocast dtype (mixed precision), or None without autocast
    grad: bool  # whether the incoming tensor requires grad
    training: bool = True  # a training step (False: an eval-mode pass without grad)
    threads: int = 1  # CPU threads: some kernels keep scratch per thread
    contiguous: bool = True  # False: the input is a slice or a permuted view (see Saved.strided)

    def lower(self) -> str:
        """The dtype of an op autocast runs in low precision (convolutions, linear, prelu)."""
        return self.autocast or self.dtype

    def fp32(self) -> str:
        """The dtype of an op CPU autocast runs in float32 (3-D pooling, reflection padding)."""
        return "float32" if self.autocast else self.dtype


class Own(NamedTuple):
    """A tensor a layer saves that is not one of the graph's: ``per_sample`` elements for
    every sample of the batch plus ``fixed`` elements (batch norm's per-channel statistics).
    ``inference``: the layer makes it without grad too (a padded copy of its input), for as
    long as it runs."""

    per_sample: int
    fixed: int = 0
    dtype: str = "float32"
    inference: bool = False


class Saved(NamedTuple):
    """What one layer keeps for backward, in a training step.

    ``dtype``: its output's. ``input``: the dtype its input is saved in, None when it
    is not saved; a dtype other than the incoming tensor's is autocast's copy, a tensor of
    its own. ``output``: whether it saves its output. ``view``: the output shares the
    input's storage (flatten, a chunk). ``own``: tensors of its own. ``weights``: parameter
    elements saved as autocast's low-precision copies. ``casts``: parameter elements
    autocast copies without saving them (a linear layer's weight when its input needs no
    gradient: the copy lives in autocast's cache while the forward pass runs, and its
    gradient is computed in low precision). ``strided``: the output is not laid
    out contiguously (a slice of channels or positions, channels moved last and back), so a
    layer that needs contiguous memory copies it first (for a batch of more than one sample).
    """

    dtype: str
    input: str | None = None
    output: bool = False
    view: bool = False
    own: tuple[Own, ...] = ()
    weights: int = 0
    strided: bool = False
    casts: int = 0


def saves_input(args: object, shape: Shape, ctx: SaveContext) -> Saved:
    """``saves`` for an elementwise op whose backward reads its input (silu, gelu, relu6)."""
    return Saved(ctx.dtype, input=ctx.dtype)


def saves_output(args: object, shape: Shape, ctx: SaveContext) -> Saved:
    """``saves`` for an elementwise op whose backward reads its output (relu, sigmoid)."""
    return Saved(ctx.dtype, output=True)


def saves_nothing(args: object, shape: Shape, ctx: SaveContext) -> Saved:
    """``saves`` for an op whose backward needs only sizes (cat-like copies, upsampling)."""
    return Saved(ctx.dtype)


def saves_view(args: object, shape: Shape, ctx: SaveContext) -> Saved:
    """``saves`` for a view: no tensor of its own, its output is its input's storage."""
    return Saved(ctx.dtype, view=True)


@dataclass(frozen=True)
class Window:
    """A sliding window per spatial axis, complete: what torch's kernel reads per output unit.

    ``pads`` is (before, after) per axis as torch applies them: ``same`` puts
    an odd pixel after, and pooling's ``ceil_mode`` adds the implicit padding
    its last, partial window reads after the input.
    """

    kernel: Axes
    stride: Axes
    dilation: Axes
    pads: tuple[Pair, ...]

    @property
    def effective_kernel(self) -> Axes:
        """d·(k−1)+1 per axis: the span one window covers."""
        return effective(self.kernel, self.dilation)

    def step(self) -> SpatialStep:
        """The receptive-field step this window takes (only the padding before moves it)."""
        return SpatialStep(
            kernel=self.effective_kernel,
            stride=self.stride,
            pad_before=tuple(p[0] for p in self.pads),
        )


# A window's padding as a spec writes it: one int per axis (both sides), one
# (before, after) pair per axis, or "same" / "valid".
Padding = Axes | tuple[Pair, ...] | str


def is_per_side(padding: object) -> bool:
    """True for padding written as (before, after) pairs."""
    return isinstance(padding, tuple) and bool(padding) and isinstance(padding[0], tuple)


def same_pads(n: int, k_eff: int, stride: int) -> Pair:
    """TensorFlow's SAME split on one axis: out = ⌈n/s⌉, the smaller half before.

    Total max((⌈n/s⌉ − 1)·s + k' − n, 0); with stride 1 that is k' − 1, torch's
    ``same`` (which also puts the odd pixel after).
    """
    total = max((-(-n // stride) - 1) * stride + k_eff - n, 0)
    return (total // 2, total - total // 2)


def side_pads(
    padding: Padding, kernel_eff: Axes, stride: Axes, sizes: Axes | None
) -> tuple[Pair, ...]:
    """(before, after) per axis for ``padding`` on an input of ``sizes``.

    ``same`` with a stride depends on the input size; without ``sizes`` it is
    the stride-1 split (what lint and messages need when no shape is known).
    """
    if padding == "valid":
        return ((0, 0),) * len(kernel_eff)
    if padding == "same":
        if sizes is None or len(sizes) != len(kernel_eff):
            sizes = tuple(k for k in kernel_eff)  # any n with n mod s = 0 splits like stride 1
            stride = (1,) * len(kernel_eff)
        return tuple(same_pads(n, k, s) for n, k, s in zip(sizes, kernel_eff, stride, strict=True))
    assert isinstance(padding, tuple)
    if is_per_side(padding):
        return padding  # type: ignore[return-value]
    return tuple((p, p) for p in padding)  # type: ignore[misc]


def size_free_pads(padding: Padding, kernel_eff: Axes, stride: Axes) -> tuple[Pair, ...] | None:
    """:func:`side_pads` when it does not depend on the input's size (all padding but
    ``same`` with a stride), else None; windowed kinds cache it, as analysis and lint
    ask for a layer's padding several times."""
    if padding == "same" and any(s != 1 for s in stride):
        return None
    return side_pads(padding, kernel_eff, stride, None)


def derive_window_fields(args: Any) -> None:
    """Fill a windowed kind's derived fields, from its ``__post_init__``: ``effective_kernel``
    and ``_size_free_pads`` (see :func:`size_free_pads`), set once on the frozen instance."""
    kernel_eff = effective(args.kernel, args.dilation)
    object.__setattr__(args, "effective_kernel", kernel_eff)
    object.__setattr__(
        args, "_size_free_pads", size_free_pads(args.padding, kernel_eff, args.stride)
    )


def padding_text(padding: Padding) -> str | None:
    """The operation text's ``pad=…`` (``1``, ``(1, 2)``, ``((0, 1), (0, 1))``, ``same``);
    None for no padding."""
    if isinstance(padding, str):
        return padding
    if is_per_side(padding):
        pairs: tuple[Pair, ...] = padding  # type: ignore[assignment]
        if all(a == b for a, b in pairs):
            return padding_text(tuple(a for a, _ in pairs))
        return f"({', '.join(f'({a}, {b})' for a, b in pairs)})"
    if any(padding):
        return pair_text(padding)  # type: ignore[arg-type]
    return None


def effective(kernel: Axes, dilation: Axes) -> Axes:
    """d·(k−1)+1 per axis."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))


# How an activation behaves, for lint and the report: piecewise-linear rectifiers,
# functions that flatten at both ends (vanishing gradients), smooth rectifier-likes,
# and softmax (a normalisation over the channel axis).
Activation = Literal["relu", "saturating", "smooth", "softmax"]


@dataclass(frozen=True)
class Traits:
    """What other parts of archcalc ask of a kind, kept with the kind itself.

    ``weighted``: carries convolution / dense weights, which a network's depth
    counts (design/anatomy.py). ``normaliser``: re-centres activations per
    channel, which ends a saturating chain (lint AC105) and which dropout must
    not precede (AC107). ``activation``: the family of an elementwise
    non-linearity. ``max_derivative``: sup |f′| when it is a constant of the
    kind, None when it depends on arguments or learnt weights. ``pass_through``:
    leaves the output's meaning unchanged at inference (AC104 looks past it).
    ``family``: the kinds module that defines the kind (conv2d, pooling,
    activations, …), filled in by the registry; the report colours by it.
    """

    weighted: bool = False
    normaliser: bool = False
    activation: Activation | None = None
    max_derivative: float | None = None
    pass_through: bool = False
    family: str = ""


class FromTorch(NamedTuple):
    """A torch module read back as a kind: its parsed arguments, and the shape
    its operation text reads (in channels / features, which only the module knows)."""

    args: Any
    op_shape: Shape = ()


@dataclass(frozen=True)
class LayerKind(Generic[A]):
    """One layer kind: the single place its rules live.

    The fields after ``summary`` default to "not declared" so that a kind in
    progress still imports; :meth:`missing` lists them, and the completeness
    test refuses any registered kind for which it is not empty.
    """

    name: str
    parse: Callable[[ArgReader], A]
    apply: Callable[[A, Shape], Effect]
    operation: Callable[[A, Shape], str]
    to_torch: Callable[[A, Shape], torch.nn.Module]
    main_arg: str | None = None
    summary: str = ""
    # The torch.nn class name ``to_torch`` builds ("Conv2d"), or archcalc's own
    # module's (GlobalAvgPool, in archcalc.bridge.modules).
    torch_type: str = ""
    # Other classes ``from_torch`` reads: a torch.nn or archcalc name ("LayerNorm",
    # which layernorm builds for a flat input), or another library's class by its
    # dotted path ("torchvision.models.convnext.LayerNorm2d"), matched by name so
    # that the library is never imported.
    torch_aliases: tuple[str, ...] = ()
    # A module of exactly ``torch_type`` → its arguments, or None when this
    # module's settings cannot be written in a spec. Takes the input shape when
    # known, () otherwise.
    from_torch: Callable[[Any, Shape], FromTorch | None] | None = None
    traits: Traits | None = None
    # The window on H and W for an input shape; a kind without one declares
    # ``no_window``.
    window: Callable[[A, Shape], Window | None] | None = None
    # The receptive-field step for an input shape: a SpatialStep, GLOBAL, or
    # None (elementwise). ``apply`` reports the same step in its Effect.
    rf_step: Callable[[A, Shape], RFStep] | None = None
    # What autograd saves for backward when this layer trains (see Saved), as torch does
    # on CPU; tests/kinds/test_saved.py measures it against torch for every kind.
    saves: Callable[[A, Shape, SaveContext], Saved] | None = None
    # Bytes the op allocates for itself while it runs, beyond its output and what it saves,
    # given its input and output shapes and the batch size: the CPU kernels' scratch
    # (oneDNN's reordered copies, im2col columns). None: nothing worth counting. Measured
    # with torch's CPU allocator (docs/memory.md).
    scratch: Callable[[A, Shape, Shape, SaveContext, int], int] | None = None
    # The same for its backward, beside the gradients it makes (a convolution's blocked
    # input gradient, oneDNN's per-thread weight-gradient buffers, im2col columns).
    backward_scratch: Callable[[A, Shape, Shape, SaveContext, int], int] | None = None

    def missing(self) -> list[str]:
        """What this kind does not declare yet, by field name (empty when complete)."""
        lacks = [
            f
            for f, v in (
                ("torch_type", self.torch_type),
                ("from_torch", self.from_torch),
                ("traits", self.traits),
                ("window", self.window),
                ("rf_step", self.rf_step),
                ("summary", self.summary),
                ("saves", self.saves),
            )
            if not v
        ]
        return lacks


def no_window(args: object, shape: Shape) -> None:
    """``window`` for kinds that read no spatial window (elementwise, dense, global)."""
    return None


def elementwise_step(args: object, shape: Shape) -> RFStep:
    """``rf_step`` for kinds that leave every unit's field as it was."""
    return None


def global_step(args: object, shape: Shape) -> RFStep:
    """``rf_step`` for kinds whose every output unit sees the whole input."""
    return GLOBAL


def window_step(window: Callable[[A, Shape], Window | None]) -> Callable[[A, Shape], RFStep]:
    """``rf_step`` read off a kind's window (None where it has none)."""

    def step(args: A, shape: Shape) -> RFStep:
        w = window(args, shape)
        return None if w is None else w.step()

    return step


def fmt_shape(shape: Shape) -> str:
    """``(32, 7, 7)`` → ``32×7×7``."""
    return "×".join(str(d) for d in shape) if shape else "scalar"


def require_spatial(shape: Shape, rank: int, what: str) -> tuple[int, Axes]:
    """Check a C×(spatial) input of ``rank`` spatial axes; (channels, sizes), or say what is wrong.

    The hint names the family member for the rank found (conv1d for a C×L
    input to conv2d), or `flatten`'s place for a flat one.
    """
    if len(shape) != rank + 1:
        found = len(shape) - 1
        family = what[:-2] if what[-2:] in ("1d", "2d", "3d") else None
        if found in RANK_SHAPES and family is not None:
            hint = f"for a {RANK_SHAPES[found]} input use `{family}{found}d`"
        elif found < 1:
            hint = f"{what} works on feature maps; put it before `flatten`"
        else:
            hint = None
        raise ShapeError(
            f"expects a {RANK_SHAPES[rank]} input, but gets {fmt_shape(shape)}", hint=hint
        )
    return shape[0], shape[1:]


def require_maps(shape: Shape, what: str) -> tuple[int, Axes]:
    """Check a feature map of any rank (C×L, C×H×W or C×D×H×W); (channels, sizes)."""
    if len(shape) - 1 not in RANK_SHAPES:
        raise ShapeError(
            f"expects a feature map (C×L, C×H×W or C×D×H×W), but gets {fmt_shape(shape)}",
            hint=f"{what} works on feature maps; put it before `flatten`",
        )
    return shape[0], shape[1:]


def require_image(shape: Shape, what: str) -> tuple[int, int, int]:
    """Check a C×H×W input, or say what was found instead."""
    if len(shape) != 3:
        raise ShapeError(
            f"expects a C×H×W input, but gets {fmt_shape(shape)}",
            hint=f"{what} works on feature maps; put it before `flatten`",
        )
    return shape[0], shape[1], shape[2]


def torch_pair(v: Any) -> Pair:
    """A torch module's int, 1-list (aten writes ``[3]`` for 3) or pair, as (h, w)."""
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


def torch_axes(v: Any, rank: int) -> Axes:
    """A torch module's int, 1-list or per-axis tuple, as ``rank`` ints."""
    if type(v) is tuple and len(v) == rank:  # torch's own layers: already that
        for x in v:
            if type(x) is not int:
                break
        else:
            return v
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (int(v[0]),) * rank
        return tuple(int(x) for x in v[-rank:])
    return (int(v),) * rank


def pair_text(p: Axes) -> str:
    """How torch prints a kernel/stride: ``3`` when equal on every axis, ``(3, 5)`` when not."""
    return str(p[0]) if all(x == p[0] for x in p) else f"({', '.join(str(x) for x in p)})"


axes_text = pair_text


def window_out(n: int, k_eff: int, stride: int, pad_total: int) -> int:
    """⌊(n + pad − k')/s⌋ + 1, the conv/pool output size on one axis."""
    return (n + pad_total - k_eff) // stride + 1


def pool_out(n: int, k_eff: int, stride: int, pad: int, ceil_mode: bool) -> int:
    """Torch's pooling output size, ceil_mode rule included.

    With ceil_mode torch rounds up, then drops the last window when it would
    start in the right padding (aten/src/ATen/native/Pool.h).
    """
    if not ceil_mode:
        return window_out(n, k_eff, stride, 2 * pad)
    out = -((-(n + 2 * pad - k_eff)) // stride) + 1
    if (out - 1) * stride >= n + pad:
        out -= 1
    return out


_REQUIRED: Any = object()

# Torch's argument names where a spec writes archcalc's own word: a user copying
# from torch code gets that word, not a guess. None: archcalc infers the value
# from the input shape, so the spec never writes it.
TORCH_ARGUMENT_NAMES: dict[str, str | None] = {
    "out_channels": "out",
    "out_features": "out",
    "kernel_size": "kernel",
    "output_size": "output",
    "num_parameters": "per_channel",
    "scale_factor": "scale",
    "num_groups": "groups",
    "in_channels": None,
    "in_features": None,
    "num_features": None,
    "num_channels": None,
    "normalized_shape": None,
}
# Torch arguments archcalc never writes for a reason of its own.
_NEVER_WRITTEN = {
    "inplace": "archcalc builds every module out of place; in-place changes neither "
    "shapes nor parameters",
    "dim": "softmax always runs over channels / features (dim=1 with the batch)",
}


def torch_name_hint(kind: str, key: str, known: list[str]) -> str | None:
    """A hint for ``key`` when it is torch's name for an argument, or None.

    ``known``: the arguments ``kind`` takes, so that a word is only offered
    where it applies (``out`` for conv2d and linear, not for maxpool2d).
    """
    if key in _NEVER_WRITTEN and (key != "dim" or kind == "softmax"):
        return f"`{key}` is torch's; {_NEVER_WRITTEN[key]}"
    if key not in TORCH_ARGUMENT_NAMES:
        return None
    word = TORCH_ARGUMENT_NAMES[key]
    if word is None:
        return f"`{key}` is inferred from the input shape, never written"
    if word not in known:
        return None
    if key == "num_parameters":
        return "archcalc writes `per_channel: true` for torch's num_parameters=C (false: 1)"
    return f"`{key}` is torch's name; archcalc writes `{word}`"


def input_order_error(node: Node, dims: Shape) -> ArchcalcError | None:
    """The error for an ``input`` written as H, W, C (``[28, 28, 1]``), or None.

    archcalc reads [C, H, W], as torch does. A square H×W of at least 8 with 1
    or 3 last is an image in H, W, C order (TensorFlow's, PIL's) far more often
    than 28 channels of 28×1; a 1-D signal [C, L, 1] with C ≠ L is left alone.
    ``parse_input`` raises it once the sizes are read.
    """
    if len(dims) != 3 or dims[2] not in (1, 3) or dims[0] != dims[1] or dims[0] < 8:
        return None
    h, w, c = dims
    return ArchcalcError.at(
        node.loc,
        f"`input` expects [C, H, W], but gets [{h}, {w}, {c}], which reads as "
        f"{h} channels of {w}×{c} and looks like H, W, C",
        hint=f"write `input: [{c}, {h}, {w}]`; the batch dimension is never written",
    )


class ArgReader:
    """Reads one layer's arguments, pointing each mistake at its value.

    A kind's ``parse`` calls the typed getters; ``done`` then refuses any
    argument nobody asked for, suggesting the nearest valid one.
    """

    def __init__(self, kind: str, node: Node, main_arg: str | None) -> None:
        self.kind = kind
        self.node = node
        self.loc = node.loc
        if node.is_map:
            self.values: dict[str, Node] = dict(node.value)
        elif node.value is None:
            self.values = {}
        elif main_arg is not None:  # the scalar (or pair) shorthand: `linear: 10`
            self.values = {main_arg: node}
        else:
            raise ArchcalcError.at(
                node.loc, f"expects a mapping of arguments, but gets {describe(node)}"
            )
        self.known: list[str] = []

    def _take(self, name: str, default: Any) -> Node | None:
        self.known.append(name)
        node = self.values.pop(name, None)
        if node is None and default is _REQUIRED:
            # A misspelt key, or torch's name for it, is the likelier mistake:
            # name it rather than the absence.
            for key in self.values:
                if TORCH_ARGUMENT_NAMES.get(key) == name:
                    raise ArchcalcError.at(
                        self.node.key_loc(key),
                        f"{self.kind} has no argument `{key}`",
                        hint=torch_name_hint(self.kind, key, [name]),
                    )
                if suggest(key, [name]):
                    raise ArchcalcError.at(
                        self.node.key_loc(key),
                        f"{self.kind} has no argument `{key}`",
                        hint=f"did you mean `{name}`?",
                    )
            raise ArchcalcError.at(
                self.loc,
                f"{self.kind} expects argument `{name}`, but it is missing",
                hint=f"e.g. `{self.kind}: {{{name}: ...}}`",
            )
        return node

    def error(self, node: Node, message: str, hint: str | None = None) -> ArchcalcError:
        return ArchcalcError.at(node.loc or self.loc, message, hint=hint)

    def int_(
        self,
        name: str,
        default: Any = _REQUIRED,
        minimum: int = 1,
        maximum: int = MAX_INT,
        hint: str | None = None,
    ) -> int:
        node = self._take(name, default)
        if node is None:
            return int(default)
        return self._check_int(name, node, minimum, maximum, hint)

    def _check_int(
        self, name: str, node: Node, minimum: int, maximum: int = MAX_INT, hint: str | None = None
    ) -> int:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(node, f"`{name}` expects an integer, but gets {describe(node)}")
        if v < minimum:
            bound = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
            raise self.error(node, f"`{name}` expects {bound}, but gets {v}")
        if v > maximum:
            raise self.error(node, f"`{name}` expects at most {maximum}, but gets {v}", hint=hint)
        return v

    def pair(self, name: str, default: Any = _REQUIRED, minimum: int = 1) -> Pair:
        axes = self.axes(name, 2, default, minimum)
        return (axes[0], axes[1])

    def axes(self, name: str, rank: int, default: Any = _REQUIRED, minimum: int = 1) -> Axes:
        """An int for every spatial axis, or a list of ``rank`` ints ([h, w], [d, h, w])."""
        node = self._take(name, default)
        if node is None:
            return default if isinstance(default, tuple) else (int(default),) * rank
        return self._axes_of(name, node, minimum, rank)

    def _axes_of(self, name: str, node: Node, minimum: int, rank: int) -> Axes:
        if node.is_list:
            items = node.value
            if len(items) != rank:
                what = {1: "[l]", 2: "a pair [h, w]", 3: "a triple [d, h, w]"}[rank]
                raise self.error(
                    node,
                    f"`{name}` expects an integer or {what}, but gets {len(items)} values",
                    hint=None
                    if rank == 1 or len(items) not in RANK_SHAPES
                    else f"{self.kind} works on {RANK_SHAPES[rank]} inputs; "
                    f"for {len(items)} spatial axes use the {len(items)}d kind",
                )
            return tuple(self._check_int(name, item, minimum) for item in items)
        v = self._check_int(name, node, minimum)
        return (v,) * rank

    def optional(self, name: str) -> Node | None:
        """The node written for ``name``, or None: for an argument no typed getter reads
        (a number or one per axis, a list of (before, after) pairs); the kind checks it."""
        return self._take(name, None)

    def ints(self, name: str, minimum: int = 1) -> tuple[int, ...]:
        """A non-empty list of integers, each at least ``minimum`` (split's ``sizes: [58, 58]``)."""
        node = self._take(name, _REQUIRED)
        assert node is not None
        if not node.is_list or not node.value:
            raise self.error(
                node,
                f"`{name}` expects a list of integers, but gets {describe(node)}",
                hint=f"e.g. `{name}: [16, 16]`",
            )
        return tuple(self._check_int(name, item, minimum) for item in node.value)

    def padding(
        self, name: str = "padding", allow_same: bool = True, rank: int = 2, per_side: bool = False
    ) -> Padding:
        """An int, one per axis, ``same`` / ``valid`` where allowed, and with ``per_side`` a
        ``[before, after]`` pair for any axis (``[[0, 1], [0, 1]]``): then (before, after) pairs."""
        node = self._take(name, 0)
        if node is None:
            return (0,) * rank
        if isinstance(node.value, str):
            word = node.value.lower()
            if allow_same and word in ("same", "valid"):
                return word
            allowed = "an integer, a pair or `same`" if allow_same else "an integer or a pair"
            raise self.error(node, f"`{name}` expects {allowed}, but gets {describe(node)}")
        if per_side and node.is_list and any(item.is_list for item in node.value):
            if len(node.value) != rank:
                raise self.error(
                    node,
                    f"`{name}` expects one entry per spatial axis ({rank}), "
                    f"but gets {len(node.value)}",
                    hint="each entry is an int (both sides) or a [before, after] pair",
                )
            pairs: list[Pair] = []
            for item in node.value:
                if not item.is_list:
                    p = self._check_int(name, item, 0)
                    pairs.append((p, p))
                    continue
                if len(item.value) != 2:
                    raise self.error(
                        item,
                        f"`{name}` expects [before, after] for an axis, but gets "
                        f"{len(item.value)} values",
                    )
                pairs.append(
                    (
                        self._check_int(name, item.value[0], 0),
                        self._check_int(name, item.value[1], 0),
                    )
                )
            return tuple(pairs)
        return self._axes_of(name, node, 0, rank)

    def bool_(self, name: str, default: bool) -> bool:
        node = self._take(name, default)
        if node is None:
            return default
        if not isinstance(node.value, bool):
            raise self.error(node, f"`{name}` expects true or false, but gets {describe(node)}")
        return node.value

    def float_(
        self,
        name: str,
        default: Any = _REQUIRED,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
        hint: str | None = None,
    ) -> float:
        node = self._take(name, default)
        if node is None:
            return float(default)
        v = node.value
        if hint is None and default is not _REQUIRED:
            hint = f"e.g. `{name}: {yaml_number(default)}`, the default"
        if isinstance(v, str) and _FLOAT_TEXT.fullmatch(v.strip()) and math.isfinite(float(v)):
            # YAML 1.1 reads an exponent without a dot (1e-6) as text, a trap for eps.
            hint = f"YAML reads `{v}` as text; write `{yaml_number(float(v))}`"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise self.error(
                node, f"`{name}` expects a number, but gets {describe(node)}", hint=hint
            )
        x = _as_float(v)
        if abs(x) > MAX_FLOAT:
            raise self.error(
                node,
                f"`{name}` expects a finite number (within ±3.4e38, torch's float32 range), "
                f"but gets {_float_text(v, x)}",
                hint=hint,
            )
        too_low = lo is not None and (x <= lo if lo_open else x < lo)
        too_high = hi is not None and (x >= hi if hi_open else x > hi)
        if too_low or too_high:
            left = "(" if lo_open else "["
            right = ")" if hi_open or hi is None else "]"
            rng = f"{left}{'-∞' if lo is None else f'{lo:g}'}, {'∞' if hi is None else f'{hi:g}'}"
            raise self.error(
                node,
                f"`{name}` expects a number in {rng}{right}, but gets {_float_text(v, x)}",
                hint=hint,
            )
        return x

    def done(self) -> None:
        for key in self.values:
            loc = self.node.key_loc(key) if self.node.is_map else self.loc
            hint = torch_name_hint(self.kind, key, self.known) or suggest(key, self.known)
            if hint is None:
                valid = ", ".join(f"`{k}`" for k in self.known) or "none"
                hint = f"{self.kind} takes {valid}"
            raise ArchcalcError.at(loc, f"{self.kind} has no argument `{key}`", hint=hint)


def check_input_order(node: Node, dims: Shape) -> None:
    """Raise :func:`input_order_error`'s error when ``dims`` read as H, W, C."""
    error = input_order_error(node, dims)
    if error is not None:
        raise error


_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def yaml_number(x: float) -> str:
    """A float as YAML reads it back as a number: ``1e-06`` is text there, ``1.0e-06`` is not."""
    text = f"{x:g}"
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"
    return text


def _as_float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer literal of hundreds of digits
        return math.inf if v > 0 else -math.inf


def _float_text(v: int | float, x: float) -> str:
    """A number as a message shows it: ``0.5``, ``1e+300``, ``.inf`` (as YAML writes it)."""
    if isinstance(v, int) and math.isinf(x):
        return f"an integer of {len(str(abs(v)))} digits"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    return f"{x:g}"


def no_args(reader: ArgReader) -> None:
    """``parse`` for kinds without arguments."""
    reader.done()


def simple_kind(
    name: str,
    torch_class: str,
    summary: str,
    *,
    traits: Traits,
    operation: str | None = None,
    to_torch: Callable[[None, Shape], torch.nn.Module] | None = None,
    from_torch: Callable[[Any, Shape], FromTorch | None] | None = None,
    saves: Callable[[None, Shape, SaveContext], Saved] = saves_input,
) -> LayerKind[None]:
    """An elementwise kind without arguments (relu, tanh, …); by default its backward reads
    its input (``saves``).

    By default it builds ``torch.nn.<torch_class>()`` and reads any module of
    that class back with no arguments.
    """

    def build(args: None, shape: Shape) -> torch.nn.Module:
        import torch.nn as nn

        module: torch.nn.Module = getattr(nn, torch_class)()
        return module

    return LayerKind(
        name=name,
        parse=no_args,
        apply=lambda args, shape: Effect(shape),
        operation=lambda args, shape: operation or f"{torch_class}()",
        to_torch=to_torch or build,
        summary=summary,
        torch_type=torch_class,
        from_torch=from_torch or (lambda module, shape: FromTorch(None)),
        traits=traits,
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
    )
