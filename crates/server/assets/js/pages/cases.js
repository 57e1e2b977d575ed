// Cases: the list, and hand-over as a bag.
import { el, api, apiUrl, show, bytes, csrf } from "../core.js";

export async function casesPage() {
  const { cases } = await api(apiUrl(["cases"]));
  const rows = cases.map((c) =>
    el("tr", {},
      el("td", {}, el("a", { href: "#/case/" + encodeURIComponent(c) }, c)),
      el("td", {}, el("button", { type: "button", class: "secondary", "data-export": c, onclick: () => { location.hash = "#/case/" + encodeURIComponent(c) + "/handover"; } }, "Export as bag")),
    ));
  show(
    el("h1", {}, "Cases"),
    cases.length ? el("table", {}, el("tr", {}, el("th", {}, "Case"), el("th", {}, "Hand-over")), rows)
      : el("p", { class: "muted" }, "You are not a member of any case yet."),
    el("p", { id: "export-status", class: "muted" }),
  );
}

async function exportCase(c) {
  const status = document.getElementById("export-status");
  status.textContent = "Exporting " + c + "…";
  try {
    const res = await fetch(exportUrl(c), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf() },
    });
    if (!res.ok) {
      const b = await res.json().catch(() => ({}));
      throw new Error(b.error || res.statusText);
    }
    const blob = await res.blob();
    const name = (res.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
    const a = el("a", { href: URL.createObjectURL(blob), download: name ? name[1] : c + ".tar" });
    document.body.append(a);
    a.click();
    a.remove();
    status.textContent = "Exported " + c + " (" + bytes(blob.size) + ").";
  } catch (e) {
    status.textContent = "Export failed: " + e.message;
  }
}

function exportUrl(c) {
  return apiUrl(["cases", c, "export"]);
}
