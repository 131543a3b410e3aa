"""What a torch module really holds in memory on CPU: the yardstick for archcalc's estimates.

- ``saved_bytes``: the tensors autograd saves for backward during one forward pass,
  counted with ``torch.autograd.graph.saved_tensors_hooks`` and deduplicated by storage
  (a tensor saved by two ops, or a view of it, is held once); the module's own parameters
  and buffers are left out, as they are resident anyway.
- ``inference_peak`` and ``training_peak``: the most bytes live at once, read from the
  allocator. ``torch.profiler`` with ``profile_memory=True`` records every allocation and
  free of the CPU allocator (its ``[memory]`` events: bytes, signed, in time order); the
  peak is the bytes live when profiling starts (the tensors the caller holds: parameters,
  buffers, optimizer state, the batch) plus the highest running sum of those events.
  Nothing is sampled: every allocation, a kernel's scratch included, is seen. Allocations
  made outside torch's allocator (a BLAS library's own buffers) are not, on any device.

On a CUDA device (the module and batch on it) the peaks are
``torch.cuda.max_memory_allocated`` over the same passes, the allocated bytes before them
included; the caching allocator's reserved but unused memory is not counted.

A training step is measured in its steady state: one step runs first (it creates the
optimizer's state), then ``zero_grad(set_to_none=True)``, and the second step (forward,
cross-entropy loss, backward, optimizer step) is profiled. Mixed precision is autocast
around the forward pass and the loss, float32 parameters, as the training recipe uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _autocast(dtype: str, device: str = "cpu") -> AbstractContextManager[object]:
    if dtype == "float32":
        return nullcontext()
    return torch.autocast(device, dtype=DTYPES[dtype])


def _resident(module: nn.Module) -> set[int]:
    return {_storage(t) for t in (*module.parameters(), *module.buffers())}


def saved_bytes(module: nn.Module, x: torch.Tensor, dtype: str = "float32") -> int:
    """Bytes autograd saves for backward in one training-mode forward pass of ``x``,
    each storage once, the module's parameters and buffers left out."""
    resident = _resident(module)
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _storage(t)
        if key not in resident:
            seen[key] = t.untyped_storage().nbytes()
        return t

    module.train()
    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        _autocast(dtype, x.device.type),
    ):
        out = module(x)
    del out
    return sum(seen.values())


def _live_bytes(tensors: Iterator[torch.Tensor]) -> int:
    storages: dict[int, int] = {}
    for t in tensors:
        storages[_storage(t)] = t.untyped_storage().nbytes()
    return sum(storages.values())


def _peak(run: Callable[[], None], resident: int, device: str) -> int:
    """``resident`` plus the highest running sum of the allocator's events while ``run`` runs
    (on CUDA: the allocator's own peak, which counts what was allocated before)."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated())
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = [
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]"
    ]
    events.sort(key=lambda e: e[0])
    live = best = 0
    for _, nbytes in events:
        live += nbytes
        best = max(best, live)
    return resident + best


def inference_peak(module: nn.Module, x: torch.Tensor, dtype: str = "float32") -> int:
    """The most bytes live during one eval-mode forward pass without grad, the module's
    parameters and buffers and the batch included."""
    module.eval()
    resident = _live_bytes(iter((*module.parameters(), *module.buffers(), x)))

    def run() -> None:
        with torch.no_grad(), _autocast(dtype, x.device.type):
            out = module(x)
        del out

    return _peak(run, resident, x.device.type)


def targets(out: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Class indices for cross-entropy over ``out``'s axis 1 (one per sample and position)."""
    shape = (out.shape[0], *out.shape[2:])
    return torch.randint(0, out.shape[1], shape, generator=generator)


def loss_of(
    out: torch.Tensor | tuple[torch.Tensor, ...], target: list[torch.Tensor]
) -> torch.Tensor:
    """Cross-entropy over axis 1 of every output, summed."""
    outs = out if isinstance(out, tuple) else (out,)
    total = nn.functional.cross_entropy(outs[0], target[0])
    for o, t in zip(outs[1:], target[1:], strict=True):
        total = total + nn.functional.cross_entropy(o, t)
    return total


OPTIMIZERS: dict[str, Callable[[list[nn.Parameter]], torch.optim.Optimizer]] = {
    "sgd": lambda p: torch.optim.SGD(p, lr=1e-3),
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3),
}


def training_peak(
    module: nn.Module, x: torch.Tensor, optimizer: str = "adam", dtype: str = "float32"
) -> int:
    """The most bytes live during one steady-state training step (see the module docstring),
    the parameters, their gradients, the optimizer's state and the batch included."""
    module.train()
    params = [p for p in module.parameters() if p.requires_grad]
    opt = OPTIMIZERS[optimizer](params)
    with torch.no_grad():
        probe = module(x)
    outs = probe if isinstance(probe, tuple) else (probe,)
    target = [targets(o).to(x.device) for o in outs]
    del probe, outs

    def step() -> None:
        with _autocast(dtype, x.device.type):
            out = module(x)
            loss = loss_of(out, target)
        del out
        loss.backward()
        opt.step()
        del loss

    step()
    opt.zero_grad(set_to_none=True)
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    resident = _live_bytes(iter((*module.parameters(), *module.buffers(), *state, x, *target)))
    return _peak(step, resident, x.device.type)
