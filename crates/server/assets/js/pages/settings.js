// The caller's settings: safe review.
import { el, api, apiUrl, show, state } from "../core.js";

export async function settingsPage() {
  const s = await api(apiUrl(["me", "settings"]));
  const box = (name, text) => el("label", { class: "check" }, el("input", { type: "checkbox", name, checked: s[name] }), text);
  const status = el("p", { class: "muted", id: "settings-status" });
  const form = el("form", { class: "card", id: "settings" },
    el("h2", {}, "Safe review"),
    box("blur", "Show review images blurred first"),
    box("greyscale", "Show review images in greyscale before clear"),
    box("muted", "Start videos muted"),
    box("autoplay", "Play videos as soon as they are loaded"),
    el("button", { type: "submit" }, "Save"), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const k of ["blur", "greyscale", "muted", "autoplay"]) body[k] = form.elements[k].checked;
    try {
      state.me.settings = await api(apiUrl(["me", "settings"]), { method: "POST", body });
      status.textContent = "Saved.";
    } catch (e) {
      status.textContent = "Not saved: " + e.message;
    }
  });
  show(el("h1", {}, "Settings"), form);
}
