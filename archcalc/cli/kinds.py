"""``archcalc kinds``: the layer kinds and composites a spec can use."""

from __future__ import annotations

import argparse

from archcalc import kinds


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    width = max(len(k) for k in kinds.REGISTRY)
    for name, kind in sorted(kinds.REGISTRY.items()):
        short = f" (shorthand: `{name}: <{kind.main_arg}>`)" if kind.main_arg else ""
        module = f"; torch: {kind.torch_type}" if kind.torch_type else ""
        print(f"{name:<{width}}  {kind.summary}{short}{module}")
    print(f"{'repeat':<{width}}  {{times: N, layers: [...]}}")
    print(
        f"{'residual':<{width}}  {{layers: [...], shortcut: [...]}}"
        "  (shortcut defaults to identity)"
    )
    print(f"{'concat':<{width}}  [[...], [...]]  (branches joined on channels)")
    return 0
