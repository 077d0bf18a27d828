/* reco_app charts: a tiny dependency-free SVG line chart for the admin dashboard.
 *
 * Reads the series from <script id="reco-chart-data"> (json_script) and the x axis from
 * <script id="reco-chart-days">, and draws one chart into every
 * <figure class="reco-chart" data-chart="KEY" data-format="int|pct|money">.
 * Each series is {name, values[]}; values align with the days.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#417690", "#e07a1f", "#2e9e5b", "#b8405e", "#7a5cc4", "#8c8c2b", "#3aa0b5", "#6b6b6b"];

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(value, format) {
    if (format === "pct") return (value * 100).toFixed(1) + "%";
    if (format === "money") return value >= 1000 ? (value / 1000).toFixed(1) + "k" : value.toFixed(0);
    return value >= 1000 ? (value / 1000).toFixed(1) + "k" : String(Math.round(value));
  }

  function niceMax(max) {
    if (max <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(max)));
    var steps = [1, 2, 4, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= max) return steps[i] * p;
    return 10 * p;
  }

  function draw(target, series, days, format) {
    var W = 460, H = 220, L = 48, R = 20, T = 10, B = 38;
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, role: "img", class: "reco-svg"});
    var max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    max = niceMax(format === "pct" ? max : Math.max(max, 4));
    var n = Math.max(days.length - 1, 1);
    var x = function (i) { return L + (W - L - R) * i / n; };
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    for (var g = 0; g <= 4; g++) {
      var v = max * g / 4;
      svg.appendChild(el("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), class: "reco-grid"}));
      svg.appendChild(el("text", {x: L - 4, y: y(v) + 3, "text-anchor": "end", class: "reco-tick"}, fmt(v, format)));
    }
    var every = Math.max(1, Math.ceil(days.length / 6));
    days.forEach(function (d, i) {
      if (i % every === 0 || i === days.length - 1) {
        svg.appendChild(el("text", {x: x(i), y: H - B + 14, "text-anchor": "middle", class: "reco-tick"}, d.slice(5)));
      }
    });
    series.forEach(function (s, k) {
      var color = COLORS[k % COLORS.length];
      var pts = s.values.map(function (v, i) { return x(i).toFixed(1) + "," + y(v).toFixed(1); });
      svg.appendChild(el("polyline", {points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2, class: "reco-line"}));
      s.values.forEach(function (v, i) {
        var dot = el("circle", {cx: x(i), cy: y(v), r: 2.5, fill: color});
        dot.appendChild(el("title", {}, s.name + " " + days[i] + ": " + fmt(v, format)));
        svg.appendChild(dot);
      });
    });
    var legend = document.createElement("ul");
    legend.className = "reco-legend";
    series.forEach(function (s, k) {
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.style.background = COLORS[k % COLORS.length];
      li.appendChild(sw);
      li.appendChild(document.createTextNode(s.name));
      legend.appendChild(li);
    });
    target.innerHTML = "";
    if (!series.length) {
      target.textContent = "No data yet.";
      return;
    }
    target.appendChild(svg);
    target.appendChild(legend);
  }

  function init() {
    var dataNode = document.getElementById("reco-chart-data");
    var daysNode = document.getElementById("reco-chart-days");
    if (!dataNode || !daysNode) return;
    var data = JSON.parse(dataNode.textContent);
    var days = JSON.parse(daysNode.textContent);
    document.querySelectorAll("figure.reco-chart").forEach(function (fig) {
      draw(fig.querySelector(".reco-chart-area"), data[fig.dataset.chart] || [], days, fig.dataset.format);
    });
  }

  window.recoCharts = {draw: draw};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
