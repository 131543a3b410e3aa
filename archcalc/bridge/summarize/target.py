"""``pkg.mod:attr(key=value, ...)`` targets: import ``attr`` and make the module it names."""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from torch import nn

from archcalc.errors import ArchcalcError, suggest


def load_target(target: str) -> nn.Module:
    """The module ``target`` names: an instance as is, a class or factory called.

    ``weights=None`` (and ``weights_backbone=None``) goes to a factory that takes it,
    so nothing is downloaded; every failure is an ArchcalcError naming the target.
    """
    mod_name, sep, rest = target.partition(":")
    if not sep or not mod_name or not rest:
        raise ArchcalcError(
            f"--module expects PKG.MOD:NAME, but gets {target!r}",
            hint="e.g. torchvision.models:resnet18",
        )
    attr, kwargs = _parse_call(rest, target)
    # Like `python -m`, find the user's own modules in the current folder, even when
    # run through the `archcalc` script (whose sys.path does not hold it).
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        # A module that prints while it loads must not spoil `--json` on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            obj: Any = importlib.import_module(mod_name)
    # SystemExit too: a script-like module calling sys.exit() must not end archcalc silently.
    except (Exception, SystemExit) as err:
        if isinstance(err, ModuleNotFoundError) and _is_parent(err.name, mod_name):
            raise ArchcalcError(
                f"cannot import `{mod_name}`: {type(err).__name__}: {_first_line(err)}",
                hint="check the module name and that it is installed",
            ) from None
        raise ArchcalcError(
            f"importing `{mod_name}` fails: {_what_happened(err)}",
            hint=f"the error is in `{mod_name}` or what it imports; "
            f"try `python -c 'import {mod_name}'`",
        ) from None
    finally:
        if added:
            sys.path.remove(cwd)
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise ArchcalcError(
                f"`{mod_name}` has no attribute `{attr}`", hint=suggest(part, names)
            ) from None
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        if kwargs:
            raise ArchcalcError(f"`{attr}` is a module instance; it takes no arguments")
        return obj
    if not callable(obj):
        raise ArchcalcError(
            f"`{target}` expects an nn.Module, a class or a factory, but gets {type(obj).__name__}"
        )
    for name in _weight_arguments(obj):  # torchvision's `weights` and `weights_backbone`
        if kwargs.get(name) is not None:
            raise ArchcalcError(
                "archcalc never downloads weights, but the target asks for "
                f"{name}={kwargs[name]!r}",
                hint=f"leave `{name}` out",
            )
        kwargs[name] = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            made = obj(**kwargs)
    except (Exception, SystemExit) as err:
        raise ArchcalcError(
            f"calling `{target}` fails: {_what_happened(err)}",
            hint="give a class or factory that needs no arguments, or write "
            "them as PKG.MOD:NAME(key=value)",
        ) from None
    if not isinstance(made, nn.Module):
        raise ArchcalcError(
            f"`{target}` expects to give an nn.Module, but gives {type(made).__name__}"
        )
    return made


def _is_parent(name: str | None, mod_name: str) -> bool:
    """Whether the module not found is ``mod_name`` itself or a package above it."""
    return name is not None and (mod_name == name or mod_name.startswith(name + "."))


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0]


def _what_happened(err: BaseException) -> str:
    """``SystemExit(3)`` → ``it calls sys.exit(3)``; an exception → ``Type: first line``."""
    if isinstance(err, SystemExit):
        return f"it calls sys.exit({err.code!r})"
    first = _first_line(err)
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def _parse_call(text: str, target: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name(key=literal, ...)`` → (name, kwargs), never evaluating code."""
    try:
        node = ast.parse(text, mode="eval").body
        if isinstance(node, ast.Call) and not node.args:
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            if len(kwargs) == len(node.keywords):
                return ast.unparse(node.func), kwargs
        elif isinstance(node, (ast.Name, ast.Attribute)):
            return text, {}
    except (SyntaxError, ValueError):
        pass
    raise ArchcalcError(
        f"--module expects PKG.MOD:NAME or PKG.MOD:NAME(key=value, ...), but gets {target!r}",
        hint="values must be literals",
    )


def _weight_arguments(obj: Callable[..., Any]) -> tuple[str, ...]:
    """The pretrained-weight arguments ``obj`` takes (a detection model's backbone has its
    own, and downloads them by default)."""
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return ()
    return tuple(n for n in ("weights", "weights_backbone") if n in params)
