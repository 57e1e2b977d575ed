// Documentation records in the browser: the model's vocabularies, where each kind of
// record is shown, titles, pickers of records by name (the server's Arabic-aware search),
// a record's history, and deleting. Pages and forms build on these.
import { el as node, api, apiUrl, failure, when, checkedId, t, state } from "./core.js";
import { calendarDate, number, catalogue } from "./i18n.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

// The controlled vocabularies of docs/records.md, in the order the model gives them.
export const VOCAB = {
  status_incident: ["alleged", "corroborated", "confirmed", "disputed", "closed"],
  violation: ["arbitrary_detention", "torture", "ill_treatment", "killing", "death_in_custody",
    "enforced_disappearance", "destruction_of_remains", "mutilation_of_remains", "sexual_violence",
    "forced_displacement", "attack", "looting", "other"],
  involvement: ["carried_out", "ordered", "commanded", "assisted", "suspected", "alleged"],
  sex: ["female", "male", "other", "unknown"],
  status_person: ["detained", "disappeared", "dead", "released", "alive", "unknown"],
  org_type: ["army", "militia", "intelligence", "police", "security", "government", "armed_group",
    "ngo", "media", "other"],
  place_type: ["detention_facility", "checkpoint", "burial_site", "burning_site", "mass_grave",
    "hospital", "village", "town", "city", "district", "governorate", "country", "area", "other"],
  source_type: ["outlet", "witness", "survivor", "relative", "ngo", "platform", "official",
    "document", "other"],
  reliability: ["reliable", "usually_reliable", "fairly_reliable", "not_usually_reliable",
    "unreliable", "unknown"],
  protection: ["public", "confidential", "protected"],
  reader: ["investigator", "analyst", "viewer"],
  confidence: ["low", "medium", "high"],
  stance: ["asserts", "denies"],
  verification: ["unverified", "geolocated", "chronolocated", "verified", "disputed"],
  per: ["day", "week", "month", "year"],
};

// Every record kind; `capture` records are written by the server only (web captures).
export const KINDS = ["case", "incident", "act", "person", "org", "place", "source", "claim", "link", "match", "capture"];

/** A vocabulary term in the language shown. */
export function term(value) {
  if (!value) return "";
  // Words that are not the model's (free text in a field) are shown as they are.
  return catalogue.en["records.term." + value] === undefined ? value : t("records.term." + value);
}

/** The kind of a record in the language shown. */
export function kindName(kind) {
  return t("records.kind." + kind);
}

/** Where a record is shown in the app. */
export function recordHref(kind, id) {
  const page = ["incident", "person", "org", "place"].includes(kind) ? kind : "record";
  return "#/" + page + "/" + encodeURIComponent(id);
}

/** A one-line title of a record line (as the API returns it). */
export function recordTitle(r) {
  if (!r) return "";
  switch (r.kind) {
    case "case": return r.title || r.case;
    case "incident": return r.title;
    case "act": return term(r.violation);
    case "person": case "org": case "place": return (r.names || []).map((n) => n.name).join(" · ");
    case "source": return r.name;
    case "claim": return String(r.statement || "").slice(0, 120);
    case "link": return t("records.link.title", { item: r.item });
    case "match": return t("records.match.title", { decision: term(r.decision) });
    case "capture": return r.title || r.url;
    default: return r.id;
  }
}

/** A link to a record, its title in its own direction. */
export function recordLink(r, text) {
  if (!text && r.names && r.names.length) {
    // Each name keeps its own direction.
    return el("a", { href: recordHref(r.kind, r.id), "data-record": r.id },
      r.names.map((n, i) => [i ? " · " : "", el("bdi", {}, n.name)]));
  }
  return el("a", { href: recordHref(r.kind, r.id), dir: "auto", "data-record": r.id }, text || recordTitle(r) || r.id);
}

/** A date value of the model (`2012`, `2011/2013`, `2011-05/`, `unknown`) in the language shown. */
export function dateText(value) {
  if (!value) return "";
  if (value === "unknown") return t("records.date.unknown");
  const cut = value.indexOf("/");
  if (cut < 0) return calendarDate(value);
  const from = value.slice(0, cut), to = value.slice(cut + 1);
  if (from && to) return t("records.date.between", { from: calendarDate(from), to: calendarDate(to) });
  if (from) return t("records.date.from", { from: calendarDate(from) });
  return t("records.date.until", { to: calendarDate(to) });
}

/** A quantity ({min, max, approx, per}) in the language shown. */
export function quantityText(q) {
  if (!q) return "";
  let s = q.min === q.max ? number(q.min) : t("records.quantity.range", { min: q.min, max: q.max });
  if (q.approx) s = t("records.quantity.approx", { n: s });
  if (q.per) s = t("records.quantity.per", { n: s, per: term(q.per) });
  return s;
}

/** Seconds within a video as m:ss (or h:mm:ss), with tenths when not whole. */
export function secondsText(s) {
  if (s === null || s === undefined) return "";
  const whole = Math.floor(s);
  const tenth = Math.round((s - whole) * 10);
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), sec = whole % 60;
  const two = (n) => String(n).padStart(2, "0");
  const base = (h ? h + ":" + two(m) : String(m)) + ":" + two(sec);
  return tenth ? base + "." + tenth : base;
}

/** A record by id: { record, sha256, referred_by }. */
export function getRecord(id) {
  return api(apiUrl(["records", checkedId(id)]));
}

/** Live records of a kind, of one case or all the caller's. */
export async function listRecords(kind, caseName) {
  const { records } = await api(apiUrl(["records"], { kind, case: caseName }));
  return records;
}

/** Whether the caller may create and edit records of this kind (the server decides too). */
export function mayWrite(kind) {
  // Captures are the server's: their files' custody is theirs.
  if (kind === "capture") return false;
  const role = state.me && state.me.role;
  if (role === "admin") return true;
  if (role === "investigator") return kind !== "case";
  if (role === "analyst") return kind === "link";
  return false;
}

export function mayDelete() {
  const role = state.me && state.me.role;
  return role === "admin" || role === "investigator";
}

/**
 * A picker of records by name in any script: a search box over GET /api/search (the
 * server's Arabic-aware search) restricted to `kinds` (and the case, when given), results
 * as buttons, and the chosen records as removable chips. `multiple` keeps several.
 * `value()` gives the chosen ids (an array, or one id or null).
 */
export function recordPicker({ id, label, kinds, caseName, multiple, initial, onChange }) {
  const chosen = new Map(); // id → title
  const chips = el("ul", { class: "chips" });
  const results = el("ul", { class: "pick-results", "aria-label": t("records.pick.results", { label }) });
  const input = el("input", { id, type: "search", autocomplete: "off", placeholder: t("records.pick.placeholder") });
  const status = el("span", { class: "muted pick-status", "aria-live": "polite" });
  const box = el("div", { class: "record-picker", "data-picker": id },
    el("label", { for: id }, label), chips,
    el("div", { class: "pick-row" }, input,
      el("button", { type: "button", class: "secondary", onclick: () => { clearTimeout(timer); find(); } }, t("records.pick.find"))),
    status, results);

  const render = () => {
    chips.replaceChildren(...[...chosen].map(([rid, title]) => el("li", { "data-id": rid },
      el("span", { dir: "auto" }, title),
      el("button", { type: "button", class: "link", "aria-label": t("records.pick.remove", { name: title }),
        onclick: () => { chosen.delete(rid); render(); if (onChange) onChange(value()); } }, "×"))));
  };
  const pick = (rid, title) => {
    if (!multiple) chosen.clear();
    chosen.set(rid, title);
    results.replaceChildren();
    input.value = "";
    status.textContent = "";
    render();
    if (onChange) onChange(value());
  };
  let ask = 0;
  async function find() {
    const q = input.value.trim();
    const mine = ++ask;
    status.textContent = t("records.pick.searching");
    try {
      const hits = [];
      for (const kind of kinds) {
        const r = await api(apiUrl(["search"], { q, kind, case: caseName, limit: 20 }));
        hits.push(...r.hits);
      }
      if (mine !== ask) return;
      status.textContent = hits.length ? "" : t("records.pick.none");
      results.replaceChildren(...hits.map((h) => el("li", {},
        el("button", { type: "button", class: "pick", "data-pick": h.id, onclick: () => pick(h.id, h.title || h.id) },
          el("span", { dir: "auto" }, h.title || h.id), " ", el("span", { class: "muted" }, kindName(h.kind) + " · " + h.case)))));
    } catch (e) {
      status.textContent = e.message;
    }
  }
  let timer = null;
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 300); });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(timer); find(); }
  });
  const value = () => {
    const ids = [...chosen.keys()];
    return multiple ? ids : ids[0] || null;
  };
  // Known references are shown by their titles once read.
  for (const rid of initial || []) {
    chosen.set(rid, rid);
    if (/^[0-9A-HJKMNP-TV-Z]{26}$/.test(rid)) {
      getRecord(rid).then((r) => { if (chosen.has(rid)) { chosen.set(rid, recordTitle(r.record) || rid); render(); } }).catch(() => {});
    }
  }
  render();
  box.getValue = value;
  return box;
}

/** The history of a record: each custody event with the version it wrote. */
export function historySection(id) {
  const section = el("section", { class: "card", id: "history" }, el("h2", {}, t("records.history.title")));
  api(apiUrl(["records", checkedId(id), "history"])).then((h) => {
    const versions = h.events.filter((e) => e.action !== "delete").length;
    section.append(el("p", { class: "muted", "data-versions": versions }, t("records.history.versions", { n: versions })));
    section.append(el("div", { class: "table-scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["seq", "when", "action", "actor", "value"].map((k) => el("th", { scope: "col" }, t("records.history.col." + k))))),
      el("tbody", {}, h.events.map((e) => el("tr", { "data-seq": e.seq, "data-action": e.action },
        el("td", {}, number(e.seq)),
        el("td", {}, when(e.at)),
        el("td", {}, t("records.history.action." + e.action)),
        el("td", { dir: "auto" }, e.actor),
        el("td", {}, e.value ? el("details", {},
          el("summary", {}, e.new ? el("code", { title: e.new }, e.new.slice(0, 12) + "…") : t("records.history.version")),
          el("pre", { dir: "ltr" }, JSON.stringify(e.value, null, 2))) : "")))))));
  }).catch((e) => section.append(failure(e)));
  return section;
}

/**
 * A delete button: asks first, then deletes; a refusal (409: other records refer to it)
 * is shown plainly beside it. `after` runs once deleted.
 */
export function deleteButton(id, after) {
  const msg = el("p", { class: "error", id: "delete-error", role: "alert" });
  const btn = el("button", { type: "button", class: "danger", id: "delete-record" }, t("records.delete"));
  btn.addEventListener("click", async () => {
    if (!window.confirm(t("records.delete.confirm"))) return;
    msg.textContent = "";
    try {
      await api(apiUrl(["records", checkedId(id)]), { method: "DELETE" });
      after();
    } catch (e) {
      msg.textContent = e.status === 409 ? t("records.delete.referred", { reason: e.message }) : e.message;
    }
  });
  return el("div", { class: "delete" }, btn, msg);
}

/** The actions of a record page: edit, delete (as the role allows). */
export function recordActions(r, afterDelete) {
  const row = el("div", { class: "actions" });
  if (mayWrite(r.kind)) {
    row.append(el("a", { class: "button", href: "#/record/" + encodeURIComponent(r.id) + "/edit", id: "edit-record" }, t("records.edit")));
  }
  if (mayDelete() && (r.kind !== "case" || state.me.role === "admin")) {
    row.append(deleteButton(r.id, afterDelete || (() => { location.hash = "#/cases"; })));
  }
  return row;
}

/** A "new record" link for a kind, with fields to fill in beforehand. */
export function newRecordHref(kind, prefill) {
  const p = new URLSearchParams({ kind, ...(prefill || {}) });
  return "#/record/new?" + p;
}

/** A definition list of label → value rows, leaving out empty values. */
export function facts(rows) {
  const dl = el("dl", { class: "meta" });
  for (const [key, value, attrs] of rows) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
    dl.append(el("dt", {}, t(key)), el("dd", attrs || {}, value));
  }
  return dl;
}

/** Names (a list of {name, source}) each in its own direction. */
export function namesList(names) {
  return el("ul", { class: "names" }, (names || []).map((n) => el("li", { dir: "auto", lang: /[\u0600-\u06ff]/.test(n.name) ? "ar" : null }, n.name)));
}
