// Persons: the list of the caller's cases (or one case), each opening its page; a new person.
import { el as node, api, apiUrl, show, t, number } from "../core.js";
import { term, dateText, newRecordHref, mayWrite } from "../records.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

// A case's persons across lists: how many records make how many persons, the
// list-overlap table, and the way to the review of matches.
async function acrossLists(caseName, records) {
  const { count, overlap } = await api(apiUrl(["cases", caseName, "persons"], { linked: true }));
  return el("section", { class: "card", id: "across-lists" }, el("h2", {}, t("persons.across")),
    el("p", {}, t("persons.across.count", { records: number(records), persons: number(count) })),
    el("p", {}, el("a", { class: "button", id: "review-link", href: "#/review?case=" + encodeURIComponent(caseName) }, t("persons.review"))),
    overlap.length ? el("div", { class: "table-scroll" }, el("table", { id: "list-overlap" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("persons.overlap.lists")), el("th", { scope: "col" }, t("persons.overlap.persons")))),
      el("tbody", {}, overlap.map((o) => el("tr", {},
        el("td", { dir: "auto" }, o.lists.join(" + ")), el("td", {}, number(o.persons))))))) : null);
}

export async function personsPage(params) {
  const caseName = params && params.get("case") ? params.get("case") : undefined;
  const { records } = await api(apiUrl(["records"], { kind: "person", case: caseName }));
  const across = caseName ? await acrossLists(caseName, records.length) : null;
  show(el("h1", {}, t("persons.title")), across,
    mayWrite("person") ? el("p", { class: "actions" },
      el("a", { class: "button", id: "new-person", href: newRecordHref("person", caseName ? { case: caseName } : {}) }, t("persons.new")),
      el("a", { class: "button secondary", href: newRecordHref("org", caseName ? { case: caseName } : {}) }, t("persons.new_org"))) : null,
    records.length ? el("div", { class: "table-scroll" }, el("table", { id: "person-list" },
      el("thead", {}, el("tr", {}, ...["names", "case", "status", "sex", "born"].map((k) => el("th", { scope: "col" }, t("persons.col." + k))))),
      el("tbody", {}, records.map((r) => el("tr", { "data-person": r.id },
        el("td", {}, el("a", { href: "#/person/" + encodeURIComponent(r.id) },
          (r.names || []).map((n, i) => [i ? " · " : "", el("span", { dir: "auto" }, n.name)]))),
        el("td", { dir: "auto" }, r.case),
        el("td", {}, term(r.status)), el("td", {}, term(r.sex)), el("td", {}, dateText(r.birth_date)))))))
      : el("p", { class: "muted" }, t("persons.none")));
}
