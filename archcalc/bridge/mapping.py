"""Load torchvision weights into the module ``archcalc.build`` makes from a zoo spec.

A mapping is a reviewable JSON file (``archcalc/bridge/mappings/<name>.json``):
a list of ``[torchvision module, archcalc module]`` pairs, where ``{name}``
stands for a whole number carried from one side to the other and everything
else is literal::

    ["layer{stage}.{block}.downsample.0", "layer{stage}_{block}.res.shortcut.conv"]

A state_dict key is a module path plus a tensor name (``weight``,
``running_mean``, …); the rules rename the module path and keep the tensor
name. Every key must match exactly one rule, and the renamed keys must be
exactly the model's keys, with the same shapes: anything else is an
:class:`ArchcalcError` naming the key, never a silent partial load. One
difference of shape is the same weight: a target that only adds trailing
size-1 axes (ConvNeXt's pointwise ``nn.Linear``, out×in, written in its spec
as a 1×1 conv, out×in×1×1) takes the tensor reshaped.

Most mappings are written by ``benchmarks/make_mapping.py NAME``, which pairs
the two state_dicts in execution order and compresses the pairs into rules.

>>> import archcalc, torchvision
>>> from archcalc.bridge.mapping import load_torchvision_weights
>>> model = archcalc.build(archcalc.load("examples/alexnet.yaml"))
>>> _ = load_torchvision_weights(model, "alexnet", torchvision.models.alexnet())
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

import torch
from torch import nn

from archcalc.errors import ArchcalcError, suggest
from archcalc.kinds.base import fmt_shape

M = TypeVar("M", bound=nn.Module)
StateDict = Mapping[str, torch.Tensor]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Rule:
    """One ``[torchvision, archcalc]`` pair of module paths."""

    source: str
    target: str
    regex: re.Pattern[str]

    def rename(self, module: str) -> str | None:
        """The archcalc module path for torchvision's ``module``, or None if this rule misses."""
        found = self.regex.fullmatch(module)
        if found is None:
            return None
        return _PLACEHOLDER.sub(lambda m: found[m[1]], self.target)


@dataclass(frozen=True)
class KeyMapping:
    """The rules that rename one torchvision model's state_dict keys, and their ``file``."""

    name: str
    file: str
    rules: tuple[Rule, ...]

    def target(self, key: str) -> str:
        """The archcalc state_dict key for torchvision's ``key``."""
        module, _, tensor = key.rpartition(".")
        hits = [(rule, new) for rule in self.rules if (new := rule.rename(module)) is not None]
        if not hits:
            raise ArchcalcError(
                f"torchvision key `{key}` matches no rule of the {self.name} mapping",
                file=self.file,
                hint=f"is this the state_dict of torchvision's {self.name}?",
            )
        if len(hits) > 1:
            raise ArchcalcError(
                f"torchvision key `{key}` matches two rules, `{hits[0][0].source}` and "
                f"`{hits[1][0].source}`",
                file=self.file,
                hint="make the rules exclusive",
            )
        return f"{hits[0][1]}.{tensor}" if module else f"{hits[0][1]}{tensor}"


def available() -> tuple[str, ...]:
    """The names of the shipped mappings (one per zoo spec with torchvision weights)."""
    folder = resources.files("archcalc.bridge") / "mappings"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json")))


def load_mapping(name_or_path: str | os.PathLike[str]) -> KeyMapping:
    """A shipped mapping by name (``"resnet18"``), or a mapping JSON file of your own."""
    text_name = os.fspath(name_or_path)
    if text_name in available():
        folder = resources.files("archcalc.bridge") / "mappings"
        text = (folder / f"{text_name}.json").read_text(encoding="utf-8")
        file = f"archcalc/bridge/mappings/{text_name}.json"
        return parse_mapping(json.loads(text), text_name, file)
    if not os.path.isfile(text_name):
        raise ArchcalcError(
            f"no mapping called `{text_name}`",
            hint=suggest(text_name, available())
            or f"shipped mappings: {', '.join(available())}; or give a .json file",
        )
    try:
        with open(text_name, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArchcalcError(f"cannot read the mapping: {err}", file=text_name) from None
    stem = os.path.splitext(os.path.basename(text_name))[0]
    return parse_mapping(data, stem, text_name)


def parse_mapping(data: Any, name: str, file: str) -> KeyMapping:
    """Validate a mapping's JSON data: ``{"modules": [[torchvision, archcalc], ...]}``."""
    pairs = data.get("modules") if isinstance(data, dict) else None
    if not isinstance(pairs, list) or not pairs:
        raise ArchcalcError(
            "a mapping expects `modules`: a list of [torchvision, archcalc] pairs", file=file
        )
    rules = []
    for i, pair in enumerate(pairs):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(p, str) for p in pair)
        ):
            raise ArchcalcError(
                f"expects a pair of module paths, but gets {pair!r}",
                file=file,
                where=f"modules[{i}]",
            )
        rules.append(_rule(pair[0], pair[1], file, f"modules[{i}]"))
    return KeyMapping(name=str(data.get("torchvision", name)), file=file, rules=tuple(rules))


def _rule(source: str, target: str, file: str, where: str) -> Rule:
    names = _PLACEHOLDER.findall(source)
    if len(set(names)) != len(names):
        raise ArchcalcError(f"`{source}` uses a placeholder twice", file=file, where=where)
    unknown = set(_PLACEHOLDER.findall(target)) - set(names)
    if unknown:
        raise ArchcalcError(
            f"`{target}` uses {{{sorted(unknown)[0]}}}, which `{source}` does not define",
            file=file,
            where=where,
        )
    parts = _PLACEHOLDER.split(source)  # literal, name, literal, name, …, literal
    regex = "".join(
        re.escape(part) if i % 2 == 0 else rf"(?P<{part}>\d+)" for i, part in enumerate(parts)
    )
    return Rule(source=source, target=target, regex=re.compile(regex))


def _mapping(name_or_mapping: KeyMapping | str | os.PathLike[str]) -> KeyMapping:
    if isinstance(name_or_mapping, KeyMapping):
        return name_or_mapping
    return load_mapping(name_or_mapping)


def _tensors(state_dict: StateDict | nn.Module) -> StateDict:
    return state_dict.state_dict() if isinstance(state_dict, nn.Module) else state_dict


def torchvision_state_dict(
    name_or_mapping: KeyMapping | str | os.PathLike[str],
    state_dict: StateDict | nn.Module,
) -> dict[str, torch.Tensor]:
    """Torchvision's state_dict with its keys renamed to the built spec's module paths.

    ``state_dict`` may also be the torchvision model itself. Only the keys
    change; :func:`load_torchvision_weights` also checks them against a model.
    """
    mapping = _mapping(name_or_mapping)
    tensors = _tensors(state_dict)
    out: dict[str, torch.Tensor] = {}
    came_from: dict[str, str] = {}
    for key, tensor in tensors.items():
        new = mapping.target(key)
        if new in out:
            raise ArchcalcError(
                f"torchvision keys `{came_from[new]}` and `{key}` both map to `{new}`",
                file=mapping.file,
                hint="make the rules' targets distinct",
            )
        out[new] = tensor
        came_from[new] = key
    return out


def load_torchvision_weights(
    model: M,
    name_or_mapping: KeyMapping | str | os.PathLike[str],
    state_dict: StateDict | nn.Module,
) -> M:
    """Load torchvision weights into ``model`` (from ``archcalc.build``); returns ``model``.

    Every model key must be filled, every torchvision key used, and every
    shape must agree; otherwise an :class:`ArchcalcError` names the key and
    nothing is loaded.
    """
    mapping = _mapping(name_or_mapping)
    tensors = _tensors(state_dict)
    converted = torchvision_state_dict(mapping, tensors)
    source = {mapping.target(key): key for key in tensors}
    expected = model.state_dict()
    missing = [k for k in expected if k not in converted]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ArchcalcError(
            f"the model expects `{missing[0]}`{more}, but no torchvision key maps to it",
            file=mapping.file,
            hint="is the model built from the mapping's spec?",
        )
    unexpected = [k for k in converted if k not in expected]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise ArchcalcError(
            f"torchvision key `{source[unexpected[0]]}` maps to `{unexpected[0]}`{more}, "
            "which the model does not have",
            file=mapping.file,
            hint="is the model built from the mapping's spec?",
        )
    for key, want in expected.items():
        got = converted[key]
        if _adds_unit_axes(tuple(got.shape), tuple(want.shape)):
            converted[key] = got = got.reshape(want.shape)
        if tuple(got.shape) != tuple(want.shape):
            raise ArchcalcError(
                f"`{key}` expects shape {fmt_shape(tuple(want.shape))}, but torchvision key "
                f"`{source[key]}` has {fmt_shape(tuple(got.shape))}",
                file=mapping.file,
                hint="was the spec changed (channels, classes) since the mapping was written?",
            )
    model.load_state_dict(converted, strict=True)
    return model


def _adds_unit_axes(got: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether ``want`` is ``got`` with trailing size-1 axes (a linear's weight as a 1×1 conv's)."""
    return len(want) > len(got) and want[: len(got)] == got and set(want[len(got) :]) == {1}
