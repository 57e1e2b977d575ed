// Search across items and records, with facets.
import { el, api, apiUrl, show, itemHref, t, number, bidi, tableScroll } from "../core.js";

// A record kind or `item`, in the language shown (an unknown one as the server wrote it).
function kindName(kind) {
  return ["item", "case", "incident", "act", "person", "org", "place", "source", "claim", "link", "match", "capture"].includes(kind)
    ? t("search.kind." + kind) : bidi(kind);
}

export async function searchPage(params) {
  const field = (name, label, hint) => el("label", {}, t(label),
    el("input", { name, value: params.get(name) || "", placeholder: hint ? t(hint) : null }));
  const form = el("form", { class: "filters", id: "search", role: "search" },
    field("q", "search.q"),
    field("kind", "search.kind", "search.kind_hint"),
    field("case", "search.case"),
    field("date", "search.date", "search.date_hint"),
    field("place", "search.place"),
    el("button", { type: "submit" }, t("search.submit")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = "#/search?" + p;
  });
  const out = el("div", {});
  show(el("h1", {}, t("search.title")), form, out);
  if (![...params.keys()].length) return;
  // Only the search's own parameters go from the fragment into the request.
  const q = {};
  for (const k of ["q", "kind", "case", "date", "place", "violation", "verification", "limit"]) q[k] = params.get(k);
  const r = await api(apiUrl(["search"], q));
  const refine = (k, v) => { const p = new URLSearchParams(params); p.set(k, v); location.hash = "#/search?" + p; };
  const facetName = (k) => ["kind", "case", "violation", "verification"].includes(k) ? t("search.facet." + k) : bidi(k);
  const facets = el("div", { class: "facets" }, ...Object.entries(r.facets).filter(([, l]) => l.length).map(([k, list]) =>
    el("div", {}, el("strong", {}, facetName(k)), el("ul", {}, list.map(([v, n]) =>
      el("li", {}, el("button", { type: "button", onclick: () => refine(k, v) }, k === "kind" ? kindName(v) : bidi(v)),
        " ", number(n)))))));
  const title = (h) => bidi(h.title || h.id);
  out.append(el("p", { class: "muted", id: "search-total" }, t("search.found", { n: r.total })), facets,
    tableScroll(t("search.results"), el("table", {},
      el("thead", {}, el("tr", {}, ["search.col_kind", "search.col_title", "search.col_case"].map((h) => el("th", { scope: "col" }, t(h))))),
      el("tbody", {}, r.hits.map((h) => el("tr", {}, el("td", {}, kindName(h.kind)),
        el("td", {}, el("a", { href: hitHref(h), "data-hit": h.id }, title(h)), sameAs(h)),
        el("td", {}, bidi(h.case))))))));
}

// A person linked across lists is one hit: every spelling the lists give, and how many
// records they are.
function sameAs(h) {
  if (!h.same_as || !h.names) return null;
  return el("div", { class: "muted small", "data-same-as": h.same_as.length },
    t("search.same_as", { n: number(h.same_as.length) }), " ",
    h.names.flatMap((n, i) => [i ? " · " : "", el("bdi", {}, n)]));
}

// The page a hit opens: an item's page, or the record's (incident, person, org and place
// have their own pages; other kinds the general record page).
function hitHref(h) {
  if (h.kind === "item") return itemHref(h.id);
  const page = ["incident", "person", "org", "place"].includes(h.kind) ? h.kind : "record";
  return "#/" + page + "/" + encodeURIComponent(h.id);
}
