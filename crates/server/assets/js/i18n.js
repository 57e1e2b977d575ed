// The message catalogue: every string the app shows comes from here, in English and Arabic.
// Each area of the app keeps its messages in i18n/<area>.js ({ en: {...}, ar: {...} }); a
// message is a string with {name} placeholders, or, where it counts something, an object
// of plural forms ({ zero, one, two, few, many, other }, chosen by Intl.PluralRules for
// the value of {n}). A key missing in the language shown falls back to English and is
// remembered in window.ATHAR_MISSING, which the browser test reads.
import common from "./i18n/common.js";
import cases from "./i18n/cases.js";
import item from "./i18n/item.js";
import incidents from "./i18n/incidents.js";
import records from "./i18n/records.js";
import map from "./i18n/map.js";
import persons from "./i18n/persons.js";
import search from "./i18n/search.js";
import upload from "./i18n/upload.js";
import settings from "./i18n/settings.js";
import security from "./i18n/security.js";
import handover from "./i18n/handover.js";
import glossary from "./i18n/glossary.js";
import review from "./i18n/review.js";
import captures from "./i18n/captures.js";

export const LANGUAGES = { en: "English", ar: "العربية" };
const AREAS = [common, cases, item, incidents, records, map, persons, search, upload, settings,
  security, handover, glossary, review, captures];

export const catalogue = { en: {}, ar: {} };
for (const area of AREAS) {
  for (const lang of Object.keys(catalogue)) Object.assign(catalogue[lang], area[lang] || {});
}

window.ATHAR_MISSING = window.ATHAR_MISSING || [];
let current = "en";

/** The language shown: "en" or "ar". */
export function lang() { return current; }

/** The language a setting asks for ("en", "ar", or "" / null for the browser's). */
export function chooseLanguage(setting) {
  if (setting && catalogue[setting]) return setting;
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const base = String(l).toLowerCase().split("-")[0];
    if (catalogue[base]) return base;
  }
  return "en";
}

// The language chosen on this device (the signed-in user's last setting), read by the
// log-in page before anyone has signed in.
const DEVICE_KEY = "athar.lang";

/** The setting remembered on this device ("" when none: the browser's language). */
export function deviceLanguage() {
  try {
    const v = localStorage.getItem(DEVICE_KEY) || "";
    return catalogue[v] ? v : "";
  } catch (e) {
    return "";
  }
}

/** Remembers a setting on this device ("" forgets it: the browser's language). */
export function rememberLanguage(setting) {
  try {
    if (setting && catalogue[setting]) localStorage.setItem(DEVICE_KEY, setting);
    else localStorage.removeItem(DEVICE_KEY);
  } catch (e) {
    // Storage refused (a private window): the browser's language is used before sign-in.
  }
}

/** Shows the app in a language: <html lang dir>, and what t() returns from now on. */
export function applyLanguage(setting) {
  current = chooseLanguage(setting);
  document.documentElement.lang = current;
  document.documentElement.dir = current === "ar" ? "rtl" : "ltr";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  return current;
}

/** The message `key` in the language shown, its {placeholders} filled from `vars`. */
export function t(key, vars) {
  let msg = catalogue[current][key];
  if (msg === undefined) {
    if (!window.ATHAR_MISSING.includes(current + ":" + key)) window.ATHAR_MISSING.push(current + ":" + key);
    msg = catalogue.en[key];
    if (msg === undefined) return key;
  }
  if (typeof msg === "object") {
    const n = vars && typeof vars.n === "number" ? vars.n : 0;
    const form = n === 0 && msg.zero !== undefined ? "zero" : new Intl.PluralRules(current).select(n);
    msg = msg[form] !== undefined ? msg[form] : msg.other;
  }
  if (!vars) return msg;
  return msg.replace(/\{(\w+)\}/g, (m, name) => {
    if (!(name in vars)) return m;
    const v = vars[name];
    return typeof v === "number" ? number(v) : String(v);
  });
}

/** A number in the language shown. */
export function number(n, opts) {
  return new Intl.NumberFormat(current, opts).format(n);
}

/** An instant (RFC 3339) in the user's time zone and language. */
export function dateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/** A calendar date (YYYY, YYYY-MM or YYYY-MM-DD) in the language shown. */
export function calendarDate(text) {
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/.exec(String(text || ""));
  if (!m) return String(text || "");
  const d = new Date(Date.UTC(+m[1], m[2] ? +m[2] - 1 : 0, m[3] ? +m[3] : 1));
  const opts = { timeZone: "UTC", year: "numeric" };
  if (m[2]) opts.month = m[3] ? "short" : "long";
  if (m[3]) opts.day = "numeric";
  return new Intl.DateTimeFormat(current, opts).format(d);
}
