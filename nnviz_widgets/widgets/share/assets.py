"""The style sheet and the script of a shared page, inlined into every file ``save_html`` writes.

The page must open from disk with no kernel and no network: nothing here refers to anything
outside the file (no font, no image, no script by address). The script reads the page's data
from a JSON block (``<script type="application/json">``, never executed) and writes every name
into the page as text (``textContent``), never as HTML, so a layer called ``<script>`` shows as
those characters. Its content hash goes into the page's Content-Security-Policy, so that no
other script (an injected one included) would run.
"""

from __future__ import annotations

__all__ = ["SCRIPT", "STYLE"]

STYLE = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --quiet: #616161;
  --frame: #c8c8c8; --card: #f7f7f7; --warn: #b00020; --marker: #1b1b1b; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --bg: #111111; --quiet: #a8a8a8; --frame: #4a4a4a; --card: #1c1c1c;
    --warn: #ff6e6e; --marker: #e6e6e6; }
}
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 16px 24px; }
h1 { font-size: 18px; margin: 0 0 4px; }
.quiet { color: var(--quiet); font-size: 12px; margin: 2px 0; }
.warn { color: var(--warn); font-size: 12px; margin: 2px 0; }
.controls { display: flex; align-items: center; gap: 8px; margin: 10px 0; flex-wrap: wrap; }
.controls input[type=range] { width: 360px; }
.controls button { font: inherit; padding: 1px 8px; }
#epoch { font-weight: 600; min-width: 280px; }
.views { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.views + .views { margin-top: 16px; }
.card { background: var(--card); border: 1px solid var(--frame); border-radius: 4px;
  padding: 8px 10px; max-width: 480px; }
.card h2 { font-size: 13px; font-weight: 600; margin: 0 0 6px; overflow-wrap: anywhere; }
.picture { image-rendering: pixelated; image-rendering: crisp-edges; display: block;
  border: 1px solid var(--frame); cursor: crosshair; }
.bar-row { display: flex; align-items: center; gap: 6px; margin-top: 6px; font-size: 12px; }
.bar { image-rendering: auto; width: 260px; height: 12px; border: 1px solid var(--frame); }
.readout { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; min-height: 1.4em;
  margin-top: 4px; overflow-wrap: anywhere; }
.chart-title { font-size: 14px; margin: 16px 0 0; }
.chart { display: block; margin-top: 4px; }
.chart .frame { fill: none; stroke: var(--frame); }
.chart text { font-size: 11px; fill: var(--fg); }
.chart text.axis { fill: var(--quiet); }
.chart .marker { stroke: var(--marker); stroke-dasharray: 3 3; }
.chart .current { fill: none; stroke-width: 2; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("share-data").textContent);
  var count = data.snapshots.length;
  var slider = document.getElementById("snapshot");
  var epochText = document.getElementById("epoch");
  var current = 0;
  var decoded = {};
  var cards = data.views.map(function (view, v) {
    var card = document.getElementById("view-" + v);
    var part = function (name) { return card.querySelector("." + name); };
    card.querySelector("h2").textContent = view.name;
    var picture = part("picture");
    var parts = { card: card, title: part("title"), picture: picture, bar: part("bar"),
      low: part("low"), middle: part("middle"), high: part("high"), note: part("note"),
      nonfinite: part("nonfinite"), missing: part("missing"), readout: part("readout"),
      pointer: null };
    picture.addEventListener("mousemove", function (event) {
      var box = picture.getBoundingClientRect();
      parts.pointer = [(event.clientX - box.left) / box.width,
        (event.clientY - box.top) / box.height];
      readOut(v);
    });
    picture.addEventListener("mouseleave", function () {
      parts.pointer = null;
      parts.readout.textContent = data.hint;
    });
    return parts;
  });

  function bytesOf(text) {
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function valuesOf(v, k) {
    var key = v + ":" + k;
    if (!(key in decoded)) {
      var frame = data.views[v].frames[k];
      decoded[key] = {
        values: frame.values ? new Float32Array(bytesOf(frame.values).buffer) : null,
        gaps: frame.gaps ? bytesOf(frame.gaps) : null
      };
    }
    return decoded[key];
  }

  function cellsOf(v) {
    var key = "cells:" + v, cells = data.views[v].cells;
    if (!(key in decoded)) {
      var bytes = cells ? bytesOf(cells.data) : null;
      decoded[key] = !bytes ? null : cells.bits === 16
        ? new Int16Array(bytes.buffer) : new Int32Array(bytes.buffer);
    }
    return decoded[key];
  }

  function tensorIndex(v, frame, row, column) {
    // "quantity[i, j, ...]" where the picture keeps where its cells come from (same shape)
    var cells = data.views[v].cells, table = cellsOf(v);
    if (!table || cells.shape[0] !== frame.rows || cells.shape[1] !== frame.columns) {
      return "";
    }
    var dims = cells.shape[2], start = (row * frame.columns + column) * dims, parts = [];
    for (var d = 0; d < dims; d++) { parts.push(String(table[start + d])); }
    return " \u2192 " + data.views[v].quantity + "[" + parts.join(", ") + "]";
  }

  function number(x) {
    if (x === null || x === undefined) { return "?"; }
    if (Number.isNaN(x)) { return "NaN"; }
    if (!Number.isFinite(x)) { return x > 0 ? "+Inf" : "-Inf"; }
    return String(Number(x.toPrecision(6)));
  }

  function cellOf(fraction, cells) {
    return Math.min(cells - 1, Math.max(0, Math.floor(fraction * cells)));
  }

  function readOut(v) {
    var parts = cards[v], frame = data.views[v].frames[current];
    if (!parts.pointer || frame.missing) { parts.readout.textContent = data.hint; return; }
    var row = cellOf(parts.pointer[1], frame.rows);
    var column = cellOf(parts.pointer[0], frame.columns);
    var where = frame.block[0] * frame.block[1] > 1
      ? "rows " + row * frame.block[0] + "-" + ((row + 1) * frame.block[0] - 1) + ", columns " +
        column * frame.block[1] + "-" + ((column + 1) * frame.block[1] - 1) + " (block mean)"
      : "row " + row + ", column " + column;
    if (!frame.values) {
      parts.readout.textContent = where + ": " + frame.values_note;
      return;
    }
    var held = valuesOf(v, current), cell = row * frame.columns + column;
    if (held.gaps && held.gaps[cell]) {
      parts.readout.textContent = where + ": gap between tiles";
    } else {
      parts.readout.textContent = where + tensorIndex(v, frame, row, column) + " = " +
        number(held.values[cell]);
    }
  }

  function show(k) {
    current = Math.max(0, Math.min(count - 1, k));
    slider.value = String(current);
    epochText.textContent = data.snapshots[current].line;
    data.views.forEach(function (view, v) {
      var frame = view.frames[current], parts = cards[v];
      parts.title.textContent = frame.title;
      parts.missing.textContent = frame.missing || "";
      parts.picture.hidden = !!frame.missing;
      parts.bar.parentNode.hidden = !!frame.missing;
      if (!frame.missing) {
        parts.picture.src = frame.png;
        parts.picture.style.width = frame.width + "px";
        parts.picture.style.height = frame.height + "px";
        parts.bar.src = data.bars[frame.map];
        parts.low.textContent = number(frame.low);
        parts.middle.textContent = number((frame.low + frame.high) / 2);
        parts.high.textContent = number(frame.high);
      }
      parts.note.textContent = frame.note || "";
      parts.nonfinite.textContent = frame.nonfinite || "";
      readOut(v);
    });
    var marker = document.getElementById("metrics-marker");
    var strips = document.querySelectorAll("#metrics-chart g.strip");
    data.markers.forEach(function (metric, m) {
      var point = metric.points[current], strip = strips[m];
      var circle = strip.querySelector("circle.current"), value = strip.querySelector(".value");
      if (point) {
        circle.setAttribute("cx", point[0]);
        circle.setAttribute("cy", point[1]);
        value.textContent = " = " + number(point[2]);
        marker.setAttribute("x1", point[0]);
        marker.setAttribute("x2", point[0]);
      } else {
        circle.setAttribute("cx", -10);
        value.textContent = " (none here)";
      }
    });
  }

  slider.addEventListener("input", function () { show(Number(slider.value)); });
  document.getElementById("previous").addEventListener("click", function () { show(current - 1); });
  document.getElementById("next").addEventListener("click", function () { show(current + 1); });
  document.addEventListener("keydown", function (event) {
    if (event.target === slider || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1,
      PageDown: 10, PageUp: -10 };
    if (event.key in moves) { show(current + moves[event.key]); }
    else if (event.key === "Home") { show(0); }
    else if (event.key === "End") { show(count - 1); }
    else { return; }
    event.preventDefault();
  });
  show(data.start);
  document.body.setAttribute("data-ready", "1");
})();
"""
