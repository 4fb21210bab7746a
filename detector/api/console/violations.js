// Violation pages: the live feed (SSE), one violation with its evidence, and the review queue.
import { ApiError, evidenceBlob, fileUrl, getJson, postJson, streamFeed } from "./api.js";
import { el, session, showError } from "./dom.js";
import { formatTime, formatVnd, t } from "./i18n.js";

const FEED_MAX = 200;
const FEED_FIRST = 60;
const IMAGE_ORDER = ["overview.jpg", "before.jpg", "at.jpg", "after.jpg", "vehicle.jpg", "plate.jpg"];

function thumbName(v) {
  const names = v.files.map((f) => f.name);
  return ["overview.jpg", "at.jpg"].find((n) => names.includes(n)) || names.find((n) => /\.(jpe?g|png)$/i.test(n));
}

function statusBadge(status) {
  return el("span", { class: `badge ${status}`, text: t(status), dataset: { status } });
}

function thumb(v, cls = "thumb") {
  const img = el("img", { class: cls, alt: `${t(v.violation_type)} ${v.plate_text || ""}`, loading: "lazy" });
  const name = thumbName(v);
  if (name) evidenceBlob(v.id, name).then((url) => { img.src = url; }).catch(() => img.classList.add("broken"));
  return img;
}

function plateText(v) {
  return v.plate_text || t("no_plate");
}

function feedCard(v, fresh) {
  return el("a", { class: `violation-card${fresh ? " fresh" : ""}`, href: `#/violation/${v.id}`,
                   dataset: { violationId: String(v.id), type: v.violation_type } },
    thumb(v),
    el("div", { class: "meta" },
      el("div", { class: "row" }, el("strong", { text: t(v.violation_type) }), statusBadge(v.status)),
      el("div", { class: "plate", text: plateText(v) }),
      el("div", { class: "small", text: `${v.camera_id} · ${formatTime(v.occurred_at)}` }),
      v.location ? el("div", { class: "small muted", text: v.location }) : null));
}

export function feedPage(page) {
  const live = el("span", { class: "live", text: t("loading") });
  const grid = el("div", { class: "feed-grid", id: "feed" });
  const empty = el("p", { class: "muted", text: t("no_violations"), hidden: true });
  page.append(el("div", { class: "page-head" }, el("h1", { text: t("nav_feed") }), live), empty, grid);
  let stop = null;
  let stopped = false;
  function add(v, fresh) {
    empty.hidden = true;
    grid.querySelector(`[data-violation-id="${v.id}"]`)?.remove();
    grid.prepend(feedCard(v, fresh));
    while (grid.childElementCount > FEED_MAX) grid.lastElementChild.remove();
  }
  // the newest first, then whatever the stream brings after them (marked fresh)
  getJson(`/v1/feed/latest?limit=${FEED_FIRST}`).then((items) => {
    if (stopped) return;
    for (const v of items.slice().reverse()) add(v, false);
    empty.hidden = items.length > 0;
    const after = items.length ? items[0].id : 0;
    stop = streamFeed(after, (ev) => add(JSON.parse(ev.data), true), (s) => {
      live.textContent = t(s === "live" ? "live" : "reconnecting");
      live.classList.toggle("on", s === "live");
    }, (err) => showError(page, err));
  }).catch((err) => showError(page, err));
  return () => {
    stopped = true;
    if (stop) stop();
  };
}

function fact(label, value, key) {
  return el("div", { class: "fact", dataset: key ? { fact: key } : {} },
    el("dt", { text: label }), el("dd", {}, value ?? "–"));
}

function num(x, digits = 1) {
  return typeof x === "number" ? x.toFixed(digits) : "–";
}

function keyFacts(v, manifest) {
  const m = v.measured;
  const out = [
    fact(t("time"), formatTime(v.occurred_at)),
    fact(t("camera"), v.camera_id),
    fact(t("place"), v.location || "–"),
    fact(t("vehicle"), t(v.vehicle_class)),
  ];
  if ("phase" in m || "time_into_red_s" in m) {
    const phase = m.phase === "amber" ? "amber_phase" : m.phase;
    out.push(fact(t("phase"), phase ? t(phase) : "–", "phase"));
    out.push(fact(t("into_red"), m.time_into_red_s != null ? `${num(m.time_into_red_s, 2)} s` : "–", "into_red"));
    if (m.preceding_amber_s != null) out.push(fact(t("amber"), `${num(m.preceding_amber_s, 2)} s`));
  }
  if ("speed_kmh" in m) {
    out.push(fact(t("speed"), `${num(m.speed_kmh)} ± ${num(m.speed_uncertainty_kmh)} km/h`, "speed"));
    out.push(fact(t("limit"), `${m.limit_kmh ?? "–"} km/h`));
  }
  const lane = m.lane_id ?? (manifest && manifest.violation ? manifest.violation.zone_id : null);
  out.push(fact(t("lane"), lane ?? "–", "lane"));
  if (m.duration_in_lane_s != null) out.push(fact(t("duration_in_lane"), `${num(m.duration_in_lane_s, 2)} s`));
  return el("dl", { class: "facts" }, out);
}

function plateBlock(v) {
  const cands = v.plate_candidates.map((c) =>
    el("li", {}, el("span", { class: "plate small-plate", text: c.text }),
      ` ${t("confidence")} ${(c.confidence * 100).toFixed(0)}%`));
  return el("div", { class: "plate-block", dataset: { fact: "plate" } },
    el("div", { class: "plate big", text: plateText(v) }),
    v.plate_confidence != null ? el("div", { class: "small", text: `${t("confidence")} ${(v.plate_confidence * 100).toFixed(0)}%` }) : null,
    v.needs_review ? el("div", { class: "warn", text: `${t("needs_review")}: ${v.review_reasons.join("; ") || "–"}` }) : null,
    cands.length ? el("div", {}, el("h4", { text: t("candidates") }), el("ul", { class: "candidates" }, cands)) : null);
}

function linkText(link) {
  return el("span", { class: `link-${link}`, text: t(link) });
}

function integrityBlock(x) {
  return el("dl", { class: "facts integrity", id: "integrity", dataset: { signatureOk: String(x.signature_ok) } },
    fact(t("signature"), el("span", { class: x.signature_ok ? "ok" : "bad", text: x.signature_ok ? t("sig_ok") : t("sig_bad") }), "signature"),
    fact(t("key_id"), x.key_id || "–"),
    fact(t("files_checked"), String(x.files_checked)),
    fact(t("manifest_same"), el("span", { class: x.manifest_matches ? "ok" : "bad", text: x.manifest_matches ? t("yes") : t("no") })),
    fact(t("sequence"), String(x.sequence)),
    fact(t("chain_prev"), linkText(x.prev_link), "chain_prev"),
    fact(t("chain_next"), linkText(x.next_link), "chain_next"),
    fact(t("accepted_at"), formatTime(x.accepted_at)),
    x.problems.length ? el("div", { class: "error", text: x.problems.join("; ") }) : null);
}

function reviewForm(v, onDone) {
  const reason = el("input", { type: "text", name: "reason", maxlength: "2000", placeholder: t("reason") });
  const plate = el("input", { type: "text", name: "plate", maxlength: "32", placeholder: t("plate_fix") });
  const msg = el("p", { class: "small", role: "status" });
  async function decide(decision) {
    if (decision === "reject" && !reason.value.trim()) {
      msg.textContent = t("reason_needed");
      msg.className = "error";
      return;
    }
    const body = { decision, reason: reason.value.trim() };
    if (plate.value.trim()) body.plate_text = plate.value.trim();
    try {
      const r = await postJson(`/v1/violations/${v.id}/review`, body);
      msg.className = "ok";
      msg.textContent = `${t(r.violation.status)}. ${t("review_done")}` +
        (r.fine ? ` ${t("fine_issued")} ${r.fine.notice_no}: ${formatVnd(r.fine.amount_due_vnd)}.` : "");
      form.querySelectorAll("button,input").forEach((b) => { b.disabled = true; });
      onDone(r);
    } catch (err) {
      msg.className = "error";
      msg.textContent = `${t("error")}: ${err.message}`;
    }
  }
  const form = el("form", { class: "review-form", dataset: { violationId: String(v.id) }, onsubmit: (e) => e.preventDefault() },
    el("label", {}, t("reason"), reason), el("label", {}, t("plate_fix"), plate),
    el("div", { class: "buttons" },
      el("button", { type: "button", class: "primary", name: "confirm", text: t("confirm"), onclick: () => decide("confirm") }),
      el("button", { type: "button", class: "danger", name: "reject", text: t("reject"), onclick: () => decide("reject") })),
    msg);
  return form;
}

async function renderViolation(page, id) {
  const v = await getJson(`/v1/violations/${id}`);
  const names = v.files.map((f) => f.name);
  const manifest = names.includes("manifest.json")
    ? await getJson(fileUrl(v.id, "manifest.json")).catch(() => null)
    : null;
  const images = IMAGE_ORDER.filter((n) => names.includes(n))
    .concat(names.filter((n) => /\.(jpe?g|png)$/i.test(n) && !IMAGE_ORDER.includes(n)));
  const gallery = el("div", { class: "gallery" }, images.map((n) => {
    const img = el("img", { alt: n, dataset: { file: n } });
    evidenceBlob(v.id, n).then((u) => { img.src = u; });
    return el("figure", {}, img, el("figcaption", { text: t(n) === n ? n : `${t(n)} · ${n}` }));
  }));
  const clipName = names.find((n) => n.endsWith(".mp4"));
  const video = clipName ? el("video", { id: "clip", controls: true, muted: true, autoplay: true, loop: true, playsinline: true }) : null;
  if (video) {
    video.muted = true;
    evidenceBlob(v.id, clipName).then((u) => { video.src = u; video.play().catch(() => {}); });
  }
  const measuredRows = Object.entries(v.measured).filter(([k]) => k !== "kind").map(([k, val]) => el("tr", {}, el("th", { text: k }), el("td", { text: String(val) })));
  const side = el("aside", { class: "side" },
    el("section", { class: "card" }, el("h3", { text: t("plate") }), plateBlock(v)),
    el("section", { class: "card" }, el("h3", { text: t("measured") }), keyFacts(v, manifest),
      el("details", {}, el("summary", { text: t("all_measured") }), el("table", { class: "measured" }, measuredRows))),
    el("section", { class: "card", id: "integrity-card" }, el("h3", { text: t("integrity") }), el("p", { class: "muted", text: t("loading") })));
  if (v.status === "pending" && session.me && session.me.role === "reviewer") {
    // once decided, show the page again as it now is (status, reviewer), keeping the result message
    const again = () => setTimeout(() => { page.replaceChildren(); renderViolation(page, id).catch((err) => showError(page, err)); }, 1500);
    side.prepend(el("section", { class: "card" }, el("h3", { text: t("review") }), reviewForm(v, again)));
  } else if (v.status !== "pending") {
    side.prepend(el("section", { class: "card" }, el("h3", { text: t("review") }),
      el("p", {}, statusBadge(v.status), ` ${t("reviewed_by")}: ${v.reviewed_by || "–"}`),
      v.review_reason ? el("p", { class: "small", text: `${t("reason")}: ${v.review_reason}` }) : null));
  }
  page.append(
    el("div", { class: "page-head" },
      el("a", { href: "#/feed", class: "link", text: `← ${t("back")}` }),
      el("h1", { text: `${t(v.violation_type)} · ${plateText(v)}` }), statusBadge(v.status)),
    el("div", { class: "violation-layout", dataset: { violationId: String(v.id) } },
      el("div", { class: "main-col" },
        video ? el("section", { class: "card" }, el("h3", { text: t("clip") }), video) : null,
        el("section", { class: "card" }, el("h3", { text: t("evidence") }), gallery)),
      side));
  getJson(`/v1/violations/${id}/verification`)
    .then((x) => document.getElementById("integrity-card")?.replaceChildren(el("h3", { text: t("integrity") }), integrityBlock(x)))
    .catch((err) => showError(document.getElementById("integrity-card"), err));
}

export function violationPage(page, id) {
  if (!/^\d+$/.test(id || "")) {
    location.hash = "#/feed";
    return null;
  }
  page.append(el("p", { class: "muted", text: t("loading") }));
  renderViolation(page, id).then(() => page.firstChild?.remove?.()).catch((err) => showError(page, err));
  return null;
}

function queueRow(v) {
  const row = el("div", { class: "queue-row card", dataset: { violationId: String(v.id) } },
    el("a", { href: `#/violation/${v.id}` }, thumb(v, "thumb small")),
    el("div", { class: "meta" },
      el("div", { class: "row" }, el("strong", { text: t(v.violation_type) }),
        el("a", { href: `#/violation/${v.id}`, class: "link", text: t("open") })),
      el("div", { class: "plate", text: plateText(v) }),
      el("div", { class: "small", text: `${v.camera_id} · ${formatTime(v.occurred_at)}` }),
      v.needs_review ? el("div", { class: "warn small", text: `${t("needs_review")}: ${v.review_reasons.join("; ") || "–"}` }) : null),
    reviewForm(v, () => row.classList.add("done")));
  return row;
}

export function reviewPage(page) {
  const list = el("div", { class: "queue", id: "review-queue" });
  page.append(el("div", { class: "page-head" }, el("h1", { text: t("nav_review") })), list);
  (async () => {
    let after = 0;
    let shown = 0;
    for (;;) {
      const p = await getJson(`/v1/review/queue?after=${after}&limit=100`);
      for (const v of p.items) { list.append(queueRow(v)); shown++; }
      if (!p.has_more) break;
      after = p.next_cursor;
    }
    if (!shown) list.append(el("p", { class: "muted", text: t("queue_empty") }));
  })().catch((err) => showError(page, err instanceof ApiError ? err : new Error(String(err))));
  return null;
}
