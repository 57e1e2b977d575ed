// Hand-over of a case (#/case/NAME/handover): who receives it and why (both required, and
// recorded in the custody log and the bag's bag-info.txt), whether the case's records go in
// the bag (JSON Lines, checked by default), a description; then the bag, built by the server
// as a tar, is received with its progress shown and downloaded. The server checks the form:
// a field it refuses is named in its answer, and the message is shown next to that field.
import { el, apiUrl, show, bytes, csrf, t, tb } from "../core.js";

const FIELDS = ["recipient", "purpose", "description", "records"];

export async function handoverPage(name) {
  const errors = {};
  const field = (id, input, hint) => {
    errors[id] = el("p", { class: "error", id: "handover-" + id + "-error", "aria-live": "polite" });
    input.setAttribute("aria-describedby", "handover-" + id + "-error" + (hint ? " handover-" + id + "-hint" : ""));
    return el("div", { class: "field" },
      el("label", { for: "handover-" + id }, t("handover." + id)),
      input,
      hint ? el("p", { class: "muted", id: "handover-" + id + "-hint" }, hint) : null,
      errors[id]);
  };
  const text = (id, required) => el("input", {
    id: "handover-" + id, name: id, type: "text", autocomplete: "off", maxlength: 1000,
    "aria-required": required ? "true" : null,
  });
  const recipient = text("recipient", true);
  const purpose = text("purpose", true);
  const description = text("description", false);
  const records = el("input", { id: "handover-records", name: "records", type: "checkbox", checked: true });
  errors.records = el("p", { class: "error", id: "handover-records-error", "aria-live": "polite" });
  records.setAttribute("aria-describedby", "handover-records-hint handover-records-error");
  const status = el("p", { id: "handover-status", role: "status", "data-state": "idle" });
  const progress = el("progress", { id: "handover-progress", hidden: true, "aria-label": t("handover.progress") });
  const result = el("p", { id: "handover-result" });
  const submit = el("button", { type: "submit", id: "handover-submit" }, t("handover.submit"));
  const form = el("form", { class: "card", id: "handover", novalidate: true },
    field("recipient", recipient, t("handover.recipient_hint")),
    field("purpose", purpose, t("handover.purpose_hint")),
    el("div", { class: "field" },
      el("label", { class: "check" }, records, t("handover.records")),
      el("p", { class: "muted", id: "handover-records-hint" }, tb("handover.records_hint", { format: "JSON Lines", marker: "[protected]" })),
      errors.records),
    field("description", description, null),
    submit);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const e of Object.values(errors)) e.textContent = "";
    for (const input of [recipient, purpose, description]) input.removeAttribute("aria-invalid");
    result.replaceChildren();
    submit.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value");
    setStatus(status, "working", t("handover.working", { case: name }));
    try {
      const body = {
        recipient: recipient.value, purpose: purpose.value, records: records.checked,
      };
      if (description.value.trim()) body.description = description.value;
      const { blob, file } = await fetchBag(name, body, (n) => {
        setStatus(status, "working", t("handover.received", { size: bytes(n) }));
      });
      const link = el("a", { href: URL.createObjectURL(blob), download: file, id: "handover-download" }, file);
      result.replaceChildren(t("handover.download"), " ", link);
      link.click();
      setStatus(status, "done", t("handover.done", { case: name, size: bytes(blob.size) }));
    } catch (e) {
      const at = fieldOf(e.message);
      if (at && errors[at]) {
        errors[at].textContent = e.message;
        const input = form.elements[at];
        if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
        setStatus(status, "refused", t("handover.refused"));
      } else {
        setStatus(status, "failed", t("handover.failed", { error: e.message }));
      }
    } finally {
      submit.disabled = false;
      progress.hidden = true;
    }
  });
  show(
    el("h1", {}, tb("handover.title", { case: name })),
    el("p", { class: "muted" }, t("handover.intro")),
    form, progress, status, result,
    el("p", {}, el("a", { href: "#/case/" + encodeURIComponent(name) }, tb("handover.back", { case: name }))),
  );
}

function setStatus(node, state, message) {
  node.dataset.state = state;
  node.textContent = message;
}

// The field a refusal names ("recipient: required" → "recipient").
function fieldOf(message) {
  const m = /^(\w+):/.exec(String(message || ""));
  return m && FIELDS.includes(m[1]) ? m[1] : null;
}

// POSTs the form and reads the tar as it streams, reporting the bytes received so far.
async function fetchBag(name, body, onProgress) {
  const res = await fetch(apiUrl(["cases", name, "export"]), {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status === 401) {
    location.href = "/login";
    throw new Error("logged out");
  }
  if (!res.ok) {
    const b = await res.json().catch(() => ({}));
    throw new Error(b.error || res.statusText);
  }
  const parts = [];
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
    onProgress(n);
  }
  const named = (res.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
  return { blob: new Blob(parts, { type: "application/x-tar" }), file: named ? named[1] : name + ".tar" };
}
