/* archcalc report: lays out the numbers archcalc computed (html.py); it computes none itself.
   Plain JS, no build step. Data text is only ever set through textContent, never as HTML. */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("archcalc-data").textContent);
  const layers = data.layers;
  const blocks = [];  // layer index → its block in the diagram
  const bars = [];    // layer index → its row in the share chart (layers with params only)
  const rows = [];    // layer index → its row in the layer table
  let selected = -1;

  const FAMILY_NAMES = {
    conv: "convolution", conv_transpose: "transposed convolution", pooling: "pooling", adaptive_pool: "adaptive / global pooling",
    linear: "linear", batchnorm: "batch norm", activations: "activation", dropout: "dropout",
    flatten: "flatten", local_response_norm: "local response norm", other: "other",
  };

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const key of Object.keys(attrs)) node.setAttribute(key, String(attrs[key]));
    return node;
  }

  function shortName(name) {
    return name.length > 16 ? name.slice(0, 15) + "…" : name;
  }

  // Long paths keep their first part (the block) and their end (the layer).
  function middleEllipsis(path, max) {
    if (path.length <= max) return path;
    const head = path.split(".")[0].slice(0, Math.floor(max / 2));
    return head + "…" + path.slice(path.length - (max - head.length - 1));
  }

  // ---- Block geometry: height grows with H·W, width with log channels; flat vectors are bars.
  const MAX_H = 150;
  const MIN_H = 12;
  let maxSide = 1;
  // A feature map of any rank (C×L, C×H×W, C×D×H×W) is drawn by its number of positions.
  const positions = (s) => s.slice(1).reduce((a, b) => a * b, 1);
  for (const s of [data.input_shape].concat(layers.map((l) => l.shape))) {
    if (s.length >= 2) maxSide = Math.max(maxSide, Math.sqrt(positions(s)));
  }

  function geometry(shape, thin) {
    if (shape.length >= 2) {
      const side = Math.sqrt(positions(shape));
      const h = Math.max(MIN_H, Math.round(MAX_H * Math.pow(side / maxSide, 0.7)));
      return [thin ? 5 : Math.round(6 + 5 * Math.log2(shape[0] + 1)), h];
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const h = Math.max(MIN_H, Math.min(MAX_H, Math.round(12 + 9 * Math.log2(n + 1))));
    return [thin ? 4 : 9, h];
  }

  // ---- The diagram: top-level composites are labelled boxes; concat branches and residual
  // shortcuts are stacked lanes; everything else runs left to right.
  function inline(nodes) {
    const out = [];
    for (const n of nodes) {
      if (typeof n === "object" && n.layout === "row") out.push(...inline(n.children));
      else out.push(n);
    }
    return out;
  }

  function lane(nodes, cls, extra) {
    const div = el("div", "lane" + (cls ? " " + cls : ""));
    const flat = inline(nodes);
    let tallest = MIN_H;
    for (const n of flat) {
      if (typeof n === "number") tallest = Math.max(tallest, geometry(layers[n].shape, layers[n].thin)[1]);
    }
    if (extra) tallest = Math.max(tallest, extra[1]);
    for (const n of flat) div.appendChild(typeof n === "number" ? block(n, tallest) : group(n, false));
    return [div, tallest];
  }

  function item(tallest, label) {
    const wrap = el("div", "item");
    const box = el("div", "block-box");
    box.style.height = tallest + "px";
    wrap.appendChild(box);
    if (label) wrap.appendChild(el("div", "label", shortName(label)));
    return [wrap, box];
  }

  function block(i, tallest) {
    const l = layers[i];
    const [w, h] = geometry(l.shape, l.thin);
    const [wrap, box] = item(tallest, l.thin ? null : l.name);
    const b = el("button", "block fam-" + l.family + (l.thin ? " thin" : "") +
      (l.shape.length >= 2 ? "" : " flat"));
    b.type = "button";
    b.style.width = w + "px";
    b.style.height = h + "px";
    b.dataset.index = String(i);
    b.dataset.path = l.path;
    b.title = l.path + " · " + l.operation + " → " + l.output;
    b.setAttribute("aria-label", l.path + ", " + l.operation + ", output " + l.output);
    b.addEventListener("click", () => select(i));
    box.appendChild(b);
    blocks[i] = b;
    return wrap;
  }

  function inputBlock(tallest) {
    const [w, h] = geometry(data.input_shape, false);
    const [wrap, box] = item(tallest, "input");
    const b = el("div", "block input");
    b.style.width = w + "px";
    b.style.height = h + "px";
    b.title = "input " + data.input_shape.join("×");
    box.appendChild(b);
    return wrap;
  }

  function group(node, top) {
    const box = el("div", "group group-" + node.layout + (top ? " top" : " nested"));
    box.title = node.path + " · " + node.operation;
    if (top) box.appendChild(el("div", "group-label", node.name));
    if (node.layout === "row") {
      box.appendChild(lane(node.children, "")[0]);
      return box;
    }
    const body = el("div", "group-body");
    const stack = el("div", "stack");
    if (node.layout === "stack") {
      for (const branch of node.children) {
        stack.appendChild(lane(typeof branch === "number" ? [branch] : branch.children, "branch")[0]);
      }
    } else {  // residual: the main layers, then the shortcut (or identity) beneath them
      const isShortcut = (c) => typeof c === "object" && c.role === "shortcut";
      stack.appendChild(lane(node.children.filter((c) => !isShortcut(c)), "branch")[0]);
      const shortcut = node.children.find(isShortcut);
      const sc = shortcut ? lane(shortcut.children, "branch shortcut")[0]
        : el("div", "lane branch shortcut identity");
      sc.insertBefore(el("span", "lane-tag", shortcut ? "shortcut" : "identity shortcut"),
        sc.firstChild);
      stack.appendChild(sc);
    }
    body.appendChild(stack);
    const merge = el("div", "merge" + (node.layout === "stack" ? " concat" : ""),
      node.layout === "stack" ? "concat" : "+");
    body.appendChild(merge);
    box.appendChild(body);
    box.title += node.layout === "stack" ? " (joined on channels)" : " (added)";
    return box;
  }

  function renderDiagram() {
    const diagram = document.getElementById("diagram");
    const inputSize = geometry(data.input_shape, false);
    const [top] = lane([], "top", inputSize);
    let tallest = inputSize[1];
    for (const n of data.tree) {
      if (typeof n === "number") tallest = Math.max(tallest, geometry(layers[n].shape, layers[n].thin)[1]);
    }
    top.appendChild(inputBlock(tallest));
    for (const n of data.tree) top.appendChild(typeof n === "number" ? block(n, tallest) : group(n, true));
    diagram.appendChild(top);
    drawEdges();
    window.addEventListener("resize", drawEdges);

    const legend = document.getElementById("legend");
    const seen = [];
    for (const l of layers) if (!seen.includes(l.family)) seen.push(l.family);
    for (const family of seen) {
      const entry = el("span", "legend-entry");
      entry.appendChild(el("span", "swatch fam-" + family));
      entry.appendChild(document.createTextNode(FAMILY_NAMES[family] || family));
      legend.appendChild(entry);
    }
    // The positions a block's height counts, named by the input's rank (a waveform has L).
    const count = { 2: "L", 4: "D·H·W" }[data.input_shape.length] || "H·W";
    legend.appendChild(el("span", "legend-note", "height ∝ (" + count +
      ")^0.35, width ∝ log channels; thin slices keep the shape; bars are flat vectors"));
  }

  // ---- Skip edges: the graph's edges that left-to-right order does not show (a named tensor
  // read again by add / mul / cat or `from:`), as arcs above the blocks they join.
  let inputBox = null;
  function drawEdges() {
    const diagram = document.getElementById("diagram");
    const old = diagram.querySelector("svg.edges");
    if (old) old.remove();
    if (!data.edges.length) return;
    diagram.classList.add("has-edges");  // room above the blocks for the arcs
    inputBox = inputBox || diagram.querySelector(".block.input");
    const origin = diagram.getBoundingClientRect();
    const width = diagram.scrollWidth;
    const height = diagram.scrollHeight;
    const overlay = svg("svg", { class: "edges", width: width, height: height, "aria-hidden": "true" });
    const at = (i) => {
      const r = (i < 0 ? inputBox : blocks[i]).getBoundingClientRect();
      return [r.left + r.width / 2 - origin.left + diagram.scrollLeft, r.top - origin.top + diagram.scrollTop];
    };
    for (const [from, to] of data.edges) {
      const [x1, y1] = at(from);
      const [x2, y2] = at(to);
      const lift = Math.min(Math.max(y1, y2) - 2, 14 + Math.abs(x2 - x1) / 12);
      const top = Math.min(y1, y2) - lift;
      const path = svg("path", {
        class: "edge",
        d: `M ${x1} ${y1} C ${x1} ${top}, ${x2} ${top}, ${x2} ${y2}`,
        "data-from": from,
        "data-to": to,
      });
      overlay.appendChild(path);
    }
    diagram.appendChild(overlay);
  }

  // ---- The layer panel
  function fact(dl, term, value) {
    dl.appendChild(el("dt", null, term));
    const dd = el("dd", null, value);
    dl.appendChild(dd);
    return dd;
  }

  function showDetail(l) {
    const body = document.getElementById("detail-body");
    body.replaceChildren();
    const head = el("div", "detail-head");
    head.appendChild(el("span", "swatch fam-" + l.family));
    head.appendChild(el("h3", null, l.path));
    body.appendChild(head);
    body.appendChild(el("p", "operation", l.operation));
    const dl = el("dl", "facts");
    fact(dl, "Position", "layer " + (layers.indexOf(l) + 1) + " of " + layers.length);
    fact(dl, "Kind", l.kind);
    fact(dl, "Shape", l.input + " → " + l.output);
    const params = fact(dl, "Parameters", l.text.params);
    if (l.params > 0) {
      params.appendChild(el("span", "muted", " (" + l.text.share + " of " + data.total_params_text + ")"));
      const meter = el("span", "meter");
      const fill = el("span", "meter-fill fam-" + l.family);
      fill.style.width = (100 * l.share).toFixed(2) + "%";
      meter.appendChild(fill);
      params.appendChild(meter);
    }
    fact(dl, "MACs", l.text.macs);
    fact(dl, "Output memory", l.text.activation + " (float32, one sample)");
    fact(dl, "Receptive field", l.text.rf_detail);
    if (l.note) fact(dl, "Note", l.note);
    body.appendChild(dl);
  }

  // ---- The receptive-field panel: the input grid with the field of the first / centre unit
  function gridStep(n) {
    let step = 1;
    while (n / step > 32) step *= 2;
    return step;
  }

  function showRF(l) {
    const body = document.getElementById("rf-body");
    body.replaceChildren();
    const rf = l.rf;
    if (!rf) {
      body.appendChild(el("p", "muted", "The input is not an image, so there is no spatial field."));
      return;
    }
    if (!rf.grid) {
      body.appendChild(el("p", "rf-title", l.path + ": " + l.text.rf_detail));
      body.appendChild(el("p", "muted", rf.note));
      return;
    }
    const [H, W] = rf.grid;
    const m = Math.max(H, W) * 0.05;
    const scale = 300 / Math.max(H, W);
    const pic = svg("svg", {
      viewBox: [-m, -m, W + 2 * m, H + 2 * m].join(" "),
      width: Math.round((W + 2 * m) * scale), height: Math.round((H + 2 * m) * scale),
      class: "rf-svg", role: "img",
      "aria-label": "receptive field of " + l.path + " over the " + H + "×" + W + " input",
    });
    pic.appendChild(svg("rect", { x: 0, y: 0, width: W, height: H, class: "rf-input" }));
    const step = gridStep(Math.max(H, W));
    let d = "";
    for (let x = step; x < W; x += step) d += "M" + x + " 0V" + H;
    for (let y = step; y < H; y += step) d += "M0 " + y + "H" + W;
    if (d) pic.appendChild(svg("path", { d: d, class: "rf-grid" }));
    const caption = el("div", "rf-caption");
    if (rf.whole) {
      pic.appendChild(svg("rect", { x: 0, y: 0, width: W, height: H, class: "rf-fill rf-whole" }));
      caption.appendChild(el("p", null, "Every unit sees the whole " + H + "×" + W + " input."));
    }
    for (const u of rf.units) {
      pic.appendChild(svg("rect", {
        x: u.inside_lo[1], y: u.inside_lo[0],
        width: u.inside_hi[1] - u.inside_lo[1] + 1, height: u.inside_hi[0] - u.inside_lo[0] + 1,
        class: "rf-fill rf-" + u.label,
      }));
      pic.appendChild(svg("rect", {
        x: u.lo[1], y: u.lo[0], width: u.hi[1] - u.lo[1] + 1, height: u.hi[0] - u.lo[0] + 1,
        class: "rf-outline rf-" + u.label + (u.clipped ? " clipped" : ""),
      }));
      pic.appendChild(svg("circle", {
        cx: u.centre[1] + 0.5, cy: u.centre[0] + 0.5, r: Math.max(H, W) * 0.012,
        class: "rf-dot rf-" + u.label,
      }));
      const line = el("p");
      line.appendChild(el("span", "swatch rf-key rf-" + u.label));
      line.appendChild(document.createTextNode(u.text));
      caption.appendChild(line);
    }
    const figure = el("div", "rf-figure");
    figure.appendChild(pic);
    body.appendChild(el("p", "rf-title", l.path + ": " + l.text.rf_detail));
    body.appendChild(figure);
    caption.appendChild(el("p", "muted", "Input " + H + "×" + W + ", one cell per pixel" +
      (step > 1 ? " (grid lines every " + step + ")" : "") +
      (rf.units.some((u) => u.clipped)
        ? "; dashed: the full field, which padding takes past the edge." : ".")));
    body.appendChild(caption);
  }

  // ---- The parameter-share chart
  function renderShare() {
    const chart = document.getElementById("share-chart");
    const withParams = [];
    layers.forEach((l, i) => { if (l.params > 0) withParams.push(i); });
    if (!withParams.length) {
      chart.appendChild(el("p", "muted", "No layer has parameters."));
      return;
    }
    const max = Math.max(...withParams.map((i) => layers[i].share));
    for (const i of withParams) {
      const l = layers[i];
      const row = el("button", "bar-row");
      row.type = "button";
      row.title = l.path + " · " + l.operation;
      row.appendChild(el("span", "bar-label", middleEllipsis(l.path, 38)));
      const track = el("span", "bar-track");
      const fill = el("span", "bar-fill fam-" + l.family);
      fill.style.width = (max > 0 ? (100 * l.share) / max : 0).toFixed(2) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", "bar-value", l.text.share + " · " + l.text.params));
      row.addEventListener("click", () => select(i));
      bars[i] = row;
      chart.appendChild(row);
    }
  }

  // ---- Selection
  // Scroll a container (not the page) so that a node at or past its edge sits in its middle.
  function keepVisible(container, node, horizontal) {
    if (!container || !node) return;
    const c = container.getBoundingClientRect();
    const r = node.getBoundingClientRect();
    const edge = 40;
    if (horizontal && (r.left < c.left + edge || r.right > c.right - edge)) {
      container.scrollLeft += r.left + r.width / 2 - (c.left + c.width / 2);
    } else if (!horizontal && (r.top < c.top || r.bottom > c.bottom)) {
      container.scrollTop += r.top + r.height / 2 - (c.top + c.height / 2);
    }
  }

  function select(i) {
    if (i < 0 || i >= layers.length) return;
    for (const list of [blocks, bars, rows]) {
      if (selected >= 0 && list[selected]) list[selected].classList.remove("selected");
      if (list[i]) list[i].classList.add("selected");
    }
    if (selected >= 0 && blocks[selected]) blocks[selected].setAttribute("aria-pressed", "false");
    blocks[i].setAttribute("aria-pressed", "true");
    selected = i;
    showDetail(layers[i]);
    showRF(layers[i]);
    keepVisible(document.getElementById("diagram"), blocks[i], true);
    keepVisible(document.getElementById("share-chart"), bars[i], false);
    try {
      history.replaceState(null, "", "#" + encodeURIComponent(layers[i].path));
    } catch (e) {
      // Some file:// contexts refuse; the selection still works.
    }
  }

  function wireTable() {
    for (const tr of document.querySelectorAll("#layers tbody tr[data-index]")) {
      const i = Number(tr.dataset.index);
      rows[i] = tr;
      tr.addEventListener("click", () => select(i));
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") select(Math.min(layers.length - 1, selected + 1));
    else if (event.key === "ArrowLeft") select(Math.max(0, selected - 1));
    else return;
    event.preventDefault();
  });

  renderDiagram();
  renderShare();
  wireTable();
  if (layers.length) {
    let wanted = "";
    try {
      wanted = decodeURIComponent(location.hash.slice(1));
    } catch (e) {
      wanted = "";  // a malformed #fragment selects the first layer
    }
    const found = layers.findIndex((l) => l.path === wanted);
    select(found >= 0 ? found : 0);
  }
  document.body.dataset.ready = "true";
})();
