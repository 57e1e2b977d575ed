// Athar's browser app: a small front end over the JSON API (no framework, no network
// access beyond this server). Pages are chosen by the URL fragment (#/cases, #/item/ID…).
// Evidence is shown the safe way first (the user's review settings: blurred, greyscale,
// muted, no autoplay); every clear view is a deliberate click and is recorded by the server
// as an access custody event.
import { el, api, apiUrl, show, failure, checkedId, state, setRouter, setShell, setLanguage, t } from "./core.js";
import { applyLanguage, deviceLanguage, rememberLanguage, lang } from "./i18n.js";
import { casesPage } from "./pages/cases.js";
import { casePage } from "./pages/case.js";
import { itemPage } from "./pages/item.js";
import { incidentsPage } from "./pages/incidents.js";
import { personsPage } from "./pages/persons.js";
import { reviewPage } from "./pages/review.js";
import { incidentPage, personPage, orgPage, placePage, recordPage } from "./pages/record.js";
import { newRecordPage, editRecordPage } from "./pages/record-form.js";
import { searchPage } from "./pages/search.js";
import { uploadPage } from "./pages/upload.js";
import { settingsPage } from "./pages/settings.js";
import { securityPage } from "./pages/security.js";
import { handoverPage } from "./pages/handover.js";
import { capturesPage } from "./pages/captures.js";

const main = document.getElementById("main");

const shell = document.getElementById("shell");
const menu = document.getElementById("menu");
const langSwitch = document.getElementById("lang-switch");

// The header in the language shown: the caller's name (in its own direction) and role,
// and the quick language switch showing the language in use.
function renderShell() {
  const who = document.getElementById("who");
  if (state.me) {
    who.textContent = t("header.who", { user: "\u2068" + state.me.user + "\u2069", role: t("role." + state.me.role) });
  }
  langSwitch.value = lang();
}

// On a narrow screen the navigation folds behind the menu button; it closes again on
// every page change.
function openMenu(open) {
  shell.classList.toggle("open", open);
  menu.setAttribute("aria-expanded", String(open));
}
menu.addEventListener("click", () => openMenu(!shell.classList.contains("open")));

langSwitch.addEventListener("change", () => {
  setLanguage(langSwitch.value).catch((e) => show(failure(e)));
});

// The navigation link of the page shown is marked as the current one.
function markCurrent(page) {
  for (const a of shell.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  openMenu(false);
  main.replaceChildren(el("p", { class: "muted" }, t("common.loading")));
  try {
    // The fragment is whatever a link said: each part is decoded once (a malformed one is
    // refused), ids are checked against the id pattern, and every request address is
    // built again from the parts by apiUrl.
    const hash = location.hash.slice(1) || "/cases";
    const cut = hash.indexOf("?");
    const path = cut < 0 ? hash : hash.slice(0, cut);
    const query = cut < 0 ? "" : hash.slice(cut + 1);
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    markCurrent(parts[0] || "cases");
    // Until a second factor the role requires is set up, setting it up is all there is.
    if (state.me.must_enrol) return await securityPage();
    switch (parts[0]) {
      case "case": return parts[2] === "handover" ? await handoverPage(parts[1]) : await casePage(parts[1]);
      case "item": return await itemPage(checkedId(parts[1]));
      case "incidents": return await incidentsPage(new URLSearchParams(query));
      case "persons": return await personsPage(new URLSearchParams(query));
      case "review": return await reviewPage(new URLSearchParams(query));
      case "captures": return await capturesPage(new URLSearchParams(query));
      case "incident": return await incidentPage(checkedId(parts[1]));
      case "person": return await personPage(checkedId(parts[1]));
      case "org": return await orgPage(checkedId(parts[1]));
      case "place": return await placePage(checkedId(parts[1]));
      case "record":
        if (parts[1] === "new") return await newRecordPage(new URLSearchParams(query));
        if (parts[2] === "edit") return await editRecordPage(checkedId(parts[1]));
        return await recordPage(checkedId(parts[1]));
      case "search": return await searchPage(new URLSearchParams(query));
      case "upload": return await uploadPage();
      case "settings": return await settingsPage();
      case "security": return await securityPage();
      default: return await casesPage();
    }
  } catch (e) {
    if (e.status !== 401) show(failure(e));
  }
}

setRouter(route);
setShell(renderShell);

document.getElementById("logout").addEventListener("click", async () => {
  await api(apiUrl(["logout"]), { method: "POST" }).catch(() => {});
  location.href = "/login";
});

(async () => {
  // Until the caller's own setting arrives: the language last chosen on this device.
  applyLanguage(deviceLanguage());
  try {
    state.me = await api(apiUrl(["me"]));
  } catch (e) {
    if (e.status !== 401) show(failure(e));
    return;
  }
  applyLanguage(state.me.settings.lang);
  rememberLanguage(state.me.settings.lang);
  renderShell();
  window.addEventListener("hashchange", route);
  route();
})();
