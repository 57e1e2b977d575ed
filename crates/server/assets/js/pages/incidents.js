// Incidents: timeline, map and list.
import { el, api, apiUrl, show } from "../core.js";
import { timeline } from "../timeline.js";
import { incidentMap as map } from "../map.js";

export async function incidentsPage() {
  const { incidents } = await api(apiUrl(["incidents"]));
  show(
    el("h1", {}, "Incidents"),
    el("section", { class: "card" }, el("h2", {}, "Timeline"), timeline(incidents)),
    el("section", { class: "card" }, el("h2", {}, "Map"), map(incidents)),
    el("table", {}, el("tr", {}, ...["Incident", "Case", "Date", "Places", "Status"].map((h) => el("th", {}, h))),
      incidents.map((i) => el("tr", {},
        el("td", {}, i.title), el("td", {}, i.case), el("td", {}, i.date || "unknown"),
        el("td", {}, i.places.map((p) => p.name).join(", ")), el("td", {}, i.status || "")))),
  );
}
