// An item: its label and metadata, review images, video (safe review), near-duplicates and
// custody. Terms of the trade are shown in plain words, explained on hover and focus
// (../glossary.js); instants in the user's zone with the UTC value on hover (when).
import { el, api, apiUrl, show, failure, bytes, checkedId, itemHref, reviewUrl, firstVariant, nextVariant, state, t, when, bidi } from "../core.js";
import { number, calendarDate } from "../i18n.js";
import { term } from "../glossary.js";
import { evidenceSection } from "../evidence.js";

/** A duration in seconds as m:ss (h:mm:ss from an hour), digits of the language shown. */
export function clock(s) {
  s = Math.max(0, Math.round(s));
  const two = (n) => number(n, { minimumIntegerDigits: 2 });
  return s >= 3600
    ? number(Math.floor(s / 3600)) + ":" + two(Math.floor(s / 60) % 60) + ":" + two(s % 60)
    : number(Math.floor(s / 60)) + ":" + two(s % 60);
}

/** What an item is, in words: its kind (video, image…) in the language shown. */
export function kindName(kind) {
  return ["video", "image", "audio", "pdf"].includes(kind) ? t("label.kind." + kind) : bidi(kind);
}

/** An item's name from its label (the API's `label`): the file name, or what it was made from. */
export function labelName(label, id) {
  if (!label) return id;
  if (label.name) return label.name;
  if (label.derived) return t("label.derived", { role: label.derived.role, source: label.derived.source });
  return kindName(label.kind);
}

/** The rest of a label: kind, duration and date, in the language shown. */
export function labelDetails(label) {
  if (!label) return "";
  // Nodes, not one string: a media type the app has no word for stays in its own direction.
  const parts = [kindName(label.kind)];
  if (label.duration_s) parts.push(clock(label.duration_s));
  parts.push(calendarDate(label.date));
  return parts.flatMap((p, n) => (n ? [" · ", p] : [p]));
}

// How a copy differs from the item: the variants the similarity search knows.
const TRANSFORMS = ["original", "rot90", "rot180", "rot270", "flipx", "flipy", "flip+1", "flip-1",
  "unbordered", "mirrored", "cropped", "inner", "band", "area", "window", "borders-removed", "overlay",
  "rescaled-or-recoloured"];
function transformName(x) {
  return TRANSFORMS.includes(x) ? t("item.transform." + x) : bidi(x);
}

// Where a picture sits in another (links made through local features: the API's `local`).
const POSITIONS = ["top-left", "top", "top-right", "left", "centre", "right", "bottom-left", "bottom", "bottom-right"];
function positionName(p) {
  return POSITIONS.includes(p) ? t("item.position." + p) : bidi(p);
}

/** How a linked copy's picture relates to this item's, in the language shown. */
export function localName(l) {
  const percent = (x) => number(x, { style: "percent", maximumFractionDigits: 0 });
  const parts = [];
  if (l.mirrored) parts.push(t("item.local.mirrored"));
  if (l.perspective) parts.push(t("item.local.perspective"));
  if (Math.abs(l.angle) >= 2) parts.push(t("item.local.rotated", { angle: number(l.angle) }));
  if (l.inset) parts.push(t("item.local.inset", { share: percent(l.inset.share), position: positionName(l.inset.position) }));
  if (l.crop) parts.push(t("item.local.crop", { share: percent(l.crop.share), position: positionName(l.crop.position) }));
  if (!parts.length) parts.push(t("item.local.same"));
  const s = l.segment;
  const segment = s ? t("item.local.segment", {
    this: clock(s.query_start) + "–" + clock(s.query_end),
    that: clock(s.item_start) + "–" + clock(s.item_end),
  }) : "";
  return el("span", { class: "local-link", "data-local": l.transform },
    parts.join(t("item.local.and")), segment ? el("br") : "", segment ? el("span", { class: "muted" }, segment) : "");
}

/** The "changed by" cell: the whole-frame transform, the local link's, or both. */
function changedBy(m) {
  if (!m.local) return transformName(m.transform);
  if (m.distance === null || m.distance === undefined) return localName(m.local);
  return el("span", {}, transformName(m.transform), el("br"), localName(m.local));
}

function jobState(s) {
  return ["queued", "running", "done", "failed"].includes(s) ? t("g.job." + s) : s;
}

export async function itemPage(id) {
  checkedId(id);
  const d = await api(apiUrl(["items", id]));
  const item = d.item;
  const isVideo = item.media_type.startsWith("video/");
  const joined = (nodes) => nodes.flatMap((n, i) => (i ? [", ", n] : [n]));
  const rows = [
    ["name", t("item.name"), el("span", { dir: "auto" }, labelName(d.label, item.id))],
    ["id", t("item.id"), el("code", {}, item.id)],
    ["sha-256", term("sha256"), el("code", { class: "hash" }, item.sha256)],
    ["size", t("item.size"), bytes(item.size)],
    ["type", t("item.type"), bidi(item.media_type)],
    d.label && d.label.duration_s ? ["duration", t("item.duration"), clock(d.label.duration_s)] : null,
    ["preserved", t("item.preserved"), when(item.created_at)],
    ["cases", t("item.cases"), el("span", { dir: "auto" }, d.cases.join(", "))],
    ["fingerprints", t("item.fingerprints"), d.fingerprints.length ? joined(d.fingerprints.map(term)) : t("item.none-yet")],
    ["jobs", t("item.jobs"), d.jobs.length
      ? joined(d.jobs.map((j) => el("span", {}, term(j.kind), ": ", jobState(j.state))))
      : t("item.none")],
  ].filter(Boolean);
  const meta = el("dl", { class: "meta" },
    ...rows.flatMap(([key, label, value]) => [el("dt", {}, label), el("dd", { "data-field": key }, value)]));

  // Review images: the safe variant first, each step revealed by a click.
  const review = el("section", { class: "card review", id: "review" }, el("h2", {}, term("review-image")));
  const variantName = (v) => t("item.variant." + v);
  api(apiUrl(["items", id, "review"])).then((r) => {
    if (!r.images.length) {
      review.append(el("p", { class: "muted" }, t("item.no-review-image")));
      return;
    }
    let v = firstVariant();
    const img = el("img", { src: reviewUrl(id, v), alt: t("item.review-alt", { variant: variantName(v) }), "data-variant": v, id: "review-image" });
    const btn = el("button", { type: "button", id: "reveal" });
    const label = () => {
      const n = nextVariant(v);
      btn.textContent = n === "clear" ? t("item.reveal-clear-image") : n ? t("item.show-variant", { variant: variantName(n) }) : t("item.shown-clear");
      btn.disabled = !n;
    };
    btn.addEventListener("click", () => {
      const n = nextVariant(v);
      if (!n) return;
      v = n;
      img.src = reviewUrl(id, v, v === "clear" ? "review" : null);
      img.alt = t("item.review-alt", { variant: variantName(v) });
      img.dataset.variant = v;
      label();
    });
    label();
    review.append(img, el("div", { class: "actions" }, btn));
  }).catch((e) => review.append(failure(e)));

  // Video: not loaded until asked; muted and still unless the user changed their
  // defaults; seeking uses HTTP range requests. It plays blurred and greyscale as the
  // review images do (the user's settings), each step revealed by a click; the clear view
  // is recorded as an access.
  let player = null;
  if (isVideo) {
    player = el("section", { class: "card" }, el("h2", {}, t("item.video")));
    const load = el("button", { type: "button", id: "load-video" }, t("item.load-video"));
    load.addEventListener("click", () => {
      let shown = firstVariant();
      const v = el("video", {
        controls: true, preload: "metadata", id: "video", class: "view-" + shown,
        "data-variant": shown, src: apiUrl(["items", id, "content"], { purpose: "review" }),
      });
      v.muted = state.me.settings.muted;
      v.autoplay = state.me.settings.autoplay;
      const btn = el("button", { type: "button", id: "reveal-video" });
      const label = () => {
        const n = nextVariant(shown);
        btn.textContent = n === "clear" ? t("item.reveal-clear-video") : n ? t("item.show-variant", { variant: variantName(n) }) : t("item.shown-clear");
        btn.disabled = !n;
      };
      btn.addEventListener("click", async () => {
        const n = nextVariant(shown);
        if (!n) return;
        if (n === "clear") {
          // The server records the clear view before the video is shown clear.
          btn.disabled = true;
          try {
            // A HEAD request: recorded like any access to the content (a range request
            // of the player's viewing would not be recorded again), no byte sent.
            const r = await fetch(apiUrl(["items", id, "content"], { purpose: "review-clear" }),
              { method: "HEAD", credentials: "same-origin" });
            if (!r.ok) throw new Error("HTTP " + r.status);
          } catch (e) {
            player.append(failure(e));
            label();
            return;
          }
        }
        shown = n;
        v.className = "view-" + shown;
        v.dataset.variant = shown;
        label();
      });
      label();
      load.replaceWith(v, el("div", { class: "actions" }, btn));
    });
    player.append(load);
  }

  const dups = el("section", { class: "card", id: "near-duplicates" }, el("h2", {}, t("item.near-duplicates")));
  api(apiUrl(["items", id, "similar"])).then((r) => {
    if (!r.fingerprinted) {
      dups.append(el("p", { class: "muted" }, t("item.no-fingerprints")));
    } else if (!r.matches.length) {
      dups.append(el("p", { class: "muted" }, t("item.no-matches")));
    } else {
      const percent = (x) => number(x, { style: "percent", maximumFractionDigits: 0 });
      dups.append(el("div", { class: "table-scroll" }, el("table", {},
        el("tr", {}, ...["item.col.item", "item.col.details", "item.col.shared", "item.col.transform", "item.col.cases"]
          .map((k) => el("th", {}, t(k)))),
        r.matches.map((m) => el("tr", { "data-match": m.item },
          el("td", {}, el("a", { href: itemHref(m.item), title: m.item, dir: "auto" }, labelName(m.label, m.item))),
          el("td", {}, m.label ? labelDetails(m.label) : bidi(m.media_type)),
          el("td", {}, t("item.shared", { this: percent(m.query_match), that: percent(m.item_match) })),
          el("td", {}, changedBy(m)),
          el("td", { dir: "auto" }, (m.cases || []).join(", ")))))));
    }
  }).catch((e) => dups.append(failure(e)));

  const custody = el("section", { class: "card", id: "custody" }, el("h2", {}, t("item.custody")),
    el("p", { class: "muted" }, t("item.custody-intro"), " ",
      el("code", { dir: "ltr" }, "athar log verify-proof FILE --vkey KEY"), " ",
      el("a", { href: apiUrl(["log", "vkey"]), download: "athar.vkey", id: "vkey" }, t("item.verifier-key")), " · ",
      el("a", { href: apiUrl(["log", "checkpoint"]), download: "checkpoint" }, t("item.checkpoint"))),
    el("div", { class: "table-scroll" }, el("table", {},
      el("tr", {}, el("th", {}, "#"), el("th", {}, t("item.col.event")), el("th", {}, t("item.col.when")),
        el("th", {}, t("item.col.who")), el("th", {}, t("item.col.event-details")), el("th", {}, term("tlog-proof"))),
      d.events.map((e) => el("tr", { "data-seq": e.seq },
        el("td", {}, number(e.seq)), el("td", {}, term("event." + e.kind)), el("td", {}, when(e.at)),
        el("td", { dir: "auto" }, e.actor),
        el("td", { dir: "auto" }, summary(e.details)),
        el("td", {}, e.seq <= d.log_size
          ? el("a", { href: apiUrl(["items", id, "events", e.seq, "proof"]), download: id + "-event-" + e.seq + ".tlog-proof", class: "proof" }, t("item.download-proof"))
          : el("span", { class: "muted" }, t("item.not-logged"))))))));

  const heading = el("h1", { dir: "auto", class: "item-title" }, labelName(d.label, item.id));
  const sub = el("p", { class: "muted item-subtitle" }, labelDetails(d.label));
  show(heading, sub, el("section", { class: "card" }, meta), review, player, dups, custody);
  document.getElementById("main").append(evidenceSection(item.id, d.cases));
}

function summary(details) {
  if (!details || typeof details !== "object") return "";
  const d = details.sighting || details.access || details.derived || details.export || details;
  const parts = Object.entries(d).filter(([k, v]) => v !== null && typeof v !== "object" && k !== "tool_version")
    .map(([k, v]) => k + ": " + v);
  // A file of a web capture: what it is and the address captured.
  if (d.capture && typeof d.capture === "object") parts.unshift("capture: " + d.capture.role + " " + d.capture.url);
  return parts.join("; ");
}
