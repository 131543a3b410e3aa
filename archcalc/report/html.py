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
from json.encoder import encode_basestring
from typing import Any, cast

from archcalc import kinds
from archcalc.analysis.footprint import Footprint
from archcalc.analysis.memory import MemoryEstimate, binary_size, estimate
from archcalc.analysis.receptive import ReceptiveField, axes_text, number_text
from archcalc.analysis.result import Analysis, Row
from archcalc.gcpause import paused_gc
from archcalc.kinds.base import RANK_SHAPES, Pair, Shape, fmt_shape
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
    # The page's data is an acyclic tree of a few hundred thousand objects: the cyclic
    # collector would walk the whole heap several times while it grows (40% of the run).
    with paused_gc():
        return _page(analysis, findings, source)


def _page(analysis: Analysis, findings: Sequence[Finding] | None, source: str | None) -> str:
    if findings is None:
        findings = lint_findings(analysis)
    css = _asset("report.css")
    js = _asset("report.js")
    csp = (
        f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    name = html.escape(analysis.name)
    memory = estimate(analysis, 1)
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
        _header(analysis, source, memory),
        "<main>",
        _SECTIONS,
        _memory(memory.footprint),
        _findings(findings, analysis.notes),
        _layer_table(analysis),
        "</main>",
        f"<footer>Made by <b>archcalc</b> {_ORIGIN.get(analysis.source, '')}. "
        "Shapes exclude the batch; memory is float32 at batch 1.</footer>",
        f'<script type="application/json" id="archcalc-data">{data_json(analysis)}</script>',
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
    return _script_safe(_ENCODER.encode(data))


def _script_safe(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# json.dumps(data, ensure_ascii=False, separators=(",", ":")), made once.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def report_data(analysis: Analysis) -> dict[str, Any]:
    """What report.js draws: every leaf with its numbers and their display text, and the tree."""
    layer = _LayerData(analysis)
    return {
        **_head(analysis),
        "layers": [layer(row) for row in analysis.rows],
        "tree": _tree(analysis),
        "edges": skip_edges(analysis),
    }


def data_json(analysis: Analysis) -> str:
    """``script_json(report_data(analysis))``, written directly.

    A 10,000-layer report's data is 8 MB of JSON from 1.5 million values;
    writing each layer's entry as one string, rather than building dicts for
    the encoder to walk, takes a third of the time.
    """
    layer = _LayerData(analysis)
    head = _ENCODER.encode(_head(analysis))
    layers = ",".join([layer.json(row) for row in analysis.rows])
    index = {id(row): i for i, row in enumerate(analysis.rows)}
    roles = _roles(analysis)
    tree = ",".join([_tree_json(row, index, roles) for row in analysis.tree])
    edges = _ENCODER.encode(skip_edges(analysis))  # numbers only
    # Every string in the layers and the tree went through _str, which made it safe.
    return f'{_script_safe(head)[:-1]},"layers":[{layers}],"tree":[{tree}],"edges":{edges}}}'


def _head(analysis: Analysis) -> dict[str, Any]:
    largest = analysis.largest()
    return {
        "name": analysis.name,
        "input_shape": list(analysis.input_shape),
        "output_shape": list(analysis.output_shape),
        "total_params": analysis.totals.params,
        "total_params_text": count(analysis.totals.params),
        "largest": largest.path if largest else None,
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


def _tree(analysis: Analysis) -> list[int | dict[str, Any]]:
    index = {id(row): i for i, row in enumerate(analysis.rows)}
    roles = _roles(analysis)
    return [_tree_node(row, index, roles) for row in analysis.tree]


def kind_families() -> dict[str, str]:
    """Kind name → its family (the kinds module that defines it: conv2d, pooling, …).

    The family picks a layer's colour: a new kinds module gets its own family
    without the report changing.
    """
    return {name: kind.traits.family for name, kind in kinds.REGISTRY.items() if kind.traits}


# A layer's receptive field and output shape: all its field view depends on.
_FieldKey = tuple[ReceptiveField | None, Shape]


class _LayerData:
    """Each leaf's entry in the report's data, for one analysis, as a dict or as JSON text.

    Neighbouring layers share most of what is drawn (a ReLU keeps its input's
    shape and receptive field), so shape texts and field views are made once per
    distinct value.
    """

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.families = kind_families()
        self.shapes: dict[Shape, tuple[str, str, str]] = {}
        self.fields: dict[_FieldKey, tuple[str, str, dict[str, Any] | None]] = {}
        self.fields_json: dict[_FieldKey, tuple[str, str, str]] = {}
        self.kinds: dict[str, str] = {}
        self.numbers: dict[tuple[int, float, int | None, int], str] = {}

    def shape(self, shape: Shape) -> tuple[str, str, str]:
        """(``4×16×16``, its JSON string, the shape as a JSON list)."""
        found = self.shapes.get(shape)
        if found is None:
            text = fmt_shape(shape)
            numbers = _script_safe(_ENCODER.encode(list(shape)))
            found = self.shapes[shape] = (text, _str(text), numbers)
        return found

    def field(self, row: Row) -> tuple[str, str, dict[str, Any] | None]:
        """(rf text, rf detail, rf view) of a row; the view is shared, never changed."""
        key = (row.receptive_field, row.output_shape)
        found = self.fields.get(key)
        if found is None:
            rf, input_shape = row.receptive_field, self.analysis.input_shape
            found = self.fields[key] = (
                rf_text(rf) or "n/a",
                rf_detail(rf, input_shape),
                rf_view(rf, input_shape, row.output_shape),
            )
        return found

    def field_json(self, row: Row) -> tuple[str, str, str]:
        """:meth:`field`, each part as JSON text."""
        key = (row.receptive_field, row.output_shape)
        found = self.fields_json.get(key)
        if found is None:
            rf, input_shape = row.receptive_field, self.analysis.input_shape
            found = self.fields_json[key] = (
                _str(rf_text(rf) or "n/a"),
                _str(rf_detail(rf, input_shape)),
                _view_json(rf, input_shape, row.output_shape),
            )
        return found

    def __call__(self, row: Row) -> dict[str, Any]:
        share = self.analysis.share(row)
        rf, detail, view = self.field(row)
        return {
            "path": row.path,
            "name": row.name,
            "kind": row.kind,
            "family": self.families.get(row.kind, "other"),
            "thin": _elementwise(row),
            "operation": row.operation,
            "shape": list(row.output_shape),
            "input": self.shape(row.input_shape)[0],
            "output": self.shape(row.output_shape)[0],
            "params": row.params,
            "share": share,
            "text": {
                "params": count(row.params),
                "share": share_text(share) or "0%",
                "macs": count(row.macs),
                "activation": binary_size(row.activation_bytes),
                "rf": rf,
                "rf_detail": detail,
            },
            "rf": view,
            "note": row.note,
        }

    def json(self, row: Row) -> str:
        """``_ENCODER.encode(self(row))``, written as one string."""
        rf, detail, view = self.field_json(row)
        _, input_json, _ = self.shape(row.input_shape)
        _, output_json, shape_json = self.shape(row.output_shape)
        return (
            f'{{"path":{_str(row.path)},"name":{_str(row.name)},{self.kind_json(row.kind)},'
            f'"thin":{"true" if _elementwise(row) else "false"},'
            f'"operation":{_str(row.operation)},"shape":{shape_json},'
            f'"input":{input_json},"output":{output_json},'
            f"{self.numbers_json(row)}"
            f'"rf":{rf},"rf_detail":{detail}}},"rf":{view},'
            f'"note":{"null" if row.note is None else _str(row.note)}}}'
        )

    def kind_json(self, kind: str) -> str:
        """``"kind":…,"family":…``."""
        found = self.kinds.get(kind)
        if found is None:
            family = self.families.get(kind, "other")
            found = self.kinds[kind] = f'"kind":{_str(kind)},"family":{_str(family)}'
        return found

    def numbers_json(self, row: Row) -> str:
        """``"params":…,"share":…,"text":{"params":…,"share":…,"macs":…,"activation":…,``."""
        share = self.analysis.share(row)
        key = (row.params, share, row.macs, row.activation_bytes)
        found = self.numbers.get(key)
        if found is None:
            found = self.numbers[key] = (
                f'"params":{_number(row.params)},"share":{_number(share)},'
                f'"text":{{"params":{_str(count(row.params))},'
                f'"share":{_str(share_text(share) or "0%")},"macs":{_str(count(row.macs))},'
                f'"activation":{_str(binary_size(row.activation_bytes))},'
            )
        return found


def _str(text: str) -> str:
    """A string as :func:`script_json` writes it (encode_basestring, non-ASCII kept)."""
    written: str = encode_basestring(text) if type(text) is str else _ENCODER.encode(text)
    if (
        "<" in written
        or ">" in written
        or "&" in written
        or "\u2028" in written
        or "\u2029" in written
    ):
        return _script_safe(written)
    return written


def _number(x: object) -> str:
    """An int or float as the encoder writes it (NaN and infinities by name)."""
    if type(x) is int:
        return int.__repr__(x)
    if type(x) is float and x - x == 0.0:
        return float.__repr__(x)
    return _script_safe(_ENCODER.encode(x))


def _pair(xs: Sequence[Any]) -> str:
    a, b = xs
    if type(a) is type(b) and (type(a) is int or (type(a) is float and a - a == b - b == 0.0)):
        return f"[{a!r},{b!r}]"
    return f"[{_number(a)},{_number(b)}]"


_INT = {int}


def _view_json(rf: ReceptiveField | None, input_shape: Shape, output_shape: Shape) -> str:
    """``_ENCODER.encode(rf_view(rf, input_shape, output_shape))``, written as one string."""
    if rf is None or len(input_shape) < 2:
        return "null"
    if len(input_shape) != 3:  # a C×L or C×D×H×W field: numbers and a note, no grid
        return _script_safe(_ENCODER.encode(rf_view(rf, input_shape, output_shape)))
    numbers = (*input_shape[1:], *rf.size, *rf.jump, *rf.start_x2, *output_shape[1:])
    if set(map(type, numbers)) != _INT or type(rf.whole) is not bool:
        # A fractional field (after upsampling): numbers only, written by the general path.
        return _script_safe(_ENCODER.encode(rf_view(rf, input_shape, output_shape)))
    # Every number below is an int (or an int halved): written as Python writes them.
    grid = (input_shape[1], input_shape[2])
    head = (
        f'{{"grid":[{grid[0]},{grid[1]}],"size":[{rf.size[0]},{rf.size[1]}],'
        f'"jump":[{rf.jump[0]},{rf.jump[1]}],"start":{_pair(rf.start)},"whole":'
    )
    if rf.whole:
        return head + 'true,"units":[]}'
    # The label and text are digits, letters, spaces, ``(),:;`` and the dashes ``–`` and
    # ``−``: nothing JSON or the script block escapes, so they are written as they are.
    units = []
    for label, unit in _units(output_shape):
        c_h, c_w, lo_h, lo_w, hi_h, hi_w, il_h, il_w, ih_h, ih_w, clipped, text = _unit_numbers(
            rf, label, unit, grid
        )
        units.append(
            f'{{"label":"{label}","unit":[{unit[0]},{unit[1]}],'
            f'"centre":[{c_h / 2!r},{c_w / 2!r}],"lo":[{lo_h},{lo_w}],"hi":[{hi_h},{hi_w}],'
            f'"inside_lo":[{il_h},{il_w}],"inside_hi":[{ih_h},{ih_w}],'
            f'"clipped":{"true" if clipped else "false"},"text":"{text}"}}'
        )
    return head + 'false,"units":[' + ",".join(units) + "]}"


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
    """Group row path → what the composite is: the graph's scope roles (specs and modules alike)."""
    if analysis.graph is None:  # an Analysis made by hand, without its graph
        return {}
    return {path: scope.role for path, scope in analysis.graph.scopes.items()}


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


def _tree_json(row: Row, index: dict[int, int], roles: dict[str, str]) -> str:
    """``_ENCODER.encode(_tree_node(row, index, roles))``, written as one string."""
    if row.is_leaf:
        return _number(index[id(row)])
    role = roles.get(row.path, "module")
    children = ",".join([_tree_json(child, index, roles) for child in row.children])
    return (
        f'{{"path":{_str(row.path)},"name":{_str(row.name)},"kind":{_str(row.kind)},'
        f'"role":{_str(role)},"operation":{_str(row.operation)},'
        f'"layout":{_str(_LAYOUTS.get(role, "row"))},"children":[{children}]}}'
    )


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
    # The grid holds whole pixels: a field with fractional steps is given in numbers only.
    if not rf.whole and rf.exact:
        view["units"] = [_unit(rf, label, unit, grid) for label, unit in _units(output_shape)]
    return view


def _units(output_shape: Shape) -> list[tuple[str, tuple[int, int]]]:
    """The output units whose fields are drawn: the first, and the centre where it differs."""
    units = [("first", (0, 0))]
    if len(output_shape) == 3:
        centre = ((output_shape[1] - 1) // 2, (output_shape[2] - 1) // 2)
        if centre != (0, 0):
            units.append(("centre", centre))
    return units


def _unit_numbers(
    rf: ReceptiveField, label: str, unit: tuple[int, int], grid: tuple[int, int]
) -> tuple[int, int, int, int, int, int, int, int, int, int, bool, str]:
    """Doubled centre, inclusive bounds, the same clipped to the input, clipped?, the text.

    Per axis (row, column); a flat tuple, as this runs twice per layer of a report.
    """
    # Doubled coordinates keep half-pixel centres exact (receptive.py does the same).
    # Only whole-pixel fields are drawn (rf_view), so every number here is an int.
    (start_h, start_w), (jump_h, jump_w) = cast(tuple[Pair, Pair], (rf.start_x2, rf.jump))
    size_h, size_w = cast(Pair, rf.size)
    reach_h, reach_w = size_h - 1, size_w - 1
    centre_h, centre_w = start_h + 2 * unit[0] * jump_h, start_w + 2 * unit[1] * jump_w
    lo_h, lo_w = (centre_h - reach_h) // 2, (centre_w - reach_w) // 2
    hi_h, hi_w = (centre_h + reach_h) // 2, (centre_w + reach_w) // 2
    # Conditional expressions rather than max/min calls: this runs twice per layer.
    in_lo_h, in_lo_w = (lo_h if lo_h > 0 else 0), (lo_w if lo_w > 0 else 0)
    last_h, last_w = grid[0] - 1, grid[1] - 1
    in_hi_h, in_hi_w = (hi_h if hi_h < last_h else last_h), (hi_w if hi_w < last_w else last_w)
    text = (
        f"{label} unit ({unit[0]}, {unit[1]}): rows {_span(lo_h, hi_h)}, "
        f"columns {_span(lo_w, hi_w)}"
    )
    clipped = lo_h != in_lo_h or lo_w != in_lo_w or hi_h != in_hi_h or hi_w != in_hi_w
    if clipped:
        text += (
            f"; inside the input rows {_span(in_lo_h, in_hi_h)}, columns {_span(in_lo_w, in_hi_w)}"
        )
    return (
        centre_h,
        centre_w,
        lo_h,
        lo_w,
        hi_h,
        hi_w,
        in_lo_h,
        in_lo_w,
        in_hi_h,
        in_hi_w,
        clipped,
        text,
    )


def _unit(
    rf: ReceptiveField, label: str, unit: tuple[int, int], grid: tuple[int, int]
) -> dict[str, Any]:
    c_h, c_w, lo_h, lo_w, hi_h, hi_w, il_h, il_w, ih_h, ih_w, clipped, text = _unit_numbers(
        rf, label, unit, grid
    )
    return {
        "label": label,
        "unit": list(unit),
        "centre": [c_h / 2, c_w / 2],
        "lo": [lo_h, lo_w],
        "hi": [hi_h, hi_w],
        "inside_lo": [il_h, il_w],
        "inside_hi": [ih_h, ih_w],
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
    """``3–5``, ``−1–1`` (true minus signs), or ``4`` for a single pixel."""
    if lo >= 0:
        return f"{lo}–{hi}" if lo != hi else str(lo)
    return f"{lo}–{hi}".replace("-", "−") if lo != hi else f"−{-lo}"


def _header(analysis: Analysis, source: str | None, memory: MemoryEstimate) -> str:
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
        ("Training peak", binary_size(memory.training), "one step with Adam"),
        ("Layers", count(len(analysis.rows)), "leaf layers"),
    ]
    final = analysis.final
    if final is not None:
        rf = final.field
        cards.append(
            (
                "Final receptive field",
                "whole input" if rf.whole else f"{'×'.join(number_text(x) for x in rf.size)} px",
                f"jump {axes_text(rf.jump)}, at {final.path}",
            )
        )
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


# The memory bar's colours, by part (the order of render/memory_fit.PARTS).
_MEMORY_COLOURS = (
    "#4e79a7",
    "#a0cbe8",
    "#f28e2b",
    "#ffbe7d",
    "#59a14f",
    "#8cd17d",
    "#e15759",
    "#ff9d9a",
    "#b07aa1",
    "#d4a6c8",
    "#9d7660",
    "#bab0ac",
)


def _memory(f: Footprint) -> str:
    """A bar of what the training peak is made of (batch 1, float32, Adam), with its legend."""
    from archcalc.render.memory_fit import PARTS, phase_text

    parts = [
        (label, f.at_peak[key], colour)
        for (key, label), colour in zip(PARTS, _MEMORY_COLOURS, strict=True)
        if f.at_peak.get(key)
    ]
    total = sum(n for _, n, _ in parts) or 1
    x = 0.0
    rects = []
    items = []
    for label, n, colour in parts:
        width = 1000 * n / total
        text = f"{label} {binary_size(n)}"
        rects.append(
            f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="24" fill="{colour}">'
            f"<title>{_e(text)}</title></rect>"
        )
        items.append(
            f'<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" '
            f'fill="{colour}"/></svg> {_e(text)}</li>'
        )
        x += width
    summary = (
        f"training peak {binary_size(f.training_peak)} {phase_text(f.training_phase)} · "
        f"saved for backward {binary_size(f.saved)} · inference peak "
        f"{binary_size(f.inference_peak)} (docs/memory.md)"
    )
    return (
        '<section id="memory" class="card"><h2>Memory <span class="hint">one training step at '
        "batch 1, float32, Adam: what is live at its peak</span></h2>"
        f'<svg class="memory-bar" viewBox="0 0 1000 24" preserveAspectRatio="none" role="img" '
        f'aria-label="{_e(summary)}">{"".join(rects)}</svg>'
        f'<ul class="memory-legend">{"".join(items)}</ul>'
        f'<p class="muted">{_e(summary)}</p></section>'
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
    row_html = '<tr data-index="{}">' + "".join(f"<td{n}>{{}}</td>" for n in num) + "</tr>"
    texts = _escaped_columns([cells(row, analysis) for row in analysis.rows], len(COLUMNS))
    rows = "".join(
        [row_html.format(i, *values) for i, values in enumerate(zip(*texts, strict=True))]
    )
    foot = "".join(f"<td{n}>{_e(v)}</td>" for v, n in zip(total_cells(analysis), num, strict=True))
    return (
        f'<section id="layers" class="card"><details><summary>All {len(analysis.rows)} '
        f'layers as a table</summary><div class="table-wrap"><table><thead><tr>{head}'
        f"</tr></thead><tbody>{rows}</tbody><tfoot><tr>{foot}</tr></tfoot></table></div>"
        "</details></section>"
    )


def _escaped_columns(rows: list[list[str]], width: int) -> list[list[str]]:
    """The cells HTML-escaped, column by column.

    A column is escaped as one string, its cells joined by line breaks, and split
    again: a 10,000-row table costs seven calls, not 70,000. A cell holding a line
    break of its own would be split apart, so such a column is escaped cell by cell.
    """
    out = []
    for i in range(width):
        column = [row[i] for row in rows]
        joined = "\n".join(column)
        if joined.count("\n") == len(column) - 1:
            out.append(_e(joined).split("\n") if column else [])
        else:
            out.append([_e(c) for c in column])
    return out


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _asset(name: str) -> str:
    return resources.files("archcalc.report").joinpath(name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
