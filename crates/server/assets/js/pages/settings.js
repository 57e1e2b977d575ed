// The caller's settings: the interface's language and safe review.
import { el, api, apiUrl, show, state, t, setLanguage } from "../core.js";
import { LANGUAGES } from "../i18n.js";

export async function settingsPage() {
  const s = await api(apiUrl(["me", "settings"]));
  const box = (name, key) => el("label", { class: "check" },
    el("input", { type: "checkbox", name, checked: s[name] }), t(key));
  const status = el("p", { class: "muted", id: "settings-status", role: "status" });
  const language = el("select", { name: "lang", id: "settings-lang", "aria-describedby": "settings-lang-hint" },
    el("option", { value: "", selected: !s.lang }, t("lang.browser")),
    Object.entries(LANGUAGES).map(([code, name]) =>
      el("option", { value: code, lang: code, selected: s.lang === code }, name)));
  // The language applies at once: the page is shown again in it, with what was ticked.
  language.addEventListener("change", async () => {
    try {
      await setLanguage(language.value);
    } catch (e) {
      status.textContent = t("settings.not_saved", { message: e.message });
    }
  });
  const form = el("form", { class: "card", id: "settings" },
    el("h2", {}, t("settings.safe_review")),
    box("blur", "settings.blur"),
    box("greyscale", "settings.greyscale"),
    box("muted", "settings.muted"),
    box("autoplay", "settings.autoplay"),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("settings.save"))), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const k of ["blur", "greyscale", "muted", "autoplay"]) body[k] = form.elements[k].checked;
    try {
      state.me.settings = await api(apiUrl(["me", "settings"]), { method: "POST", body });
      status.textContent = t("settings.saved");
    } catch (e) {
      status.textContent = t("settings.not_saved", { message: e.message });
    }
  });
  show(el("h1", {}, t("settings.title")),
    el("section", { class: "card", id: "language" },
      el("h2", {}, el("label", { for: "settings-lang" }, t("settings.language"))),
      language,
      el("p", { class: "muted", id: "settings-lang-hint" }, t("settings.language_hint"))),
    form);
}
