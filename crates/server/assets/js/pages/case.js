// A case's items: the grid of review images, filtered by type and found by id or hash.
import { el, api, apiUrl, show, bytes, itemHref, reviewUrl, firstVariant } from "../core.js";

export async function casePage(name) {
  const { items } = await api(apiUrl(["items"], { case: name }));
  const typeSel = el("select", { name: "type" },
    el("option", { value: "" }, "all"), el("option", { value: "video/" }, "videos"),
    el("option", { value: "image/" }, "images"), el("option", { value: "other" }, "other"));
  const text = el("input", { name: "q", placeholder: "id or SHA-256" });
  const grid = el("div", { class: "grid" });
  const variant = firstVariant();
  function render() {
    const t = typeSel.value, q = text.value.trim().toLowerCase();
    const shown = items.filter(({ item }) => {
      const mt = item.media_type;
      if (t === "other" && (mt.startsWith("video/") || mt.startsWith("image/"))) return false;
      if (t && t !== "other" && !mt.startsWith(t)) return false;
      return !q || item.id.toLowerCase().includes(q) || item.sha256.includes(q);
    });
    grid.replaceChildren(...shown.map(({ item }) => {
      const media = item.media_type.startsWith("video/") || item.media_type.startsWith("image/");
      const pic = media
        ? el("img", { src: reviewUrl(item.id, variant), alt: variant + " review image", loading: "lazy", class: "thumb " + variant })
        : el("div", { class: "noimg" }, item.media_type);
      if (media) pic.addEventListener("error", () => pic.replaceWith(el("div", { class: "noimg" }, "no review image yet")));
      return el("a", { class: "tile", href: itemHref(item.id), "data-item": item.id }, pic,
        el("span", {}, item.media_type + " · " + bytes(item.size)),
        el("span", { class: "muted" }, item.id));
    }));
  }
  typeSel.addEventListener("change", render);
  text.addEventListener("input", render);
  show(
    el("h1", {}, "Case ", name),
    el("div", { class: "filters" }, el("label", {}, "Type", typeSel), el("label", {}, "Find", text),
      el("span", { class: "muted" }, items.length + " items; review images " + variant)),
    grid,
  );
  render();
}
