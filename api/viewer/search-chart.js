// The matches-over-time chart of the search page, drawn by uPlot (vendor/uPlot.iife.min.js) from a
// /v6/logs/histogram/ answer: all matches and the stderr ones per bucket, in UTC. Dragging across it selects
// whole buckets and hands their window to onSelect(startedIso, endedIso).
"use strict";
window.SearchChart = (function () {
  const UNIT_MS = {ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000};

  function intervalMs(interval) {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(interval || "");
    return m ? Number(m[1]) * UNIT_MS[m[2]] : 1000;
  }

  // An instant as ISO-8601 in UTC with microseconds: `micros` (0-999) after the millisecond `ms`.
  function iso(ms, micros) {
    return new Date(ms).toISOString().replace("Z", String(micros).padStart(3, "0") + "Z");
  }

  // Axis labels in UTC, 24-hour: the date on the first tick and at midnight, seconds or milliseconds when the
  // ticks are that close.
  const two = (n) => String(n).padStart(2, "0");
  function tickLabels(u, splits, axis, space, incr) {
    return splits.map((ts, i) => {
      const d = new Date(ts * 1000);
      const date = d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate());
      let clock = two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
      if (incr < 60) clock += ":" + two(d.getUTCSeconds());
      if (incr < 1) clock += "." + String(d.getUTCMilliseconds()).padStart(3, "0");
      if (incr >= 86400) return date;
      const midnight = d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0;
      return i === 0 || midnight ? date + "\n" + clock : clock;
    });
  }

  function colour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }

  let plot = null, last = null;

  function draw(container, histogram, onSelect) {
    last = {container, histogram, onSelect};
    if (plot) { plot.destroy(); plot = null; }
    container.textContent = "";
    const buckets = histogram.buckets || [];
    if (!buckets.length) return;
    const step = intervalMs(histogram.interval);
    const starts = buckets.map((b) => Date.parse(b.start));
    const xs = starts.map((ms) => ms / 1000);
    const all = buckets.map((b) => b.count);
    const stderr = buckets.map((b) => (b.streams ? b.streams.stderr || 0 : null));
    const axis = colour("--chart-axis"), grid = colour("--chart-grid");
    const bars = uPlot.paths.bars({size: [0.9, 60], align: 1});
    const series = (label, name, alpha) => ({
      label, stroke: colour(name), fill: colour(name) + alpha, width: 1, paths: bars, points: {show: false},
    });
    const narrow = container.clientWidth < 500;
    const opts = {
      width: Math.max(container.clientWidth, 200),  // uPlot draws at a fixed size; the observer below follows
      height: narrow ? 120 : 150,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: {x: {time: true, range: (u, min, max) => [min, max + step / 1000]}, y: {range: (u, min, max) => [0, Math.max(max, 1)]}},
      axes: [
        {stroke: axis, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1}, values: tickLabels, space: 70},
        {stroke: axis, grid: {stroke: grid, width: 1}, ticks: {show: false}, size: 48},
      ],
      series: [{label: "time (UTC)"}, series("matches", "--chart-all", "99"), series("stderr", "--chart-stderr", "cc")],
      legend: {show: !narrow},
      cursor: {drag: {x: true, y: false, setScale: false}, points: {show: false}},
      hooks: {setSelect: [(u) => selected(u, starts, step)]},
    };
    plot = new uPlot(opts, [xs, all, stderr], container);
    observe(container);
  }

  // The selection, widened to the buckets it touches: from the first one's start to the last one's end.
  function selected(u, starts, step) {
    if (u.select.width < 3) return;
    const from = u.posToVal(u.select.left, "x") * 1000;
    const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
    u.setSelect({left: 0, top: 0, width: 0, height: 0}, false);
    const first = starts.filter((s) => s + step > from)[0];
    const touched = starts.filter((s) => s < to);
    if (first === undefined || !touched.length) return;
    const end = touched[touched.length - 1] + step;
    if (end <= first) return;
    // `ended` includes its instant: stop a microsecond before the next bucket starts.
    last.onSelect(iso(first, 0), iso(end - 1, 999));
  }

  // The chart follows its box's width (a window resized, a scroll bar that came): never wider than the page.
  let observed = null;
  const sizer = new ResizeObserver(() => {
    if (!plot || !last) return;
    const width = Math.max(last.container.clientWidth, 200);
    if (width !== plot.width) plot.setSize({width, height: plot.height});
  });
  function observe(container) {
    if (observed !== container) { sizer.observe(container); observed = container; }
  }
  if (window.ScaleTheme) window.ScaleTheme.onChange(() => { if (last) draw(last.container, last.histogram, last.onSelect); });
  return {draw};
})();
