// Linking evidence from an item page: the item's links to incidents (and other records),
// and a form to link it, or a time range of its video, to an incident picked by name.
// The range's start and end are typed, or taken from the player (<video id="video">) where
// it stands ("start here", "end here"). The link is the model's `link` record, written
// through POST /api/records like any other.
import { el as node, api, apiUrl, failure, checkedId, t } from "./core.js";
import { VOCAB, term, recordPicker, recordLink, secondsText, getRecord, mayWrite } from "./records.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

/** The section for the item `itemId`, which is in `cases` (those the caller sees). */
export function evidenceSection(itemId, cases) {
  checkedId(itemId);
  const section = el("section", { class: "card", id: "evidence-links" }, el("h2", {}, t("records.item.links")));
  const list = el("div", { id: "item-links" });
  section.append(list);
  const load = async () => {
    try {
      const found = [];
      for (const c of cases) {
        const { records } = await api(apiUrl(["records"], { kind: "link", case: c }));
        found.push(...records.filter((r) => r.item === itemId));
      }
      const targets = await Promise.all(found.map((l) => getRecord(l.target).then((x) => x.record, () => null)));
      list.replaceChildren(found.length
        ? el("ul", { class: "links" }, found.map((l, i) => el("li", { "data-link": l.id, "data-target": l.target },
          targets[i] ? recordLink(targets[i]) : el("code", {}, l.target), " · ",
          l.start !== undefined || l.end !== undefined
            ? t("records.evidence.range", { start: secondsText(l.start ?? 0), end: l.end !== undefined ? secondsText(l.end) : "…" })
            : t("records.evidence.whole"),
          " · ", term(l.verification),
          l.note ? [" · ", el("span", { dir: "auto" }, l.note)] : null,
          " ", el("a", { href: "#/record/" + encodeURIComponent(l.id) + "/edit", class: "muted" }, t("records.edit")))))
        : el("p", { class: "muted" }, t("records.item.no_links")));
    } catch (e) {
      list.replaceChildren(failure(e));
    }
  };
  load();
  if (mayWrite("link") && cases.length) section.append(linkForm(itemId, cases, load));
  return section;
}

function linkForm(itemId, cases, done) {
  const caseSel = el("select", { id: "link-case" }, cases.map((c) => el("option", { value: c }, c)));
  let picker = null;
  const pickerSlot = el("div", {});
  const makePicker = () => {
    picker = recordPicker({ id: "link-incident", label: t("records.item.incident"), kinds: ["incident"], caseName: caseSel.value });
    pickerSlot.replaceChildren(picker);
  };
  caseSel.addEventListener("change", makePicker);
  makePicker();
  const start = el("input", { id: "link-start", type: "number", min: 0, step: "0.1", inputmode: "decimal", dir: "ltr" });
  const end = el("input", { id: "link-end", type: "number", min: 0, step: "0.1", inputmode: "decimal", dir: "ltr" });
  const note = el("p", { class: "muted", id: "link-video-note", "aria-live": "polite" });
  // The player's position, when the video is loaded on this page.
  const here = (input) => () => {
    const v = document.getElementById("video");
    if (!v || !(v.readyState >= 1)) {
      note.textContent = t("records.item.load_video_first");
      return;
    }
    input.value = String(Math.round(v.currentTime * 10) / 10);
    note.textContent = t("records.item.set_at", { time: secondsText(Number(input.value)) });
  };
  const verification = el("select", { id: "link-verification" },
    VOCAB.verification.map((v) => el("option", { value: v }, term(v))));
  const text = el("textarea", { id: "link-note", rows: 2, dir: "auto" });
  const error = el("p", { class: "error", id: "link-error", role: "alert" });
  const form = el("form", { class: "record-form link-form", id: "link-form" },
    el("h3", {}, t("records.item.link_title")),
    el("div", { class: "field" }, el("label", { for: "link-case" }, t("records.field.case")), caseSel),
    pickerSlot,
    el("fieldset", { class: "field range" }, el("legend", {}, t("records.item.range")),
      el("div", { class: "range-row" },
        el("label", { for: "link-start" }, t("records.field.start")), start,
        el("button", { type: "button", class: "secondary", id: "start-here", onclick: here(start) }, t("records.item.start_here"))),
      el("div", { class: "range-row" },
        el("label", { for: "link-end" }, t("records.field.end")), end,
        el("button", { type: "button", class: "secondary", id: "end-here", onclick: here(end) }, t("records.item.end_here"))),
      note),
    el("div", { class: "field" }, el("label", { for: "link-verification" }, t("records.field.verification")), verification),
    el("div", { class: "field" }, el("label", { for: "link-note" }, t("records.field.note")), text),
    error,
    el("button", { type: "submit", id: "link-save" }, t("records.item.link")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const target = picker.getValue();
    if (!target) {
      error.textContent = t("records.item.pick_incident");
      return;
    }
    const body = { kind: "link", case: caseSel.value, item: itemId, target, verification: verification.value };
    if (start.value !== "") body.start = Number(start.value);
    if (end.value !== "") body.end = Number(end.value);
    if (text.value.trim()) body.note = text.value.trim();
    try {
      const out = await api(apiUrl(["records"]), { method: "POST", body });
      error.textContent = "";
      note.textContent = t("records.item.linked");
      start.value = "";
      end.value = "";
      text.value = "";
      makePicker();
      done();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  return form;
}
