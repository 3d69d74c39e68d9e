/* Draws the dashboard's charts with Chart.js from the JSON embedded in the page
   (ingest/dashboard/model.py computes every series; this file only draws them). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var PALETTE = ["#2563eb", "#0891b2", "#16a34a", "#ca8a04", "#9333ea", "#db2777", "#ea580c",
                 "#0d9488", "#4f46e5", "#65a30d", "#be123c", "#0369a1", "#94a3b8"];
  var FIXED = {succeeded: "#16a34a", failed: "#dc2626", invalid: "#d97706", "row count": "#d97706",
               drift: "#7c3aed", quality: "#db2777", workbook: "#64748b", "(other jobs)": "#94a3b8"};
  var drawn = [];

  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  function colour(name, i) { return FIXED[name] || PALETTE[i % PALETTE.length]; }

  function datasets(series, kind) {
    return Object.keys(series).map(function (name, i) {
      var c = colour(name, i);
      return kind === "line"
        ? {label: name, data: series[name], borderColor: c, backgroundColor: c, spanGaps: true, tension: 0.2,
           pointRadius: 2}
        : {label: name, data: series[name], backgroundColor: c, borderWidth: 0};
    });
  }

  function draw(id, kind, chart, yTitle, counts) {
    var canvas = document.getElementById(id);
    var sets = datasets(chart.series, kind);
    if (!sets.length) {
      canvas.parentNode.setAttribute("data-empty", "true");
    }
    drawn.push(new Chart(canvas, {
      type: kind,
      data: {labels: chart.labels, datasets: sets},
      options: {
        interaction: {mode: "index", intersect: false},
        scales: {x: {stacked: kind === "bar", ticks: {maxRotation: 0, autoSkip: true}},
                 y: {stacked: kind === "bar", beginAtZero: true, title: {display: true, text: yTitle},
                     ticks: counts ? {precision: 0} : {}}},
        plugins: {legend: {position: "bottom"}}
      }
    }));
  }

  draw("chart-runs", "bar", data.charts.runs, "jobs", true);
  draw("chart-rows", "bar", data.charts.rows, "rows");
  draw("chart-duration", "line", data.charts.duration, "seconds (mean per day)");
  draw("chart-failures", "bar", data.charts.failures, "failed jobs", true);
  draw("chart-findings", "bar", data.charts.findings, "findings", true);
  document.body.setAttribute("data-charts-rendered", String(drawn.length));
})();
