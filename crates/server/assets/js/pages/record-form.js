// Forms to create and edit documentation records of every kind, following the model
// (docs/records.md): dates as intervals, places and persons and units picked by name,
// victims as persons or counted groups, perpetrators with their involvement. The server
// checks every field with the parser the CLI uses; its message ("FIELD: message") is shown
// beside the field it names.
import { el as node, api, apiUrl, show, checkedId, state, t } from "../core.js";
import { placePicker } from "../map.js";
import { VOCAB, KINDS, term, kindName, recordPicker, recordHref, getRecord, listRecords, mayWrite } from "../records.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

// Each kind's fields, in the model's order: [name, editor, options].
const FIELDS = {
  case: [["title", "text"], ["description", "textarea"], ["protected_readers", "checks", { vocab: "reader" }]],
  incident: [["title", "text", { required: true }], ["description", "textarea"], ["date", "date"],
    ["places", "refs", { kinds: ["place"] }], ["status", "select", { vocab: "status_incident" }],
    ["related", "refs", { kinds: ["incident"] }]],
  act: [["incident", "ref", { kinds: ["incident"], required: true }], ["violation", "select", { vocab: "violation", required: true }],
    ["date", "date"], ["places", "refs", { kinds: ["place"] }], ["description", "textarea"],
    ["victims", "victims"], ["perpetrators", "perpetrators"]],
  person: [["names", "names", { required: true }], ["father_name", "text"], ["mother_name", "text"],
    ["sex", "select", { vocab: "sex" }], ["birth_date", "date"], ["age", "quantity"],
    ["status", "select", { vocab: "status_person" }], ["event_date", "date"], ["event_place", "text"],
    ["affiliations", "affiliations"], ["notes", "textarea"],
    ["source", "ref", { kinds: ["source"] }], ["source_row", "text"]],
  org: [["names", "names", { required: true }], ["org_type", "select", { vocab: "org_type" }],
    ["parent", "ref", { kinds: ["org"] }], ["valid", "date"], ["description", "textarea"]],
  place: [["names", "names", { required: true }], ["place_type", "select", { vocab: "place_type" }],
    ["coordinates", "coordinates"], ["pcode", "text"], ["parent", "ref", { kinds: ["place"] }]],
  source: [["name", "text", { required: true }], ["protection", "select", { vocab: "protection", required: true }],
    ["source_type", "select", { vocab: "source_type" }], ["reliability", "select", { vocab: "reliability" }],
    ["identity", "textarea"], ["notes", "textarea"]],
  claim: [["source", "ref", { kinds: ["source"], required: true }],
    ["about", "ref", { kinds: ["incident", "act", "person", "place", "org"], required: true }],
    ["statement", "textarea", { required: true }], ["stance", "select", { vocab: "stance", required: true }],
    ["date", "date"], ["made", "date"], ["quantities", "quantities"], ["confidence", "select", { vocab: "confidence" }],
    ["corroborates", "refs", { kinds: ["claim"] }], ["contradicts", "refs", { kinds: ["claim"] }]],
  link: [["item", "text", { required: true }], ["target", "ref", { kinds: ["incident", "act", "person", "place"], required: true }],
    ["start", "seconds"], ["end", "seconds"], ["verification", "select", { vocab: "verification", required: true }],
    ["note", "textarea"]],
};

let serial = 0;
const uid = (name) => "f-" + name + "-" + (++serial);

/** `#/record/new?kind=K&case=C&FIELD=…`: a form for a new record. */
export async function newRecordPage(params) {
  const kind = params.get("kind") || "incident";
  // Only the kinds people write have a form (a capture is the server's).
  if (!KINDS.includes(kind) || !FIELDS[kind]) throw new Error(t("records.form.bad_kind", { kind }));
  const cases = state.me.role === "admin" ? (await api(apiUrl(["cases"]))).cases : state.me.cases;
  const initial = { kind };
  for (const [k, v] of params) if (k !== "kind" && k !== "case") initial[k] = FIELDS[kind].some(([f, ed]) => f === k && ed === "refs") ? [v] : v;
  show(el("h1", {}, t("records.form.new", { kind: kindName(kind) })),
    kindChooser(kind, params),
    recordForm({ kind, record: initial, cases, caseName: params.get("case") || (cases.length === 1 ? cases[0] : "") }));
}

/** `#/record/ID/edit`: the form for an existing record. */
export async function editRecordPage(id) {
  const { record } = await getRecord(checkedId(id));
  show(el("h1", {}, t("records.form.edit", { kind: kindName(record.kind) })),
    recordForm({ kind: record.kind, record, cases: [record.case], caseName: record.case }));
}

function kindChooser(kind, params) {
  const links = KINDS.filter((k) => mayWrite(k)).map((k) => {
    const p = new URLSearchParams({ kind: k });
    if (params.get("case")) p.set("case", params.get("case"));
    return el("a", { href: "#/record/new?" + p, "aria-current": k === kind ? "page" : null }, kindName(k));
  });
  return el("nav", { class: "kinds", "aria-label": t("records.form.kinds") }, links);
}

/**
 * The form of a record of `kind`: `record` holds the values to start from (the stored
 * record when editing). Creating sends POST /api/records; editing PUT /api/records/{id}.
 */
export function recordForm({ kind, record, cases, caseName, onSaved }) {
  const editing = Boolean(record.id);
  const editors = [];
  const form = el("form", { class: "record-form", id: "record-form", "data-kind": kind, novalidate: true });
  const general = el("p", { class: "error", id: "form-error", role: "alert" });

  // The case: chosen once (a record's case is where it lives; a case record names it).
  let caseField;
  if (kind === "case") {
    const input = el("input", { id: "f-case", name: "case", required: true, value: record.case || "", readonly: editing || null, dir: "auto" });
    caseField = { name: "case", node: field("case", "f-case", input, { required: true }), get: () => input.value.trim() || null };
  } else {
    const sel = el("select", { id: "f-case", name: "case", required: true, disabled: editing || null },
      el("option", { value: "" }, t("records.form.choose_case")),
      cases.map((c) => el("option", { value: c, selected: c === caseName || null }, c)));
    caseField = { name: "case", node: field("case", "f-case", sel, { required: true }), get: () => sel.value || null };
  }
  editors.push(caseField);
  const currentCase = () => caseField.get() || caseName || undefined;
  form.append(caseField.node);
  for (const [name, type, opts] of FIELDS[kind]) {
    const ed = editor(name, type, opts || {}, record[name], currentCase);
    editors.push({ name, ...ed });
    form.append(ed.node);
  }
  const submit = el("button", { type: "submit", id: "save-record" }, editing ? t("records.form.save") : t("records.form.create"));
  form.append(general, el("div", { class: "actions" }, submit,
    editing ? el("a", { href: recordHref(kind, record.id), class: "button secondary" }, t("records.form.cancel")) : null));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const n of form.querySelectorAll(".field-error")) n.textContent = "";
    for (const n of form.querySelectorAll("[aria-invalid]")) n.removeAttribute("aria-invalid");
    general.textContent = "";
    const body = { kind };
    try {
      for (const e of editors) {
        const v = e.get();
        if (v !== null && v !== undefined && !(Array.isArray(v) && !v.length)) body[e.name] = v;
      }
    } catch (err) {
      showError(form, general, err.field ? err.field + ": " + err.message : err.message);
      return;
    }
    if (record.key) body.key = record.key;
    // Protected fields the caller was shown as "[protected]" go back as shown (the server
    // keeps what they stand for).
    submit.disabled = true;
    try {
      const out = editing
        ? await api(apiUrl(["records", checkedId(record.id)]), { method: "PUT", body })
        : await api(apiUrl(["records"]), { method: "POST", body });
      const saved = out.record || { ...body, id: out.applied.id };
      if (onSaved) onSaved(saved);
      // An act is shown on its incident's page, a case in the list of cases.
      else if (kind === "case") location.hash = "#/cases";
      else if (kind === "act" && saved.incident) location.hash = recordHref("incident", saved.incident);
      else location.hash = recordHref(kind, out.applied.id);
    } catch (err) {
      showError(form, general, err.message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** Shows a server message "FIELD: message" (FIELD like `victims[0].person`) beside its field. */
function showError(form, general, message) {
  const m = /^([a-z_]+)(?:[\[.][^:]*)?: (.*)$/s.exec(message);
  const holder = m && form.querySelector(`[data-field="${m[1]}"]`);
  if (holder) {
    const out = holder.querySelector(".field-error");
    out.textContent = message;
    const input = holder.querySelector("input, select, textarea");
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    general.textContent = t("records.form.field_error", { field: t("records.field." + m[1]) });
  } else {
    general.textContent = message;
  }
}

/** A labelled field: its label, its input(s), help, and a place for the server's message. */
function field(name, id, input, opts = {}) {
  return el("div", { class: "field", "data-field": name },
    id ? el("label", { for: id }, t("records.field." + name), opts.required ? el("span", { class: "req", "aria-hidden": "true" }, " *") : null)
      : el("span", { class: "label" }, t("records.field." + name), opts.required ? el("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    input, el("p", { class: "field-error error", role: "alert" }));
}

function fieldset(name, opts, ...children) {
  return el("fieldset", { class: "field", "data-field": name },
    el("legend", {}, t("records.field." + name), opts.required ? el("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    ...children, el("p", { class: "field-error error", role: "alert" }));
}

function fieldError(field, message) {
  const e = new Error(message);
  e.field = field;
  return e;
}

const text = (v) => { const s = v.trim(); return s === "" ? null : s; };

function select(id, vocab, value, required) {
  return el("select", { id, name: id, required: required || null },
    el("option", { value: "" }, required ? t("records.form.choose") : t("records.form.none")),
    VOCAB[vocab].map((v) => el("option", { value: v, selected: v === value || null }, term(v))));
}

/** An editor for one field: { node, get() } where get() gives the JSON value or null. */
function editor(name, type, opts, value, currentCase) {
  const id = uid(name);
  switch (type) {
    case "text": {
      const input = el("input", { id, name, value: value || "", required: opts.required || null, dir: "auto" });
      return { node: field(name, id, input, opts), get: () => text(input.value) };
    }
    case "textarea": {
      const input = el("textarea", { id, name, rows: 3, required: opts.required || null, dir: "auto" }, value || "");
      return { node: field(name, id, input, opts), get: () => text(input.value) };
    }
    case "select": {
      const input = select(id, opts.vocab, value, opts.required);
      return { node: field(name, id, input, opts), get: () => input.value || null };
    }
    case "checks": {
      const boxes = VOCAB[opts.vocab].map((v) => {
        const cid = uid(name + "-" + v);
        return [v, el("input", { type: "checkbox", id: cid, value: v, checked: (value || []).includes(v) || null }), cid];
      });
      return {
        node: fieldset(name, opts, ...boxes.map(([v, box, cid]) => el("label", { class: "check", for: cid }, box, term(v)))),
        get: () => boxes.filter(([, b]) => b.checked).map(([v]) => v),
      };
    }
    case "date": return dateEditor(name, id, value, opts);
    case "seconds": {
      const input = el("input", { id, name, type: "number", min: 0, step: "0.1", value: value ?? "", inputmode: "decimal" });
      return { node: field(name, id, input, opts), get: () => input.value === "" ? null : Number(input.value) };
    }
    case "quantity": {
      const q = quantityEditor(id, value);
      return { node: field(name, id, q.node, opts), get: () => q.get(name) };
    }
    case "ref": case "refs": {
      const picker = recordPicker({
        id, label: t("records.field." + name), kinds: opts.kinds, caseName: currentCase(),
        multiple: type === "refs", initial: value ? (Array.isArray(value) ? value : [value]) : [],
      });
      return {
        node: el("div", { class: "field", "data-field": name }, picker, el("p", { class: "field-error error", role: "alert" })),
        get: () => picker.getValue(),
      };
    }
    case "names": return namesEditor(name, value, opts, currentCase);
    case "coordinates": return coordinatesEditor(name, value, opts);
    case "victims": return listEditor(name, value, victimRow, opts, currentCase);
    case "perpetrators": return listEditor(name, value, perpetratorRow, opts, currentCase);
    case "affiliations": return listEditor(name, value, affiliationRow, opts, currentCase);
    case "quantities": return listEditor(name, value, claimQuantityRow, opts, currentCase);
    default: throw new Error("unknown editor " + type);
  }
}

/**
 * A date of the model: one day, month or year; an interval between two of them (either
 * side may stay open); or unknown. Written as the model's text (`2012-03`, `2011/2013`,
 * `2011-05/`, `unknown`).
 */
function dateEditor(name, id, value, opts) {
  let mode = "none", from = "", to = "";
  if (value === "unknown") mode = "unknown";
  else if (value && value.includes("/")) { mode = "range"; [from, to] = value.split("/"); }
  else if (value) { mode = "single"; from = value; }
  const modeSel = el("select", { id, "data-part": "mode" },
    ["none", "single", "range", "unknown"].map((m) => el("option", { value: m, selected: m === mode || null }, t("records.date.mode." + m))));
  const fromId = uid(name + "-from"), toId = uid(name + "-to");
  const fromIn = el("input", { id: fromId, "data-part": "from", value: from, placeholder: "2012-03-04", inputmode: "numeric", pattern: "\\d{4}(-\\d{2}(-\\d{2})?)?", dir: "ltr" });
  const toIn = el("input", { id: toId, "data-part": "to", value: to, placeholder: "2013", inputmode: "numeric", pattern: "\\d{4}(-\\d{2}(-\\d{2})?)?", dir: "ltr" });
  const fromLabel = el("label", { for: fromId }, "");
  const toWrap = el("span", { class: "date-to" }, el("label", { for: toId }, t("records.date.to")), toIn);
  const fromWrap = el("span", { class: "date-from" }, fromLabel, fromIn);
  const hint = el("p", { class: "muted hint" }, t("records.date.hint"));
  const sync = () => {
    const m = modeSel.value;
    fromWrap.hidden = !(m === "single" || m === "range");
    toWrap.hidden = m !== "range";
    hint.hidden = fromWrap.hidden;
    fromLabel.textContent = m === "range" ? t("records.date.from_label") : t("records.date.on");
  };
  modeSel.addEventListener("change", sync);
  sync();
  const node = field(name, id, el("div", { class: "date-editor" }, modeSel, fromWrap, toWrap), opts);
  node.append(hint);
  return {
    node,
    get: () => {
      const m = modeSel.value, a = fromIn.value.trim(), b = toIn.value.trim();
      if (m === "none") return null;
      if (m === "unknown") return "unknown";
      if (m === "single") return a || null;
      if (!a && !b) throw fieldError(name, t("records.date.need_side"));
      return a + "/" + b;
    },
  };
}

/** A quantity: from and to (the same for an exact count), about, per period. */
function quantityEditor(id, value) {
  const v = value || {};
  const minId = id, maxId = uid("max"), perId = uid("per"), approxId = uid("approx");
  const min = el("input", { id: minId, type: "number", min: 0, step: 1, value: v.min ?? "", inputmode: "numeric" });
  const max = el("input", { id: maxId, type: "number", min: 0, step: 1, value: v.max !== undefined && v.max !== v.min ? v.max : "", inputmode: "numeric" });
  const approx = el("input", { id: approxId, type: "checkbox", checked: v.approx || null });
  const per = el("select", { id: perId }, el("option", { value: "" }, t("records.quantity.no_period")),
    VOCAB.per.map((p) => el("option", { value: p, selected: p === v.per || null }, t("records.quantity.per_option", { per: term(p) }))));
  const node = el("div", { class: "quantity" },
    min, el("label", { for: maxId }, t("records.quantity.to")), max,
    el("label", { class: "check", for: approxId }, approx, t("records.quantity.about")),
    el("label", { for: perId, class: "sr-only" }, t("records.quantity.period")), per);
  return {
    node,
    get: (name) => {
      if (min.value === "" && max.value === "") return null;
      const lo = Number(min.value === "" ? max.value : min.value), hi = Number(max.value === "" ? lo : max.value);
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0) throw fieldError(name, t("records.quantity.whole"));
      const q = { min: lo, max: hi };
      if (approx.checked) q.approx = true;
      if (per.value) q.per = per.value;
      return q;
    },
  };
}

/** Names in any script, one per attested form, each with the source (list) giving it. */
function namesEditor(name, value, opts, currentCase) {
  const list = el("ol", { class: "rows" });
  // The case's sources, read once, offered for every name.
  let sources = null;
  const sourcesOf = listRecords("source", currentCase()).then((r) => (sources = r), () => (sources = []));
  const fill = (sel, chosen) => {
    const put = () => sel.replaceChildren(el("option", { value: "" }, t("records.names.no_source")),
      (sources || []).map((s) => el("option", { value: s.id, selected: s.id === chosen || null }, s.name)));
    if (sources) put(); else sourcesOf.then(put);
  };
  const add = (n) => {
    const id = uid("name"), sid = uid("name-source");
    const input = el("input", { id, value: n ? n.name : "", dir: "auto", "data-part": "name" });
    const source = el("select", { id: sid, "data-part": "source" }, el("option", { value: n && n.source ? n.source : "" }, n && n.source ? n.source : t("records.names.no_source")));
    fill(source, n && n.source);
    const li = el("li", {}, el("label", { for: id, class: "sr-only" }, t("records.names.one")), input,
      el("label", { for: sid, class: "sr-only" }, t("records.names.source")), source,
      el("button", { type: "button", class: "link", "aria-label": t("records.names.remove"), onclick: () => li.remove() }, "×"));
    list.append(li);
    return input;
  };
  for (const n of value && value.length ? value : [null]) add(n);
  const node = fieldset(name, opts, list,
    el("button", { type: "button", class: "secondary", "data-add": name, onclick: () => add(null).focus() }, t("records.names.add")),
    el("p", { class: "muted hint" }, t("records.names.hint")));
  return {
    node,
    get: () => [...list.children].map((li) => {
      const v = text(li.querySelector("input").value);
      const src = li.querySelector("select").value;
      if (!v) return null;
      return src ? { name: v, source: src } : { name: v };
    }).filter(Boolean),
  };
}

/** Coordinates typed or picked on the map (placePicker), with the precision in metres. */
function coordinatesEditor(name, value, opts) {
  const v = value || {};
  const latId = uid("lat"), lonId = uid("lon"), precId = uid("prec");
  const lat = el("input", { id: latId, type: "number", step: "any", min: -90, max: 90, value: v.lat ?? "", "data-part": "lat", dir: "ltr" });
  const lon = el("input", { id: lonId, type: "number", step: "any", min: -180, max: 180, value: v.lon ?? "", "data-part": "lon", dir: "ltr" });
  const prec = el("input", { id: precId, type: "number", step: "any", min: 0, value: v.precision_m ?? "", "data-part": "precision", dir: "ltr" });
  const map = placePicker({
    lat: v.lat, lon: v.lon,
    onPick: (la, lo) => { lat.value = la; lon.value = lo; },
  });
  map.setAttribute("aria-label", t("records.coords.map"));
  const node = fieldset(name, opts,
    el("div", { class: "coords" },
      el("label", { for: latId }, t("records.coords.lat"), lat),
      el("label", { for: lonId }, t("records.coords.lon"), lon),
      el("label", { for: precId }, t("records.coords.precision"), prec)),
    el("p", { class: "muted hint" }, t("records.coords.hint")), el("div", { class: "place-picker" }, map));
  return {
    node,
    get: () => {
      if (lat.value === "" && lon.value === "") return null;
      if (lat.value === "" || lon.value === "") throw fieldError(name, t("records.coords.both"));
      const c = { lat: Number(lat.value), lon: Number(lon.value) };
      if (prec.value !== "") c.precision_m = Number(prec.value);
      return c;
    },
  };
}

/** A list of structured rows (victims, perpetrators…), each added and removed by buttons. */
function listEditor(name, value, row, opts, currentCase) {
  const list = el("ol", { class: "rows structured" });
  const rows = [];
  const add = (v) => {
    const r = row(v || {}, currentCase, rows.length);
    const li = el("li", { "data-row": name }, r.node,
      el("button", { type: "button", class: "secondary", onclick: () => { li.remove(); rows.splice(rows.indexOf(r), 1); } }, t("records.rows.remove")));
    rows.push(r);
    list.append(li);
  };
  for (const v of value || []) add(v);
  const node = fieldset(name, opts, list,
    el("button", { type: "button", class: "secondary", "data-add": name, onclick: () => add(null) }, t("records.rows.add." + name)));
  return { node, get: () => rows.map((r, i) => r.get(name + "[" + i + "]")).filter(Boolean) };
}

/** A victim: a person picked by name, or a counted group. */
function victimRow(v, currentCase) {
  const typeId = uid("victim-type");
  const type = el("select", { id: typeId, "data-part": "victim-type" },
    el("option", { value: "person", selected: !v.count || null }, t("records.victim.person")),
    el("option", { value: "group", selected: v.count ? true : null }, t("records.victim.group")));
  const person = recordPicker({ id: uid("victim-person"), label: t("records.victim.person"), kinds: ["person"], caseName: currentCase(), initial: v.person ? [v.person] : [] });
  const q = quantityEditor(uid("victim-count"), v.count);
  const descId = uid("victim-desc"), incId = uid("victim-includes");
  const desc = el("input", { id: descId, value: v.description || "", dir: "auto" });
  const includes = el("input", { id: incId, value: (v.includes || []).join(", "), dir: "auto" });
  const group = el("div", { class: "group" },
    el("div", {}, el("label", { for: q.node.firstChild.id }, t("records.victim.count")), q.node),
    el("label", { for: descId }, t("records.victim.description"), desc),
    el("label", { for: incId }, t("records.victim.includes"), includes));
  const sync = () => { person.hidden = type.value !== "person"; group.hidden = type.value === "person"; };
  type.addEventListener("change", sync);
  sync();
  return {
    node: el("div", { class: "row-body" }, el("label", { for: typeId }, t("records.victim.type")), type, person, group),
    get: (path) => {
      if (type.value === "person") {
        const p = person.getValue();
        if (!p) throw fieldError("victims", t("records.victim.pick_person"));
        return { person: p };
      }
      const out = {};
      const c = q.get(path + ".count");
      if (c) out.count = c;
      if (text(desc.value)) out.description = text(desc.value);
      const inc = includes.value.split(/[,،]/).map((s) => s.trim()).filter(Boolean);
      if (inc.length) out.includes = inc;
      return Object.keys(out).length ? out : null;
    },
  };
}

/** A perpetrator: a person or a unit (org), picked by name, with their involvement. */
function perpetratorRow(v, currentCase) {
  const typeId = uid("perp-type"), invId = uid("perp-involvement");
  const type = el("select", { id: typeId, "data-part": "perpetrator-type" },
    el("option", { value: "org", selected: !v.person || null }, t("records.perpetrator.org")),
    el("option", { value: "person", selected: v.person ? true : null }, t("records.perpetrator.person")));
  const org = recordPicker({ id: uid("perp-org"), label: t("records.perpetrator.org"), kinds: ["org"], caseName: currentCase(), initial: v.org ? [v.org] : [] });
  const person = recordPicker({ id: uid("perp-person"), label: t("records.perpetrator.person"), kinds: ["person"], caseName: currentCase(), initial: v.person ? [v.person] : [] });
  const involvement = select(invId, "involvement", v.involvement, true);
  involvement.dataset.part = "involvement";
  const sync = () => { org.hidden = type.value !== "org"; person.hidden = type.value !== "person"; };
  type.addEventListener("change", sync);
  sync();
  return {
    node: el("div", { class: "row-body" }, el("label", { for: typeId }, t("records.perpetrator.type")), type, org, person,
      el("label", { for: invId }, t("records.perpetrator.involvement")), involvement),
    get: () => {
      const who = type.value === "org" ? org.getValue() : person.getValue();
      if (!who) throw fieldError("perpetrators", t("records.perpetrator.pick"));
      if (!involvement.value) throw fieldError("perpetrators", t("records.perpetrator.need_involvement"));
      return { [type.value]: who, involvement: involvement.value };
    },
  };
}

/** An affiliation of a person: a unit picked by name, their role, when. */
function affiliationRow(v, currentCase) {
  const roleId = uid("aff-role");
  const org = recordPicker({ id: uid("aff-org"), label: t("records.affiliation.org"), kinds: ["org"], caseName: currentCase(), initial: v.org ? [v.org] : [] });
  const role = el("input", { id: roleId, value: v.role || "", dir: "auto" });
  const date = dateEditor("affiliation_date", uid("aff-date"), v.date, {});
  return {
    node: el("div", { class: "row-body" }, org, el("label", { for: roleId }, t("records.affiliation.role"), role), date.node),
    get: () => {
      const o = org.getValue();
      if (!o) throw fieldError("affiliations", t("records.affiliation.pick"));
      const out = { org: o };
      if (text(role.value)) out.role = text(role.value);
      const d = date.get();
      if (d) out.date = d;
      return out;
    },
  };
}

/** A quantity a claim states: what is counted, and how many. */
function claimQuantityRow(v) {
  const whatId = uid("q-what");
  const what = el("input", { id: whatId, value: v.what || "", dir: "auto" });
  const q = quantityEditor(uid("q-count"), v.quantity);
  return {
    node: el("div", { class: "row-body" }, el("label", { for: whatId }, t("records.claimq.what"), what),
      el("div", {}, el("label", { for: q.node.firstChild.id }, t("records.claimq.quantity")), q.node)),
    get: (path) => {
      const w = text(what.value), n = q.get(path + ".quantity");
      if (!w && !n) return null;
      return { what: w || "", quantity: n };
    },
  };
}
