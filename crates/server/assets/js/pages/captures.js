// A case's web captures: addresses pasted one a line (with a source and a note) are
// queued for capture on the server (admins and investigators); the case's captures are
// listed with what the deletion watch last found — for a source gone from the web, a
// plain flag that the archive holds the only copy — and each file links to its item.
// While captures wait or run, the list is read again every two seconds.
import { el as node, api, apiUrl, show, failure, itemHref, state, t, tb, when, bidi } from "../core.js";
import { catalogue } from "../i18n.js";

// Elements whose children may be nested lists (flattened whole).
const el = (tag, attrs, ...children) => node(tag, attrs, ...children.flat(Infinity));

const POLL_MS = 2000;
let timer = null;

/** A message of the catalogue when it has one, else the value as data (its own direction). */
function known(prefix, value) {
  return catalogue.en[prefix + value] !== undefined ? t(prefix + value) : bidi(value);
}

/** An address: data, left to right, never a link (following it would tell the site). */
function address(url, attrs) {
  return el("bdi", { class: "capture-url", dir: "ltr", ...(attrs || {}) }, url);
}

function stateBadge(s) {
  return el("span", { class: "badge state-" + s, "data-watch": s }, known("captures.state.", s));
}

function jobRow(j) {
  return el("li", { "data-job": j.id, "data-state": j.state },
    el("span", { class: "badge job-" + j.state }, known("captures.job.", j.state)), " ",
    address(j.url), " ",
    el("span", { class: "muted" }, t("captures.job.queued_at"), " ", when(j.queued)),
    j.error ? el("p", { class: "error" }, el("span", { dir: "auto" }, j.error)) : null);
}

function captureCard(c) {
  const s = c.watch.state;
  const files = c.files.map((f) => el("li", { "data-role": f.role },
    el("span", { class: "capture-role" }, known("captures.role.", f.role)), " ",
    el("a", { href: itemHref(f.item), "data-item": f.item }, el("code", {}, f.name))));
  return el("article", { class: "card capture", "data-capture": c.id, "data-state": s },
    el("h2", { dir: "auto", class: "capture-title" }, c.title || address(c.url)),
    el("p", {}, address(c.url, { "data-url": "" }),
      c.final_url && c.final_url !== c.url ? [" → ", address(c.final_url)] : null),
    el("p", { class: "capture-watch" }, stateBadge(s), " ",
      el("span", { class: "muted" }, t("captures.since"), " ", when(c.watch.since)),
      // Why (a phrase the page shows, an error), unless it only repeats the status.
      c.watch.detail && c.watch.detail !== String(c.status) ? el("span", { class: "muted" }, " · ", bidi(c.watch.detail)) : null),
    c.only_copy ? el("p", { class: "only-copy", role: "note", "data-only-copy": "" }, t("captures.only_copy")) : null,
    c.complete ? null : el("div", { class: "capture-partial" },
      el("p", { class: "warn" }, t("captures.partial")),
      el("ul", {}, c.problems.map((p) => el("li", {}, el("span", { dir: "auto" }, p))))),
    el("dl", { class: "meta" },
      el("dt", {}, t("captures.captured")), el("dd", {}, when(c.started)),
      c.status ? [el("dt", {}, t("captures.status")), el("dd", {}, bidi(c.status))] : null,
      c.site_name ? [el("dt", {}, t("captures.site")), el("dd", { dir: "auto" }, c.site_name)] : null,
      c.author ? [el("dt", {}, t("captures.author")), el("dd", { dir: "auto" }, c.author)] : null,
      c.note ? [el("dt", {}, t("captures.note")), el("dd", { dir: "auto" }, c.note)] : null),
    el("details", { class: "capture-files" },
      el("summary", {}, t("captures.files", { n: c.files.length })),
      el("ul", {}, files)),
    el("p", {}, el("a", { href: "#/record/" + encodeURIComponent(c.id), class: "muted" }, t("captures.record"))));
}

export async function capturesPage(params) {
  // A poll left by an earlier captures page never answers for this one.
  if (timer) clearTimeout(timer);
  timer = null;
  const caseName = params.get("case");
  if (!caseName) {
    const { cases } = await api(apiUrl(["cases"]));
    return show(el("h1", {}, t("captures.title")),
      el("p", { class: "muted" }, t("captures.choose")),
      el("ul", { id: "capture-cases" }, cases.map((c) => el("li", {},
        el("a", { href: "#/captures?case=" + encodeURIComponent(c) }, bidi(c))))));
  }
  const load = () => api(apiUrl(["cases", caseName, "captures"]));
  let data = await load();
  const jobs = el("section", { class: "card", id: "capture-jobs", "aria-live": "polite" });
  const list = el("div", { id: "captures" });
  const role = state.me.role;
  const mayCapture = data.available && (role === "admin" || role === "investigator");

  function render() {
    jobs.hidden = !data.jobs.length;
    jobs.replaceChildren(el("h2", {}, t("captures.in_progress")),
      el("ul", { class: "capture-jobs" }, data.jobs.map(jobRow)));
    const shown = data.captures.slice().reverse();
    list.replaceChildren(
      el("p", { class: "muted", id: "capture-count" }, t("captures.count", { n: shown.length })),
      ...shown.map(captureCard));
  }

  // Asked again while captures wait or run, as long as this page is shown.
  function later() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!data.jobs.some((j) => j.state === "queued" || j.state === "running")) return;
    timer = setTimeout(async () => {
      timer = null;
      if (!list.isConnected) return;
      try {
        data = await load();
      } catch (e) {
        if (list.isConnected) list.prepend(failure(e));
        return;
      }
      if (!list.isConnected) return;
      render();
      later();
    }, POLL_MS);
  }

  let form = null;
  if (mayCapture) {
    const urls = el("textarea", { id: "capture-urls", name: "urls", rows: 5, dir: "ltr", required: true,
      spellcheck: "false", placeholder: "https://…" });
    const source = el("input", { id: "capture-source", name: "source", dir: "auto", placeholder: t("captures.source_hint") });
    const note = el("input", { id: "capture-note", name: "note", dir: "auto" });
    const error = el("p", { class: "error", id: "capture-error", role: "alert" });
    const done = el("p", { class: "muted", id: "capture-queued", role: "status" });
    const submit = el("button", { type: "submit", id: "capture-submit" }, t("captures.submit"));
    form = el("form", { class: "card capture-form", id: "capture-form" },
      el("label", {}, t("captures.urls"), urls),
      el("label", {}, t("captures.source"), source),
      el("label", {}, t("captures.note"), note),
      el("div", { class: "actions" }, submit), error, done);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      done.textContent = "";
      const lines = urls.value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      if (!lines.length) {
        error.textContent = t("captures.none_given");
        return;
      }
      const body = { case: caseName, urls: lines };
      if (source.value.trim()) body.source = source.value.trim();
      if (note.value.trim()) body.note = note.value.trim();
      submit.disabled = true;
      try {
        const r = await api(apiUrl(["captures"]), { method: "POST", body });
        urls.value = "";
        source.value = "";
        note.value = "";
        done.textContent = t("captures.queued", { n: r.jobs.length });
        data = await load();
        render();
        later();
      } catch (e) {
        // The server names the address it refused.
        error.replaceChildren(e.status === 400 ? el("span", { dir: "auto" }, e.message) : failure(e).textContent);
      } finally {
        submit.disabled = false;
      }
    });
  }

  show(el("h1", {}, tb("captures.title_of", { case: caseName })),
    el("p", { class: "muted" }, t("captures.intro")),
    data.available ? null : el("p", { class: "warn", id: "capture-unavailable" }, t("captures.unavailable")),
    form, jobs, list);
  render();
  later();
}
