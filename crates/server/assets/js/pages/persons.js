// Persons.
import { el, api, apiUrl, show } from "../core.js";

export async function personsPage() {
  const { records } = await api(apiUrl(["records"], { kind: "person" }));
  show(el("h1", {}, "Persons"),
    records.length ? el("table", {}, el("tr", {}, ...["Names", "Case", "Status", "Sex", "Born"].map((h) => el("th", {}, h))),
      records.map((r) => el("tr", {},
        el("td", {}, (r.names || []).map((n) => n.name).join(" · ")), el("td", {}, r.case),
        el("td", {}, r.status || ""), el("td", {}, r.sex || ""), el("td", {}, r.birth_date || ""))))
      : el("p", { class: "muted" }, "No persons recorded in your cases."));
}
