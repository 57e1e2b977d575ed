// Cases: the list (title, counts of items and records), creating and editing a case
// (admins: a case is its case record), and the way to hand-over as a bag.
import { el as node, api, apiUrl, show, state, t } from "../core.js";
import { number } from "../i18n.js";
import { newRecordHref } from "../records.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

export async function casesPage() {
  const { details } = await api(apiUrl(["cases"]));
  const admin = state.me.role === "admin";
  const rows = details.map((c) =>
    el("tr", { "data-case": c.name },
      el("td", {}, el("a", { href: "#/case/" + encodeURIComponent(c.name), dir: "auto" }, c.name)),
      el("td", { dir: "auto", "data-field": "title" }, c.title || el("span", { class: "muted" }, t("caselist.untitled")),
        c.description ? el("div", { class: "muted small", dir: "auto" }, c.description) : null),
      el("td", { "data-field": "items" }, number(c.items)),
      el("td", { "data-field": "records" }, number(c.records)),
      el("td", {}, el("div", { class: "actions" },
        el("a", { href: "#/incidents?case=" + encodeURIComponent(c.name), class: "button secondary" }, t("caselist.incidents")),
        admin ? el("a", {
          class: "button secondary", "data-edit-case": c.name,
          href: c.record ? "#/record/" + encodeURIComponent(c.record) + "/edit" : newRecordHref("case", { case: c.name }),
        }, t("caselist.edit")) : null,
        el("button", { type: "button", class: "secondary", "data-export": c.name, onclick: () => { location.hash = "#/case/" + encodeURIComponent(c.name) + "/handover"; } }, t("caselist.export")))),
    ));
  show(
    el("h1", {}, t("caselist.title")),
    admin ? el("p", {}, el("a", { class: "button", id: "new-case", href: newRecordHref("case") }, t("caselist.new"))) : null,
    details.length
      ? el("div", { class: "table-scroll" }, el("table", { id: "cases" },
        el("thead", {}, el("tr", {}, ...["name", "title", "items", "records", "actions"].map((k) => el("th", { scope: "col" }, t("caselist.col." + k))))),
        el("tbody", {}, rows)))
      : el("p", { class: "muted" }, t("caselist.none")),
  );
}
