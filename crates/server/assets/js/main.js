// Athar's browser app: a small front end over the JSON API (no framework, no network
// access beyond this server). Pages are chosen by the URL fragment (#/cases, #/item/ID…).
// Evidence is shown the safe way first (the user's review settings: blurred, greyscale,
// muted, no autoplay); every clear view is a deliberate click and is recorded by the server
// as an access custody event.
import { el, api, apiUrl, show, failure, checkedId, state, setRouter, t } from "./core.js";
import { applyLanguage } from "./i18n.js";
import { casesPage } from "./pages/cases.js";
import { casePage } from "./pages/case.js";
import { itemPage } from "./pages/item.js";
import { incidentsPage } from "./pages/incidents.js";
import { personsPage } from "./pages/persons.js";
import { incidentPage, personPage, orgPage, placePage, recordPage } from "./pages/record.js";
import { newRecordPage, editRecordPage } from "./pages/record-form.js";
import { searchPage } from "./pages/search.js";
import { uploadPage } from "./pages/upload.js";
import { settingsPage } from "./pages/settings.js";
import { securityPage } from "./pages/security.js";
import { handoverPage } from "./pages/handover.js";

const main = document.getElementById("main");

async function route() {
  main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  try {
    // The fragment is whatever a link said: each part is decoded once (a malformed one is
    // refused), ids are checked against the id pattern, and every request address is
    // built again from the parts by apiUrl.
    const hash = location.hash.slice(1) || "/cases";
    const cut = hash.indexOf("?");
    const path = cut < 0 ? hash : hash.slice(0, cut);
    const query = cut < 0 ? "" : hash.slice(cut + 1);
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    // Until a second factor the role requires is set up, setting it up is all there is.
    if (state.me.must_enrol) return await securityPage();
    switch (parts[0]) {
      case "case": return parts[2] === "handover" ? await handoverPage(parts[1]) : await casePage(parts[1]);
      case "item": return await itemPage(checkedId(parts[1]));
      case "incidents": return await incidentsPage(new URLSearchParams(query));
      case "persons": return await personsPage(new URLSearchParams(query));
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

document.getElementById("logout").addEventListener("click", async () => {
  await api(apiUrl(["logout"]), { method: "POST" }).catch(() => {});
  location.href = "/login";
});

(async () => {
  try {
    state.me = await api(apiUrl(["me"]));
  } catch (e) {
    return;
  }
  applyLanguage(state.me.settings.lang);
  document.getElementById("who").textContent = state.me.user + " (" + state.me.role + ")";
  window.addEventListener("hashchange", route);
  route();
})();
