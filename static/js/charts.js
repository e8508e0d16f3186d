/*
 * Charts drawn from data the server renders, for any screen: load Chart.js
 * (static/vendor/chart.js/chart.umd.min.js) and then this file, both deferred.
 *
 * In the template, a canvas names the JSON element that describes it:
 *
 *   <div class="chart-box"><canvas data-chart="balance-chart" role="img" aria-label="…"></canvas></div>
 *   {{ balance_chart|json_script:"balance-chart" }}
 *
 * The JSON (json_script writes a <script type="application/json">, which CSP allows
 * because it is data, not code):
 *
 *   {
 *     "type": "line" | "bar" | "doughnut",
 *     "labels": ["1", "2", …],
 *     "datasets": [
 *       {"label": "Francés", "data": [1000.5, "987.25", …], "color": "primary"},  // color optional
 *       …
 *     ],
 *     "options": {               // all optional
 *       "stacked": true,         // bar/line: stack the datasets
 *       "money": true,           // two decimals in tooltips
 *       "currency": "PEN",       // with money: the currency symbol (ISO 4217)
 *       "xLabel": "Cuota",       // axis titles
 *       "yLabel": "Saldo"
 *     }
 *   }
 *
 * Numbers may come as decimal strings (Django's JSON encoder writes Decimal that way).
 * Colors are Bootstrap's theme colors in palette order, one per dataset (per slice for
 * a doughnut); a dataset's "color" may name one ("success") or be any CSS color.
 * Numbers read the Peruvian way (1,234.50) through Intl.NumberFormat("es-PE").
 *
 * On a phone (below 576 px) a bar chart with many categories (more than 6) or a long one
 * (more than 16 characters) is drawn sideways: one row per category, the box as tall as
 * the rows need, long names wrapped and cut ("…") on the axis, whole in the tooltip. Wider
 * screens keep the columns and the box's own height (.chart-box in app.css).
 *
 * Charts are built on page load and again after every htmx swap; a canvas that already
 * has a chart gets it destroyed first. Chart.js 4 sizes the canvas through CSSOM
 * (element.style), which CSP's style-src 'self' does not block.
 */
(() => {
  "use strict";

  const LOCALE = "es-PE";
  const PALETTE = ["primary", "success", "warning", "danger", "info", "secondary", "indigo", "pink", "teal", "orange"];
  // Lines that coincide (German and flat balances do) stay visible, and tell apart without color.
  const DASHES = [[], [8, 4], [2, 3], [12, 4, 2, 4]];
  // Below Bootstrap's sm breakpoint: where a column chart of many categories had a plot
  // 181 × 84 px and drew 5 of its 14 names (the gestiones dashboard at 375 px).
  const NARROW = window.matchMedia("(max-width: 575.98px)");
  const MANY_LABELS = 6;
  const LONG_LABEL = 16;
  // A category's name on the axis: lines of at most LINE_CHARS characters, at most MAX_LINES
  // of them ("Solicitud de crédito · Rechazado gerente de negocios" fits whole).
  const LINE_CHARS = 20;
  const MAX_LINES = 3;
  // Bootstrap 5.3's defaults, for a page whose CSS variables are not there.
  const BOOTSTRAP = {
    primary: "#0d6efd", success: "#198754", warning: "#ffc107", danger: "#dc3545",
    info: "#0dcaf0", secondary: "#6c757d", indigo: "#6610f2", pink: "#d63384",
    teal: "#20c997", orange: "#fd7e14",
  };

  function resolveColor(name) {
    if (!(name in BOOTSTRAP)) return name;
    const css = getComputedStyle(document.documentElement).getPropertyValue(`--bs-${name}`).trim();
    return css || BOOTSTRAP[name];
  }

  function translucent(color, alpha) {
    const hex = /^#([0-9a-f]{6})$/i.exec(color);
    if (!hex) return color;
    const n = parseInt(hex[1], 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function toNumbers(values) {
    return (values || []).map((v) => (v === null || v === "" ? null : Number(v)));
  }

  function formatters(options, largest) {
    const value = new Intl.NumberFormat(LOCALE, options.money
      ? {
        minimumFractionDigits: 2,
        maximumFractionDigits: 2,
        ...(options.currency ? { style: "currency", currency: options.currency } : {}),
      }
      : { maximumFractionDigits: 2 });
    // Whole units on a money axis, unless every figure is small: ticks of 0.2 written
    // without decimals read "0 0 1 1 1".
    const wholeTicks = options.money && largest >= 10;
    const tick = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: wholeTicks ? 0 : 2 });
    return { value: (v) => value.format(v), tick: (v) => tick.format(v) };
  }

  function figures(spec) {
    return (spec.datasets || []).flatMap((dataset) => toNumbers(dataset.data))
      .filter((v) => v !== null && Number.isFinite(v));
  }

  function datasets(spec) {
    const count = PALETTE.length;
    return (spec.datasets || []).map((dataset, index) => {
      const { color: colorName, data, ...rest } = dataset;
      const values = toNumbers(data);
      if (spec.type === "doughnut") {
        const colors = values.map((_, i) => resolveColor(PALETTE[i % count]));
        return { ...rest, data: values, backgroundColor: colors, borderColor: "#fff" };
      }
      const color = resolveColor(colorName || PALETTE[index % count]);
      if (spec.type === "line") {
        return {
          ...rest,
          data: values,
          borderColor: color,
          backgroundColor: translucent(color, 0.15),
          borderWidth: 2,
          borderDash: DASHES[index % DASHES.length],
          pointRadius: values.length > 40 ? 0 : 2,
          tension: 0.15,
          fill: Boolean((spec.options || {}).stacked),
        };
      }
      return { ...rest, data: values, borderColor: color, backgroundColor: translucent(color, 0.75) };
    });
  }

  function axis(title, stacked, tickCallback, wholeSteps) {
    // A count (every figure whole) steps by whole units: never "1.8 gestiones".
    const ticks = tickCallback ? { callback: tickCallback, ...(wholeSteps ? { precision: 0 } : {}) } : null;
    return {
      stacked,
      title: { display: Boolean(title), text: title || "" },
      ...(ticks ? { beginAtZero: true, ticks } : {}),
    };
  }

  // A category's name as lines for the axis: whole words, at most LINE_CHARS a line and
  // MAX_LINES lines; what does not fit ends in "…" (the tooltip's title has it whole).
  function axisLines(label) {
    const words = String(label).split(/\s+/).filter(Boolean);
    const lines = [];
    let line = "";
    for (const word of words) {
      const longer = line ? `${line} ${word}` : word;
      if (longer.length <= LINE_CHARS) {
        line = longer;
        continue;
      }
      if (line) lines.push(line);
      line = word;
    }
    if (line) lines.push(line);
    const cut = (text) => `${text.slice(0, LINE_CHARS - 1).trimEnd()}…`;
    const kept = lines.slice(0, MAX_LINES).map((l) => (l.length > LINE_CHARS ? cut(l) : l));
    if (lines.length > MAX_LINES) kept[MAX_LINES - 1] = cut(kept[MAX_LINES - 1]);
    return kept.length > 1 ? kept : kept[0] || "";
  }

  // Sideways bars: on a phone, for a bar chart whose names would not fit under columns.
  function sideways(spec) {
    const labels = (spec.labels || []).map(String);
    return spec.type === "bar" && NARROW.matches
      && (labels.length > MANY_LABELS || labels.some((label) => label.length > LONG_LABEL));
  }

  // The box's height for sideways bars: a row per category, tall enough for its bars (side
  // by side unless stacked) and its name's lines, plus the legend and the value axis.
  function sidewaysHeight(spec) {
    const labels = spec.labels || [];
    const bars = (spec.options || {}).stacked ? 1 : Math.max(1, (spec.datasets || []).length);
    const lines = labels.reduce((most, label) => {
      const drawn = axisLines(label);
      return Math.max(most, Array.isArray(drawn) ? drawn.length : 1);
    }, 1);
    const row = Math.max(28, bars * 12 + 10, lines * 15 + 8);
    return Math.max(240, labels.length * row + 110);
  }

  function config(spec) {
    const options = spec.options || {};
    const values = figures(spec);
    const largest = values.reduce((most, v) => Math.max(most, Math.abs(v)), 0);
    const counts = !options.money && values.every((v) => Number.isInteger(v));
    const format = formatters(options, largest);
    const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    const across = sideways(spec);
    const valueAxis = across ? "x" : "y";
    const chartOptions = {
      responsive: true,
      maintainAspectRatio: false,
      locale: LOCALE,
      animation: reducedMotion ? false : { duration: 300 },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            label: (ctx) => {
              const raw = spec.type === "doughnut" ? ctx.parsed : ctx.parsed[valueAxis];
              const name = spec.type === "doughnut" ? ctx.label : ctx.dataset.label;
              return `${name}: ${format.value(raw)}`;
            },
          },
        },
      },
    };
    if (spec.type !== "doughnut") {
      const stacked = Boolean(options.stacked);
      chartOptions.interaction = { mode: "index", intersect: false };
      chartOptions.scales = {
        x: axis(options.xLabel, stacked, null),
        y: axis(options.yLabel, stacked, (v) => format.tick(v), counts),
      };
      if (across) {
        // The categories go down the side (y) and the figures along the bottom (x), each
        // keeping its title; every name is written, wrapped and cut, none skipped.
        const categories = axis(options.xLabel, stacked, null);
        categories.ticks = {
          autoSkip: false,
          callback(value) {
            return axisLines(this.getLabelForValue(value));
          },
        };
        chartOptions.indexAxis = "y";
        chartOptions.scales = {
          x: axis(options.yLabel, stacked, (v) => format.tick(v), counts),
          y: categories,
        };
      }
    }
    return { type: spec.type, data: { labels: spec.labels || [], datasets: datasets(spec) }, options: chartOptions };
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    let spec;
    try {
      spec = JSON.parse(source.textContent);
    } catch (error) {
      console.error(`charts.js: invalid JSON in #${canvas.dataset.chart}`, error);
      return;
    }
    const previous = window.Chart.getChart(canvas);
    if (previous) previous.destroy();
    // Sideways bars take the height their rows need; otherwise the box's CSS height again.
    const box = canvas.parentElement;
    if (box && sideways(spec)) {
      box.style.height = `${sidewaysHeight(spec)}px`;
      box.dataset.chartHeight = "rows";
    } else if (box && box.dataset.chartHeight) {
      box.style.height = "";
      delete box.dataset.chartHeight;
    }
    new window.Chart(canvas, config(spec));
  }

  // Charts whose canvas an htmx swap took off the page would otherwise stay in memory.
  function forgetDetached() {
    Object.values(window.Chart.instances).forEach((chart) => {
      if (!chart.canvas || !chart.canvas.isConnected) chart.destroy();
    });
  }

  function drawAll(scopes) {
    if (!window.Chart) return;
    forgetDetached();
    const redraw = new Set();
    scopes.filter((el) => el && el.isConnected && el.querySelectorAll).forEach((scope) => {
      if (scope.matches && scope.matches("canvas[data-chart]")) redraw.add(scope);
      scope.querySelectorAll("canvas[data-chart]").forEach((canvas) => redraw.add(canvas));
    });
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      if (redraw.has(canvas) || !window.Chart.getChart(canvas)) draw(canvas);
    });
  }

  function onSwap(event) {
    drawAll([event.detail.target, event.detail.elt]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => drawAll([]));
  } else {
    drawAll([]);
  }
  document.addEventListener("htmx:afterSwap", onSwap);
  document.addEventListener("htmx:oobAfterSwap", onSwap);
  // A phone turned sideways (or a window narrowed past 576 px): columns or rows again.
  NARROW.addEventListener("change", () => {
    if (window.Chart) document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
