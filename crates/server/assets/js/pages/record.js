// Pages of documentation records: an incident (its acts, victims, perpetrators, places,
// linked evidence with time ranges, claims for and against), a person (names, the sources
// they appear in, incidents), an org (its hierarchy, members and incidents), a place (its
// incidents, the places within it), and any other record; each with its history.
import { el as node, show, itemHref, t, tb } from "../core.js";
import { incidentMap } from "../map.js";
import {
  term, kindName, recordTitle, recordLink, dateText, quantityText, secondsText, getRecord,
  historySection, recordActions, newRecordHref, facts, namesList, mayWrite,
} from "../records.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

/** The records with these ids (those the caller may see), by id; read in parallel. */
async function records(ids) {
  const unique = [...new Set(ids.filter(Boolean))];
  const got = await Promise.all(unique.map((id) => getRecord(id).then((r) => r.record, () => null)));
  const map = new Map();
  for (const r of got) if (r) map.set(r.id, r);
  return map;
}

/** The records that refer to one, read whole. */
async function referrers(d) {
  return [...(await records(d.referred_by || [])).values()];
}

const refLink = (map, id) => (map.has(id) ? recordLink(map.get(id)) : el("span", { class: "muted", dir: "auto" }, id));

function header(r, extra) {
  return [
    el("p", { class: "muted kind-line" }, kindName(r.kind), " · ", tb("records.in_case", { case: r.case })),
    el("h1", { dir: "auto", id: "record-title" }, recordTitle(r) || r.id),
    recordActions(r), extra || null,
  ];
}

/** The acts of an incident as cards: violation, date, places, victims, perpetrators. */
function actCard(act, names) {
  const victims = (act.victims || []).map((v) => el("li", { "data-victim": v.person || "group" },
    v.person ? refLink(names, v.person)
      : [quantityText(v.count) || t("records.victim.uncounted"),
        v.description ? [" — ", el("span", { dir: "auto" }, v.description)] : null,
        (v.includes || []).length ? [" (", el("span", { dir: "auto" }, v.includes.join("، ")), ")"] : null]));
  const perps = (act.perpetrators || []).map((p) => el("li", { "data-perpetrator": p.org || p.person },
    refLink(names, p.org || p.person), " — ", term(p.involvement)));
  return el("article", { class: "act card", "data-act": act.id },
    el("h3", {}, el("a", { href: "#/record/" + encodeURIComponent(act.id) }, term(act.violation)),
      act.date ? el("span", { class: "muted" }, " · ", dateText(act.date)) : null),
    act.description ? el("p", { dir: "auto" }, act.description) : null,
    facts([
      ["records.field.places", (act.places || []).map((p, i) => [i ? "، " : "", refLink(names, p)])],
      ["records.field.victims", victims.length ? el("ul", { class: "victims" }, victims) : null],
      ["records.field.perpetrators", perps.length ? el("ul", { class: "perpetrators" }, perps) : null],
    ]));
}

/** Evidence linked to a record (or its acts): item, time range, verification, note. */
function evidenceTable(links, names) {
  if (!links.length) return el("p", { class: "muted" }, t("records.evidence.none"));
  return el("div", { class: "table-scroll" }, el("table", { id: "linked-evidence" },
    el("thead", {}, el("tr", {}, ...["item", "range", "target", "verification", "note"].map((k) => el("th", { scope: "col" }, t("records.evidence.col." + k))))),
    el("tbody", {}, links.map((l) => el("tr", { "data-link": l.id, "data-item": l.item },
      el("td", {}, el("a", { href: itemHref(l.item) }, el("code", {}, l.item))),
      el("td", { "data-range": l.start !== undefined ? l.start + "-" + (l.end ?? "") : "" },
        l.start !== undefined || l.end !== undefined ? t("records.evidence.range", { start: secondsText(l.start ?? 0), end: l.end !== undefined ? secondsText(l.end) : "…" }) : t("records.evidence.whole")),
      el("td", {}, refLink(names, l.target)),
      el("td", {}, term(l.verification)),
      el("td", { dir: "auto" }, l.note || "",
        " ", el("a", { href: "#/record/" + encodeURIComponent(l.id), class: "muted" }, t("records.open"))))))));
}

/** Claims for and against, each with its source. */
function claimsSection(claims, names) {
  const group = (stance) => {
    const list = claims.filter((c) => c.stance === stance);
    return el("div", { class: "claims-" + stance },
      el("h3", {}, t("records.claims." + stance)),
      list.length ? el("ul", {}, list.map((c) => el("li", { "data-claim": c.id },
        el("q", { dir: "auto" }, c.statement), " — ", refLink(names, c.source),
        c.made ? el("span", { class: "muted" }, " · ", dateText(c.made)) : null,
        c.confidence ? el("span", { class: "muted" }, " · ", t("records.claims.confidence", { c: term(c.confidence) })) : null,
        " ", el("a", { href: "#/record/" + encodeURIComponent(c.id), class: "muted" }, t("records.open")))))
        : el("p", { class: "muted" }, t("records.claims.none")));
  };
  return el("div", { class: "claims" }, group("asserts"), group("denies"));
}

function section(id, title, ...children) {
  return el("section", { class: "card", id }, el("h2", {}, title), ...children);
}

/** `#/incident/ID`. */
export async function incidentPage(id) {
  const d = await getRecord(id);
  const inc = d.record;
  const refs = await referrers(d);
  const acts = refs.filter((r) => r.kind === "act" && r.incident === inc.id);
  // Links and claims on the incident and on its acts.
  const actRefs = (await Promise.all(acts.map((a) => getRecord(a.id).then((x) => x.referred_by, () => [])))).flat();
  const more = await records(actRefs);
  const around = [...refs, ...more.values()];
  const targets = new Set([inc.id, ...acts.map((a) => a.id)]);
  const links = around.filter((r) => r.kind === "link" && targets.has(r.target));
  const claims = around.filter((r) => r.kind === "claim" && targets.has(r.about));
  const related = refs.filter((r) => r.kind === "incident");
  const names = await records([
    ...(inc.places || []), ...(inc.related || []),
    ...acts.flatMap((a) => [...(a.places || []), ...(a.victims || []).map((v) => v.person),
      ...(a.perpetrators || []).flatMap((p) => [p.org, p.person])]),
    ...claims.map((c) => c.source),
  ]);
  for (const a of acts) names.set(a.id, a);
  names.set(inc.id, inc);
  const placed = (inc.places || []).map((p) => names.get(p)).filter((p) => p && p.coordinates);
  show(
    ...header(inc),
    facts([
      ["records.field.status", term(inc.status), { "data-field": "status" }],
      ["records.field.date", dateText(inc.date), { "data-field": "date" }],
      ["records.field.places", (inc.places || []).map((p, i) => [i ? "، " : "", refLink(names, p)]), { "data-field": "places" }],
      ["records.field.related", [...(inc.related || []).map((r) => refLink(names, r)), ...related.map((r) => recordLink(r))]],
    ]),
    inc.description ? el("p", { dir: "auto", class: "description" }, inc.description) : null,
    placed.length ? section("incident-map", t("records.places_on_map"),
      incidentMap([{ id: inc.id, title: inc.title, places: placed.map((p) => ({ id: p.id, name: recordTitle(p), lat: p.coordinates.lat, lon: p.coordinates.lon })) }])) : null,
    section("acts", t("records.acts"),
      acts.length ? acts.map((a) => actCard(a, names)) : el("p", { class: "muted" }, t("records.acts.none")),
      mayWrite("act") ? el("a", { class: "button", id: "add-act", href: newRecordHref("act", { case: inc.case, incident: inc.id }) }, t("records.acts.add")) : null),
    section("evidence", t("records.evidence"), evidenceTable(links, names)),
    section("claims", t("records.claims"), claimsSection(claims, names),
      mayWrite("claim") ? el("a", { class: "button secondary", href: newRecordHref("claim", { case: inc.case, about: inc.id }) }, t("records.claims.add")) : null),
    historySection(inc.id),
  );
}

/** `#/person/ID`. */
export async function personPage(id) {
  const d = await getRecord(id);
  const p = d.record;
  const refs = await referrers(d);
  const acts = refs.filter((r) => r.kind === "act");
  // Matches with records of other lists: decided the same person, or waiting for review.
  const matches = refs.filter((r) => r.kind === "match" && r.decision !== "different");
  const other = (m) => m.persons.find((x) => x !== p.id);
  const names = await records([
    ...(p.names || []).map((n) => n.source), ...(p.affiliations || []).map((a) => a.org),
    ...acts.map((a) => a.incident), p.source, ...matches.map(other),
  ]);
  const claims = refs.filter((r) => r.kind === "claim");
  const claimSources = await records(claims.map((c) => c.source));
  for (const [k, v] of claimSources) names.set(k, v);
  // The sources (lists, witnesses, outlets) the person appears in: those naming them, and
  // those making claims about them.
  const sources = new Map();
  for (const n of p.names || []) if (n.source && names.has(n.source)) sources.set(n.source, names.get(n.source));
  for (const c of claims) if (names.has(c.source)) sources.set(c.source, names.get(c.source));
  const roleIn = (a) => {
    const roles = [];
    if ((a.victims || []).some((v) => v.person === p.id)) roles.push(t("records.person.victim"));
    for (const x of a.perpetrators || []) if (x.person === p.id) roles.push(t("records.person.perpetrator", { how: term(x.involvement) }));
    return roles.join("، ");
  };
  show(
    ...header(p),
    section("names", t("records.field.names"), namesList(p.names)),
    facts([
      ["records.field.father_name", p.father_name, { dir: "auto" }],
      ["records.field.mother_name", p.mother_name, { dir: "auto" }],
      ["records.field.sex", term(p.sex)],
      ["records.field.birth_date", dateText(p.birth_date)],
      ["records.field.age", quantityText(p.age)],
      ["records.field.status", term(p.status)],
      ["records.field.event_date", dateText(p.event_date)],
      ["records.field.event_place", p.event_place, { dir: "auto" }],
      ["records.field.source", p.source ? refLink(names, p.source) : null],
      ["records.field.source_row", p.source_row, { dir: "auto" }],
      ["records.field.affiliations", (p.affiliations || []).map((a) => el("div", {}, refLink(names, a.org),
        a.role ? [" — ", el("span", { dir: "auto" }, a.role)] : null, a.date ? " · " + dateText(a.date) : null))],
      ["records.field.notes", p.notes, { dir: "auto" }],
    ]),
    section("same-person", t("records.person.same"),
      matches.length ? el("ul", {}, matches.map((m) => el("li", { "data-match": m.id }, refLink(names, other(m)), " · ",
        term(m.decision), " (", term(m.by), ")",
        m.decision === "review" ? [" · ", el("a", { href: "#/review?case=" + encodeURIComponent(p.case) }, t("records.person.to_review"))] : null)))
        : el("p", { class: "muted" }, t("records.person.no_same"))),
    section("sources", t("records.person.sources"),
      sources.size ? el("ul", {}, [...sources.values()].map((s) => el("li", {}, recordLink(s), " · ", term(s.source_type))))
        : el("p", { class: "muted" }, t("records.person.no_sources"))),
    section("incidents", t("records.incidents"),
      acts.length ? el("ul", {}, acts.map((a) => el("li", {}, refLink(names, a.incident), " — ", term(a.violation),
        " (", roleIn(a), ")"))) : el("p", { class: "muted" }, t("records.incidents.none"))),
    section("evidence", t("records.evidence"), evidenceTable(refs.filter((r) => r.kind === "link"), new Map([[p.id, p]]))),
    historySection(p.id),
  );
}

/** `#/org/ID`. */
export async function orgPage(id) {
  const d = await getRecord(id);
  const o = d.record;
  const refs = await referrers(d);
  // The chain of units above this one (at most 20, in case of a loop).
  const chain = [];
  let parent = o.parent;
  while (parent && chain.length < 20 && !chain.some((c) => c.id === parent)) {
    const up = await getRecord(parent).then((x) => x.record, () => null);
    if (!up) break;
    chain.push(up);
    parent = up.parent;
  }
  const units = refs.filter((r) => r.kind === "org" && r.parent === o.id);
  const members = refs.filter((r) => r.kind === "person" && (r.affiliations || []).some((a) => a.org === o.id));
  const acts = refs.filter((r) => r.kind === "act");
  const names = await records(acts.map((a) => a.incident));
  const hierarchy = el("ol", { class: "hierarchy" },
    chain.slice().reverse().map((c) => el("li", {}, recordLink(c))),
    el("li", { "aria-current": "true" }, el("strong", { dir: "auto" }, recordTitle(o)),
      units.length ? el("ul", {}, units.map((u) => el("li", {}, recordLink(u)))) : null));
  show(
    ...header(o),
    section("names", t("records.field.names"), namesList(o.names)),
    facts([
      ["records.field.org_type", term(o.org_type)],
      ["records.field.valid", dateText(o.valid)],
      ["records.field.description", o.description, { dir: "auto" }],
    ]),
    section("hierarchy", t("records.org.hierarchy"), hierarchy,
      mayWrite("org") ? el("a", { class: "button secondary", href: newRecordHref("org", { case: o.case, parent: o.id }) }, t("records.org.add_unit")) : null),
    section("members", t("records.org.members"),
      members.length ? el("ul", {}, members.map((m) => el("li", {}, recordLink(m),
        (m.affiliations || []).filter((a) => a.org === o.id && a.role).map((a) => [" — ", el("span", { dir: "auto" }, a.role)]))))
        : el("p", { class: "muted" }, t("records.org.no_members"))),
    section("incidents", t("records.incidents"),
      acts.length ? el("ul", {}, acts.map((a) => el("li", {}, refLink(names, a.incident), " — ", term(a.violation), " (",
        (a.perpetrators || []).filter((x) => x.org === o.id).map((x) => term(x.involvement)).join("، "), ")")))
        : el("p", { class: "muted" }, t("records.incidents.none"))),
    historySection(o.id),
  );
}

/** `#/place/ID`. */
export async function placePage(id) {
  const d = await getRecord(id);
  const p = d.record;
  const refs = await referrers(d);
  const names = await records([p.parent]);
  const incidents = refs.filter((r) => r.kind === "incident");
  const acts = refs.filter((r) => r.kind === "act");
  const actIncidents = await records(acts.map((a) => a.incident));
  const within = refs.filter((r) => r.kind === "place" && r.parent === p.id);
  const c = p.coordinates;
  show(
    ...header(p),
    section("names", t("records.field.names"), namesList(p.names)),
    facts([
      ["records.field.place_type", term(p.place_type)],
      ["records.field.coordinates", c ? el("span", { dir: "ltr" }, c.lat + ", " + c.lon + (c.precision_m ? " ± " + c.precision_m + " m" : "")) : null],
      ["records.field.pcode", p.pcode, { dir: "ltr" }],
      ["records.field.parent", p.parent ? refLink(names, p.parent) : null],
    ]),
    c ? section("place-map", t("records.places_on_map"),
      incidentMap([{ id: p.id, title: recordTitle(p), places: [{ id: p.id, name: recordTitle(p), lat: c.lat, lon: c.lon }] }])) : null,
    section("incidents", t("records.incidents"),
      incidents.length || acts.length ? el("ul", {},
        incidents.map((i) => el("li", {}, recordLink(i), i.date ? " · " + dateText(i.date) : "")),
        acts.map((a) => el("li", {}, refLink(actIncidents, a.incident), " — ", term(a.violation))))
        : el("p", { class: "muted" }, t("records.incidents.none"))),
    within.length ? section("within", t("records.place.within"), el("ul", {}, within.map((w) => el("li", {}, recordLink(w))))) : null,
    historySection(p.id),
  );
}

/** `#/record/ID`: any record, its fields as stored, and its history. */
export async function recordPage(id) {
  const d = await getRecord(id);
  const r = d.record;
  // Records a field names are shown by title.
  const refIds = [];
  const walk = (v) => {
    if (typeof v === "string" && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(v) && v !== r.id) refIds.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(r);
  const names = await records(refIds);
  const shown = (k, v) => {
    if (typeof v === "string" && names.has(v)) return recordLink(names.get(v));
    if (k === "item" && typeof v === "string") return el("a", { href: itemHref(v) }, el("code", {}, v));
    if (k === "date" || k === "made" || k === "birth_date" || k === "valid") return dateText(v);
    if (k === "start" || k === "end") return secondsText(v);
    // The tools of a capture and their versions: names, not fields.
    if (k === "tools" && v && typeof v === "object") return el("ul", {}, Object.entries(v).map(([n, ver]) => el("li", {}, el("bdi", {}, n + " " + ver))));
    if (typeof v === "string") return el("span", { dir: "auto" }, /^[a-z_]+$/.test(v) ? term(v) : v);
    if (Array.isArray(v)) return el("ul", {}, v.map((x) => el("li", {}, shown("", x))));
    if (v && typeof v === "object") {
      if ("min" in v && "max" in v) return quantityText(v);
      return el("dl", { class: "meta" }, Object.entries(v).flatMap(([kk, vv]) => [el("dt", {}, t("records.field." + kk)), el("dd", {}, shown(kk, vv))]));
    }
    return String(v);
  };
  const skip = new Set(["id", "kind", "case", "key"]);
  show(
    ...header(r),
    // A capture is shown whole, with its files and its state, on its case's captures page.
    r.kind === "capture" ? el("p", {}, el("a", { class: "button secondary", href: "#/captures?case=" + encodeURIComponent(r.case) }, t("captures.open"))) : null,
    el("dl", { class: "meta", id: "record-fields" }, Object.entries(r).filter(([k]) => !skip.has(k)).flatMap(([k, v]) =>
      [el("dt", {}, t("records.field." + k)), el("dd", { "data-field": k }, shown(k, v))])),
    d.referred_by.length ? section("referred-by", t("records.referred_by"),
      el("ul", {}, (await referrers(d)).map((x) => el("li", {}, kindName(x.kind), ": ", recordLink(x))))) : null,
    historySection(r.id),
  );
}
