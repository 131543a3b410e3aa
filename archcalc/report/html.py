"""Build the HTML report: one self-contained page (inline CSS and JS, no network at view time).

Python does all the arithmetic and number formatting (so the page says exactly
what ``archcalc summary`` says); ``report.js`` only lays the numbers out. The
data travels as JSON inside a ``<script type="application/json">`` block with
``<``, ``>`` and ``&`` escaped, and everything else is HTML-escaped: a spec's
name is untrusted text. A Content-Security-Policy allows only this page's own
script and style (by hash) and no fetches at all, as a second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from archcalc import kinds
from archcalc.analysis.memory import binary_size, estimate
from archcalc.analysis.receptive import ReceptiveField, axes_text, number_text
from archcalc.analysis.result import Analysis, Row
from archcalc.kinds.base import RANK_SHAPES, Shape, fmt_shape
from archcalc.render.columns import COLUMNS, cells, count, rf_text, share_text, total_cells


@dataclass(frozen=True)
class Finding:
    """One lint finding, as the report lists it."""

    message: str
    path: str = ""
    code: str = ""
    severity: str = ""


def lint_findings(analysis: Analysis, ignore: Iterable[str] = ()) -> tuple[Finding, ...] | None:
    """``archcalc.design.lint.lint(analysis, ignore=...)``'s findings; None without lint.

    Lint is a separate module; the report uses it when it is there, and reads
    only ``.findings`` from its result and ``message``, ``path``, ``code`` and
    ``severity`` from each finding.
    """
    try:
        module = importlib.import_module("archcalc.design.lint")
    except ImportError:
        return None
    run = getattr(module, "lint", None)
    if not callable(run):
        return None
    result = run(analysis, ignore=tuple(ignore))
    return tuple(_as_finding(f) for f in getattr(result, "findings", result))


def _as_finding(obj: object) -> Finding:
    if isinstance(obj, Finding):
        return obj
    message = getattr(obj, "message", None)
    return Finding(
        message=str(obj if message is None else message),
        path=str(getattr(obj, "path", None) or ""),
        code=str(getattr(obj, "code", None) or ""),
        severity=str(getattr(obj, "severity", None) or ""),
    )


def render_report(
    analysis: Analysis,
    findings: Sequence[Finding] | None = None,
    *,
    source: str | None = None,
) -> str:
    """The whole HTML page for ``analysis``.

    ``findings`` are lint findings to list (None: ask :func:`lint_findings`);
    ``source`` names the spec file in the page's subtitle.
    """
    if findings is None:
        findings = lint_findings(analysis)
    css = _asset("report.css")
    js = _asset("report.js")
    csp = (
        f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    name = html.escape(analysis.name)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="archcalc">',
        f"<title>{name} — archcalc report</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
        _header(analysis, source),
        "<main>",
        _SECTIONS,
        _findings(findings, analysis.notes),
        _layer_table(analysis),
        "</main>",
        f"<footer>Made by <b>archcalc</b> {_ORIGIN.get(analysis.source, '')}. "
        "Shapes exclude the batch; memory is float32 at batch 1.</footer>",
        '<script type="application/json" id="archcalc-data">'
        f"{script_json(report_data(analysis))}</script>",
        f"<script>{js}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


_ORIGIN = {"spec": "from the spec alone: nothing was run", "module": "from a traced torch module"}

# The interactive parts; report.js fills them from the JSON data.
_SECTIONS = """\
<section id="network" class="card">
<h2>Network <span class="hint">click a block, or use ← → to step through the layers</span></h2>
<div id="diagram" class="diagram" aria-label="the network, left to right"></div>
<div id="legend" class="legend"></div>
</section>
<div class="pair">
<section id="detail" class="card" aria-live="polite"><h2>Layer</h2>
<div id="detail-body"><p class="muted">Select a layer.</p></div></section>
<section id="rf" class="card"><h2>Receptive field</h2>
<div id="rf-body"><p class="muted">Select a layer.</p></div></section>
</div>
<section id="share" class="card">
<h2>Parameter share <span class="hint">layers with parameters, in order; bars are scaled
to the largest</span></h2>
<div id="share-chart" class="share-chart"></div>
</section>"""


def script_json(data: object) -> str:
    """JSON safe inside ``<script>``: no ``</script>``, ``<!--`` or ``&`` can appear raw."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def report_data(analysis: Analysis) -> dict[str, Any]:
    """What report.js draws: every leaf with its numbers and their display text, and the tree."""
    index = {id(row): i for i, row in enumerate(analysis.rows)}
    largest = analysis.largest()
    families = kind_families()
    return {
        "name": analysis.name,
        "input_shape": list(analysis.input_shape),
        "output_shape": list(analysis.output_shape),
        "total_params": analysis.totals.params,
        "total_params_text": count(analysis.totals.params),
        "largest": largest.path if largest else None,
        "layers": [_layer(row, analysis, families) for row in analysis.rows],
        "tree": [_tree_node(row, index, _roles(analysis)) for row in analysis.tree],
        "edges": skip_edges(analysis),
    }


def skip_edges(analysis: Analysis) -> list[list[int]]:
    """The graph's edges the diagram's left-to-right order does not show, as [from, to] layers.

    An edge reaches a layer from anything but the layer drawn just before it: an
    explicit ``add`` / ``mul`` / ``cat`` of earlier names, a ``from:``, a block's
    ``input`` read again. ``from`` is -1 for the spec's input. Residual and concat
    shorthands are drawn as lanes instead, so their unwritten merges give no edge.
    A value without a row of its own (such a merge) is drawn from the row just
    before it, the end of its box.
    """
    graph = analysis.graph
    if graph is None:
        return []
    row_of: dict[int, int] = {}  # node id → its row index (written nodes)
    for i, row in enumerate(analysis.rows):
        if row.node is not None:
            row_of[row.node] = i
    last = -1
    drawn = [-1] * len(graph.nodes)  # node id → the row that stands for its value
    for node in graph.nodes[1:]:
        last = row_of.get(node.id, last)
        drawn[node.id] = last
    edges: list[list[int]] = []
    for node in graph.nodes[1:]:
        if not node.written or node.id not in row_of:
            continue
        explicit = node.is_merge or (node.layer is not None and node.layer.source is not None)
        if not explicit:
            continue
        to = row_of[node.id]
        for source in dict.fromkeys(node.inputs):
            start = drawn[source]
            if start != to - 1:
                edges.append([start, to])
    return edges


def kind_families() -> dict[str, str]:
    """Kind name → its family (the kinds module that defines it: conv2d, pooling, …).

    The family picks a layer's colour: a new kinds module gets its own family
    without the report changing.
    """
    return {name: kind.traits.family for name, kind in kinds.REGISTRY.items() if kind.traits}


def _layer(row: Row, analysis: Analysis, families: dict[str, str]) -> dict[str, Any]:
    family = families.get(row.kind, "other")
    share = analysis.share(row)
    return {
        "path": row.path,
        "name": row.name,
        "kind": row.kind,
        "family": family,
        "thin": _elementwise(row),
        "operation": row.operation,
        "shape": list(row.output_shape),
        "input": fmt_shape(row.input_shape),
        "output": fmt_shape(row.output_shape),
        "params": row.params,
        "share": share,
        "text": {
            "params": count(row.params),
            "share": share_text(share) or "0%",
            "macs": count(row.macs),
            "activation": binary_size(row.activation_bytes),
            "rf": rf_text(row.receptive_field) or "n/a",
            "rf_detail": rf_detail(row.receptive_field, analysis.input_shape),
        },
        "rf": rf_view(row.receptive_field, analysis.input_shape, row.output_shape),
        "note": row.note,
    }


def _elementwise(row: Row) -> bool:
    """Shape-preserving layers without a window (activations, norms, dropout): drawn as slices."""
    if row.input_shape != row.output_shape or row.macs:
        return False
    kind = kinds.get(row.kind)
    if kind is None or row.layer is None:
        return True
    # A window of any size (a 3×3 pool with stride 1, an adaptive pool to the same size) is a
    # real layer; only a kind without a receptive-field step is elementwise.
    return kind.rf_step is None or kind.rf_step(row.layer.args, row.input_shape) is None


# How report.js draws a composite: branches stacked (concat), main and shortcut lanes
# (residual), or in a row.
_LAYOUTS = {"concat": "stack", "residual": "residual"}


def _roles(analysis: Analysis) -> dict[str, str]:
    """Group row path → what the composite is: the graph's scope roles.

    A torch module's summary has no graph; there a group is archcalc's own
    container module (bridge/modules.py) when its class is Residual or Concat.
    """
    if analysis.graph is not None:
        return {path: scope.role for path, scope in analysis.graph.scopes.items()}
    return {
        row.path: row.kind if row.kind in _LAYOUTS else "module"
        for top in analysis.tree
        for row in _groups(top)
    }


def _groups(row: Row) -> list[Row]:
    out: list[Row] = []
    stack = [row]
    while stack:
        r = stack.pop()
        if not r.is_leaf:
            out.append(r)
            stack.extend(r.children)
    return out


def _tree_node(row: Row, index: dict[int, int], roles: dict[str, str]) -> int | dict[str, Any]:
    if row.is_leaf:
        return index[id(row)]
    role = roles.get(row.path, "module")
    return {
        "path": row.path,
        "name": row.name,
        "kind": row.kind,
        "role": role,
        "operation": row.operation,
        "layout": _LAYOUTS.get(role, "row"),
        "children": [_tree_node(child, index, roles) for child in row.children],
    }


def rf_view(
    rf: ReceptiveField | None, input_shape: Shape, output_shape: Shape
) -> dict[str, Any] | None:
    """The field to draw over the input grid: the first unit's and the centre unit's.

    Bounds are inclusive input-pixel indices (row, column); ``inside_*`` are the
    same bounds clipped to the input, where padding pushes a field past the edge.
    None where the input is flat; no grid (``"grid": None``, the field in numbers and
    a ``note`` saying why) where it is C×L or C×D×H×W.
    """
    if rf is None or len(input_shape) < 2:
        return None
    if len(input_shape) != 3:
        # A waveform or a clip has a field on every axis, but no H×W plane to draw it on.
        return {
            "grid": None,
            "note": f"Fields are drawn over C×H×W images; this "
            f"{RANK_SHAPES[len(input_shape) - 1]} input's is given in numbers above.",
        }
    grid = (input_shape[1], input_shape[2])
    view: dict[str, Any] = {
        "grid": list(grid),
        "size": [x if isinstance(x, int) else float(x) for x in rf.size],
        "jump": [x if isinstance(x, int) else float(x) for x in rf.jump],
        "start": list(rf.start),
        "whole": rf.whole,
        "units": [],
    }
    if rf.whole:
        return view
    if not rf.exact:
        # The report draws fields on an H×W grid of whole pixels; one with fractional
        # steps is given in numbers only.
        return view
    units = [("first", (0, 0))]
    if len(output_shape) == 3:
        centre = ((output_shape[1] - 1) // 2, (output_shape[2] - 1) // 2)
        if centre != (0, 0):
            units.append(("centre", centre))
    view["units"] = [_unit(rf, label, unit, grid) for label, unit in units]
    return view


def _unit(
    rf: ReceptiveField, label: str, unit: tuple[int, int], grid: tuple[int, int]
) -> dict[str, Any]:
    # Doubled coordinates keep half-pixel centres exact (receptive.py does the same).
    centre_x2 = [rf.start_x2[a] + 2 * unit[a] * rf.jump[a] for a in (0, 1)]
    lo = [(centre_x2[a] - (rf.size[a] - 1)) // 2 for a in (0, 1)]
    hi = [(centre_x2[a] + (rf.size[a] - 1)) // 2 for a in (0, 1)]
    inside_lo = [max(lo[a], 0) for a in (0, 1)]
    inside_hi = [min(hi[a], grid[a] - 1) for a in (0, 1)]
    clipped = lo != inside_lo or hi != inside_hi
    text = (
        f"{label} unit ({unit[0]}, {unit[1]}): rows {_span(lo[0], hi[0])}, "
        f"columns {_span(lo[1], hi[1])}"
    )
    if clipped:
        text += (
            f"; inside the input rows {_span(inside_lo[0], inside_hi[0])}, "
            f"columns {_span(inside_lo[1], inside_hi[1])}"
        )
    return {
        "label": label,
        "unit": list(unit),
        "centre": [c / 2 for c in centre_x2],
        "lo": lo,
        "hi": hi,
        "inside_lo": inside_lo,
        "inside_hi": inside_hi,
        "clipped": clipped,
        "text": text,
    }


def rf_detail(rf: ReceptiveField | None, input_shape: Shape) -> str:
    """``3×3 px · jump 1 · start (0, 0)``; the whole input after flatten or global pooling."""
    if rf is None:
        return "none (the input is not an image)"
    if rf.whole:
        return f"the whole {fmt_shape(input_shape[1:])} input"
    start = ", ".join(_num(s) for s in rf.start)
    size = "×".join(number_text(x) for x in rf.size)
    unit = _FIELD_UNITS.get(len(rf.size), "positions")
    return f"{size} {unit} · jump {axes_text(rf.jump)} · start ({start})"


# What one input position is called, by the number of spatial axes (a waveform's samples).
_FIELD_UNITS = {1: "samples", 2: "px", 3: "voxels"}


def _num(x: float) -> str:
    return f"{x:g}".replace("-", "−")


def _span(lo: int, hi: int) -> str:
    return f"{lo}–{hi}".replace("-", "−") if lo != hi else str(lo).replace("-", "−")


def _header(analysis: Analysis, source: str | None) -> str:
    memory = estimate(analysis, 1)
    t = analysis.totals
    largest = analysis.largest()
    cards = [
        (
            "Parameters",
            count(t.params),
            "all trainable"
            if t.trainable_params == t.params
            else f"{count(t.trainable_params)} trainable",
        ),
        (
            "MACs",
            count(t.macs),
            f"{len(t.uncounted)} layer(s) uncounted" if t.uncounted else "multiply-accumulates",
        ),
        ("Activations", binary_size(memory.activations), "every layer's output"),
        ("Weights", binary_size(memory.params + memory.buffers), "parameters + buffers"),
        ("Layers", count(len(analysis.rows)), "leaf layers"),
    ]
    if largest is not None:
        cards.append(
            (
                "Largest layer",
                largest.path,
                f"{count(largest.params)} params ({share_text(analysis.share(largest))})",
            )
        )
    sub = f"input {fmt_shape(analysis.input_shape)} → output {fmt_shape(analysis.output_shape)}" + (
        f" · {source}" if source else ""
    )
    card_html = "".join(
        f'<div class="stat"><dt>{_e(label)}</dt><dd>{_e(value)}</dd>'
        f'<dd class="muted">{_e(note)}</dd></div>'
        for label, value, note in cards
    )
    return (
        f'<header><p class="brand">archcalc report</p><h1>{_e(analysis.name)}</h1>'
        f'<p class="subtitle">{_e(sub)}</p><dl class="stats">{card_html}</dl></header>'
    )


def _findings(findings: Sequence[Finding] | None, notes: Iterable[str]) -> str:
    items = [f'<li class="note"><b>note</b> {_e(n)}</li>' for n in notes]
    if findings is not None:
        items += [_finding_item(f) for f in findings]
    if findings is None and not items:
        return ""
    body = "<ul>" + "".join(items) + "</ul>" if items else '<p class="muted">No findings.</p>'
    title = "Lint findings and notes" if findings is not None else "Notes"
    return f'<section id="findings" class="card"><h2>{title}</h2>{body}</section>'


def _finding_item(f: Finding) -> str:
    severity = f.severity if f.severity in ("error", "warning", "info") else "info"
    badge = f'<span class="badge {severity}">{_e(f.severity)}</span> ' if f.severity else ""
    code = f"<b>{_e(f.code)}</b> " if f.code else ""
    path = f"<code>{_e(f.path)}</code>: " if f.path else ""
    return f"<li>{badge}{code}{path}{_e(f.message)}</li>"


def _layer_table(analysis: Analysis) -> str:
    num = [' class="num"' if c.justify == "right" else "" for c in COLUMNS]
    head = "".join(f"<th{n}>{_e(c.header)}</th>" for c, n in zip(COLUMNS, num, strict=True))
    rows = "".join(
        f'<tr data-index="{i}">'
        + "".join(f"<td{n}>{_e(v)}</td>" for v, n in zip(cells(row, analysis), num, strict=True))
        + "</tr>"
        for i, row in enumerate(analysis.rows)
    )
    foot = "".join(f"<td{n}>{_e(v)}</td>" for v, n in zip(total_cells(analysis), num, strict=True))
    return (
        f'<section id="layers" class="card"><details><summary>All {len(analysis.rows)} '
        f'layers as a table</summary><div class="table-wrap"><table><thead><tr>{head}'
        f"</tr></thead><tbody>{rows}</tbody><tfoot><tr>{foot}</tr></tfoot></table></div>"
        "</details></section>"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _asset(name: str) -> str:
    return resources.files("archcalc.report").joinpath(name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
