// Traffic statistics per camera (`detector stats compute`, GET /v1/stats): the vehicles counted per
// interval as stacked bars by class or by lane (SVG drawn here, no chart library), and per lane and
// interval the spot speeds (median, 85th percentile), the loop's occupancy, the longest queue and the
// congestion level as a table. A day at a time (Vietnam's time), the camera's last day first.
import { getJson } from "./api.js";
import { el, showError } from "./dom.js";
import { language, t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const TZ = "Asia/Ho_Chi_Minh";
const TZ_OFFSET = "+07:00"; // Vietnam keeps no summer time
const PAGE_ROWS = 20000;
const MAX_BARS = 180; // more intervals than this in a day: neighbours are summed into one bar
const TABLE_MAX = 150;
const COLOURS = ["#0b57d0", "#e37400", "#188038", "#a142f4", "#d93025", "#00838f", "#5f6368", "#b06000"];
const ORDER = ["car", "motorcycle", "bus", "truck", "bicycle", "person"];

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text != null) n.textContent = text;
  return n;
}

function localDay(iso) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date(iso)); // YYYY-MM-DD
}

function clock(ms, seconds = true) {
  return new Intl.DateTimeFormat(language() === "vi" ? "vi-VN" : "en-GB", {
    timeZone: TZ, hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined,
  }).format(new Date(ms));
}

function nextDay(day) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function laneName(id) {
  return id === "off_lane" ? t("off_lane") : id;
}

// one day of a camera's rows, paged by interval start (rows of the interval a page ends in come again)
async function dayRows(camera, day) {
  const until = `${nextDay(day)}T00:00:00${TZ_OFFSET}`;
  const rows = new Map();
  let since = `${day}T00:00:00${TZ_OFFSET}`;
  for (;;) {
    const q = new URLSearchParams({ camera_id: camera, since, until, limit: String(PAGE_ROWS) });
    const page = await getJson(`/v1/stats?${q}`);
    for (const r of page) rows.set(`${r.interval_start}|${r.lane_id}|${r.vehicle_class}`, r);
    if (page.length < PAGE_ROWS || page[page.length - 1].interval_start === since) break;
    since = page[page.length - 1].interval_start;
  }
  return [...rows.values()].sort((a, b) => Date.parse(a.interval_start) - Date.parse(b.interval_start));
}

// bars: [{start, end, intervals:[iso], counts:{key: n}, total}] with the series keys, largest first
function bars(rows, by) {
  const starts = [...new Set(rows.map((r) => r.interval_start))].sort((a, b) => Date.parse(a) - Date.parse(b));
  const per = Math.max(1, Math.ceil(starts.length / MAX_BARS));
  const index = new Map(starts.map((s, i) => [s, Math.floor(i / per)]));
  const out = [];
  for (let i = 0; i < starts.length; i += per) {
    const group = starts.slice(i, i + per);
    const last = rows.find((r) => r.interval_start === group[group.length - 1]);
    out.push({ start: Date.parse(group[0]), end: Date.parse(last.interval_start) + last.interval_s * 1000,
               intervals: group, counts: {}, total: 0 });
  }
  const totals = {};
  for (const r of rows) {
    if (r.vehicle_class === "all" || !r.count) continue;
    const key = by === "lane" ? r.lane_id : r.vehicle_class;
    const b = out[index.get(r.interval_start)];
    b.counts[key] = (b.counts[key] || 0) + r.count;
    b.total += r.count;
    totals[key] = (totals[key] || 0) + r.count;
  }
  const rank = (k) => (by === "class" && ORDER.includes(k) ? ORDER.indexOf(k) : 100);
  const keys = Object.keys(totals).sort((a, b) => rank(a) - rank(b) || totals[b] - totals[a] || a.localeCompare(b));
  return { bars: out, keys, per };
}

function niceStep(top) {
  const raw = Math.max(1, top) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw && Number.isInteger(s)) || Math.ceil(raw);
}

function keyLabel(key, by) {
  return by === "lane" ? laneName(key) : t(key);
}

function drawChart(data, by, onPick) {
  const W = 960, H = 310, L = 44, R = 12, T = 26, B = 42;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "traffic-chart", role: "img", id: "traffic-chart" });
  chart.append(svg("title", {}, t("chart_title")));
  const n = data.bars.length;
  const top = Math.max(1, ...data.bars.map((b) => b.total));
  const step = niceStep(top);
  const yMax = Math.ceil(top / step) * step;
  const y = (v) => T + (H - T - B) * (1 - v / yMax);
  for (let v = 0; v <= yMax; v += step) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v ? "grid" : "axis" }));
    chart.append(svg("text", { x: L - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, String(v)));
  }
  chart.append(svg("text", { x: 4, y: 12, class: "tick" }, t("vehicles")));
  const slot = (W - L - R) / Math.max(n, 1);
  const bw = Math.max(1, Math.min(slot * 0.72, 90));
  const labelEvery = Math.max(1, Math.ceil(n / 8));
  data.bars.forEach((b, i) => {
    const x = L + slot * i + (slot - bw) / 2;
    const g = svg("g", { class: "bar", "data-interval": b.intervals[0], "data-total": b.total, tabindex: 0 });
    let acc = 0;
    data.keys.forEach((k, j) => {
      const c = b.counts[k] || 0;
      if (!c) return;
      g.append(svg("rect", { x, y: y(acc + c), width: bw, height: y(acc) - y(acc + c),
                              fill: COLOURS[j % COLOURS.length], "data-key": k, "data-count": c }));
      acc += c;
    });
    // a transparent column over the whole slot: the click and hover target, also for empty intervals
    g.append(svg("rect", { x: L + slot * i, y: T, width: slot, height: H - T - B, class: "hit" }));
    const lines = data.keys.filter((k) => b.counts[k]).map((k) => `${keyLabel(k, by)}: ${b.counts[k]}`);
    g.append(svg("title", {}, `${clock(b.start)} – ${clock(b.end)}\n${t("vehicles")}: ${b.total}\n${lines.join("\n")}`));
    if (b.total && bw >= 14) g.append(svg("text", { x: x + bw / 2, y: y(b.total) - 4, class: "bar-total", "text-anchor": "middle" }, String(b.total)));
    g.addEventListener("click", () => onPick(b, g));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") onPick(b, g); });
    chart.append(g);
    if (i % labelEvery === 0) {
      chart.append(svg("text", { x: L + slot * (i + 0.5), y: H - B + 16, class: "tick", "text-anchor": "middle" }, clock(b.start, n <= 24)));
    }
  });
  chart.append(svg("text", { x: (L + W - R) / 2, y: H - 6, class: "tick", "text-anchor": "middle" },
    data.per > 1 ? `${t("interval_start")} (${data.per} ${t("intervals_per_bar")})` : t("interval_start")));
  return chart;
}

function legend(data, by) {
  return el("ul", { class: "legend", id: "traffic-legend" }, data.keys.map((k, j) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = COLOURS[j % COLOURS.length]; // CSSOM: the page's policy forbids style attributes
    return el("li", { dataset: { key: k } }, swatch, keyLabel(k, by));
  }));
}

const num = (x, d = 1) => (x == null ? "–" : x.toFixed(d));

function laneTable(rows, only) {
  const lanes = rows.filter((r) => r.vehicle_class === "all" && (!only || only.includes(r.interval_start))).reverse();
  const shown = lanes.slice(0, TABLE_MAX);
  const cell = (v, key) => el("td", { dataset: { field: key } }, v);
  const body = el("tbody", {}, shown.map((r) => el("tr", { dataset: { interval: r.interval_start, lane: r.lane_id } },
    el("td", { text: `${clock(Date.parse(r.interval_start))} (${r.interval_s} s)` }),
    el("th", { text: laneName(r.lane_id) }),
    cell(String(r.count), "count"),
    cell(num(r.speed_median_kmh), "speed_median"),
    cell(num(r.speed_p85_kmh), "speed_p85"),
    cell(r.occupancy == null ? "–" : `${(r.occupancy * 100).toFixed(1)}%`, "occupancy"),
    cell(num(r.queue_max_m), "queue"),
    cell(r.congestion ? el("span", { class: `badge cg-${r.congestion}`, text: t(`cg_${r.congestion}`) }) : "–", "congestion"))));
  const head = ["interval_start", "lane", "vehicles", "speed_median", "speed_p85", "occupancy", "queue_m", "congestion"];
  return el("div", {},
    el("table", { class: "cameras traffic-table", id: "traffic-table" },
      el("thead", {}, el("tr", {}, head.map((k) => el("th", { text: t(k) })))), body),
    lanes.length > shown.length ? el("p", { class: "small muted", text: `${t("showing_newest")} ${shown.length} / ${lanes.length}` }) : null);
}

export function trafficPage(page) {
  const camSel = el("select", { id: "traffic-camera", name: "camera" });
  const dayIn = el("input", { type: "date", id: "traffic-day", name: "day" });
  const byBtns = ["class", "lane"].map((k) => el("button", { type: "button", dataset: { by: k }, text: t(`by_${k}`) }));
  const summary = el("p", { class: "small", id: "traffic-summary" });
  const chartBox = el("div", { class: "chart-box" });
  const tableBox = el("div", { class: "scroll" });
  const tableHead = el("h3", { text: t("per_lane") });
  const note = el("p", { class: "muted", id: "no-stats", text: t("no_stats"), hidden: true });
  const controls = el("div", { class: "traffic-controls" },
    el("label", {}, t("camera"), camSel), el("label", {}, t("day"), dayIn),
    el("div", { class: "seg", role: "group", "aria-label": t("group_by") }, byBtns));
  page.append(el("div", { class: "page-head" }, el("h1", { text: t("traffic_title") })), note,
    el("div", { class: "card block", id: "traffic-card" }, controls, summary, chartBox),
    el("div", { class: "card block" }, tableHead, tableBox));
  let cams = [];
  let rows = [];
  let by = "class";
  let stopped = false;
  let picked = null;

  function render() {
    for (const b of byBtns) b.classList.toggle("active", b.dataset.by === by);
    const data = bars(rows, by);
    const total = data.bars.reduce((s, b) => s + b.total, 0);
    const intervals = new Set(rows.map((r) => r.interval_start)).size;
    summary.textContent = `${total} ${t("vehicles").toLowerCase()} · ${intervals} ${t("intervals")}`;
    summary.dataset.total = String(total);
    const pick = (b, g) => {
      picked = picked && picked.intervals[0] === b.intervals[0] ? null : b;
      for (const x of chartBox.querySelectorAll(".bar")) x.classList.toggle("picked", picked !== null && x === g);
      tableHead.textContent = picked ? `${t("per_lane")} · ${clock(picked.start)} – ${clock(picked.end)}` : t("per_lane");
      tableBox.replaceChildren(laneTable(rows, picked ? picked.intervals : null));
    };
    chartBox.replaceChildren(rows.length ? drawChart(data, by, pick) : el("p", { class: "muted", text: t("no_stats_day") }), legend(data, by));
    picked = null;
    tableHead.textContent = t("per_lane");
    tableBox.replaceChildren(laneTable(rows, null));
  }

  async function load() {
    chartBox.replaceChildren(el("p", { class: "muted", text: t("loading") }));
    try {
      const got = await dayRows(camSel.value, dayIn.value);
      if (stopped) return;
      rows = got;
      render();
    } catch (err) {
      if (!stopped) showError(chartBox, err);
    }
  }

  camSel.addEventListener("change", () => {
    const c = cams.find((x) => x.camera_id === camSel.value);
    if (c) {
      dayIn.min = localDay(c.first_interval);
      dayIn.max = localDay(c.last_interval);
      dayIn.value = dayIn.max;
    }
    load();
  });
  dayIn.addEventListener("change", () => { if (/^\d{4}-\d{2}-\d{2}$/.test(dayIn.value)) load(); });
  for (const b of byBtns) b.addEventListener("click", () => { by = b.dataset.by; render(); });

  getJson("/v1/stats/cameras").then((got) => {
    if (stopped) return;
    cams = got;
    note.hidden = cams.length > 0;
    document.getElementById("traffic-card").hidden = !cams.length;
    if (!cams.length) return;
    camSel.replaceChildren(...cams.map((c) => el("option", { value: c.camera_id, text: c.camera_id })));
    camSel.dispatchEvent(new Event("change"));
  }).catch((err) => showError(page, err));
  return () => { stopped = true; };
}
