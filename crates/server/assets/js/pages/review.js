// Review of person matches: two records the linkage model was unsure of, side by side with
// the evidence for and against (the weight of each field), decided with one click or one
// key (S same person, D different, N next, U undo the last decision). Each decision is a
// custody event with the reviewer; an undone one sends the pair back to the queue.
import { el as node, api, apiUrl, show, failure, state, t, tb, number } from "../core.js";
import { term, dateText } from "../records.js";

const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

// The fields shown side by side, in order.
const FIELDS = ["names", "father_name", "mother_name", "sex", "birth_date", "age", "status",
  "event_date", "event_place", "list", "source_row", "notes"];

function fieldText(r, f) {
  const v = r[f];
  if (v === undefined || v === null || v === "") return "";
  switch (f) {
    case "names": return v.map((n) => n.name).join(" · ");
    case "sex": case "status": return term(v);
    case "birth_date": case "event_date": return dateText(v);
    case "age": return v.min === v.max ? String(v.min) : v.min + "–" + v.max;
    default: return String(v);
  }
}

// A bar as long as the weight (the page's style sheet is the only one allowed: the length
// is set through the DOM, not a style attribute).
function bar(w, max) {
  const b = el("span", { class: w >= 0 ? "weight for" : "weight against" });
  b.style.inlineSize = Math.round(12 * Math.abs(w) / max) + "em";
  return b;
}

let keyHandler = null;

export async function reviewPage(params) {
  // A handler left by an earlier review page never answers for this one.
  if (keyHandler) document.removeEventListener("keydown", keyHandler);
  keyHandler = null;
  const caseName = params.get("case");
  if (!caseName) {
    const cases = (state.me && state.me.cases) || [];
    return show(el("h1", {}, t("review.title")),
      el("ul", { id: "review-cases" }, cases.map((c) => el("li", {},
        el("a", { href: "#/review?case=" + encodeURIComponent(c) }, el("bdi", {}, c))))));
  }
  const mayDecide = state.me.role !== "viewer";
  const mayRun = state.me.role === "admin" || state.me.role === "investigator";
  const undo = []; // match ids decided on this page, last first
  let queue = await load();
  let at = 0;
  const status = el("p", { id: "review-status", role: "status", "aria-live": "polite" });
  const pane = el("div", { id: "review-pair" });

  async function load() {
    return api(apiUrl(["cases", caseName, "review"], { limit: 200 }));
  }

  // One decision at a time: a key held down or pressed twice decides one pair once.
  let busy = false;
  async function decide(decision) {
    const pair = queue.pairs[at];
    if (!pair || !mayDecide || busy) return;
    busy = true;
    const note = pane.querySelector("#review-note");
    const body = { decision };
    if (note && note.value.trim()) body.note = note.value.trim();
    try {
      await api(apiUrl(["matches", pair.match, "decision"]), { method: "POST", body });
      undo.unshift(pair.match);
      queue.pairs.splice(at, 1);
      queue.total -= 1;
      status.textContent = t("review.decided." + decision);
      render();
    } catch (e) {
      status.replaceChildren(failure(e));
    } finally {
      busy = false;
    }
  }

  async function undoLast() {
    if (busy || !undo.length) return;
    busy = true;
    const id = undo.shift();
    try {
      await api(apiUrl(["matches", id, "decision"]), { method: "POST", body: { decision: "review" } });
      queue = await load();
      at = Math.max(0, queue.pairs.findIndex((p) => p.match === id));
      status.textContent = t("review.undone");
      render();
    } catch (e) {
      status.replaceChildren(failure(e));
    } finally {
      busy = false;
    }
  }

  function next() {
    if (queue.pairs.length) at = (at + 1) % queue.pairs.length;
    render();
  }

  function render() {
    const pair = queue.pairs[at];
    if (!pair) {
      pane.replaceChildren(el("p", { class: "muted", id: "review-empty" }, t("review.empty")));
      return;
    }
    const [a, b] = pair.persons;
    const weights = Object.entries(pair.weights || {}).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]));
    const max = Math.max(1, ...weights.map(([, w]) => Math.abs(w)));
    pane.replaceChildren(
      el("p", {}, tb("review.position", { n: number(at + 1), total: number(queue.total) }), " · ",
        t("review.probability", { p: number(pair.probability || 0, { style: "percent", maximumFractionDigits: 0 }) })),
      el("div", { class: "table-scroll" }, el("table", { id: "review-side" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("review.field")),
          el("th", { scope: "col" }, el("a", { href: "#/person/" + encodeURIComponent(a.id) }, t("review.record_a"))),
          el("th", { scope: "col" }, el("a", { href: "#/person/" + encodeURIComponent(b.id) }, t("review.record_b"))))),
        el("tbody", {}, FIELDS.map((f) => {
          const x = fieldText(a, f), y = fieldText(b, f);
          if (!x && !y) return null;
          return el("tr", { "data-field": f, class: x && y && x !== y ? "differs" : null },
            el("th", { scope: "row" }, t("review.f." + f)),
            el("td", { dir: "auto" }, x), el("td", { dir: "auto" }, y));
        })))),
      el("h2", {}, t("review.evidence")),
      el("ul", { id: "review-weights", class: "weights" }, weights.map(([f, w]) => el("li", { "data-field": f },
        el("span", { class: "weight-name" }, t("review.w." + f)), " ",
        bar(w, max),
        " ", el("span", {}, (w >= 0 ? t("review.for") : t("review.against")) + " " + number(Math.abs(w), { maximumFractionDigits: 1 }))))),
      mayDecide ? el("div", { class: "actions" },
        el("label", { for: "review-note" }, t("review.note")),
        el("input", { id: "review-note", type: "text" }),
        el("button", { type: "button", id: "review-same", onclick: () => decide("same") }, t("review.same")),
        el("button", { type: "button", id: "review-different", class: "secondary", onclick: () => decide("different") }, t("review.different")),
        el("button", { type: "button", id: "review-next", class: "secondary", onclick: next }, t("review.next")),
        el("button", { type: "button", id: "review-undo", class: "secondary", onclick: undoLast, disabled: undo.length ? null : true }, t("review.undo")))
        : null,
      el("p", { class: "muted" }, t("review.keys")),
    );
  }

  keyHandler = (e) => {
    if (e.repeat) return;
    if (!location.hash.startsWith("#/review") || new URLSearchParams(location.hash.split("?")[1] || "").get("case") !== caseName) {
      document.removeEventListener("keydown", keyHandler);
      keyHandler = null;
      return;
    }
    if (e.target && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === "s") decide("same");
    else if (k === "d") decide("different");
    else if (k === "n" || k === "arrowdown") next();
    else if (k === "u") undoLast();
    else return;
    e.preventDefault();
  };
  document.addEventListener("keydown", keyHandler);

  const run = mayRun ? el("button", { type: "button", id: "review-run", class: "secondary", onclick: async () => {
    run.disabled = true;
    status.textContent = t("review.running");
    try {
      const r = await api(apiUrl(["cases", caseName, "link"]), { method: "POST" });
      status.textContent = t("review.ran", { records: number(r.records), persons: number(r.persons), review: number(r.review) });
      queue = await load();
      at = 0;
      render();
    } catch (e) {
      status.replaceChildren(failure(e));
    } finally {
      run.disabled = false;
    }
  } }, t("review.run")) : null;

  show(el("h1", {}, tb("review.title_case", { case: caseName })),
    el("p", { class: "actions" }, run,
      el("a", { class: "button secondary", href: "#/persons?case=" + encodeURIComponent(caseName) }, t("review.persons"))),
    status, pane);
  render();
}
