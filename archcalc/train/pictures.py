"""The three pictures a run leaves: curves.png, filters.png and feature_maps.png.

matplotlib is used through its object API on the Agg canvas (never pyplot), so
drawing needs no display and changes no global backend; torchvision's
``make_grid`` and ``save_image`` lay out the image grids. Each picture is drawn
in memory and written with :mod:`archcalc.outfile`, like the checkpoint.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F
from torchvision.utils import make_grid, save_image

from archcalc import outfile
from archcalc.train.loop import EpochMetrics

MAX_TILES = 256  # more filters or channels than this make an unreadable grid
# Small kernels and maps are enlarged (nearest neighbour, so pixels stay visible) to at least:
_FILTER_PX = 48
_MAP_PX = 24
_INPUT_PX = 112


def curves(history: Sequence[EpochMetrics], path: Path, title: str = "") -> None:
    """Training loss, and train and test accuracy, by epoch."""
    epochs = [m.epoch for m in history]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [m.train_loss for m in history], "o-", label="training loss")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_ax.plot(epochs, [100 * m.train_acc for m in history], "o-", label="train")
    acc_ax.plot(epochs, [100 * m.test_acc for m in history], "s-", label="test")
    acc_ax.axhline(99.0, linestyle="--", linewidth=0.8, color="grey", label="99%")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    acc_ax.legend()
    for ax in (loss_ax, acc_ax):
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    _save_figure(fig, path)


def filters(conv: nn.Module, path: Path) -> None:
    """The learned kernels of a convolution as a grid of tiles, each scaled to its own range.

    Three input channels draw as one colour tile per filter; otherwise each
    (filter, input channel) pair is a grey tile, one row per filter.
    """
    weight = getattr(conv, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError("filters() expects a 2-D convolution with a 4-D weight")
    w = weight.detach().float().cpu()
    out_ch, in_ch = w.shape[:2]
    if in_ch in (1, 3):
        tiles, per_row = w[:MAX_TILES], math.ceil(math.sqrt(min(out_ch, MAX_TILES)))
    else:
        keep_in = min(in_ch, 16)
        keep_out = max(1, min(out_ch, MAX_TILES // keep_in))
        tiles = w[:keep_out, :keep_in].reshape(-1, 1, *w.shape[2:])
        per_row = keep_in
    grid = make_grid(
        _enlarge(tiles, _FILTER_PX),
        nrow=per_row,
        padding=2,
        normalize=True,
        scale_each=True,
        pad_value=1.0,
    )
    buffer = io.BytesIO()
    save_image(grid, buffer, format="png")
    outfile.write_bytes(path, buffer.getvalue())


def first_image_of(labels: torch.Tensor, label: int) -> int:
    """Index of the first image with ``label`` (0 when the data has none)."""
    hits = (labels == label).nonzero()
    return int(hits[0, 0]) if hits.numel() else 0


def feature_maps(
    model: nn.Module,
    image: torch.Tensor,
    layers: Sequence[tuple[str, nn.Module]],
    path: Path,
    title: str = "",
) -> list[str]:
    """``image`` (C, H, W, as the model takes it) and every channel of each layer's output.

    Returns the label of each row drawn, top to bottom.
    """
    captured: dict[str, torch.Tensor] = {}

    def hook_for(name: str) -> Callable[[nn.Module, object, torch.Tensor], None]:
        def hook(module: nn.Module, args: object, output: torch.Tensor) -> None:
            captured.setdefault(name, output[0].detach().float().cpu())

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in layers]
    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        model.eval()
        with torch.inference_mode():
            model(image.unsqueeze(0).to(device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()

    shown = image.detach().float().cpu()
    rows: list[tuple[str, torch.Tensor]] = [
        (f"input {_dims(tuple(shown.shape))}", _grid(shown, _INPUT_PX))
    ]
    for name, _ in layers:
        if name in captured and captured[name].dim() == 3:
            out = captured[name]
            rows.append((f"{name} {_dims(tuple(out.shape))}", _grid(out, _MAP_PX)))
    # Every row is drawn at the same scale (pixels of the widest grid), left-aligned, so a
    # layer with few channels is not stretched to the full width.
    widest = max(g.shape[2] for _, g in rows)
    width = 10.0
    heights = [width * g.shape[1] / widest for _, g in rows]
    fig = Figure(
        figsize=(width, sum(heights) + 0.4 * len(rows) + (0.5 if title else 0)),
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, (label, grid) in zip(axes[:, 0], rows, strict=True):
        h, w = grid.shape[1:]
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest", extent=(0, w, h, 0))
        ax.set_xlim(0, widest)
        ax.set_ylim(h, 0)
        ax.set_title(label, loc="left", fontsize=10)
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    _save_figure(fig, path)
    return [label for label, _ in rows]


def conv_and_pool_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's 2-D convolution and pooling layers by name (for modules not from a spec)."""
    kinds = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
    return [(name, m) for name, m in model.named_modules() if name and isinstance(m, kinds)]


def _grid(maps: torch.Tensor, min_px: int) -> torch.Tensor:
    """(C, h, w) → one RGB grid image in [0, 1], a tile per channel, each scaled to its range."""
    tiles = _enlarge(maps[:MAX_TILES].unsqueeze(1), min_px)
    return make_grid(
        tiles,
        nrow=min(tiles.shape[0], 16),
        padding=2,
        normalize=True,
        scale_each=True,
        pad_value=1.0,
    )


def _enlarge(tiles: torch.Tensor, min_px: int) -> torch.Tensor:
    factor = max(1, math.ceil(min_px / max(tiles.shape[-2:])))
    return F.interpolate(tiles, scale_factor=factor, mode="nearest") if factor > 1 else tiles


def _save_figure(fig: Figure, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    outfile.write_bytes(path, buffer.getvalue())


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(int(d)) for d in shape)
