// Incidents: timeline, map and list (of one case, or all the caller's), each opening its
// page; a new incident.
import { el as node, api, apiUrl, show, t, tb } from "../core.js";
import { timeline } from "../timeline.js";
import { incidentMap as map } from "../map.js";
import { term, dateText, newRecordHref, mayWrite } from "../records.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

export async function incidentsPage(params) {
  const caseName = params && params.get("case") ? params.get("case") : undefined;
  const { incidents } = await api(apiUrl(["incidents"], { case: caseName }));
  show(
    el("h1", {}, caseName ? tb("incidents.title_case", { case: caseName }) : t("incidents.title")),
    mayWrite("incident") ? el("p", {}, el("a", { class: "button", id: "new-incident", href: newRecordHref("incident", caseName ? { case: caseName } : {}) }, t("incidents.new"))) : null,
    el("section", { class: "card" }, el("h2", {}, t("incidents.timeline")), timeline(incidents)),
    el("section", { class: "card" }, el("h2", {}, t("incidents.map")), map(incidents)),
    incidents.length ? el("div", { class: "table-scroll" }, el("table", { id: "incident-list" },
      el("thead", {}, el("tr", {}, ...["incident", "case", "date", "places", "status"].map((k) => el("th", { scope: "col" }, t("incidents.col." + k))))),
      el("tbody", {}, incidents.map((i) => el("tr", { "data-incident": i.id },
        el("td", {}, el("a", { href: "#/incident/" + encodeURIComponent(i.id), dir: "auto" }, i.title)),
        el("td", { dir: "auto" }, i.case),
        el("td", {}, i.date ? dateText(i.date) : t("records.date.unknown")),
        el("td", {}, i.places.map((p, n) => [n ? "، " : "", el("a", { href: "#/place/" + encodeURIComponent(p.id), dir: "auto" }, p.name)])),
        el("td", {}, term(i.status)))))))
      : el("p", { class: "muted" }, t("incidents.none")),
  );
}
