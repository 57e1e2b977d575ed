// Upload files into a case (tus: resumable, in pieces).
import { el, api, apiUrl, show, bytes, csrf, itemHref, ID } from "../core.js";

export async function uploadPage() {
  const { cases } = await api(apiUrl(["cases"]));
  const file = el("input", { type: "file", name: "file", id: "upload-file", required: true });
  const caseSel = el("select", { name: "case", id: "upload-case" }, cases.map((c) => el("option", { value: c }, c)));
  const source = el("input", { name: "source", placeholder: "where it came from" });
  const note = el("input", { name: "note" });
  const bar = el("progress", { max: 100, value: 0, id: "upload-progress" });
  const status = el("p", { id: "upload-status", class: "muted" });
  const start = el("button", { type: "submit" }, "Upload");
  const pause = el("button", { type: "button", class: "secondary", id: "upload-pause" }, "Pause");
  let upload = null;
  const form = el("form", { class: "card", id: "upload" },
    el("label", {}, "File", file), el("label", {}, "Case", caseSel), el("label", {}, "Source", source),
    el("label", {}, "Note", note), el("div", { class: "actions" }, start, pause), bar, status);
  pause.addEventListener("click", () => {
    if (!upload) return;
    if (pause.textContent === "Pause") { upload.abort(); pause.textContent = "Resume"; status.textContent = "Paused."; }
    else { upload.start(); pause.textContent = "Pause"; }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return;
    const metadata = { filename: f.name, case: caseSel.value };
    if (source.value) metadata.source = source.value;
    if (note.value) metadata.note = note.value;
    let itemId = null;
    upload = new window.tus.Upload(f, {
      endpoint: "/api/uploads",
      chunkSize: 1024 * 1024,
      retryDelays: [0, 500, 1000, 2000, 4000, 8000],
      metadata,
      headers: { "X-CSRF-Token": csrf() },
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        bar.value = total ? Math.floor((sent / total) * 100) : 0;
        status.textContent = "Sent " + bytes(sent) + " of " + bytes(total);
      },
      onAfterResponse: (req, res) => {
        const i = res.getHeader("Athar-Item");
        if (i) itemId = i;
      },
      onError: (e) => { status.textContent = "Upload failed: " + e.message; },
      onSuccess: () => {
        bar.value = 100;
        const known = itemId && ID.test(itemId);
        status.replaceChildren("Preserved as ", known ? el("a", { href: itemHref(itemId), id: "uploaded-item" }, itemId) : "an item", ".");
      },
    });
    upload.findPreviousUploads().then((prev) => {
      if (prev.length) upload.resumeFromPreviousUpload(prev[0]);
      upload.start();
    });
  });
  show(el("h1", {}, "Upload"),
    el("p", { class: "muted" }, "Large files are sent in pieces and resume after a dropped connection; the item appears once the whole file is received and its SHA-256 checked."),
    form);
}
