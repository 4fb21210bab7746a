// The console's shell: sign-in with a token, the role-aware navigation, the language switch and the
// hash router (#/feed, #/violation/ID, #/review, #/lookup, #/cameras, #/traffic, #/alerts). Pages live
// in pages.js, violations.js, traffic.js and alerts.js; each returns a function that stops what it
// started (streams, timers).
import { ApiError, getJson, setToken, streamEvents, token } from "./api.js";
import { setLanguage, t, translatePage, language } from "./i18n.js";
import { alertsPage } from "./alerts.js";
import { camerasPage, lookupPage } from "./pages.js";
import { trafficPage } from "./traffic.js";
import { feedPage, reviewPage, violationPage } from "./violations.js";
import { session } from "./dom.js";

const state = session;
const ALERT_ROLES = ["viewer", "reviewer"];
let stopAlerts = null; // the hotlist alert stream the shell follows on every page
let unseen = 0; // alerts that came while the alerts page was not open

const ROUTES = {
  feed: feedPage,
  violation: violationPage,
  review: reviewPage,
  lookup: lookupPage,
  cameras: camerasPage,
  traffic: trafficPage,
  alerts: alertsPage,
};

function defaultRoute() {
  return state.me && state.me.role === "payments" ? "lookup" : "feed";
}

function route() {
  if (state.stop) state.stop();
  state.stop = null;
  const page = document.getElementById("page");
  if (!state.me) return;
  const [name, arg] = location.hash.replace(/^#\/?/, "").split("/");
  const render = ROUTES[name];
  if (!render) {
    location.hash = `#/${defaultRoute()}`;
    return;
  }
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.route === name);
  if (name === "alerts") showUnseen(0);
  page.replaceChildren();
  page.dataset.page = name;
  state.stop = render(page, arg) || null;
}

function showSignedIn() {
  const signedIn = Boolean(state.me);
  document.getElementById("sign-in").hidden = signedIn;
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  const who = document.getElementById("who");
  who.hidden = !signedIn;
  if (signedIn) {
    who.textContent = `${state.me.name} · ${t("role")}: ${state.me.role}`;
    who.dataset.role = state.me.role;
    for (const a of document.querySelectorAll("#nav a[data-roles]")) {
      a.hidden = !a.dataset.roles.split(",").includes(state.me.role);
    }
  } else {
    document.getElementById("page").replaceChildren();
    document.getElementById("token-input").focus();
  }
}

// A hotlist sighting must not wait for someone to open the alerts page: the shell follows the stream
// and counts new alerts on the navigation's Alerts link until that page is opened.
function showUnseen(n) {
  unseen = n;
  const badge = document.getElementById("alerts-unseen");
  badge.textContent = String(n);
  badge.hidden = n === 0;
}

async function followAlerts() {
  if (stopAlerts) stopAlerts();
  stopAlerts = null;
  showUnseen(0);
  delete document.body.dataset.alerts;
  if (!state.me || !ALERT_ROLES.includes(state.me.role)) return;
  try {
    const latest = await getJson("/v1/hotlist/alerts/latest?limit=1");
    if (!state.me) return;
    stopAlerts = streamEvents((last) => `/v1/hotlist/alerts/stream?after=${last}`, latest.length ? latest[0].id : 0, (ev) => {
      if (ev.event === "hotlist" && !location.hash.startsWith("#/alerts")) showUnseen(unseen + 1);
    }, (s) => { document.body.dataset.alerts = s; }, () => { delete document.body.dataset.alerts; });
  } catch (_) { /* the pages show the error; the count stays off */ }
}

async function signIn(secret) {
  setToken(secret);
  try {
    state.me = await getJson("/v1/whoami");
  } catch (err) {
    setToken(null);
    state.me = null;
    throw err;
  }
  showSignedIn();
  route();
  followAlerts();
}

function signOut() {
  if (state.stop) state.stop();
  state.stop = null;
  if (stopAlerts) stopAlerts();
  stopAlerts = null;
  showUnseen(0);
  setToken(null);
  state.me = null;
  showSignedIn();
}

function applyLanguage(value) {
  setLanguage(value);
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.classList.toggle("active", b.dataset.lang === language());
    b.setAttribute("aria-pressed", String(b.dataset.lang === language()));
  }
  translatePage();
  if (state.me) {
    showSignedIn();
    route();
  }
}

async function start() {
  applyLanguage(language());
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => applyLanguage(b.dataset.lang));
  document.getElementById("sign-out").addEventListener("click", signOut);
  document.getElementById("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const errorBox = document.getElementById("sign-in-error");
    errorBox.hidden = true;
    try {
      await signIn(document.getElementById("token-input").value.trim());
      document.getElementById("token-input").value = "";
    } catch (err) {
      errorBox.textContent = err instanceof ApiError && err.status === 401 ? t("token_bad") : err.message;
      errorBox.hidden = false;
    }
  });
  window.addEventListener("hashchange", route);
  if (token()) {
    try {
      await signIn(token());
      return;
    } catch (_) { /* fall through to the form */ }
  }
  showSignedIn();
}

start();
