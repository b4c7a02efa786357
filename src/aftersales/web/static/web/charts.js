// Charts (Apache ECharts) drawn from data the server puts in `json_script` tags: no inline
// scripts, so a strict Content-Security-Policy holds.
//
//   <div data-chart="bar" data-chart-data="shares-data" data-height="320"></div>
//   {{ shares|json_script:"shares-data" }}
//
// Kinds and their data:
//   bar:     {title?, categories: [...], series: [{name, values: [...]}], unit?: "%", max?: n}
//   boxplot: {title?, categories: [...], boxes: [[min, q1, median, q3, max], ...],
//             means?: [...], meanLabel?: "...", unit?: "..."}
//   pie:     {title?, slices: [{name, value}, ...]}
//   line:    {title?, categories: [...], series: [{name, values: [...]}], unit?, min?, max?}
//   xy:      {title?, xName?, yName?, xUnit?, yUnit?, yMin?, yMax?,
//             series: [{name, points: [[x, y], ...], type?: "line" | "scatter", dashed?: bool}]}
//   heatmap: {title?, x: [...], y: [...], cells: [[xIndex, yIndex, value, note?], ...],
//             valueLabel?: "...", noteLabel?: "..."}   (note: shown in the tooltip)
//   forecast: {title?, categories: [months], unit?,
//             history: {name, values}, mean: {name, values},
//             band?: {name, low: [...], high: [...]}, events?: [{name, from, to}]}
//             (history as bars, the forecast mean as a line, the interval as a shaded band,
//             events as shaded month ranges)
// `rotate` (bar) turns long category labels by that many degrees.
// Every chart offers "save as image" (PNG) and follows the page language.
// Tooltips are drawn on the canvas (renderMode "richText"): ECharts' HTML tooltips carry inline
// style attributes, which the policy's `style-src 'self'` refuses.
(function () {
  "use strict";

  function readData(id) {
    const el = id && document.getElementById(id);
    if (!el) return null;
    try {
      return JSON.parse(el.textContent);
    } catch (err) {
      return null;
    }
  }

  function withUnit(unit) {
    return function (value) {
      return value + (unit || "");
    };
  }

  function common(data) {
    return {
      title: data.title ? { text: data.title, textStyle: { fontSize: 13, fontWeight: 600 } } : undefined,
      toolbox: { feature: { saveAsImage: { pixelRatio: 2 } } },
      grid: { left: 12, right: 16, bottom: 8, top: data.title ? 56 : 40, containLabel: true },
    };
  }

  const builders = {
    bar: function (data) {
      return Object.assign(common(data), {
        tooltip: { trigger: "axis", valueFormatter: withUnit(data.unit), renderMode: "richText" },
        legend: { top: data.title ? 24 : 0 },
        xAxis: {
          type: "category",
          data: data.categories,
          // An `undefined` axisLabel would replace ECharts' default and hide the labels.
          axisLabel: { interval: 0, rotate: data.rotate || 0 },
        },
        yAxis: {
          type: "value",
          max: data.max,
          // Headroom above the tallest bar for its value label, clear of the legend.
          boundaryGap: [0, "12%"],
          axisLabel: { formatter: "{value}" + (data.unit || "") },
        },
        series: (data.series || []).map(function (s) {
          return {
            name: s.name,
            type: "bar",
            data: s.values,
            label: { show: true, position: "top", formatter: "{c}" + (data.unit || "") },
          };
        }),
      });
    },
    boxplot: function (data) {
      const series = [{ name: data.title || "", type: "boxplot", data: data.boxes }];
      if (data.means) {
        series.push({
          name: data.meanLabel || "",
          type: "scatter",
          data: data.means,
          symbolSize: 8,
        });
      }
      return Object.assign(common(data), {
        tooltip: { trigger: "item", renderMode: "richText" },
        xAxis: { type: "category", data: data.categories },
        yAxis: { type: "value", axisLabel: { formatter: "{value}" + (data.unit || "") } },
        series: series,
      });
    },
    pie: function (data) {
      return Object.assign(common(data), {
        tooltip: { trigger: "item", renderMode: "richText", formatter: "{b}: {c} ({d}%)" },
        legend: { bottom: 0 },
        series: [
          {
            type: "pie",
            radius: ["35%", "65%"],
            data: data.slices,
            label: { formatter: "{b}\n{d}%" },
          },
        ],
      });
    },
    line: function (data) {
      return Object.assign(common(data), {
        tooltip: { trigger: "axis", valueFormatter: withUnit(data.unit), renderMode: "richText" },
        legend: { top: data.title ? 24 : 0 },
        xAxis: { type: "category", data: data.categories, boundaryGap: false },
        yAxis: {
          type: "value",
          min: data.min,
          max: data.max,
          axisLabel: { formatter: "{value}" + (data.unit || "") },
        },
        series: (data.series || []).map(function (s) {
          return { name: s.name, type: "line", data: s.values, connectNulls: false };
        }),
      });
    },
    xy: function (data) {
      return Object.assign(common(data), {
        grid: { left: 12, right: 24, bottom: 32, top: data.title ? 64 : 40, containLabel: true },
        tooltip: { trigger: "item", renderMode: "richText" },
        legend: { top: data.title ? 24 : 0 },
        xAxis: {
          type: "value",
          name: data.xName,
          nameLocation: "middle",
          nameGap: 28,
          scale: true,
          axisLabel: { formatter: "{value}" + (data.xUnit || "") },
        },
        yAxis: {
          type: "value",
          name: data.yName,
          min: data.yMin,
          max: data.yMax,
          scale: true,
          axisLabel: { formatter: "{value}" + (data.yUnit || "") },
        },
        series: (data.series || []).map(function (s) {
          const scatter = s.type === "scatter";
          return {
            name: s.name,
            type: scatter ? "scatter" : "line",
            data: s.points,
            symbolSize: scatter ? 12 : 4,
            showSymbol: scatter,
            lineStyle: { type: s.dashed ? "dashed" : "solid" },
          };
        }),
      });
    },
    heatmap: function (data) {
      const cells = data.cells || [];
      const top = cells.reduce(function (m, c) {
        return Math.max(m, c[2] || 0);
      }, 0);
      return Object.assign(common(data), {
        tooltip: {
          trigger: "item",
          renderMode: "richText",
          formatter: function (p) {
            const cell = cells[p.dataIndex] || [];
            let text = data.y[cell[1]] + " · " + data.x[cell[0]] + ": " + cell[2];
            if (data.valueLabel) text += " " + data.valueLabel;
            if (cell[3] !== undefined && cell[3] !== null) {
              text += "\n" + (data.noteLabel ? data.noteLabel + ": " : "") + cell[3];
            }
            return text;
          },
        },
        grid: { left: 12, right: 16, bottom: 56, top: data.title ? 40 : 16, containLabel: true },
        xAxis: { type: "category", data: data.x, splitArea: { show: true } },
        // The first row (class A) on top.
        yAxis: { type: "category", data: data.y, inverse: true, splitArea: { show: true } },
        visualMap: {
          min: 0,
          max: Math.max(top, 1),
          calculable: true,
          orient: "horizontal",
          left: "center",
          bottom: 0,
        },
        series: [
          {
            type: "heatmap",
            data: cells.map(function (c) {
              return [c[0], c[1], c[2]];
            }),
            label: { show: true },
          },
        ],
      });
    },
    forecast: function (data) {
      const band = data.band;
      const series = [
        { name: data.history.name, type: "bar", data: data.history.values, barMaxWidth: 18 },
        {
          name: data.mean.name,
          type: "line",
          data: data.mean.values,
          lineStyle: { type: "dashed", width: 2 },
          symbolSize: 4,
        },
      ];
      if (band) {
        // The band is the low line plus the stacked (high - low) area above it.
        series.push({
          name: band.name,
          type: "line",
          data: band.low,
          stack: "band",
          symbol: "none",
          lineStyle: { opacity: 0 },
        });
        series.push({
          name: band.name,
          type: "line",
          data: band.high.map(function (h, i) {
            return h === null || band.low[i] === null ? null : h - band.low[i];
          }),
          stack: "band",
          symbol: "none",
          lineStyle: { opacity: 0 },
          areaStyle: { opacity: 0.25 },
        });
      }
      if (data.events && data.events.length) {
        series[0].markArea = {
          itemStyle: { opacity: 0.12 },
          label: { position: "insideTop", fontSize: 10, color: "#555", textBorderWidth: 0 },
          data: data.events.map(function (e) {
            return [{ name: e.name, xAxis: e.from }, { xAxis: e.to }];
          }),
        };
      }
      return Object.assign(common(data), {
        tooltip: {
          trigger: "axis",
          renderMode: "richText",
          formatter: function (params) {
            if (!params.length) return "";
            const i = params[0].dataIndex;
            const unit = data.unit || "";
            const lines = [params[0].axisValue];
            const h = data.history.values[i];
            const m = data.mean.values[i];
            if (h !== null && h !== undefined) lines.push(data.history.name + ": " + h + unit);
            if (m !== null && m !== undefined) lines.push(data.mean.name + ": " + m + unit);
            if (band && band.low[i] !== null && band.low[i] !== undefined) {
              lines.push(band.name + ": " + band.low[i] + "–" + band.high[i] + unit);
            }
            return lines.join("\n");
          },
        },
        legend: { top: data.title ? 24 : 0 },
        xAxis: { type: "category", data: data.categories },
        yAxis: { type: "value", min: 0, axisLabel: { formatter: "{value}" + (data.unit || "") } },
        series: series,
      });
    },
  };

  function draw(el) {
    const build = builders[el.dataset.chart];
    const data = readData(el.dataset.chartData);
    if (!build || !data || typeof echarts === "undefined" || echarts.getInstanceByDom(el)) return;
    el.style.height = (parseInt(el.dataset.height, 10) || 300) + "px";
    const lang = (document.documentElement.lang || "").toLowerCase();
    const chart = echarts.init(el, null, { locale: lang.indexOf("zh") === 0 ? "ZH" : "EN" });
    chart.setOption(build(data));
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
  });
  // Charts inside content swapped in by HTMX are drawn too.
  document.addEventListener("htmx:afterSettle", function (event) {
    drawAll(event.target);
  });
})();
