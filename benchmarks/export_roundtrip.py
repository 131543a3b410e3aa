"""`archcalc export` over every CNN of torchvision 0.29 (classification, segmentation, video).

For each model of tests/bridge/test_export.py's list: export it folded and
flat at its usual input (3×224×224; 3×299×299 for inception_v3; 3×16×112×112
for the video CNNs, 3×16×224×224 for S3D), compare the folded spec's numbers
with `summarize(module)` (total parameters and MACs; every module call's
output shape, parameters, MACs and receptive field), then build the spec,
load the module's state_dict strictly and compare the outputs of the two at
a small input (the module made with real weights, ConvNeXt's layer scales
drawn away from 1e-6 so that its blocks show; models above --max-params skip
this step and say so). Expected refusals (attention, detection) must refuse
with the listed module and op. Prints one Markdown table; exit status 1 if any row fails.

    python benchmarks/export_roundtrip.py [--models resnet50,densenet121] [--max-params 150e6]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archcalc.bridge.export import Refusal, export_model
from archcalc.bridge.export.roundtrip import check
from tests.bridge.test_export import DETECTION, MODELS, Case


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "")


def _make(case: Case) -> torch.nn.Module:
    """The module on the meta device where its constructor allows it (RegNet's does not)."""
    try:
        return case.make("meta")
    except Exception:
        return case.make()


def _visible_scales(module: torch.nn.Module) -> torch.nn.Module:
    """ConvNeXt's layer scales start at 1e-6, which all but hides its blocks in the logits:
    drawn in [0.5, 1.5) instead, so that a block the spec got wrong would show."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.5, 1.5)
    return module


def _row(case: Case, max_params: float) -> tuple[list[str], bool]:
    start = time.perf_counter()
    module = _make(case)
    params = sum(p.numel() for p in module.parameters())
    try:
        folded = export_model(module, case.shape, name=case.name)
    except Refusal as err:
        took = time.perf_counter() - start
        ok = case.refusal is not None and (err.where or "").startswith(case.refusal[0])
        ok = ok and case.refusal is not None and case.refusal[1] in str(err)
        what = "refused as expected" if ok else "REFUSED"
        cells = [case.id, what, "", "", f"{params:,}", "", "", "", _cell(str(err))]
        return [*cells, f"{took:.1f}"], ok
    if case.refusal is not None:
        return [case.id, "EXPORTED, expected a refusal", *[""] * 8], False
    flat = export_model(module, case.shape, name=case.name, flat=True)
    took = time.perf_counter() - start
    numbers = check(module, case.shape, folded, logits=False)
    problems = list(numbers.problems)
    diff = "skipped (over --max-params)"
    if params <= max_params:
        torch.manual_seed(0)
        real = _visible_scales(case.make())
        small = export_model(real, case.small, name=case.name)
        run = check(real, case.small, small)
        problems += [f"at {case.small}: {p}" for p in run.problems]
        diff = f"{run.logits_diff:.1e}" if run.logits_diff is not None else "-"
    ok = not problems
    fields = f"{numbers.layers - numbers.fields_unknown}/{numbers.layers}"
    return [
        case.id,
        "ok" if ok else "FAIL: " + "; ".join(problems[:3]),
        str(len(folded.text.splitlines())),
        str(len(flat.text.splitlines())),
        f"{numbers.params:,}",
        f"{numbers.macs:,}" if numbers.macs is not None else "-",
        str(numbers.layers),
        fields,
        diff,
        f"{took:.1f}",
    ], ok


def _detection_row(name: str) -> tuple[list[str], bool]:
    import torchvision

    where, op = DETECTION[name]
    start = time.perf_counter()
    with torch.device("meta"):
        module = getattr(torchvision.models.detection, name)(weights=None, weights_backbone=None)
    try:
        export_model(module, (3, 224, 224))
    except Refusal as err:
        ok = (err.where or "").startswith(where) and op in str(err)
        took = time.perf_counter() - start
        what = "refused as expected" if ok else "REFUSED"
        return [name, what, "", "", "", "", "", "", _cell(str(err)), f"{took:.1f}"], ok
    return [name, "EXPORTED, expected a refusal", *[""] * 8], False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", help="comma-separated names (default: all)")
    parser.add_argument("--max-params", type=float, default=150e6)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    wanted = set(args.models.split(",")) if args.models else None
    header = [
        "model",
        "result",
        "lines",
        "lines --flat",
        "params",
        "MACs",
        "layers",
        "fields",
        "max |Δ logits| / refusal",
        "export s",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    failed = 0
    rows = 0
    for case in MODELS:
        if wanted is not None and case.name not in wanted:
            continue
        cells, ok = _row(case, args.max_params)
        failed += not ok
        rows += 1
        print("| " + " | ".join(cells) + " |", flush=True)
    for name in sorted(DETECTION):
        if wanted is not None and name not in wanted:
            continue
        cells, ok = _detection_row(name)
        failed += not ok
        rows += 1
        print("| " + " | ".join(cells) + " |", flush=True)
    print(
        f"\n{rows - failed} of {rows} as expected. fields: module calls whose receptive field "
        "was compared / all (summarize cannot follow some functional ops); logits at the "
        "small input of the test's list, the module's own weights loaded strictly."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
