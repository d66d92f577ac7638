// Small SVG charts for the dashboard: a time series of one or more lines, and a stacked bar.
"use strict";

const Charts = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  // A round upper bound for an axis and its ticks: 0, step, 2 step... up to >= max.
  function niceScale(max, ticks) {
    if (!(max > 0)) return { top: 1, step: 1 };
    const raw = max / ticks;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    return { top: Math.ceil(max / step) * step, step };
  }

  function timeLabel(ms, span) {
    const d = new Date(ms);
    const iso = d.toISOString();
    if (span < 2 * 86400e3) return iso.slice(11, span < 600e3 ? 19 : 16);
    return iso.slice(0, 10);
  }

  function formatTick(value, step) {
    return step < 1 ? value.toFixed(step < 0.1 ? 2 : 1) : Math.round(value).toLocaleString("en-US");
  }

  // series: [{name, color, points: [[ms, value], ...]}]; opts: {step: true for a step line,
  // unit: text after values, height}
  function timeSeries(container, series, opts) {
    const o = Object.assign({ step: false, height: 180, unit: "" }, opts);
    container.textContent = "";
    const width = Math.max(container.clientWidth || 0, 260);
    const height = o.height;
    const pad = { left: 46, right: 14, top: 12, bottom: 24 };
    const all = series.flatMap((s) => s.points);
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
                            class: "svg-chart" }, container);
    if (all.length === 0) {
      const text = el("text", { x: width / 2, y: height / 2, "text-anchor": "middle",
                                class: "chart-empty" }, svg);
      text.textContent = o.empty || "no data yet";
      return svg;
    }
    let t0 = Math.min(...all.map((p) => p[0]));
    let t1 = Math.max(...all.map((p) => p[0]));
    if (t1 === t0) { t0 -= 1000; t1 += 1000; }
    const scale = niceScale(Math.max(...all.map((p) => p[1])), 4);
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * w;
    const y = (v) => pad.top + h - (v / scale.top) * h;

    for (let v = 0; v <= scale.top + 1e-9; v += scale.step) {
      el("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid-line" }, svg);
      const label = el("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end",
                                 class: "axis-label" }, svg);
      label.textContent = formatTick(v, scale.step);
    }
    // no more time labels than whole seconds in the span, so no two read the same
    const ticks = Math.max(2, Math.min(6, Math.floor(w / 90), Math.floor((t1 - t0) / 1000) + 1));
    for (let i = 0; i < ticks; i++) {
      const t = t0 + ((t1 - t0) * i) / (ticks - 1);
      const label = el("text", { x: x(t), y: height - 6, class: "axis-label",
                                 "text-anchor": i === 0 ? "start" : i === ticks - 1 ? "end" : "middle" }, svg);
      label.textContent = timeLabel(t, t1 - t0);
    }
    for (const s of series) {
      if (s.points.length === 0) continue;
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      let d = `M${x(pts[0][0])},${y(pts[0][1])}`;
      for (let i = 1; i < pts.length; i++) {
        d += o.step ? `H${x(pts[i][0])}V${y(pts[i][1])}` : `L${x(pts[i][0])},${y(pts[i][1])}`;
      }
      if (o.fill && pts.length > 1) {
        const area = `${d}V${y(0)}H${x(pts[0][0])}Z`;
        el("path", { d: area, fill: s.color, class: "area" }, svg);
      }
      el("path", Object.assign({ d, stroke: s.color, class: "line" },
                               s.dash ? { "stroke-dasharray": s.dash } : {}), svg);
      for (const p of pts.length <= 60 ? pts : [pts[pts.length - 1]]) {
        const dot = el("circle", { cx: x(p[0]), cy: y(p[1]), r: 2.8, fill: s.color }, svg);
        el("title", {}, dot).textContent = `${s.name}: ${formatTick(p[1], scale.step)}${o.unit} at ${new Date(p[0]).toISOString()}`;
      }
    }
    if (series.length > 1) {
      let lx = pad.left + 8;
      for (const s of series) {
        el("rect", { x: lx, y: pad.top + 2, width: 10, height: 10, rx: 2, fill: s.color }, svg);
        const label = el("text", { x: lx + 14, y: pad.top + 11, class: "legend" }, svg);
        label.textContent = s.name;
        lx += 22 + s.name.length * 7;
      }
    }
    return svg;
  }

  // parts: [{name, value, color}] drawn as one bar, each part as wide as its share.
  function stackedBar(container, parts) {
    container.textContent = "";
    const total = parts.reduce((sum, p) => sum + p.value, 0);
    const width = 100;
    const svg = el("svg", { viewBox: `0 0 ${width} 6`, preserveAspectRatio: "none",
                            class: "svg-bar", role: "img" }, container);
    if (total === 0) {
      el("rect", { x: 0, y: 0, width, height: 6, class: "bar-empty" }, svg);
      return svg;
    }
    let at = 0;
    for (const p of parts) {
      if (!p.value) continue;
      const part = el("rect", { x: at, y: 0, width: (p.value / total) * width, height: 6,
                                fill: p.color }, svg);
      el("title", {}, part).textContent = `${p.name}: ${p.value}`;
      at += (p.value / total) * width;
    }
    return svg;
  }

  return { timeSeries, stackedBar, niceScale };
})();
