// A case's items: the grid of review images, filtered by type and found by name, id or
// hash. Only the evidence collected: the review images Athar made are not items to list.
import { el, api, apiUrl, show, bytes, itemHref, reviewUrl, firstVariant, t, bidi } from "../core.js";
import { labelName, labelDetails } from "./item.js";

export async function casePage(name) {
  const { items } = await api(apiUrl(["items"], { case: name }));
  const typeSel = el("select", { name: "type", id: "grid-type" },
    el("option", { value: "" }, t("grid.type.all")), el("option", { value: "video/" }, t("grid.type.videos")),
    el("option", { value: "image/" }, t("grid.type.images")), el("option", { value: "other" }, t("grid.type.other")));
  const text = el("input", { name: "q", id: "grid-find", type: "search", placeholder: t("grid.find-placeholder") });
  const grid = el("div", { class: "grid" });
  const variant = firstVariant();
  const count = el("span", { class: "muted", id: "grid-count" });
  function render() {
    const kind = typeSel.value, q = text.value.trim().toLowerCase();
    const shown = items.filter(({ item, label }) => {
      const mt = item.media_type;
      if (kind === "other" && (mt.startsWith("video/") || mt.startsWith("image/"))) return false;
      if (kind && kind !== "other" && !mt.startsWith(kind)) return false;
      const name = (label && label.name ? label.name : "").toLowerCase();
      return !q || name.includes(q) || item.id.toLowerCase().includes(q) || item.sha256.includes(q);
    });
    count.textContent = t("grid.count", { n: shown.length, total: items.length });
    grid.replaceChildren(...shown.map(({ item, label }) => {
      const media = item.media_type.startsWith("video/") || item.media_type.startsWith("image/");
      const pic = media
        ? el("img", { src: reviewUrl(item.id, variant), alt: t("grid.review-alt", { variant: t("item.variant." + variant) }), loading: "lazy", class: "thumb " + variant })
        : el("div", { class: "noimg" }, bidi(item.media_type));
      if (media) pic.addEventListener("error", () => pic.replaceWith(el("div", { class: "noimg" }, t("grid.no-review-image"))));
      return el("a", { class: "tile", href: itemHref(item.id), "data-item": item.id }, pic,
        el("span", { class: "tile-name", dir: "auto", "data-name": "" }, labelName(label, item.id)),
        el("span", {}, labelDetails(label), " · ", bytes(item.size)),
        el("span", { class: "muted tile-id" }, bidi(item.id)));
    }));
  }
  typeSel.addEventListener("change", render);
  text.addEventListener("input", render);
  show(
    el("h1", {}, t("grid.title"), " ", el("bdi", {}, name)),
    el("p", { class: "actions" }, el("a", { class: "button secondary", id: "case-captures",
      href: "#/captures?case=" + encodeURIComponent(name) }, t("captures.open"))),
    el("div", { class: "filters" }, el("label", {}, t("grid.type"), typeSel), el("label", {}, t("grid.find"), text), count),
    grid,
  );
  render();
}
