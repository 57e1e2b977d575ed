// Athar's browser app, shared parts: building nodes, calling the JSON API, ids and
// addresses, the review variants, the caller (state.me) and the message catalogue (t).
// No framework and no network access beyond this server.
import { t, dateTime, number, applyLanguage, rememberLanguage } from "./i18n.js";

export { t, number };

const main = document.getElementById("main");

// The caller ({ user, role, cases, settings, must_enrol }) once signed in.
export const state = { me: null };

let router = () => {};
let shell = () => {};
// The page router (main.js sets it); pages call rerender() after a change.
export function setRouter(f) { router = f; }
export function rerender() { return router(); }
// What redraws the header in the language shown (main.js sets it).
export function setShell(f) { shell = f; }

/** Saves the caller's language ("en", "ar", "" for the browser's) and shows the app in it
 * at once, without a reload; remembered on this device for the log-in page. */
export async function setLanguage(lang) {
  state.me.settings = await api(apiUrl(["me", "settings"]), { method: "POST", body: { lang } });
  applyLanguage(state.me.settings.lang);
  rememberLanguage(state.me.settings.lang);
  shell();
  return rerender();
}

// Text fields whose direction follows what is typed in them (a name in Arabic script in
// the English interface, or the reverse) unless the page says otherwise.
const TYPED = /^(text|search|email|url|tel|)$/;

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if ((tag === "textarea" || (tag === "input" && TYPED.test((attrs && attrs.type) || "")))
    && !(attrs && "dir" in attrs)) e.dir = "auto";
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)athar_csrf=([^;]+)/);
  return m ? m[1] : "";
}

export class HttpError extends Error {
  constructor(status, message, code) { super(message); this.status = status; this.code = code; }
}

export async function api(path, opts = {}) {
  const init = { credentials: "same-origin", headers: {} };
  if (opts.method && opts.method !== "GET") {
    init.method = opts.method;
    init.headers["X-CSRF-Token"] = csrf();
  }
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    location.href = "/login";
    throw new HttpError(401, t("error.logged_out"));
  }
  if (!res.ok) {
    const b = await res.json().catch(() => ({}));
    if (b.code === "second_factor_enrolment_required" && location.hash !== "#/security") {
      location.hash = "#/security";
    }
    throw new HttpError(res.status, b.error || res.statusText, b.code);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res;
}

export function show(...nodes) {
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
}

/** What went wrong, as a paragraph in the language shown. The server's own explanation of
 * a refused input (400, 409, 422…) is kept: it names the field and the rule. */
export function failure(e) {
  let text;
  if (!(e instanceof HttpError)) text = e instanceof TypeError && /fetch|network/i.test(e.message) ? t("error.unreachable") : String(e.message || e);
  else if (e.status === 404) text = t("error.not_found");
  else if (e.status === 403) text = t("error.forbidden", { message: e.message });
  else if (e.status >= 500) text = t("error.server", { status: String(e.status), message: e.message });
  else text = e.message;
  return el("p", { class: "error", role: "alert" }, text);
}

export function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return number(n, { maximumFractionDigits: i ? 1 : 0, minimumFractionDigits: i ? 1 : 0 }) + " " + t("unit." + u[i]);
}

/** A table that may be wider than a phone's screen: it scrolls sideways inside its own
 * region (reachable by keyboard, named by `label`), never the page. */
export function tableScroll(label, table) {
  return el("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": label }, table);
}

/** Data (a name, a title, a place…) isolated in its own direction: Arabic inside the English
 * interface or Latin script inside the Arabic one reads as written, and its punctuation
 * stays with it. */
export function bidi(text) {
  return el("bdi", {}, text === null || text === undefined ? "" : String(text));
}

// The review variant shown first, from the user's settings.
export function firstVariant() {
  const s = state.me.settings;
  return s.blur ? "blurred" : s.greyscale ? "greyscale" : "clear";
}
// What a click reveals next: blurred → greyscale (if the user wants it) → clear.
export function nextVariant(v) {
  if (v === "blurred" && state.me.settings.greyscale) return "greyscale";
  if (v === "blurred" || v === "greyscale") return "clear";
  return null;
}

// Item and record ids: 26 characters of Crockford's base 32, upper case (ItemId::parse).
export const ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

// An id taken from the URL fragment or a response, checked before it goes into a request:
// a crafted link (#/item/ID%2Fcontent%3Fpurpose%3D...) must not choose another route.
export function checkedId(id) {
  if (typeof id !== "string" || !ID.test(id)) throw new HttpError(400, t("error.not_item_id"));
  return id;
}

// An API address: each path segment percent-encoded, the query built by URLSearchParams
// (empty values left out).
export function apiUrl(segments, query) {
  let url = "/api/" + segments.map((s) => encodeURIComponent(String(s))).join("/");
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
    }
    const text = q.toString();
    if (text) url += "?" + text;
  }
  return url;
}

// The app's own address of an item page.
export function itemHref(id) {
  return "#/item/" + encodeURIComponent(id);
}

export function reviewUrl(id, variant, purpose) {
  return apiUrl(["items", checkedId(id), "review", variant], { purpose });
}

/** An instant as a <time>: the user's zone and language, the UTC value on hover. */
export function when(iso) {
  if (!iso) return "";
  return el("time", { datetime: iso, title: iso }, dateTime(iso));
}

/** A message as nodes: like t(), but each text it names (a case, a person…) is put in a
 *  <bdi>, so it keeps its own direction inside either language's sentence. */
export function tb(key, vars) {
  const numbers = {};
  for (const [k, v] of Object.entries(vars || {})) if (typeof v === "number") numbers[k] = v;
  return t(key, numbers).split(/(\{\w+\})/).filter((part) => part !== "").map((part) => {
    const m = /^\{(\w+)\}$/.exec(part);
    return m && vars && m[1] in vars ? bidi(vars[m[1]]) : part;
  });
}
