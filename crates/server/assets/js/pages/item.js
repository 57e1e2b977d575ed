// An item: its metadata, review images, video (safe review), near-duplicates and custody.
import { el, api, apiUrl, show, failure, bytes, checkedId, itemHref, reviewUrl, firstVariant, nextVariant, state } from "../core.js";
import { evidenceSection } from "../evidence.js";

export async function itemPage(id) {
  checkedId(id);
  const d = await api(apiUrl(["items", id]));
  const item = d.item;
  const isVideo = item.media_type.startsWith("video/");
  const meta = el("dl", { class: "meta" },
    ...[["Id", item.id], ["SHA-256", item.sha256], ["Size", bytes(item.size)], ["Type", item.media_type],
      ["Preserved", item.created_at], ["Cases", d.cases.join(", ")],
      ["Fingerprints", d.fingerprints.length ? d.fingerprints.join(", ") : "none yet"],
      ["Jobs", d.jobs.map((j) => j.kind + ": " + j.state).join(", ") || "none"]]
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k.toLowerCase() }, v)]));

  // Review images: the safe variant first, each step revealed by a click.
  const review = el("section", { class: "card review", id: "review" }, el("h2", {}, "Review image"));
  api(apiUrl(["items", id, "review"])).then((r) => {
    if (!r.images.length) {
      review.append(el("p", { class: "muted" }, "No review image (yet)."));
      return;
    }
    let v = firstVariant();
    const img = el("img", { src: reviewUrl(id, v), alt: v + " review image", "data-variant": v, id: "review-image" });
    const btn = el("button", { type: "button", id: "reveal" });
    const label = () => {
      const n = nextVariant(v);
      btn.textContent = n === "clear" ? "Reveal clear image (recorded as an access)" : n ? "Show " + n : "Shown clear";
      btn.disabled = !n;
    };
    btn.addEventListener("click", () => {
      const n = nextVariant(v);
      if (!n) return;
      v = n;
      img.src = reviewUrl(id, v, v === "clear" ? "review" : null);
      img.alt = v + " review image";
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
    player = el("section", { class: "card" }, el("h2", {}, "Video"));
    const load = el("button", { type: "button", id: "load-video" }, "Load video (recorded as an access)");
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
        btn.textContent = n === "clear" ? "Reveal clear video (recorded as an access)" : n ? "Show " + n : "Shown clear";
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

  const dups = el("section", { class: "card", id: "near-duplicates" }, el("h2", {}, "Near-duplicates"));
  api(apiUrl(["items", id, "similar"])).then((r) => {
    if (!r.fingerprinted) {
      dups.append(el("p", { class: "muted" }, "No fingerprints yet."));
    } else if (!r.matches.length) {
      dups.append(el("p", { class: "muted" }, "No other item of your cases shares footage with this one."));
    } else {
      dups.append(el("table", {},
        el("tr", {}, ...["Item", "Type", "Shared (this / that)", "Transform", "Cases"].map((h) => el("th", {}, h))),
        r.matches.map((m) => el("tr", { "data-match": m.item },
          el("td", {}, el("a", { href: itemHref(m.item) }, m.item)),
          el("td", {}, m.media_type),
          el("td", {}, Math.round(m.query_match * 100) + "% / " + Math.round(m.item_match * 100) + "%"),
          el("td", {}, m.transform),
          el("td", {}, (m.cases || []).join(", "))))));
    }
  }).catch((e) => dups.append(failure(e)));

  const custody = el("section", { class: "card", id: "custody" }, el("h2", {}, "Chain of custody"),
    el("p", { class: "muted" }, "Each event is a leaf of the signed custody log. Check a proof offline with ",
      el("code", {}, "athar log verify-proof FILE --vkey KEY"), " using the ",
      el("a", { href: apiUrl(["log", "vkey"]), download: "athar.vkey", id: "vkey" }, "verifier key"), " (latest ",
      el("a", { href: apiUrl(["log", "checkpoint"]), download: "checkpoint" }, "checkpoint"), ")."),
    el("table", {},
      el("tr", {}, ...["#", "Event", "When", "Who", "Details", "Proof"].map((h) => el("th", {}, h))),
      d.events.map((e) => el("tr", { "data-seq": e.seq },
        el("td", {}, e.seq), el("td", {}, e.kind), el("td", {}, e.at), el("td", {}, e.actor),
        el("td", {}, summary(e.details)),
        el("td", {}, e.seq <= d.log_size
          ? el("a", { href: apiUrl(["items", id, "events", e.seq, "proof"]), download: id + "-event-" + e.seq + ".tlog-proof", class: "proof" }, ".tlog-proof")
          : el("span", { class: "muted" }, "not logged yet"))))));

  show(el("h1", {}, "Item"), el("section", { class: "card" }, meta), review, player, dups, custody);
  document.getElementById("main").append(evidenceSection(item.id, d.cases));
}

function summary(details) {
  if (!details || typeof details !== "object") return "";
  const d = details.sighting || details.access || details.derived || details.export || details;
  return Object.entries(d).filter(([k, v]) => v !== null && typeof v !== "object" && k !== "tool_version")
    .map(([k, v]) => k + ": " + v).join("; ");
}
