// Small DOM helpers shared by the pages, and the signed-in session ({me, stop}).
import { ApiError } from "./api.js";
import { t } from "./i18n.js";

export const session = { me: null, stop: null };

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) node.append(c);
  return node;
}

export function showError(target, err) {
  const msg = err instanceof ApiError && err.status === 403 ? t("forbidden") : `${t("error")}: ${err.message}`;
  target.replaceChildren(el("p", { class: "error", role: "alert", text: msg }));
}


