"""Write archcalc/bridge/mappings/NAME.json for a zoo spec from torchvision's own model.

Builds examples/NAME.yaml and torchvision's NAME (no weights), pairs their
state_dicts in execution order (every pair must agree in tensor name and in
shape, a pointwise nn.Linear's out×in standing for a 1×1 conv's out×in×1×1),
and turns the module pairs into rules: a family of modules whose paths differ
only in numbers carried unchanged from torchvision's path to archcalc's
becomes one rule with ``{placeholders}``, the rest stay literal pairs. A rule
that would also catch a module of another family is split until every module
matches exactly one rule. The file is then loaded back and checked strictly
against the built model before it is kept.

    python -m benchmarks.make_mapping resnet50 [--about "why the names differ"]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision

import archcalc
from archcalc.bridge.mapping import load_torchvision_weights, parse_mapping

ROOT = Path(__file__).resolve().parent.parent
# The arguments each spec follows (see tests/bridge/test_zoo.py): weights never downloaded.
KWARGS: dict[str, dict[str, Any]] = {
    "inception_v3": {"aux_logits": False, "init_weights": False},
    "fcn_resnet50": {"weights_backbone": None, "aux_loss": False},
}
_NUMBER = re.compile(r"(\d+)")

Pair = tuple[str, str]  # (torchvision module, archcalc module)
# A path cut at its numbers: the text between them, and the numbers.
Cut = tuple[tuple[str, ...], tuple[int, ...]]


def run_order(keys: Sequence[str]) -> list[str]:
    """torchvision's keys in the order its layers use them: a state_dict lists a module's own
    parameters before its children's, but ConvNeXt's block applies ``layer_scale`` last."""
    out = list(keys)
    for key in [k for k in out if k.endswith(".layer_scale")]:
        out.remove(key)
        owner = key[: -len("layer_scale")]
        out.insert(max(i for i, k in enumerate(out) if k.startswith(owner)) + 1, key)
    return out


def module_pairs(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> list[Pair]:
    """The module pairs, in torchvision's execution order, from pairing keys by position."""
    if len(ours) != len(theirs):
        sys.exit(f"archcalc has {len(ours)} tensors, torchvision {len(theirs)}")
    pairs: dict[str, str] = {}
    for key, their_key in zip(ours, run_order(list(theirs)), strict=True):
        module, _, tensor = key.rpartition(".")
        their_module, _, their_tensor = their_key.rpartition(".")
        mine, their = tuple(ours[key].shape), tuple(theirs[their_key].shape)
        trailing_ones = mine[: len(their)] == their and set(mine[len(their) :]) <= {1}
        if tensor != their_tensor or not trailing_ones:
            sys.exit(f"`{their_key}` {their} does not pair with `{key}` {mine}")
        if pairs.setdefault(their_module, module) != module:
            sys.exit(f"`{their_module}` pairs with both `{pairs[their_module]}` and `{module}`")
    return list(pairs.items())


def _cut(path: str) -> Cut:
    parts = _NUMBER.split(path)
    return tuple(parts[::2]), tuple(int(n) for n in parts[1::2])


def _write(texts: tuple[str, ...], slots: Sequence[str]) -> str:
    return "".join(t + s for t, s in zip(texts, [*slots, ""], strict=True))


def rule_for(family: list[Pair]) -> tuple[Pair, list[list[Pair]]]:
    """The rule for a family sharing one shape of paths, or the family split in two or more
    (by the archcalc numbers that no torchvision number carries) when one rule cannot say it."""
    cuts = [(_cut(src), _cut(dst)) for src, dst in family]
    (src_texts, src_nums), (dst_texts, dst_nums) = cuts[0]
    columns = [[c[0][1][k] for c in cuts] for k in range(len(src_nums))]
    varying = [k for k, col in enumerate(columns) if len(set(col)) > 1]
    names = {k: f"{{{chr(ord('a') + i)}}}" for i, k in enumerate(varying)}
    src_slots = [names.get(k, str(n)) for k, n in enumerate(src_nums)]
    dst_slots, unexplained = [], []
    for m in range(len(dst_nums)):
        col = [c[1][1][m] for c in cuts]
        carriers = [k for k in varying if columns[k] == col]
        if len(set(col)) == 1:
            dst_slots.append(str(col[0]))
        elif carriers:
            dst_slots.append(names[carriers[0]])
        else:
            unexplained.append(m)
    if unexplained:
        return ("", ""), _split(family, lambda p: tuple(_cut(p[1])[1][m] for m in unexplained))
    return (_write(src_texts, src_slots), _write(dst_texts, dst_slots)), []


def _split(family: list[Pair], key: Any) -> list[list[Pair]]:
    groups: dict[Any, list[Pair]] = {}
    for pair in family:
        groups.setdefault(key(pair), []).append(pair)
    return list(groups.values())


def _regex(source: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z]\}", source)
    return re.compile(r"\d+".join(re.escape(p) for p in parts))


def compress(pairs: list[Pair]) -> list[Pair]:
    """The fewest rules this simple search finds, each module matched by exactly one."""
    order = {src: i for i, (src, _) in enumerate(pairs)}
    todo = _split(pairs, lambda pair: (_cut(pair[0])[0], _cut(pair[1])[0]))
    done: list[tuple[Pair, list[Pair]]] = []
    while todo:
        family = todo.pop()
        rule, parts = rule_for(family)
        if parts:
            todo.extend(parts)
        else:
            done.append((rule, family))
    while True:
        # A placeholder rule that also catches another family's module is split by one of its
        # torchvision numbers, preferring the one that ends every such catch.
        clash = None
        for i, (rule, family) in enumerate(done):
            mine = {src for src, _ in family}
            caught = [src for src in order if src not in mine and _regex(rule[0]).fullmatch(src)]
            if caught:
                clash = i, caught
                break
        if clash is None:
            break
        i, caught = clash
        (rule, family) = done.pop(i)
        _, nums = _cut(family[0][0])
        slots = [k for k in range(len(nums)) if len({_cut(s)[1][k] for s, _ in family}) > 1]
        own = {k: {_cut(s)[1][k] for s, _ in family} for k in slots}
        ending = [k for k in slots if all(_cut(c)[1][k] not in own[k] for c in caught)]
        k = (ending or slots)[0]
        for part in _split(family, lambda pair, k=k: _cut(pair[0])[1][k]):
            rule, parts = rule_for(part)
            assert not parts  # a part of an expressible family is expressible
            done.append((rule, part))
    done.sort(key=lambda item: min(order[src] for src, _ in item[1]))
    return [rule for rule, _ in done]


def build_pair(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    theirs = torchvision.models.get_model(name, weights=None, **KWARGS.get(name, {}))
    ours = archcalc.build(archcalc.load(ROOT / "examples" / f"{name}.yaml"))
    return ours, theirs


def render(name: str, about: str, rules: list[Pair]) -> str:
    """The JSON text: the header fields, then one rule a line, in torchvision's order."""
    head = {"torchvision": name, "spec": f"examples/{name}.yaml", "about": about}
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    body = ",\n".join(f"    {json.dumps(list(rule))}" for rule in rules)
    return "{\n" + "\n".join(lines) + '\n  "modules": [\n' + body + "\n  ]\n}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", help="a zoo spec examples/NAME.yaml named after torchvision's")
    parser.add_argument("--about", default=None, help="the file's `about` line")
    args = parser.parse_args(argv)
    name: str = args.name
    out = ROOT / "archcalc" / "bridge" / "mappings" / f"{name}.json"
    ours, theirs = build_pair(name)
    pairs = module_pairs(ours.state_dict(), theirs.state_dict())
    rules = compress(pairs)
    about = args.about or (
        "generated by benchmarks/make_mapping.py from the execution-order pairing of "
        "torchvision's state_dict with the built spec's; {name} stands for a whole number "
        "carried over, dots are literal"
    )
    text = render(name, about, rules)
    mapping = parse_mapping(json.loads(text), name, str(out.relative_to(ROOT)))
    load_torchvision_weights(ours, mapping, theirs)  # strict: raises on any gap
    out.write_text(text, encoding="utf-8")
    print(f"{out.relative_to(ROOT)}: {len(rules)} rules for {len(pairs)} modules")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
