"""One watched forward pass of a module, as the nodes and scopes a spec is written from.

Module hooks see every module call: a module archcalc knows as a kind (the
kinds' own ``from_torch`` adapters, through summarize's ``known_kind``) is one
node, and what runs inside it is not looked at; any other module is a scope,
and its own code is watched by a TorchFunctionMode at the level a person
writes it (``torch.flatten(x, 1)``, ``out += identity``, ``F.relu(x)``), each
call mapped to a kind by :mod:`archcalc.bridge.export.functional`. Tensors are
followed by identity, so the inputs of every node are read from the real
dataflow, in-place updates included.

summarize's graph is the same pass seen from the aten side: there a view or
a functional relu passes its input's node on, since it costs nothing, but a
spec must write it, with its arguments, so export watches the Python level.

The pass runs on meta tensors: no arithmetic, and the module's own weights
are never read (``torch.func.functional_call`` lends each parameter and buffer
a meta twin for the call). A forward that needs real values (an op without a
meta kernel) runs again on zeros; one that branches on values is refused
either way, since a spec has no branches.
"""

from __future__ import annotations

import dataclasses
import math
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from archcalc import kinds
from archcalc.bridge.export import functional
from archcalc.bridge.export.args import ExportBug, full
from archcalc.bridge.export.args import parse as kind_parse
from archcalc.bridge.summarize.torch_kinds import Known, known_kind
from archcalc.errors import ArchcalcError
from archcalc.kinds.base import MAX_FLOAT, Shape, fmt_shape
from archcalc.spec.reserved import is_reserved
from archcalc.spec.tree import MAX_NAME_CHARS

# A name a spec can give a layer (spec/parse.py reads them so): an identifier, or a torch
# child name such as `0` or `block1-0`.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


@dataclass(eq=False)
class TNode:
    """One operation: the input, a known module's call, a functional layer or a merge."""

    id: int
    op: str  # a kind, "add" / "mul" / "cat", or "input"
    inputs: tuple[int, ...]
    args: Any = None  # the kind's parsed arguments
    written: dict[str, Any] = field(default_factory=dict)  # every argument, as written
    module: str | None = None  # the module path of a module call
    call: int = 1  # which call of that module
    what: str = ""  # the module's class, or the function, for comments and errors
    shape: Shape = ()
    holds: bool = False  # a module call whose module holds parameters or buffers
    scope: TScope | None = None
    lifted: bool = False  # out of a container that is no block call: named by a dotted path
    last: bool = False  # a module torch runs on a channels-last tensor (written C first)


@dataclass(eq=False)
class TScope:
    """A container call (or a level of the module tree a forward reaches into)."""

    path: str
    name: str
    what: str  # the class
    call: int
    parent: TScope | None
    items: list[TNode | TScope] = field(default_factory=list)
    virtual: bool = False  # not called itself: a caller ran its children directly

    def label(self) -> str:
        return f"{self.path or '(root)'} ({self.what})"


@dataclass
class Traced:
    """A finished pass: nodes in execution order (node 0 the input), the scope tree, outputs."""

    nodes: list[TNode]
    root: TScope
    outputs: tuple[int, ...]
    input_shape: Shape
    # Module calls (path, " (call N)" after the first) whose torch output is channels last
    # where the spec's is C first, and calls that only moved the channels (a Permute).
    channels_last: frozenset[str] = frozenset()
    moves: frozenset[str] = frozenset()
    # A layer_scale made of a container's own parameter: its module path → the container's.
    owned: dict[str, str] = field(default_factory=dict)


class Refusal(ArchcalcError):
    """What a spec cannot say, located at the module path and the op."""

    def __init__(self, where: str, op: str, why: str, hint: str | None = None) -> None:
        super().__init__(f"{op}: {why}", where=where, hint=hint)
        self.op = op


# Functions whose answer is about values: a spec has no branches.
_DATA_DEPENDENT = frozenset(
    {"__bool__", "item", "tolist", "__int__", "__float__", "__index__", "__complex__", "numpy"}
)


class _Tracer:
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.paths: dict[nn.Module, str] = {}
        for path, m in model.named_modules(remove_duplicate=False):
            first = self.paths.setdefault(m, path)
            if first != path and any(True for _ in m.state_dict()):
                raise Refusal(
                    f"{path} ({type(m).__name__})",
                    "shared weights",
                    f"it is the module {first} too, so the state_dict holds its weights twice; "
                    "each spec layer holds its own",
                )
        # Read before the pass: during it the tensors are functional_call's meta twins.
        self.own = {
            m: [n for n, _ in m.named_parameters(recurse=False)]
            + [n for n, _ in m.named_buffers(recurse=False)]
            for m in self.paths
        }
        _refuse_shared(model, self.paths)
        self.nodes: list[TNode] = []
        self.root = TScope("", "", type(model).__name__, 1, None)
        self.scopes: list[TScope] = [self.root]
        # Known modules running: the module, its input nodes, its kind, on channels last.
        self.leaf: list[tuple[nn.Module, tuple[int, ...], Known, bool]] = []
        self.inside = 0  # > 0 while a known module runs: its inner calls are its own
        self.calls: dict[nn.Module, int] = {}
        self.made: dict[int, tuple[weakref.ref[torch.Tensor], int]] = {}
        self.pending: dict[int, tuple[weakref.ref[torch.Tensor], functional.Pending]] = {}
        # Tensors computed by a call a spec cannot say: the refusal waits for a reader.
        self.poisoned: dict[int, tuple[weakref.ref[torch.Tensor], Refusal]] = {}
        # Traced tensors moved channels last (ConvNeXt's Permute), by the node they are.
        self.last: dict[int, tuple[weakref.ref[torch.Tensor], int]] = {}
        self.channels_last: set[str] = set()
        self.moves: set[str] = set()
        # A container's own tensors during the pass (functional_call's twins), by id.
        self.owned_ids: dict[int, tuple[nn.Module, str]] = {}
        self.owned: dict[str, str] = {}
        # Containers' own parameters, each with the value a fresh one holds (a layer scale's
        # init); a leaf's are its layer's weights.
        self.inits = {
            (m, n): _constant(p)
            for m in self.paths
            if next(m.children(), None) is not None
            for n, p in _own_params(m)
        }

    # -- tensors and nodes ---------------------------------------------------
    def node_of(self, t: Any) -> int | None:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.made.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def any_node(self, t: Any) -> int | None:
        """The node a traced tensor is, channels first or last."""
        nid = self.node_of(t)
        return nid if nid is not None else self.last_of(t)

    def last_of(self, t: Any) -> int | None:
        """The node a channels-last tensor is (None: not one)."""
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.last.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def set_node(self, t: torch.Tensor, nid: int) -> None:
        self.made[id(t)] = (weakref.ref(t), nid)
        self.pending.pop(id(t), None)
        self.poisoned.pop(id(t), None)
        self.last.pop(id(t), None)

    def set_last(self, t: torch.Tensor, nid: int) -> None:
        self.set_node(t, nid)
        self.made.pop(id(t), None)
        self.last[id(t)] = (weakref.ref(t), nid)

    def pending_of(self, t: Any) -> functional.Pending | None:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.pending.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def add(self, node: TNode, scope: TScope) -> int:
        node.id = len(self.nodes)
        node.scope = scope
        self.nodes.append(node)
        scope.items.append(node)
        return node.id

    def here(self) -> TScope:
        return self.scopes[-1]

    def where(self) -> str:
        return self.here().label()

    # -- module hooks --------------------------------------------------------
    def place(self, path: str, module: nn.Module) -> tuple[TScope, str]:
        """The scope a module's call sits in, and its name there.

        A forward usually calls its own children; one that reaches further down
        (``self.block[0](x)``) gets a virtual scope for each level it skips, so
        that the path stays the module's.
        """
        scope = self.here()
        prefix = f"{scope.path}." if scope.path else ""
        if not path.startswith(prefix) or path == scope.path:
            raise Refusal(
                f"{path} ({type(module).__name__})",
                "call",
                f"it is called from {scope.label()}, outside its own parent module",
                hint="a spec nests every layer under the modules that hold it",
            )
        parts = path[len(prefix) :].split(".")
        for part in parts:
            if not _NAME.match(part) or len(part) > MAX_NAME_CHARS or is_reserved(part):
                why = "is reserved by archcalc's build" if is_reserved(part) else "is no spec name"
                raise Refusal(
                    f"{path} ({type(module).__name__})",
                    "name",
                    f"the module name `{part}` {why} (an identifier or a torch child name "
                    f"such as `0`, at most {MAX_NAME_CHARS} characters)",
                    hint="rename the submodule; its weights keep their values",
                )
        for part in parts[:-1]:
            last = scope.items[-1] if scope.items else None
            if isinstance(last, TScope) and last.virtual and last.name == part:
                scope = last
            else:
                child_path = f"{scope.path}.{part}" if scope.path else part
                sub = self.model.get_submodule(child_path)
                virtual = TScope(child_path, part, type(sub).__name__, 1, scope, virtual=True)
                scope.items.append(virtual)
                scope = virtual
        return scope, parts[-1]

    def pre_hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.inside:
            return
        call = self.calls[module] = self.calls.get(module, 0) + 1
        if module is self.model:
            if self.own[module]:
                self._refuse_own(module, "")
            return
        path = self.paths.get(module, type(module).__name__)
        flat = tree_flatten((args, kwargs))[0]
        tensors = [t for t in flat if isinstance(t, torch.Tensor)]
        for t in tensors:
            poisoned = self.poison_of(t)
            if poisoned is not None:
                raise poisoned
        x = tensors[0] if tensors else None
        in_shape = tuple(x.shape[1:]) if x is not None else ()
        leaf = next(module.children(), None) is None
        last = self.last_of(x) is not None
        if last and leaf:
            in_shape = (in_shape[-1], *in_shape[:-1])  # the spec's layout: C first
            known = _per_position(module, in_shape, path)
        else:
            known = known_kind(module, in_shape) if leaf else None
        if known is not None:
            ins = tuple(n for t in tensors if (n := self.any_node(t)) is not None)
            if len(tensors) != 1 or len(ins) != 1:
                raise Refusal(
                    f"{path} ({type(module).__name__})",
                    "call",
                    f"it reads {len(tensors)} tensor(s), {len(ins)} of them computed from the "
                    "input; a spec layer reads exactly one",
                )
            self.leaf.append((module, ins, known, last))
            self.inside += 1
            return
        # A container may hold parameters of its own only as layer scales (ConvNeXt's
        # CNBlock); on_function reads each use, and the post hook checks each was one.
        if self.own[module] and (leaf or not self._scales_only(module)):
            self._refuse_own(module, path)
        parent, name = self.place(path, module)
        scope = TScope(path, name, type(module).__name__, call, parent)
        parent.items.append(scope)
        self.scopes.append(scope)

    def post_hook(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        if module is self.model:
            return
        if self.leaf and self.leaf[-1][0] is module:
            self.inside -= 1
            if self.inside:
                return
            _, ins, known, last = self.leaf.pop()
            self._module_node(module, ins, known, last, output)
            return
        if self.inside:
            return
        self.scopes.pop()
        path = self.paths.get(module, "")
        unused = [n for n in self.own[module] if f"{path}.{n}" not in self.owned]
        if unused:
            self._refuse_own(module, path)

    def _scales_only(self, module: nn.Module) -> bool:
        """Whether every tensor of its own is a parameter (a buffer is no layer scale)."""
        return all((module, n) in self.inits for n in self.own[module])

    def _module_node(
        self, module: nn.Module, ins: tuple[int, ...], known: Known, last: bool, output: Any
    ) -> None:
        path = self.paths.get(module, type(module).__name__)
        outs = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]
        if len(outs) != 1:
            raise Refusal(
                f"{path} ({type(module).__name__})",
                "call",
                f"it returns {len(outs)} tensors; a spec layer returns one",
            )
        scope, _ = self.place(path, module)
        node = TNode(
            id=0,
            op=known.kind,
            inputs=ins,
            args=known.args,
            written=full(known.kind, known.args),
            module=path,
            call=self.calls[module],
            what=type(module).__name__,
            shape=tuple(outs[0].shape[1:]),
            holds=bool(self.own[module]),
        )
        if last:  # the spec's layout: C first
            node.last = True
            node.shape = (node.shape[-1], *node.shape[:-1])
            self.channels_last.add(_key(path, node.call))
            self.set_last(outs[0], self.add(node, scope))
        else:
            self.set_node(outs[0], self.add(node, scope))

    def _refuse_own(self, module: nn.Module, path: str) -> NoReturn:
        names = ", ".join(self.own[module][:4]) + (", …" if len(self.own[module]) > 4 else "")
        raise Refusal(
            f"{path or '(root)'} ({type(module).__name__})",
            "own parameters",
            f"its forward uses its own tensors ({names}); a spec holds weights only in "
            "layers, each under its own name",
            hint="`archcalc kinds` lists the layers a spec has",
        )

    # -- functions -----------------------------------------------------------
    def on_function(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = getattr(func, "__name__", str(func))
        flat = tree_flatten((args, kwargs))[0]
        traced = [t for t in flat if self.any_node(t) is not None or self.pending_of(t)]
        poisoned = next((r for t in flat if (r := self.poison_of(t)) is not None), None)
        owned = [o for t in flat if (o := self.owned_ids.get(id(t))) is not None]
        if owned and traced and not poisoned:
            return self._owned(func, name, args, kwargs, owned[0])
        if (traced or poisoned) and name in _DATA_DEPENDENT:
            raise Refusal(
                self.where(),
                f"Tensor.{name}",
                "the forward reads a tensor's value (data-dependent control flow); "
                "a spec has no branches",
            )
        if (traced or poisoned) and name == "__setitem__":
            raise Refusal(self.where(), "Tensor.__setitem__", "indexed assignment has no spec form")
        out = func(*args, **kwargs)
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if not outs or not (traced or poisoned):
            return out  # a question about a tensor (its size), or work on constants
        if poisoned is not None:
            self.set_poison(outs, poisoned)
            return out
        call = functional.Call(name, args, kwargs, out, self)
        try:
            self._apply(functional.convert(call), call, outs)
        except Refusal as refusal:
            # Refused only if a layer reads it: a value the forward branches on says more.
            self.set_poison(outs, refusal)
        return out

    def _owned(
        self,
        func: Any,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: tuple[nn.Module, str],
    ) -> Any:
        """A container's own parameter times a traced map, broadcast per channel (ConvNeXt's
        ``self.layer_scale * x``): a layer_scale at the parameter's path. Any other use of a
        container's own tensor has no spec form."""
        module, pname = owner
        path = self.paths[module]
        scope = self.here()
        tensors = [t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor)]
        mine = [t for t in tensors if self.owned_ids.get(id(t)) is None]
        x = mine[0] if len(mine) == 1 else None
        nid = self.node_of(x)
        full_name = f"{path}.{pname}" if path else pname
        if (
            name not in ("mul", "__mul__", "__rmul__")
            or len(tensors) != 2
            or x is None
            or nid is None
            or scope.path != path
            or scope.virtual
            or full_name in self.owned
            or x.dim() < 2
            or next(t.shape for t in tensors if t is not x) != (x.shape[1], *(1,) * (x.dim() - 2))
        ):
            self._refuse_own(module, path)
        out = func(*args, **kwargs)
        init = self.inits[(module, pname)]
        parsed = kind_parse("layer_scale", {} if init is None else {"init": init})
        node = TNode(
            id=0,
            op="layer_scale",
            inputs=(nid,),
            args=parsed,
            written=full("layer_scale", parsed),
            module=full_name,
            what=f"{type(module).__name__}.{pname}",
            shape=tuple(out.shape[1:]),
            holds=True,
        )
        self.owned[full_name] = path
        self.set_node(out, self.add(node, scope))
        return out

    def poison_of(self, t: Any) -> Refusal | None:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.poisoned.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def set_poison(self, outs: list[torch.Tensor], refusal: Refusal) -> None:
        for t in outs:
            self.made.pop(id(t), None)
            self.pending.pop(id(t), None)
            self.poisoned[id(t)] = (weakref.ref(t), refusal)

    def _apply(self, result: functional.Result, call: functional.Call, outs: list[Any]) -> None:
        scope = self.here()
        if isinstance(result, functional.Pass):
            nid = self.node_of(result.tensor)
            last = self.last_of(result.tensor)
            for t in outs:
                if last is not None:
                    self.set_last(t, last)
                else:
                    assert nid is not None
                    self.set_node(t, nid)
        elif isinstance(result, functional.Moved):
            nid = self.any_node(result.tensor)
            assert nid is not None
            self.moves.add(_key(scope.path, scope.call))
            for t in outs:
                if result.last:
                    self.set_last(t, nid)
                else:
                    self.set_node(t, nid)
        elif isinstance(result, functional.Pending):
            for t in outs:
                self.made.pop(id(t), None)
                self.pending[id(t)] = (weakref.ref(t), result)
        elif isinstance(result, functional.Layers):
            for t, (kind, text, source) in zip(outs, result.layers, strict=True):
                nid = self.node_of(source)
                if nid is None:
                    pend = self.pending_of(source)
                    assert pend is not None
                    nid = pend.node
                parsed = functional.parse_args(kind, text, call)
                node = TNode(
                    id=0,
                    op=kind,
                    inputs=(nid,),
                    args=parsed,
                    written=full(kind, parsed),
                    what=call.text,
                    shape=tuple(t.shape[1:]),
                )
                self.set_node(t, self.add(node, scope))
        else:
            ins = []
            for t in result.tensors:
                nid = self.node_of(t)
                if nid is None:
                    raise Refusal(
                        self.where(),
                        call.text,
                        "one of its inputs is a constant, not computed from the network's input",
                    )
                ins.append(nid)
            shape = tuple(outs[0].shape[1:])
            node = TNode(id=0, op=result.op, inputs=tuple(ins), what=call.text, shape=shape)
            nid = self.add(node, scope)
            for t in outs:
                self.set_node(t, nid)


class _Watch(TorchFunctionMode):
    def __init__(self, tracer: _Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_function__(
        self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if self.tracer.inside:
            return func(*args, **kwargs)
        return self.tracer.on_function(func, tuple(args), kwargs)


def trace(module: nn.Module, input_shape: Shape) -> Traced:
    """Trace ``module`` on a batch of one at ``input_shape`` (no batch), in eval mode."""
    _refuse_attention(module)
    tensors = [*module.parameters(), *module.buffers()]
    first = next((t for t in tensors if t.is_floating_point()), None)
    dtype = first.dtype if first is not None else torch.get_default_dtype()
    device = first.device if first is not None else torch.device("cpu")
    try:
        return _run(module, input_shape, torch.device("meta"), dtype)
    except (ArchcalcError, ExportBug):
        raise
    except Exception:  # an op without a meta kernel: real values say what torch says
        if device.type == "meta":
            raise
        return _run(module, input_shape, device, dtype)


def _run(module: nn.Module, shape: Shape, device: torch.device, dtype: torch.dtype) -> Traced:
    tracer = _Tracer(module)
    x = torch.zeros((1, *shape), device=device, dtype=dtype)
    tracer.nodes.append(TNode(0, "input", (), what="input", shape=shape))
    tracer.set_node(x, 0)
    twins: dict[str, torch.Tensor] | None = None
    if device.type == "meta":
        twins = {
            n: torch.empty_like(t, device="meta")
            for n, t in [
                *module.named_parameters(remove_duplicate=False),
                *module.named_buffers(remove_duplicate=False),
            ]
        }
    # Containers' own parameters as the pass will see them, so that a use is known as one.
    for m, path in tracer.paths.items():
        if next(m.children(), None) is None:
            continue
        for pname, p in _own_params(m):
            full_name = f"{path}.{pname}" if path else pname
            tracer.owned_ids[id(twins[full_name] if twins is not None else p)] = (m, pname)
    modes = {m: m.training for m in module.modules()}
    handles = []
    try:
        for m in tracer.paths:
            handles.append(m.register_forward_pre_hook(tracer.pre_hook, with_kwargs=True))
            handles.append(m.register_forward_hook(tracer.post_hook, with_kwargs=True))
        module.eval()
        with torch.no_grad(), _Watch(tracer):
            if twins is not None:
                out = torch.func.functional_call(module, twins, (x,), strict=False)
            else:
                out = module(x)
    except (ArchcalcError, ExportBug):
        raise
    except Exception as err:
        if device.type == "meta":
            raise
        first = (str(err).strip().splitlines() or [""])[0][:160]
        raise ArchcalcError(
            f"the forward on a {fmt_shape(shape)} input fails: {type(err).__name__}: {first}",
            where=tracer.where(),
            hint="check the input shape (C×H×W, without the batch)",
        ) from None
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    _refuse_uncalled(tracer)
    returned = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
    for t in returned:
        poisoned = tracer.poison_of(t)
        if poisoned is not None:
            raise poisoned
    outputs = tuple(n for t in returned if (n := tracer.node_of(t)) is not None)
    if not outputs:
        raise Refusal("(root)", "output", "the forward returns no tensor computed from its input")
    return Traced(
        tracer.nodes,
        tracer.root,
        outputs,
        shape,
        frozenset(tracer.channels_last),
        frozenset(tracer.moves),
        dict(tracer.owned),
    )


def _key(path: str, call: int) -> str:
    """A module call as summarize's rows and the round trip name it."""
    return path if call == 1 else f"{path} (call {call})"


def _own_params(m: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return list(m.named_parameters(recurse=False))


def _constant(p: torch.Tensor) -> float | None:
    """The value every element of ``p`` holds, if one does (a fresh layer scale's init);
    None on the meta device or for trained values, where the kind's default is written."""
    if p.device.type == "meta" or p.numel() == 0 or not p.is_floating_point():
        return None
    with torch.no_grad():
        first = float(p.reshape(-1)[0])
        same = bool((p == first).all())
    return first if same and math.isfinite(first) and abs(first) <= MAX_FLOAT else None


_ELEMENTWISE_FAMILIES = frozenset({"activations"})


def _per_position(module: nn.Module, shape: Shape, path: str) -> Known | None:
    """A leaf module on a channels-last tensor, as the layer it is on the spec's C-first one:
    nn.Linear is ``linear`` with ``per_position``, nn.LayerNorm over the channels
    ``layernorm``, an activation or dropout itself. Anything else is refused: what it does
    depends on where the channels are; a module of no kind is a container (None)."""
    c = shape[0]
    if isinstance(module, nn.Linear) and type(module).forward is nn.Linear.forward:
        read = known_kind(module, (c,))
        if read is not None and module.in_features == c:
            args = dataclasses.replace(read.args, per_position=True)
            return Known("linear", args, (c, 1))
    elif isinstance(module, nn.LayerNorm) and type(module).forward is nn.LayerNorm.forward:
        read = known_kind(module, (c,))
        if read is not None and read.kind == "layernorm":
            return Known("layernorm", read.args, shape)
    else:
        read = known_kind(module, shape)
        if read is None:
            return None  # not a layer: its own code is watched (a Permute's permute)
        traits = kinds.REGISTRY[read.kind].traits
        if traits is not None and (traits.family in _ELEMENTWISE_FAMILIES or traits.pass_through):
            return read
    raise Refusal(
        f"{path} ({type(module).__name__})",
        "permute",
        "it runs on a channels-last tensor (after a permute); a spec writes C first, where "
        "only per-position layers (linear, layer norm, activations) read the same",
    )


def _refuse_shared(model: nn.Module, paths: dict[nn.Module, str]) -> None:
    """One tensor held by two modules (tied weights): each spec layer holds its own."""
    seen: dict[int, str] = {}
    for m, path in paths.items():
        for name, t in [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]:
            here = f"{path}.{name}" if path else name
            first = seen.setdefault(id(t), here)
            if first != here:
                raise Refusal(
                    f"{path or '(root)'} ({type(m).__name__})",
                    "shared weights",
                    f"its {name} is the tensor {first} holds too; each spec layer holds its own",
                )


def _refuse_uncalled(tracer: _Tracer) -> None:
    """Weights forward never reads (an auxiliary head in eval mode) have no layer to sit in."""
    called = set(tracer.calls)
    for m, path in tracer.paths.items():
        if m in called or not tracer.own[m]:
            continue
        # Name the outermost module around it that forward never reached at all.
        while path:
            parent = path.rpartition(".")[0]
            up = tracer.model.get_submodule(parent)
            if up is tracer.model or any(s in called for s in up.modules()):
                break
            m, path = up, parent
        count = sum(p.numel() for p in m.parameters()) + sum(b.numel() for b in m.buffers())
        raise Refusal(
            f"{path} ({type(m).__name__})",
            "not called",
            f"forward never calls it in eval mode, yet it holds {count:,} weights; "
            "a spec holds only what runs, so its state_dict would lack them",
            hint="make the module without it (torchvision's googlenet and inception_v3: "
            "aux_logits=False)",
        )


# torchvision's detection parts that turn feature maps into boxes: what no spec layer does.
_DETECTION = frozenset(
    {"RegionProposalNetwork", "AnchorGenerator", "DefaultBoxGenerator", "RoIHeads"}
)


def _refuse_attention(module: nn.Module) -> None:
    """Attention and detection first, by class: they are why a model cannot be a spec,
    though the forward would stop earlier (at a reshape, or at the list of images)."""
    for path, m in module.named_modules():
        cls = type(m)
        if cls.__name__ in _DETECTION and cls.__module__.startswith("torchvision.models.detection"):
            raise Refusal(
                f"{path or '(root)'} ({cls.__name__})",
                "detection",
                "anchors, box decoding and non-maximum suppression have no spec form",
                hint="export the classification network it is built on (e.g. resnet50) instead",
            )
        if isinstance(m, nn.MultiheadAttention) or "Attention" in cls.__name__:
            raise Refusal(
                f"{path or '(root)'} ({cls.__name__})",
                "attention",
                "a spec has no attention layer (its weights are computed from the input)",
                hint="archcalc writes convolutional networks; `archcalc summary --module` "
                "still counts this one",
            )
