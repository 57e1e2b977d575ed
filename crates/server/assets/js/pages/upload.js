// Upload files into a case (tus: resumable, in pieces). Several files may be chosen at
// once: each is its own upload, sent in turn, with its own progress and result. The
// source and note typed apply to the files chosen with them, and are cleared once those
// are sent, so the next files do not inherit them.
import { el, api, apiUrl, show, bytes, csrf, itemHref, ID, t } from "../core.js";

export async function uploadPage() {
  const { cases } = await api(apiUrl(["cases"]));
  const file = el("input", { type: "file", name: "file", id: "upload-file", required: true, multiple: true });
  const caseSel = el("select", { name: "case", id: "upload-case" }, cases.map((c) => el("option", { value: c }, c)));
  const source = el("input", { name: "source", id: "upload-source", dir: "auto", placeholder: t("upload.source-placeholder") });
  const note = el("input", { name: "note", id: "upload-note", dir: "auto" });
  const start = el("button", { type: "submit" }, t("upload.start"));
  const pause = el("button", { type: "button", class: "secondary", id: "upload-pause", disabled: true }, t("upload.pause"));
  const results = el("ol", { id: "upload-results", class: "upload-results", "aria-live": "polite" });
  let current = null;
  let paused = false;
  const form = el("form", { class: "card", id: "upload" },
    el("label", {}, t("upload.files"), file), el("label", {}, t("upload.case"), caseSel),
    el("label", {}, t("upload.source"), source), el("label", {}, t("upload.note"), note),
    el("div", { class: "actions" }, start, pause), results);
  pause.addEventListener("click", () => {
    if (!current) return;
    if (!paused) {
      current.upload.abort();
      paused = true;
      pause.textContent = t("upload.resume");
      current.status.textContent = t("upload.paused");
    } else {
      current.upload.start();
      paused = false;
      pause.textContent = t("upload.pause");
    }
  });

  // One file's upload, resolved once it is an item (or failed).
  function send(f, row, metadata) {
    return new Promise((resolve) => {
      let itemId = null, held = null;
      const upload = new window.tus.Upload(f, {
        endpoint: "/api/uploads",
        chunkSize: 1024 * 1024,
        retryDelays: [0, 500, 1000, 2000, 4000, 8000],
        metadata,
        headers: { "X-CSRF-Token": csrf() },
        removeFingerprintOnSuccess: true,
        onProgress: (sent, total) => {
          row.bar.value = total ? Math.floor((sent / total) * 100) : 0;
          row.status.textContent = t("upload.sent", { sent: bytes(sent), total: bytes(total) });
        },
        onAfterResponse: (req, res) => {
          const i = res.getHeader("Athar-Item");
          if (i) itemId = i;
          const h = res.getHeader("Athar-Already-Held");
          if (h) held = h === "true";
        },
        onError: (e) => {
          row.li.dataset.state = "failed";
          row.status.textContent = t("upload.failed", { error: e.message });
          resolve();
        },
        onSuccess: () => {
          row.bar.value = 100;
          const known = itemId && ID.test(itemId);
          const link = known
            ? el("a", { href: itemHref(itemId), class: "uploaded-item", "data-item": itemId }, itemId)
            : t("upload.an-item");
          row.li.dataset.state = held ? "held" : "new";
          row.status.replaceChildren(...(held
            ? [t("upload.already-held"), " ", link, ". ", t("upload.sighting-recorded")]
            : [t("upload.preserved-as"), " ", link, "."]));
          resolve();
        },
      });
      current = { upload, status: row.status };
      upload.findPreviousUploads().then((prev) => {
        if (prev.length) upload.resumeFromPreviousUpload(prev[0]);
        upload.start();
      });
    });
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = [...file.files];
    if (!files.length) return;
    const common = { case: caseSel.value };
    if (source.value) common.source = source.value;
    if (note.value) common.note = note.value;
    // The next files start afresh: no source or note carried over.
    form.reset();
    caseSel.value = common.case;
    const rows = files.map((f) => {
      const bar = el("progress", { max: 100, value: 0, "aria-label": t("upload.progress-of", { name: f.name }) });
      const status = el("span", { class: "muted upload-status" }, t("upload.waiting"));
      const li = el("li", { "data-state": "waiting" },
        el("span", { class: "upload-name", dir: "auto" }, f.name), " ",
        el("span", { class: "muted" }, bytes(f.size)), bar, status);
      results.append(li);
      return { li, bar, status };
    });
    pause.disabled = false;
    for (let i = 0; i < files.length; i++) {
      rows[i].li.dataset.state = "sending";
      await send(files[i], rows[i], { ...common, filename: files[i].name });
    }
    current = null;
    pause.disabled = true;
  });
  show(el("h1", {}, t("upload.title")),
    el("p", { class: "muted" }, t("upload.intro")),
    form);
}
