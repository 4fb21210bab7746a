// Hotlist alerts: the newest first, then each new sighting live from the SSE stream (event: hotlist),
// with the camera, the time of the frame, the plate read, the wanted plate and why it is wanted,
// whether the match is exact or tolerant (and how), and the picture of the sighting.
import { ApiError, pictureBlob, getJson, streamEvents } from "./api.js";
import { el, showError } from "./dom.js";
import { formatTime, t } from "./i18n.js";

const ALERTS_FIRST = 100;
const ALERTS_MAX = 300;

function picture(a) {
  const box = el("div", { class: "alert-picture" });
  if (!a.picture) {
    box.append(el("span", { class: "muted small", text: t("no_picture") }));
    return box;
  }
  const img = el("img", { class: "thumb", alt: `${t("plate_read")} ${a.plate_read}`, dataset: { alertPicture: String(a.id) } });
  box.append(img);
  pictureBlob(`/v1/hotlist/alerts/${a.id}/picture`).then((u) => { img.src = u; }).catch((err) => {
    // the picture stays on the edge box that saw the vehicle: say where
    const where = err instanceof ApiError && err.status === 404 ? `${t("picture_elsewhere")}: ${a.picture}` : err.message;
    box.replaceChildren(el("span", { class: "muted small", text: where }));
  });
  return box;
}

function alertCard(a, fresh) {
  const tolerant = a.match_kind !== "exact";
  const fact = (label, value, key) => el("div", { class: "fact", dataset: { field: key } }, el("dt", { text: label }), el("dd", {}, value));
  return el("article", { class: `alert-card card${fresh ? " fresh" : ""}`, dataset: { alertId: String(a.id), match: a.match_kind } },
    picture(a),
    el("div", { class: "alert-body" },
      el("div", { class: "row" },
        el("strong", { class: "alert-title", text: `${t("wanted_vehicle")}: ${t(`reason_${a.wanted_reason}`)}` }),
        el("span", { class: `badge ${tolerant ? "tolerant" : "exact"}`, dataset: { field: "match" },
                     text: tolerant ? t("match_tolerant") : t("match_exact") })),
      el("dl", { class: "facts" },
        fact(t("plate_read"), el("span", { class: "plate", text: a.plate_read }), "plate_read"),
        fact(t("wanted_plate"), el("span", { class: "plate", text: a.wanted_plate }), "wanted_plate"),
        fact(t("match_how"), a.match_detail || "–", "match_detail"),
        fact(t("camera"), a.camera_id, "camera"),
        fact(t("time"), formatTime(a.seen_at), "seen_at"),
        fact(t("track"), String(a.track_id), "track"))));
}

export function alertsPage(page) {
  const live = el("span", { class: "live", text: t("loading") });
  const list = el("div", { class: "alerts", id: "alerts" });
  const empty = el("p", { class: "muted", id: "no-alerts", text: t("no_alerts"), hidden: true });
  page.append(el("div", { class: "page-head" }, el("h1", { text: t("alerts_title") }), live),
    el("p", { class: "help", text: t("alerts_help") }), empty, list);
  let stop = null;
  let stopped = false;
  function add(a, fresh) {
    empty.hidden = true;
    list.querySelector(`[data-alert-id="${a.id}"]`)?.remove();
    list.prepend(alertCard(a, fresh));
    while (list.childElementCount > ALERTS_MAX) list.lastElementChild.remove();
  }
  getJson(`/v1/hotlist/alerts/latest?limit=${ALERTS_FIRST}`).then((items) => {
    if (stopped) return;
    for (const a of items.slice().reverse()) add(a, false);
    empty.hidden = items.length > 0;
    const after = items.length ? items[0].id : 0;
    stop = streamEvents((last) => `/v1/hotlist/alerts/stream?after=${last}`, after, (ev) => {
      if (ev.event === "hotlist") add(JSON.parse(ev.data), true);
    }, (s) => {
      live.textContent = t(s === "live" ? "live" : "reconnecting");
      live.classList.toggle("on", s === "live");
    }, (err) => showError(page, err));
  }).catch((err) => showError(page, err));
  return () => {
    stopped = true;
    if (stop) stop();
  };
}
