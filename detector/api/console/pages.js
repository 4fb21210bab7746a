// The citizen's fine lookup (and payment, for a payments account) and the cameras' health.
import { ApiError, getJson, postJson } from "./api.js";
import { el, session, showError } from "./dom.js";
import { formatAge, formatBytes, formatDuration, formatTime, formatVnd, t } from "./i18n.js";

const CAMERA_POLL_MS = 3000;
const HISTORY_EVERY = 5; // the fps chart is refreshed every 5th poll
const SVG = "http://www.w3.org/2000/svg";

// fps over the camera's last heartbeats (newest right), drawn as an inline SVG polyline
function sparkline(beats) {
  const w = 120, h = 28;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  if (beats.length < 2) return svg;
  const fps = beats.map((b) => b.fps).reverse();
  const top = Math.max(...fps, 1);
  const pts = fps.map((v, i) => `${((i / (fps.length - 1)) * (w - 2) + 1).toFixed(1)},${(h - 2 - (v / top) * (h - 4)).toFixed(1)}`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", pts.join(" "));
  svg.append(line);
  const title = document.createElementNS(SVG, "title");
  title.textContent = `${t("fps")}: ${Math.min(...fps).toFixed(1)} – ${top.toFixed(1)}`;
  svg.append(title);
  return svg;
}

function payKey(fineId) {
  // one idempotency key per fine and tab: a double click or a retry never pays twice
  const k = `detector.pay.${fineId}`;
  let key = sessionStorage.getItem(k);
  if (!key) {
    key = `console-${fineId}-${crypto.randomUUID()}`;
    sessionStorage.setItem(k, key);
  }
  return key;
}

function noticeCard(n) {
  const row = (label, value, key) => el("tr", { dataset: key ? { field: key } : {} }, el("th", { text: label }), el("td", {}, value));
  const status = el("span", { class: `badge ${n.status}`, text: t(n.status), dataset: { status: n.status } });
  const actions = el("div", { class: "pay" });
  if (n.status === "unpaid") {
    if (session.me && session.me.role === "payments") {
      const btn = el("button", { type: "button", class: "primary", name: "pay", text: `${t("pay")} ${formatVnd(n.amount_due_vnd)}` });
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          const r = await postJson(`/v1/fines/${n.fine_id}/pay`, { amount_vnd: n.amount_due_vnd }, { "Idempotency-Key": payKey(n.fine_id) });
          status.textContent = t("paid");
          status.className = "badge paid";
          actions.replaceChildren(el("p", { class: "ok", text: `${t("paid_receipt")} ${r.receipt_no}` }));
        } catch (err) {
          btn.disabled = false;
          actions.append(el("p", { class: "error", text: `${t("error")}: ${err.message}` }));
        }
      });
      actions.append(btn);
    } else {
      actions.append(el("p", { class: "small muted", text: t("pay_role") }));
    }
  }
  return el("article", { class: "notice card", dataset: { fineId: String(n.fine_id), plate: n.plate_normalized } },
    el("header", {}, el("h3", { text: `${t("notice")} ${n.notice_no}` }), status),
    el("table", { class: "notice-table" },
      row(t("plate"), el("span", { class: "plate", text: n.plate_text }), "plate"),
      row(t("plate_colour"), n.plate_colour || "–"),
      row(t("vehicle_type"), n.vehicle_type),
      row(t("time"), n.occurred_at_local, "time"),
      row(t("place"), n.place || "–"),
      row(t("violation_text"), n.violation_text, "violation"),
      row(t("legal_basis"), n.legal_basis, "legal_basis"),
      row(t("fine_range"), `${formatVnd(n.amount_min_vnd)} – ${formatVnd(n.amount_max_vnd)}`),
      row(t("amount_due"), el("strong", { text: formatVnd(n.amount_due_vnd) }), "amount_due"),
      row(t("points"), `${n.points} ${t("points_unit")}`),
      row(t("unit"), n.detecting_unit || "–")),
    actions);
}

export function lookupPage(page) {
  const input = el("input", { type: "search", id: "plate-input", name: "plate", maxlength: "40", required: true,
                              placeholder: "51F-123.45", autocomplete: "off" });
  const results = el("div", { id: "fines", class: "fines" });
  const form = el("form", { class: "lookup-form", id: "lookup-form" },
    el("label", { for: "plate-input", text: t("plate") }), input,
    el("button", { type: "submit", class: "primary", text: t("search") }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    results.replaceChildren(el("p", { class: "muted", text: t("loading") }));
    try {
      const fines = await getJson(`/v1/fines?plate=${encodeURIComponent(input.value.trim())}`);
      results.replaceChildren(...(fines.length ? fines.map(noticeCard) : [el("p", { class: "muted", id: "no-fines", text: t("no_fines") })]));
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        results.replaceChildren(el("p", { class: "error", text: `${t("rate_limited")} ${err.retryAfter || "?"} s` }));
      } else showError(results, err);
    }
  });
  page.append(el("div", { class: "card lookup" }, el("h1", { text: t("lookup_title") }),
    el("p", { class: "help", text: t("lookup_help") }), form), results);
  input.focus();
  return null;
}

function cameraRow(c, now, history) {
  const hb = c.heartbeat;
  const state = c.status === "offline" ? "offline" : c.stale ? "stale" : "online";
  const age = c.received_at ? (now - Date.parse(c.received_at)) / 1000 : null;
  const cell = (value, key) => el("td", { dataset: key ? { field: key } : {} }, value ?? "–");
  return el("tr", { dataset: { cameraId: c.camera_id, state } },
    el("th", { text: c.camera_id }),
    cell(el("span", { class: `badge ${state}`, text: t(state) }), "state"),
    cell(hb ? `${formatTime(c.last_heartbeat_at)} (${formatAge(age)})` : "–", "heartbeat"),
    cell(hb ? hb.fps.toFixed(1) : null, "fps"),
    cell(hb ? String(hb.dropped) : null, "dropped"),
    cell(hb ? String(hb.queue_depth) : null, "queue"),
    cell(hb ? `${hb.latency_p95_ms.toFixed(0)} ms` : null, "latency"),
    cell(hb ? formatBytes(hb.disk_free_bytes) : null, "disk"),
    cell(hb ? String(hb.outbox_backlog) : null, "outbox"),
    cell(hb ? formatDuration(hb.uptime_s) : null, "uptime"),
    cell(history ? sparkline(history) : null, "history"));
}

export function camerasPage(page) {
  const body = el("tbody");
  const table = el("table", { class: "cameras", id: "cameras" },
    el("thead", {}, el("tr", {}, ["camera", "status", "last_heartbeat", "fps", "dropped", "queue", "latency", "disk", "outbox", "uptime", "fps_history"]
      .map((k) => el("th", { text: t(k) })))), body);
  const note = el("p", { class: "muted", text: t("no_cameras"), hidden: true });
  page.append(el("div", { class: "page-head" }, el("h1", { text: t("cameras_title") })), el("div", { class: "card scroll" }, table), note);
  let timer = null;
  let stopped = false;
  let polls = 0;
  const histories = new Map();
  async function poll() {
    if (stopped) return;
    try {
      const cams = await getJson("/v1/cameras");
      const refresh = polls++ % HISTORY_EVERY === 0;
      await Promise.all(cams.filter((c) => refresh || !histories.has(c.camera_id)).map(async (c) => {
        histories.set(c.camera_id, await getJson(`/v1/cameras/${encodeURIComponent(c.camera_id)}/heartbeats?limit=60`));
      }));
      const now = Date.now();
      body.replaceChildren(...cams.map((c) => cameraRow(c, now, histories.get(c.camera_id))));
      note.hidden = cams.length > 0;
      if (!stopped) timer = setTimeout(poll, CAMERA_POLL_MS);
    } catch (err) {
      if (!stopped) showError(page, err);
    }
  }
  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
