// Search across items and records, with facets.
import { el, api, apiUrl, show, itemHref } from "../core.js";

export async function searchPage(params) {
  const form = el("form", { class: "filters", id: "search" },
    el("label", {}, "Words or names", el("input", { name: "q", value: params.get("q") || "" })),
    el("label", {}, "Kind", el("input", { name: "kind", value: params.get("kind") || "", placeholder: "item, person, incident…" })),
    el("label", {}, "Case", el("input", { name: "case", value: params.get("case") || "" })),
    el("label", {}, "Date", el("input", { name: "date", value: params.get("date") || "", placeholder: "2012 or 2011/2013" })),
    el("label", {}, "Place", el("input", { name: "place", value: params.get("place") || "" })),
    el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = "#/search?" + p;
  });
  const out = el("div", {});
  show(el("h1", {}, "Search"), form, out);
  if (![...params.keys()].length) return;
  // Only the search's own parameters go from the fragment into the request.
  const q = {};
  for (const k of ["q", "kind", "case", "date", "place", "violation", "verification", "limit"]) q[k] = params.get(k);
  const r = await api(apiUrl(["search"], q));
  const refine = (k, v) => { const p = new URLSearchParams(params); p.set(k, v); location.hash = "#/search?" + p; };
  const facets = el("div", { class: "facets" }, ...Object.entries(r.facets).filter(([, l]) => l.length).map(([k, list]) =>
    el("div", {}, el("strong", {}, k), el("ul", {}, list.map(([v, n]) =>
      el("li", {}, el("button", { type: "button", onclick: () => refine(k, v) }, v), " " + n))))));
  out.append(el("p", { class: "muted" }, r.total + " found"), facets,
    el("table", {}, el("tr", {}, ...["Kind", "Title", "Case"].map((h) => el("th", {}, h))),
      r.hits.map((h) => el("tr", {}, el("td", {}, h.kind),
        el("td", {}, el("a", { href: h.kind === "item" ? itemHref(h.id) : "#/" + (["incident", "person", "org", "place"].includes(h.kind) ? h.kind : "record") + "/" + encodeURIComponent(h.id), dir: "auto", "data-hit": h.id }, h.title || h.id)),
        el("td", {}, h.case)))));
}
