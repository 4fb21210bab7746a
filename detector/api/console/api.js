// The console's access to the API: the token (sessionStorage), JSON requests, evidence files as blob
// URLs (an <img> or <video> cannot send an Authorization header), and the server-sent event feed read
// with fetch (EventSource cannot send one either), resuming with Last-Event-ID after a drop.
const TOKEN_KEY = "detector.token";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  blobs.clear();
}

function headers(extra = {}) {
  const h = { ...extra };
  const tk = token();
  if (tk) h.Authorization = `Bearer ${tk}`;
  return h;
}

async function fail(r) {
  let code = "error";
  let message = `${r.status} ${r.statusText}`;
  try {
    const body = await r.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch (_) { /* not JSON */ }
  throw new ApiError(r.status, code, message, r.headers.get("Retry-After"));
}

export async function getJson(path) {
  const r = await fetch(path, { headers: headers({ Accept: "application/json" }) });
  if (!r.ok) await fail(r);
  return r.json();
}

export async function postJson(path, body, extraHeaders = {}) {
  const r = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "application/json", ...extraHeaders }),
    body: JSON.stringify(body),
  });
  if (!r.ok) await fail(r);
  return r.json();
}

// A picture by its API path -> blob URL (a hotlist sighting's picture), kept for the tab's life.
export async function pictureBlob(path) {
  const key = `picture:${path}`;
  if (!blobs.has(key)) {
    const p = fetch(path, { headers: headers() }).then(async (r) => {
      if (!r.ok) await fail(r);
      return URL.createObjectURL(await r.blob());
    });
    blobs.set(key, p);
    p.catch(() => blobs.delete(key));
  }
  return blobs.get(key);
}

// Evidence files by (violation, name) -> blob URL, kept for the tab's life (a few MB per violation).
const blobs = new Map();

export function fileUrl(violationId, name) {
  return `/v1/violations/${violationId}/files/${encodeURIComponent(name)}`;
}

export async function evidenceBlob(violationId, name) {
  const key = `${violationId}/${name}`;
  if (!blobs.has(key)) {
    const p = fetch(fileUrl(violationId, name), { headers: headers() }).then(async (r) => {
      if (!r.ok) await fail(r);
      return URL.createObjectURL(await r.blob());
    });
    blobs.set(key, p);
    p.catch(() => blobs.delete(key));
  }
  return blobs.get(key);
}

// Server-sent events over fetch: calls onEvent({id, event, data}) for each event, onState("live" |
// "reconnecting"), reconnects after `retry` ms with Last-Event-ID. Returns a function that stops it.
export function streamFeed(after, onEvent, onState, onFatal) {
  return streamEvents((last) => `/v1/violations/stream?after=${last}`, after, onEvent, onState, onFatal);
}

// The same for any of the API's streams: `url(lastId)` names where to (re)connect.
export function streamEvents(url, after, onEvent, onState, onFatal) {
  const ctrl = new AbortController();
  let last = after;
  let retry = 3000;
  let stopped = false;

  async function once() {
    const h = headers({ Accept: "text/event-stream" });
    if (last) h["Last-Event-ID"] = String(last);
    const r = await fetch(url(last), { headers: h, signal: ctrl.signal });
    if (!r.ok) await fail(r);
    onState("live");
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const ev = { id: null, event: "message", data: "" };
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "id") ev.id = val;
          else if (field === "event") ev.event = val;
          else if (field === "data") ev.data += (ev.data ? "\n" : "") + val;
          else if (field === "retry" && /^\d+$/.test(val)) retry = Number(val);
        }
        if (ev.id !== null && /^\d+$/.test(ev.id)) last = Number(ev.id);
        if (ev.data) onEvent(ev);
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          onFatal(err);
          return;
        }
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((res) => setTimeout(res, retry));
    }
  })();
  return () => {
    stopped = true;
    ctrl.abort();
  };
}
