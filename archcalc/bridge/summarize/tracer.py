"""The records one forward pass fills in, and the tracer that fills them.

Module hooks open and close a record per call; the op watcher hands every aten
op to ``Tracer.on_op``, which credits its FLOPs to the innermost module running
and carries receptive fields through the functional glue between modules.
The records are frozen into Rows at the end (``rows.py``).

The same pass emits the graph a spec lowers to (archcalc.graph): a node per
leaf-module call, inputs read from the real dataflow (which node made each
tensor it is given), a node per functional merge between modules (``x +
identity``, ``torch.cat``, a gate's ``*``) and per costed or uncostable op in
a container's own code; views and other free single-input glue pass their
input's node on. Every container call is a scope, named as its row is.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn

from archcalc.analysis import receptive
from archcalc.analysis.receptive import ReceptiveField
from archcalc.bridge.modules import Concat, Residual
from archcalc.bridge.summarize.ops import (
    RESIZES,
    OpInfo,
    bind,
    resize_step,
    tensors_in,
    window_step,
)
from archcalc.bridge.summarize.torch_kinds import Known, class_text, known_kind
from archcalc.graph import Graph, Node, Scope
from archcalc.kinds.base import (
    GLOBAL,
    Axes,
    Effect,
    RFStep,
    Shape,
    ShapeError,
    SpatialStep,
    fmt_shape,
)


@dataclass(frozen=True)
class Field:
    """A tensor's receptive field; ``rf`` None with ``why`` None: not an image (no field).

    ``axes`` says where the spatial axes sit in the tensor (batch first), one
    per input axis in the input's order; None is the layout layers read,
    (N, C, *spatial): the last ones. A permute to channels-last sets it.
    """

    rf: ReceptiveField | None
    why: str | None = None
    axes: tuple[int, ...] | None = None


NO_FIELD = Field(None)


@dataclass(slots=True)
class Record:
    """One row in the making: a leaf call, a container's own part, or an uncalled module."""

    path: str
    kind: str
    operation: str
    depth: int
    module: nn.Module | None
    known: Known | None = None
    input_shape: Shape = ()
    output_shape: Shape = ()
    out_field: Field = NO_FIELD
    flops: int = 0
    uncosted: set[str] = field(default_factory=set)
    params: int = 0
    trainable: int = 0
    buffers: int = 0
    activations: bool = True
    call: int = 1
    notes: list[str] = field(default_factory=list)
    node: int | None = None  # its graph node; a container's own row: its latest op's
    effect: Effect | None = None  # its kind's effect, once worked out

    @property
    def macs(self) -> int | None:
        # An op without a cost rule discards nothing the row's other ops counted
        # (the note names it); a row of uncostable ops alone is uncounted, never 0.
        if self.uncosted and self.known is None and self.flops == 0:
            return None
        return self.flops // 2


@dataclass(slots=True)
class Group:
    """One container call; its own part (own parameters, functional ops) is ``own``."""

    path: str
    module: nn.Module
    depth: int
    call: int
    children: list[Record | Group] = field(default_factory=list)
    input_shape: Shape = ()
    output_shape: Shape = ()
    out_field: Field = NO_FIELD
    own: Record | None = None
    key: str = ""  # its scope's key in the graph ("" for the root, which is no scope)
    scope: tuple[str, ...] = ()  # the scope keys around what runs in it, itself included
    role: str = "module"  # archcalc's own Residual and Concat (and their parts) say more
    input_node: int = 0


# Activation modules: answered from their kind's rule (_RULED) and, working on each
# position alone, keeping the receptive field on any layout (_ELEMENTWISE).
_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.SiLU,
    nn.GELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Mish,
)

# torch.nn classes whose kind's rule gives what their forward gives, exactly: the
# output's shape (contiguous, as torch's meta kernels make it from a contiguous
# input) and FLOPs (torch's formulas count conv and linear work, as the kinds do;
# the rest is free). On the meta device such a layer is not run but answered
# from its rule (``Tracer.skip``); its inner ops cost a dispatch each otherwise.
_RULED: frozenset[type[nn.Module]] = frozenset(
    {
        nn.Conv1d,
        nn.Conv2d,
        nn.Conv3d,
        nn.Linear,
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        nn.BatchNorm3d,
        *_ACTIVATIONS,
        nn.MaxPool1d,
        nn.MaxPool2d,
        nn.MaxPool3d,
        nn.AvgPool1d,
        nn.AvgPool2d,
        nn.AvgPool3d,
        nn.AdaptiveAvgPool1d,
        nn.AdaptiveAvgPool2d,
        nn.AdaptiveAvgPool3d,
        nn.Dropout,
        nn.Identity,
    }
)


_PYTHON_KEY = torch._C.DispatchKeySet(torch._C.DispatchKey.Python)
_META = torch.device("meta")


def ruled(module: nn.Module, classes: dict[type, bool] | None = None) -> bool:
    """Whether ``module`` runs one of the ``_RULED`` classes' forward as torch wrote it.

    ``classes`` keeps what each class answers, for the modules of one pass.
    """
    cls = type(module)
    by_class = classes.get(cls) if classes is not None else None
    if by_class is None:
        base = next((b for b in cls.__mro__ if b in _RULED), None)
        by_class = base is not None and cls.forward is base.forward
        if classes is not None:
            classes[cls] = by_class
    if not by_class or "forward" in module.__dict__:
        return False
    if isinstance(module, nn.modules.conv._ConvNd) and module.padding_mode != "zeros":
        return False
    return not module.__dict__.get("return_indices", False)


def _returns_input(module: nn.Module) -> bool:
    """Whether the forward hands back its input itself (in place, or nothing to do in eval)."""
    if isinstance(module, (nn.Identity, nn.Dropout)):
        return True
    return module.__dict__.get("inplace", False) is True  # set by torch's constructors


class Held(NamedTuple):
    """A module's own tensors as ``named_parameters(recurse=False)`` (and buffers) give them.

    A named tuple: one is made for every module of every summary.
    """

    params: tuple[tuple[str, torch.Tensor], ...]
    buffers: tuple[tuple[str, torch.Tensor], ...]
    leaf: bool  # no child modules


def _own(members: dict[str, Any]) -> tuple[tuple[str, torch.Tensor], ...]:
    seen: set[int] = set()
    out = []
    for name, t in members.items():
        if t is not None and id(t) not in seen:
            seen.add(id(t))
            out.append((name, t))
    return tuple(out)


def survey(model: nn.Module) -> dict[nn.Module, tuple[str, Held]]:
    """Every module of ``model`` once, in ``named_modules`` order: its path and own tensors.

    Read once per summary from the modules' own tables, so that hooks and rows
    do not walk the module tree again for each call.
    """
    out: dict[nn.Module, tuple[str, Held]] = {}
    # named_modules' order and names (depth first, each module once under its first
    # path), without its generator per level; a class that walks its own way is asked.
    stack: list[tuple[str, nn.Module]] = [("", model)]
    while stack:
        path, m = stack.pop()
        if m in out:
            continue
        if type(m).named_modules is not _NAMED_MODULES:
            return _survey_by_torch(model)
        prefix = path + "." if path else ""
        children = [(prefix + k, c) for k, c in m._modules.items() if c is not None]
        params, buffers = m._parameters, m._buffers  # most modules hold neither
        out[m] = (
            path,
            Held(_own(params) if params else (), _own(buffers) if buffers else (), not children),
        )
        children.reverse()
        stack += children
    return out


_NAMED_MODULES = nn.Module.named_modules


def _survey_by_torch(model: nn.Module) -> dict[nn.Module, tuple[str, Held]]:
    out: dict[nn.Module, tuple[str, Held]] = {}
    for path, m in model.named_modules():
        if m not in out:
            leaf = all(c is None for c in m._modules.values())
            out[m] = (path, Held(_own(m._parameters), _own(m._buffers), leaf))
    return out


@dataclass(slots=True)
class _Frame:
    node: Record | Group
    in_field: Field | None = None
    held: Held | None = None  # a leaf's own tensors, for ``skip``


class Tracer:
    """Everything one summarize() call learns; plain state, thrown away afterwards."""

    def __init__(
        self,
        model: nn.Module,
        input_sizes: Axes,
        modules: dict[nn.Module, tuple[str, Held]] | None = None,
    ) -> None:
        self.model = model
        self.modules = survey(model) if modules is None else modules
        self.names: dict[nn.Module, str] = {m: path for m, (path, _) in self.modules.items()}
        self.input_sizes = input_sizes  # the input's spatial sizes; () when flat
        self.top: list[Record | Group] = []
        self.stack: list[_Frame] = []
        self.groups: list[Group] = []  # the open container calls, innermost last
        self.calls: dict[nn.Module, int] = {}
        self.owner: dict[int, Record] = {}  # id(parameter or buffer) → the row counting it
        # id(tensor) → [a weak reference to it, its field, the node that made it]: what
        # the pass knows of each tensor, checked by reference since ids are reused.
        self.tensors: dict[int, list[Any]] = {}
        self.reported: set[str] = set()
        self.used_by: dict[int, str] = {}  # id(parameter) → the module whose own code used it
        self.notes: list[str] = []
        # The graph in the making. Node 0 is the input.
        self.nodes: list[Node] = []
        self.scopes: dict[str, Scope] = {}
        self.keys: set[str] = set()
        # node id → its output's shape and field, for the network's final field.
        self.node_out: dict[int, tuple[Shape, ReceptiveField | None]] = {}
        # Entered around the tensors a rule makes; one guard object, entered each time.
        self.past_watcher = torch._C._ExcludeDispatchKeyGuard(_PYTHON_KEY)
        # A network repeats its blocks (shufflenet's 151 layers are 35 distinct ones):
        # each distinct layer's rule and text are worked out once per pass.
        self.effects: dict[tuple[Known, Shape], Effect] = {}
        self.texts: dict[Known, str] = {}
        self.ruled_classes: dict[type, bool] = {}  # ``ruled``'s answer for each class
        self.last_axes: dict[int, tuple[int, ...]] = {}  # a rank's last spatial axes

    # -- naming ------------------------------------------------------------
    def path(self, module: nn.Module) -> str:
        name = self.names.get(module, "")
        return name or type(module).__name__

    def _parent(self) -> Group | None:
        return self.groups[-1] if self.groups else None

    # -- what is known of each tensor ------------------------------------------
    def _entry(self, t: torch.Tensor) -> list[Any]:
        """``t``'s entry in ``tensors``, made afresh where its id last named another tensor."""
        entry = self.tensors.get(id(t))
        if entry is None or entry[0]() is not t:
            entry = self.tensors[id(t)] = [weakref.ref(t), None, None]
        return entry

    # -- receptive-field dataflow ----------------------------------------------
    def field_of(self, t: Any) -> Field | None:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.tensors.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def set_field(self, t: torch.Tensor, f: Field) -> None:
        entry = self._entry(t)
        entry[1] = f
        # A node's output is the first tensor it made that gets a field; later ones
        # (a flatten passing its input's node on) are views of it.
        nid = entry[2]
        if nid is not None and nid not in self.node_out:
            self.node_out[nid] = (tuple(t.shape[1:]), f.rf)

    # -- the graph -----------------------------------------------------------
    def set_input(self, x: torch.Tensor) -> None:
        nid = self.add_node("input", (), None, "input", (), "input")
        self.set_made(x, nid)

    def add_node(
        self,
        op: str,
        inputs: tuple[int, ...],
        args: Any,
        path: str,
        scope: tuple[str, ...],
        where: str,
        written: bool = True,
    ) -> int:
        nid = len(self.nodes)
        name = path.rsplit(".", 1)[-1]
        self.nodes.append(
            Node._make((nid, op, inputs, args, name, path, scope, None, where, None, written))
        )
        return nid

    def made_by(self, t: Any) -> int | None:
        """The node that made tensor ``t``; None for a constant, a parameter, or not a tensor."""
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.tensors.get(id(t))
        return entry[2] if entry is not None and entry[0]() is t else None

    def set_made(self, t: torch.Tensor, nid: int) -> None:
        self._entry(t)[2] = nid

    def makers(self, flat: list[torch.Tensor]) -> tuple[int, ...]:
        """The distinct nodes that made the tensors in ``flat``, in the order first read."""
        found: dict[int, None] = {}
        get = self.tensors.get
        for t in flat:
            entry = get(id(t))
            if entry is not None and entry[2] is not None and entry[0]() is t:
                found[entry[2]] = None
        return tuple(found)

    def _scope_key(self, path: str, call: int) -> str:
        # A container called twice is two scopes (two group rows): the first keeps
        # its path, as its row shows it; a later call is told apart by its number.
        key = path if call == 1 else f"{path} (call {call})"
        while key in self.keys:  # an unhooked name equal to a real path: never in practice
            key += "'"
        self.keys.add(key)
        return key

    @staticmethod
    def _role(module: nn.Module, parent: Group | None) -> str:
        """What a container is in the graph: archcalc's own composites say so by class."""
        if type(module) is Residual:
            return "residual"
        if type(module) is Concat:
            return "concat"
        if parent is not None and type(parent.module) is Residual:
            if module is parent.module.shortcut:
                return "shortcut"
        elif parent is not None and type(parent.module) is Concat:
            return "branch"
        return "module"

    def close_scope(self, group: Group, y: torch.Tensor | None) -> None:
        out = self.made_by(y)
        name = type(group.module).__name__
        self.scopes[group.key] = Scope(
            path=group.key,
            role=group.role,
            kind=name.lower(),
            operation=name,
            loc=None,
            where=group.path,
            input=group.input_node,
            output=group.input_node if out is None else out,  # an untraced output: its input
            items=_items(group.children),
            parent=group.scope[:-1],
        )

    def graph(self, output: Any) -> Graph:
        """The graph of the finished pass whose result was ``output``."""
        outputs = self.makers(tensors_in(output)) or (len(self.nodes) - 1,)
        return Graph(tuple(self.nodes), outputs, _items(self.top), self.scopes)

    # -- parameters --------------------------------------------------------
    def count_own(self, rec: Record, module: nn.Module, held: Held | None = None) -> None:
        """Credit ``rec`` with the module's own tensors that no earlier row has counted."""
        tied: list[str] = []
        if held is None:
            held = self.held(module)
        claim = self.owner.setdefault
        for name, p in held.params:
            owner = claim(id(p), rec)
            if owner is rec:
                n = p.numel()
                rec.params += n
                if p.requires_grad:
                    rec.trainable += n
            elif owner.module is not module:  # tied weights; a repeated call says so itself
                tied.append(f"{name} with {owner.path}")
        for _, b in held.buffers:
            if claim(id(b), rec) is rec:
                rec.buffers += b.numel()
        if tied:
            rec.notes.append("shares " + ", ".join(tied) + " (counted there)")

    def held(self, module: nn.Module) -> Held:
        entry = self.modules.get(module)
        if entry is None:  # a module outside the model's tree: read it now
            return survey(module)[module][1]
        return entry[1]

    def has_uncounted(self, module: nn.Module) -> bool:
        held = self.held(module)
        if not held.params and not held.buffers:
            return False
        owner = self.owner
        return any(id(t) not in owner for _, t in held.params) or any(
            id(t) not in owner for _, t in held.buffers
        )

    def effect_of(self, known: Known, shape: Shape) -> Effect:
        """``known.effect(shape)``, once per distinct layer and input shape."""
        try:
            return self.effects[known, shape]
        except KeyError:
            effect = self.effects[known, shape] = known.effect(shape)
            return effect
        except TypeError:  # arguments that do not hash: worked out each time
            return known.effect(shape)

    def text_of(self, known: Known) -> str:
        """``known.operation()``, once per distinct layer."""
        try:
            return self.texts[known]
        except KeyError:
            text = self.texts[known] = known.operation()
            return text
        except TypeError:
            return known.operation()

    # -- module hooks ------------------------------------------------------
    def pre_hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        frame = self._open(module, args, kwargs)
        if isinstance(frame.node, Record):
            self.stack.append(frame)

    def ruled_call(
        self,
        module: nn.Module,
        own: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """A ``ruled`` leaf's call on the meta device: its row opened, its output from its
        kind's rule (``skip``) and its row closed, as the two hooks around its forward
        would; the forward runs between them where the rule does not answer."""
        frame = self._open(module, args, kwargs)
        rec = frame.node
        assert isinstance(rec, Record) and frame.held is not None
        self.stack.append(frame)  # what a failure names
        out = self._by_rule(module, rec, frame.held, args, kwargs)
        if out is NotImplemented:
            out = own(module, *args, **kwargs)
            self.post_hook(module, args, kwargs, out)
        else:
            self.stack.pop()
            self._close_leaf(rec, frame.in_field, out)
        return out

    def _open(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Frame:
        """A call's record and frame; a container's frame is pushed (its calls run inside
        it), a leaf's is the caller's to push."""
        call = self.calls[module] = self.calls.get(module, 0) + 1
        parent = self.groups[-1] if self.groups else None
        x: torch.Tensor | None
        if len(args) == 1 and not kwargs and isinstance(args[0], torch.Tensor):
            x = args[0]  # the common call: one tensor, its entry read once
            known_x = self.tensors.get(id(x))
            if known_x is not None and known_x[0]() is x:
                in_field, made = known_x[1], known_x[2]
                inputs: tuple[int, ...] = () if made is None else (made,)
            else:
                in_field, inputs = None, ()
        else:
            flat = tensors_in(args)
            if kwargs:
                flat += tensors_in(kwargs)
            x = flat[0] if flat else None
            in_field = self.field_of(x)
            inputs = self.makers(flat)
        in_shape = tuple(x.shape[1:]) if x is not None else ()
        entry = self.modules.get(module)
        path = (entry[0] if entry is not None else "") or type(module).__name__
        held = entry[1] if entry is not None else self.held(module)
        if not held.leaf:
            if module is self.model:  # the root is the table itself, not a row around it
                group = Group(path, module, 0, call, children=self.top)
            else:
                assert parent is not None  # the root is the first call
                key = self._scope_key(path, call)
                group = Group(path, module, parent.depth + 1, call, key=key)
                group.scope = (*parent.scope, key)
                group.role = self._role(module, parent)
                parent.children.append(group)
            group.input_shape = in_shape
            # Scope.input is a node: an input made from constants alone is noted as the network's.
            group.input_node = inputs[0] if inputs else 0
            frame = _Frame(group, in_field)
            self.stack.append(frame)
            self.groups.append(group)
            if self.has_uncounted(module):
                self.own_record(group)
            return frame
        known = known_kind(module, in_shape)
        scope = parent.scope if parent is not None else ()
        rec = Record(
            path=path,
            kind=known.kind if known else type(module).__name__.lower(),
            operation=self.text_of(known) if known else class_text(module),
            depth=parent.depth + 1 if parent is not None else 1,
            module=module,
            known=known,
            input_shape=in_shape,
            call=call,
        )
        rec.node = self.add_node(rec.kind, inputs, known.args if known else None, path, scope, path)
        if held.params or held.buffers:
            self.count_own(rec, module, held)
        (parent.children if parent is not None else self.top).append(rec)
        return _Frame(rec, in_field, held)

    def post_hook(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        frame = self.stack.pop()
        node = frame.node
        if isinstance(output, torch.Tensor) and isinstance(node, Record):
            self._close_leaf(node, frame.in_field, output)
            return
        outs = [output] if isinstance(output, torch.Tensor) else tensors_in(output)
        y = outs[0] if outs else None
        node.output_shape = tuple(y.shape[1:]) if y is not None else ()
        if isinstance(node, Record):
            node.out_field = self.leaf_field(node, frame.in_field, y)
            assert node.node is not None
            for t in outs:
                self.set_made(t, node.node)
        else:
            self.groups.pop()
            node.out_field = (self.field_of(y) if y is not None else None) or NO_FIELD
            if node.own is not None:
                node.own.input_shape = node.input_shape
            if node.key:
                self.close_scope(node, y)
        if y is not None:
            self.set_field(y, node.out_field)

    def _close_leaf(self, rec: Record, in_field: Field | None, output: torch.Tensor) -> None:
        """The common leaf's end: one tensor out, its entry written once."""
        shape = rec.output_shape = tuple(output.shape[1:])
        f = rec.out_field = self.leaf_field(rec, in_field, output)
        nid = rec.node
        assert nid is not None
        entry = self._entry(output)
        entry[1], entry[2] = f, nid
        if nid not in self.node_out:
            self.node_out[nid] = (shape, f.rf)

    def own_record(self, group: Group) -> Record:
        """The row for what a container does itself: its own parameters, its functional ops."""
        if group.own is None:
            depth = group.depth + 1
            group.own = Record(
                path=group.path,
                kind="own",
                operation="",
                depth=depth,
                module=group.module,
                call=group.call,
                activations=False,
            )
            self.count_own(group.own, group.module)
            group.children.append(group.own)
        return group.own

    def skip(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A ``ruled`` layer's output on the meta device from its kind's rule, not its forward.

        ``NotImplemented`` where the rule might not say what torch would (a
        real or non-contiguous input, other dtypes, a reading of the layer
        whose parameter count is not the module's): the forward runs then,
        and fails in torch's words where the input does not fit.
        """
        if not self.stack:
            return NotImplemented
        frame = self.stack[-1]
        rec = frame.node
        if not isinstance(rec, Record) or rec.module is not module:
            return NotImplemented
        return self._by_rule(module, rec, frame.held or self.held(module), args, kwargs)

    def _by_rule(
        self,
        module: nn.Module,
        rec: Record,
        held: Held,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """``skip``'s answer for the leaf ``rec`` records."""
        if rec.known is None or kwargs or len(args) != 1 or module.training:
            return NotImplemented
        x = args[0]
        if not isinstance(x, torch.Tensor) or not x.is_meta or x.dim() < 2:
            return NotImplemented
        dtype = x.dtype
        if not dtype.is_floating_point or not x.is_contiguous():
            return NotImplemented
        params = buffers = 0
        for _, t in held.params:
            if t.dtype != dtype or (type(t) is not nn.Parameter and nn.parameter.is_lazy(t)):
                return NotImplemented
            params += t.numel()
        for _, t in held.buffers:
            if t.dtype != dtype and t.is_floating_point():
                return NotImplemented
            buffers += t.numel()
        if isinstance(module, nn.Linear) and x.dim() > 2:
            return self._linear_over(module, rec, x, params)
        try:
            effect = self.effect_of(rec.known, rec.input_shape)
        except ShapeError:
            return NotImplemented
        if effect.params != params or effect.buffers != buffers:
            return NotImplemented
        rec.effect = effect
        batch = x.shape[0]
        rec.flops += 2 * effect.macs * batch  # the rule counts one sample; torch all
        if _returns_input(module):
            return x
        # Made past the op watcher (which sees the forward's ops): this is no op of the model's.
        with self.past_watcher:
            return torch.empty((batch, *effect.output_shape), dtype=dtype, device=_META)

    def _linear_over(self, module: nn.Linear, rec: Record, x: torch.Tensor, params: int) -> Any:
        """A linear layer over the last axis of a (B, ..., features) input (a transformer's).

        Its kind reads a flat input only; torch folds the leading axes into one
        matrix product, which is what its FLOP formula counts.
        """
        k, n = module.in_features, module.out_features
        if x.shape[-1] != k or params != k * n + (n if module.bias is not None else 0):
            return NotImplemented
        rows = 1
        for d in x.shape[:-1]:
            rows *= d
        rec.flops += 2 * rows * k * n
        with self.past_watcher:
            return torch.empty((*x.shape[:-1], n), dtype=x.dtype, device=_META)

    def leaf_field(self, rec: Record, in_field: Field | None, y: torch.Tensor | None) -> Field:
        if rec.known is None:
            # An opaque module: its inner ops went through the dataflow tracker.
            inner = self.field_of(y)
            if inner is not None:
                return inner
            return Field(None, f"opaque module {type(rec.module).__name__}")
        if in_field is None:
            return Field(None, f"the input of {rec.path} is not traced from the network input")
        if in_field.rf is None:
            return in_field
        if in_field.axes is not None:  # channels last: a layer's rule reads channels first
            if _per_position(rec.module, in_field.axes, len(rec.input_shape) + 1):
                return in_field
            return Field(None, f"{type(rec.module).__name__} on a channels-last input")
        try:
            step = (rec.effect or self.effect_of(rec.known, rec.input_shape)).rf
        except ShapeError:
            return Field(
                None, f"{type(rec.module).__name__} on a {fmt_shape(rec.input_shape)} input"
            )
        if in_field.rf.whole or _keeps(step, len(in_field.rf.size)):
            return in_field  # what receptive.step would give: the same field
        return self._step(in_field.rf, step)

    # -- aten operations -----------------------------------------------------
    def on_op(
        self,
        func: Any,
        info: OpInfo,
        args: Any,
        kwargs: Any,
        ins: list[torch.Tensor],
        out: Any,
        outs: list[torch.Tensor],
        flops: int,
    ) -> None:
        """One aten op and its FLOPs; ``ins`` and ``outs`` are the tensors it reads and makes."""
        if not self.stack:
            return
        frame = self.stack[-1]
        node = frame.node
        free = info.free
        notable = flops > 0 or not free
        if isinstance(node, Record):
            if node.known is not None:
                node.flops += flops
                return  # a known layer: its rows' rules, not its inner ops, say what it does
            target = node
        elif notable:
            target = self.own_record(node)
        else:
            target = None
        if target is not None:
            target.flops += flops
            if not free and flops == 0:
                target.uncosted.add(info.name)
            if target is not node:  # a container's own row shows what its own ops made
                target.output_shape = tuple(outs[0].shape[1:]) if outs else ()
        tensors = self.tensors
        seen: list[tuple[torch.Tensor, list[Any]]] = []  # the inputs the pass knows, entries
        for t in ins:
            # A plain tensor first: Parameter's isinstance check runs Python code.
            if type(t) is not torch.Tensor and isinstance(t, nn.Parameter):
                self.used_by.setdefault(id(t), node.path)
            entry = tensors.get(id(t))
            if entry is not None and entry[0]() is t:
                seen.append((t, entry))
        if not outs:
            return
        nid = self._dataflow(info, node, target, seen) if isinstance(node, Group) else None
        result = self.follow(func, info, args, kwargs, node, seen, outs)
        if nid is None and result is None:
            return
        node_out = self.node_out
        for t in outs:  # each output's entry written once: the node that made it, its field
            entry = self._entry(t)
            if nid is not None:
                entry[2] = nid
            if result is not None:
                entry[1] = result
                made = entry[2]
                if made is not None and made not in node_out:
                    node_out[made] = (tuple(t.shape[1:]), result.rf)

    def _dataflow(
        self,
        info: OpInfo,
        group: Group,
        own: Record | None,
        seen: list[tuple[torch.Tensor, list[Any]]],
    ) -> int | None:
        """Which node makes the outputs of an op in a container's own code (between modules).

        An op the container's own row shows (it costs MACs, or archcalc cannot
        cost it) is a node of its own, as is a free op that joins the work of
        several nodes (``x + identity``, ``torch.cat``); any other free op
        (views, elementwise work on one tensor) passes its input's node on.
        """
        found: dict[int, None] = {}
        for _, entry in seen:
            if entry[2] is not None:
                found[entry[2]] = None
        inputs = tuple(found)
        if own is None and len(inputs) < 2:
            return inputs[0] if inputs else None  # passed on; or made from constants only
        name = info.name
        if name.endswith("_") and not name.endswith("__"):
            name = name[:-1]  # in place: `out += identity` is an add
        if own is not None:
            if own.node is not None:  # the own row shows its latest op; earlier ones have none
                self.nodes[own.node] = self.nodes[own.node]._replace(written=False)
            path = own_path(own)
            nid = own.node = self.add_node(name, inputs, None, path, group.scope, path)
        else:  # a free op joining several nodes' work
            nid = self.add_node(name, inputs, None, group.path, group.scope, group.path, False)
        return nid

    def follow(
        self,
        func: Any,
        info: OpInfo,
        args: Any,
        kwargs: Any,
        node: Record | Group,
        seen: list[tuple[torch.Tensor, list[Any]]],
        outs: list[torch.Tensor],
    ) -> Field | None:
        """The field one op outside known layers gives its outputs (unknown where it cannot
        be followed); None where no input carries one (constants and parameters)."""
        data: list[tuple[torch.Tensor, Field]] = []
        for t, entry in seen:
            f = entry[1]
            if f is not None:
                if f.rf is None:
                    return f  # an unknown field stays unknown, saying where it was lost
                data.append((t, f))
        return self._through(func, info, args, kwargs, data, outs, node) if data else None

    def _through(
        self,
        func: Any,
        info: OpInfo,
        args: Any,
        kwargs: Any,
        data: list[tuple[torch.Tensor, Field]],
        outs: list[torch.Tensor],
        node: Record | Group,
    ) -> Field:
        name = info.name
        y = outs[0]
        rank = len(self.input_sizes)
        if name in _VIEWS and not info.pointwise:  # the common glue: no argument by name
            # (clone is tagged pointwise: it is followed as one, below)
            first, field = data[0]
            assert field.rf is not None  # an unknown field is passed on before
            if tuple(y.shape) == tuple(first.shape):
                return field
            if first.dim() == rank + 2 and y.dim() == 2 and y.shape[0] == first.shape[0]:
                return self._step(field.rf, GLOBAL)  # flattened: each unit sees it all
            axes = self._reshaped(field, first, y)
            if axes is not None:  # channels regrouped (a channel shuffle)
                return self._placed(field.rf, axes, y)
            return Field(None, f"aten.{name} in {_where(node)} is not followed")
        arg = bind(info, args, kwargs)
        fields = [f.rf for _, f in data if f.rf is not None]  # all of them: see follow
        x = arg.get("input", arg.get("self"))
        first, field = data[0]
        if len(data) == 1 and first is x and x.dim() == 4 and field.axes is None:
            window = window_step(name, arg)
            if window is not None:  # functional conv / pooling: the step its layer makes
                return self._step(fields[0], window)
        if info.pointwise:
            axes = self._common_axes(data, y)
            if axes is not None:
                return self._placed(self._merge(fields, node).rf, axes, y)
        elif name in _MOVES:
            axes = self._moved(name, arg, field, first) if len(data) == 1 else None
            if axes is not None:
                return self._placed(field.rf, axes, y)
        elif name in RESIZES and len(data) == 1 and first is x and field.axes is None:
            step = resize_step(name, arg, x, y)
            if step is not None:  # F.interpolate: the step nn.Upsample makes
                return self._step(fields[0], step)
        elif name == "cat":
            if y.dim() in (2, 4) and arg.get("dim") in (1, 1 - y.dim()) and field.axes is None:
                return self._merge(fields, node)
            axes = self._common_axes(data, y)
            if axes is not None and arg.get("dim", 0) % y.dim() not in axes:
                return self._placed(self._merge(fields, node).rf, axes, y)
        elif name == "native_layer_norm" and len(data) == 1 and first is x:
            # Normalised over the last axes alone: no two spatial positions meet.
            if all(a < x.dim() - len(arg["normalized_shape"]) for a in self._axes_of(field, x)):
                return self._placed(field.rf, self._axes_of(field, x), y)
        elif name == "mean" and len(data) == 1:
            dim = arg.get("dim")
            dims = {d % first.dim() for d in dim} if isinstance(dim, (list, tuple)) else set()
            if rank and dims >= set(self._axes_of(field, first)):
                return self._step(fields[0], GLOBAL)
        return Field(None, f"aten.{name} in {_where(node)} is not followed")

    def _axes_of(self, field: Field, t: torch.Tensor) -> tuple[int, ...]:
        """Where ``field``'s spatial axes sit in ``t``."""
        if field.axes is not None:
            return field.axes
        rank = len(self.input_sizes)
        return tuple(range(t.dim() - rank, t.dim()))

    def _placed(self, rf: ReceptiveField | None, axes: tuple[int, ...], y: torch.Tensor) -> Field:
        """``rf`` on ``y`` with its spatial axes at ``axes`` (None where they are the last)."""
        n = y.dim()
        last = self.last_axes.get(n)
        if last is None:
            rank = len(self.input_sizes)
            last = self.last_axes[n] = tuple(range(n - rank, n))
        return Field(rf, axes=None if axes == last else axes)

    def _common_axes(
        self, data: list[tuple[torch.Tensor, Field]], y: torch.Tensor
    ) -> tuple[int, ...] | None:
        """The spatial axes every input shares with ``y`` at ``y``'s sizes, or None.

        A field that already sees the whole input fits anywhere.
        """
        found: tuple[int, ...] | None = None
        for t, f in data:
            if t.dim() != y.dim():
                return None
            if f.rf is not None and f.rf.whole:
                continue
            axes = self._axes_of(f, t)
            if found is not None and found != axes:
                return None
            for a in axes:
                if t.shape[a] != y.shape[a]:
                    return None
            found = axes
        return found if found is not None else self._axes_of(data[0][1], data[0][0])

    def _reshaped(self, field: Field, x: torch.Tensor, y: torch.Tensor) -> tuple[int, ...] | None:
        """Where the spatial axes are after a reshape of ``x`` to ``y`` that keeps them whole.

        A reshape reads in index order, so axes kept at their sizes, with
        everything outside them before (channels first) or after (channels
        last) regrouped only, keep each unit's place: a channel shuffle.
        """
        rank = len(self.input_sizes)
        if rank == 0 or x.dim() <= rank or y.dim() <= rank or x.shape[0] != y.shape[0]:
            return None
        axes = self._axes_of(field, x)
        if axes != tuple(range(axes[0], axes[0] + rank)):
            return None  # not side by side, in order
        if field.axes is None:  # channels first: the trailing axes unchanged
            if tuple(x.shape[-rank:]) == tuple(y.shape[-rank:]):
                return tuple(range(y.dim() - rank, y.dim()))
            return None
        end = axes[-1] + 1  # channels last: everything up to the last spatial axis unchanged
        return axes if tuple(x.shape[:end]) == tuple(y.shape[:end]) else None

    def _moved(
        self, name: str, arg: dict[str, Any], field: Field, x: torch.Tensor
    ) -> tuple[int, ...] | None:
        """Where the spatial axes are after a permute or transpose, or a split or slice of
        another axis (None: a spatial axis is cut)."""
        axes = self._axes_of(field, x)
        n = x.dim()
        if not axes or n == 0:
            return None
        if name == "permute":
            order = [d % n for d in arg["dims"]]
            return tuple(order.index(a) for a in axes)
        if name == "transpose":
            d0, d1 = arg["dim0"] % n, arg["dim1"] % n
            return tuple(d1 if a == d0 else d0 if a == d1 else a for a in axes)
        return None if arg["dim"] % n in axes else axes  # split, split_with_sizes, slice, narrow

    def _step(self, rf: ReceptiveField, how: RFStep) -> Field:
        """The field after one window, or unknown once its numbers pass the analysis' bound."""
        try:
            return Field(receptive.check(receptive.step(rf, how, self.input_sizes)))
        except ShapeError:
            return Field(None, "the receptive field grows past 2^53")

    def _merge(self, fields: list[ReceptiveField], node: Record | Group) -> Field:
        if len(fields) == 1:
            return Field(fields[0])
        rf, misaligned = receptive.merge(fields)
        if misaligned:
            self.notes.append(f"{_where(node)}: paths meet with misaligned receptive-field centres")
        return Field(rf)


# Layers that work on each spatial position alone, whatever axis the channels are on.
_ELEMENTWISE = (
    *_ACTIVATIONS,
    nn.Softplus,
    nn.Dropout,
    nn.Identity,
)


def _per_position(module: nn.Module | None, axes: tuple[int, ...], dims: int) -> bool:
    """Whether ``module`` leaves a channels-last input's field as it is: it mixes no two
    spatial positions (an activation, a layer norm or linear layer over the channels)."""
    if isinstance(module, _ELEMENTWISE) or type(module).__name__ in ("StochasticDepth", "DropPath"):
        return True
    if isinstance(module, nn.Linear):
        return dims - 1 not in axes
    if isinstance(module, nn.LayerNorm):
        return all(a < dims - len(module.normalized_shape) for a in axes)
    return False


# Reshapes (a new view of the same units, or a copy of them).
_VIEWS = frozenset({"view", "_unsafe_view", "reshape", "alias", "detach", "clone", "_to_copy"})
# Ops that move or pick whole axes: each output unit is an input unit.
_MOVES = frozenset({"permute", "transpose", "split", "split_with_sizes", "slice", "narrow"})


def _keeps(how: RFStep, rank: int) -> bool:
    """Whether a step leaves a field of ``rank`` axes as it is: none, or a 1-wide window
    at stride 1 without padding (a pointwise convolution)."""
    if how is None:
        return True
    if type(how) is not SpatialStep or len(how.kernel) != rank:
        return False
    return (
        all(k == 1 for k in how.kernel)
        and all(s == 1 for s in how.stride)
        and not any(how.pad_before)
    )


def _where(node: Record | Group) -> str:
    """How notes name the code an op ran in."""
    if isinstance(node, Record):
        return f"opaque module {type(node.module).__name__}"
    return node.path


def _items(children: list[Record | Group]) -> tuple[int | str, ...]:
    """A scope's items: its rows' nodes and its child scopes' keys (an uncalled module has none)."""
    out: list[int | str] = []
    for c in children:
        if isinstance(c, Group):
            out.append(c.key)
        elif c.node is not None:
            out.append(c.node)
    return tuple(out)


def own_path(rec: Record) -> str:
    """The path of a container's own row: its parameters, or else its functional ops."""
    what = "own parameters" if rec.params or rec.buffers else "own operations"
    return f"{rec.path} ({what})"
