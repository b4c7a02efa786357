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
          axisLabel: data.rotate ? { interval: 0, rotate: data.rotate } : undefined,
        },
        yAxis: {
          type: "value",
          max: data.max,
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
