// Athar's browser app: a small front end over the JSON API (no framework, no network
// access beyond this server). Pages are chosen by the URL fragment (#/cases, #/item/ID…).
// Evidence is shown the safe way first (the user's review settings: blurred, greyscale,
// muted, no autoplay); every clear view is a deliberate click and is recorded by the server
// as an access custody event.
"use strict";

const main = document.getElementById("main");
let me = null; // { user, role, cases, settings }

// ---------- helpers ----------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)athar_csrf=([^;]+)/);
  return m ? m[1] : "";
}

class HttpError extends Error {
  constructor(status, message, code) { super(message); this.status = status; this.code = code; }
}

async function api(path, opts = {}) {
  const init = { credentials: "same-origin", headers: {} };
  if (opts.method && opts.method !== "GET") {
    init.method = opts.method;
    init.headers["X-CSRF-Token"] = csrf();
  }
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    location.href = "/login";
    throw new HttpError(401, "logged out");
  }
  if (!res.ok) {
    const b = await res.json().catch(() => ({}));
    if (b.code === "second_factor_enrolment_required" && location.hash !== "#/security") {
      location.hash = "#/security";
    }
    throw new HttpError(res.status, b.error || res.statusText, b.code);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res;
}

function show(...nodes) {
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
}

function failure(e) {
  return el("p", { class: "error" }, String(e.message || e));
}

function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

// The review variant shown first, from the user's settings.
function firstVariant() {
  const s = me.settings;
  return s.blur ? "blurred" : s.greyscale ? "greyscale" : "clear";
}
// What a click reveals next: blurred → greyscale (if the user wants it) → clear.
function nextVariant(v) {
  if (v === "blurred" && me.settings.greyscale) return "greyscale";
  if (v === "blurred" || v === "greyscale") return "clear";
  return null;
}

// Item and record ids: 26 characters of Crockford's base 32, upper case (ItemId::parse).
const ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

// An id taken from the URL fragment or a response, checked before it goes into a request:
// a crafted link (#/item/ID%2Fcontent%3Fpurpose%3D...) must not choose another route.
function checkedId(id) {
  if (typeof id !== "string" || !ID.test(id)) throw new HttpError(400, "Not an item id.");
  return id;
}

// An API address: each path segment percent-encoded, the query built by URLSearchParams
// (empty values left out).
function apiUrl(segments, query) {
  let url = "/api/" + segments.map((s) => encodeURIComponent(String(s))).join("/");
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
    }
    const text = q.toString();
    if (text) url += "?" + text;
  }
  return url;
}

// The app's own address of an item page.
function itemHref(id) {
  return "#/item/" + encodeURIComponent(id);
}

function reviewUrl(id, variant, purpose) {
  return apiUrl(["items", checkedId(id), "review", variant], { purpose });
}

// ---------- pages ----------

async function casesPage() {
  const { cases } = await api(apiUrl(["cases"]));
  const rows = cases.map((c) =>
    el("tr", {},
      el("td", {}, el("a", { href: "#/case/" + encodeURIComponent(c) }, c)),
      el("td", {}, el("button", { type: "button", class: "secondary", "data-export": c, onclick: () => exportCase(c) }, "Export as bag")),
    ));
  show(
    el("h1", {}, "Cases"),
    cases.length ? el("table", {}, el("tr", {}, el("th", {}, "Case"), el("th", {}, "Hand-over")), rows)
      : el("p", { class: "muted" }, "You are not a member of any case yet."),
    el("p", { id: "export-status", class: "muted" }),
  );
}

async function exportCase(c) {
  const status = document.getElementById("export-status");
  status.textContent = "Exporting " + c + "…";
  try {
    const res = await fetch(exportUrl(c), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf() },
    });
    if (!res.ok) {
      const b = await res.json().catch(() => ({}));
      throw new Error(b.error || res.statusText);
    }
    const blob = await res.blob();
    const name = (res.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
    const a = el("a", { href: URL.createObjectURL(blob), download: name ? name[1] : c + ".tar" });
    document.body.append(a);
    a.click();
    a.remove();
    status.textContent = "Exported " + c + " (" + bytes(blob.size) + ").";
  } catch (e) {
    status.textContent = "Export failed: " + e.message;
  }
}

function exportUrl(c) {
  return apiUrl(["cases", c, "export"]);
}

async function casePage(name) {
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

async function itemPage(id) {
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
      v.muted = me.settings.muted;
      v.autoplay = me.settings.autoplay;
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
}

function summary(details) {
  if (!details || typeof details !== "object") return "";
  const d = details.sighting || details.access || details.derived || details.export || details;
  return Object.entries(d).filter(([k, v]) => v !== null && typeof v !== "object" && k !== "tool_version")
    .map(([k, v]) => k + ": " + v).join("; ");
}

async function incidentsPage() {
  const { incidents } = await api(apiUrl(["incidents"]));
  const dated = incidents.filter((i) => i.start || i.end);
  show(
    el("h1", {}, "Incidents"),
    el("section", { class: "card" }, el("h2", {}, "Timeline"), dated.length ? timeline(dated) : el("p", { class: "muted" }, "No dated incidents.")),
    el("section", { class: "card" }, el("h2", {}, "Map"), map(incidents)),
    el("table", {}, el("tr", {}, ...["Incident", "Case", "Date", "Places", "Status"].map((h) => el("th", {}, h))),
      incidents.map((i) => el("tr", {},
        el("td", {}, i.title), el("td", {}, i.case), el("td", {}, i.date || "unknown"),
        el("td", {}, i.places.map((p) => p.name).join(", ")), el("td", {}, i.status || "")))),
  );
}

function day(s) { return Date.parse(s + "T00:00:00Z") / 86400000; }

function timeline(list) {
  const starts = list.map((i) => day(i.start || i.end)), ends = list.map((i) => day(i.end || i.start) + 1);
  const lo = Math.min(...starts), hi = Math.max(...ends), W = 900, left = 220, row = 22;
  const x = (d) => left + ((d - lo) / Math.max(1, hi - lo)) * (W - left - 20);
  const s = svg("svg", { viewBox: "0 0 " + W + " " + (list.length * row + 40), id: "timeline", role: "img" });
  list.forEach((i, n) => {
    const y = 10 + n * row, a = day(i.start || i.end), b = day(i.end || i.start) + 1;
    s.append(svg("text", { x: 4, y: y + 12 }, i.title.slice(0, 34)),
      svg("rect", { class: "bar", x: x(a), y: y, width: Math.max(3, x(b) - x(a)), height: row - 6 }, svg("title", {}, i.title + ": " + (i.date || ""))));
  });
  const y = list.length * row + 14;
  s.append(svg("line", { class: "axis", x1: left, y1: y, x2: W - 20, y2: y }),
    svg("text", { x: left, y: y + 16 }, new Date(lo * 86400000).toISOString().slice(0, 10)),
    svg("text", { x: W - 100, y: y + 16 }, new Date((hi - 1) * 86400000).toISOString().slice(0, 10)));
  return s;
}

// Equirectangular projection of the embedded outline and the places, scaled by cos(lat).
function map(incidents) {
  const pts = [];
  for (const i of incidents) for (const p of i.places) if (p.lat !== null && p.lon !== null) pts.push({ ...p, incident: i.title });
  const outline = window.ATHAR_OUTLINE.points;
  const all = outline.concat(pts.map((p) => [p.lon, p.lat]));
  const lons = all.map((p) => p[0]), lats = all.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...lons) - 0.3, Math.max(...lons) + 0.3, Math.min(...lats) - 0.3, Math.max(...lats) + 0.3];
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180), W = 700;
  const H = Math.round(W * (y1 - y0) / ((x1 - x0) * k));
  const px = (lon) => ((lon - x0) / (x1 - x0)) * W, py = (lat) => ((y1 - lat) / (y1 - y0)) * H;
  const s = svg("svg", { viewBox: "0 0 " + W + " " + H, id: "map", role: "img" },
    svg("title", {}, "Places of incidents on a simplified outline (" + window.ATHAR_OUTLINE.name + ")"),
    svg("polygon", { class: "outline", points: outline.map(([lo, la]) => px(lo).toFixed(1) + "," + py(la).toFixed(1)).join(" ") }));
  for (const p of pts) {
    s.append(svg("circle", { class: "place", cx: px(p.lon).toFixed(1), cy: py(p.lat).toFixed(1), r: 6, "data-place": p.id },
      svg("title", {}, p.name + " (" + p.incident + "): " + p.lat + ", " + p.lon)),
    svg("text", { x: (px(p.lon) + 8).toFixed(1), y: (py(p.lat) + 4).toFixed(1) }, p.name));
  }
  return s;
}

async function personsPage() {
  const { records } = await api(apiUrl(["records"], { kind: "person" }));
  show(el("h1", {}, "Persons"),
    records.length ? el("table", {}, el("tr", {}, ...["Names", "Case", "Status", "Sex", "Born"].map((h) => el("th", {}, h))),
      records.map((r) => el("tr", {},
        el("td", {}, (r.names || []).map((n) => n.name).join(" · ")), el("td", {}, r.case),
        el("td", {}, r.status || ""), el("td", {}, r.sex || ""), el("td", {}, r.birth_date || ""))))
      : el("p", { class: "muted" }, "No persons recorded in your cases."));
}

async function searchPage(params) {
  const form = el("form", { class: "filters", id: "search" },
    el("label", {}, "Words or names", el("input", { name: "q", value: params.get("q") || "" })),
    el("label", {}, "Kind", el("input", { name: "kind", value: params.get("kind") || "", placeholder: "item, person, incident…" })),
    el("label", {}, "Case", el("input", { name: "case", value: params.get("case") || "" })),
    el("label", {}, "Date", el("input", { name: "date", value: params.get("date") || "", placeholder: "2012 or 2011/2013" })),
    el("label", {}, "Place", el("input", { name: "place", value: params.get("place") || "" })),
    el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = "#/search?" + p;
  });
  const out = el("div", {});
  show(el("h1", {}, "Search"), form, out);
  if (![...params.keys()].length) return;
  // Only the search's own parameters go from the fragment into the request.
  const q = {};
  for (const k of ["q", "kind", "case", "date", "place", "violation", "verification", "limit"]) q[k] = params.get(k);
  const r = await api(apiUrl(["search"], q));
  const refine = (k, v) => { const p = new URLSearchParams(params); p.set(k, v); location.hash = "#/search?" + p; };
  const facets = el("div", { class: "facets" }, ...Object.entries(r.facets).filter(([, l]) => l.length).map(([k, list]) =>
    el("div", {}, el("strong", {}, k), el("ul", {}, list.map(([v, n]) =>
      el("li", {}, el("button", { type: "button", onclick: () => refine(k, v) }, v), " " + n))))));
  out.append(el("p", { class: "muted" }, r.total + " found"), facets,
    el("table", {}, el("tr", {}, ...["Kind", "Title", "Case"].map((h) => el("th", {}, h))),
      r.hits.map((h) => el("tr", {}, el("td", {}, h.kind),
        el("td", {}, h.kind === "item" ? el("a", { href: itemHref(h.id) }, h.title || h.id) : h.title),
        el("td", {}, h.case)))));
}

async function uploadPage() {
  const { cases } = await api(apiUrl(["cases"]));
  const file = el("input", { type: "file", name: "file", id: "upload-file", required: true });
  const caseSel = el("select", { name: "case", id: "upload-case" }, cases.map((c) => el("option", { value: c }, c)));
  const source = el("input", { name: "source", placeholder: "where it came from" });
  const note = el("input", { name: "note" });
  const bar = el("progress", { max: 100, value: 0, id: "upload-progress" });
  const status = el("p", { id: "upload-status", class: "muted" });
  const start = el("button", { type: "submit" }, "Upload");
  const pause = el("button", { type: "button", class: "secondary", id: "upload-pause" }, "Pause");
  let upload = null;
  const form = el("form", { class: "card", id: "upload" },
    el("label", {}, "File", file), el("label", {}, "Case", caseSel), el("label", {}, "Source", source),
    el("label", {}, "Note", note), el("div", { class: "actions" }, start, pause), bar, status);
  pause.addEventListener("click", () => {
    if (!upload) return;
    if (pause.textContent === "Pause") { upload.abort(); pause.textContent = "Resume"; status.textContent = "Paused."; }
    else { upload.start(); pause.textContent = "Pause"; }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return;
    const metadata = { filename: f.name, case: caseSel.value };
    if (source.value) metadata.source = source.value;
    if (note.value) metadata.note = note.value;
    let itemId = null;
    upload = new window.tus.Upload(f, {
      endpoint: "/api/uploads",
      chunkSize: 1024 * 1024,
      retryDelays: [0, 500, 1000, 2000, 4000, 8000],
      metadata,
      headers: { "X-CSRF-Token": csrf() },
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        bar.value = total ? Math.floor((sent / total) * 100) : 0;
        status.textContent = "Sent " + bytes(sent) + " of " + bytes(total);
      },
      onAfterResponse: (req, res) => {
        const i = res.getHeader("Athar-Item");
        if (i) itemId = i;
      },
      onError: (e) => { status.textContent = "Upload failed: " + e.message; },
      onSuccess: () => {
        bar.value = 100;
        const known = itemId && ID.test(itemId);
        status.replaceChildren("Preserved as ", known ? el("a", { href: itemHref(itemId), id: "uploaded-item" }, itemId) : "an item", ".");
      },
    });
    upload.findPreviousUploads().then((prev) => {
      if (prev.length) upload.resumeFromPreviousUpload(prev[0]);
      upload.start();
    });
  });
  show(el("h1", {}, "Upload"),
    el("p", { class: "muted" }, "Large files are sent in pieces and resume after a dropped connection; the item appears once the whole file is received and its SHA-256 checked."),
    form);
}

async function settingsPage() {
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
      me.settings = await api(apiUrl(["me", "settings"]), { method: "POST", body });
      status.textContent = "Saved.";
    } catch (e) {
      status.textContent = "Not saved: " + e.message;
    }
  });
  show(el("h1", {}, "Settings"), form);
}

// ---------- security: second factor, sessions, sign-ins ----------

// An SVG document from the server (the QR code), as a node of this page.
function svgNode(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const node = document.importNode(doc.documentElement, true);
  if (node.nodeName.toLowerCase() !== "svg") return null;
  node.setAttribute("class", "qr");
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", "QR code of the key for an authenticator app");
  return node;
}

function recoveryList(codes) {
  return el("section", { class: "card", id: "recovery-codes" },
    el("h2", {}, "Recovery codes"),
    el("p", {}, "Keep these somewhere safe, away from your phone. Each one signs you in once in place of a code. They are shown only now."),
    el("ul", { class: "codes" }, codes.map((c) => el("li", {}, el("code", {}, c)))),
    el("button", { type: "button", onclick: () => route() }, "I have kept them"));
}

async function factorSection() {
  const f = await api(apiUrl(["me", "second-factor"]));
  const card = el("section", { class: "card", id: "second-factor" }, el("h2", {}, "Second factor"));
  const status = el("p", { class: "error", role: "alert" });
  if (!f.enrolled) {
    card.append(
      f.required
        ? el("p", { class: "warn", id: "factor-required" }, "Your role requires a second factor. Set it up to continue: until then you can do nothing else.")
        : el("p", { class: "muted" }, "Off. With a second factor, signing in needs a code from an app on your phone as well as your password."),
      el("p", { class: "muted" }, "Use an authenticator app (for example FreeOTP, Aegis or any app that reads TOTP QR codes)."));
    const startBtn = el("button", { type: "button", id: "factor-start" }, f.enrolling ? "Start again" : "Set up");
    const area = el("div", {});
    startBtn.addEventListener("click", async () => {
      status.textContent = "";
      try {
        const e = await api(apiUrl(["me", "second-factor"]), { method: "POST" });
        const qr = e.qr_svg ? svgNode(e.qr_svg) : null;
        const code = el("input", { name: "code", id: "factor-code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, required: true });
        const form = el("form", { id: "factor-confirm" },
          el("label", {}, "The code your app shows now", code),
          el("button", { type: "submit" }, "Confirm"));
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          status.textContent = "";
          try {
            const r = await api(apiUrl(["me", "second-factor", "confirm"]), { method: "POST", body: { code: code.value.trim() } });
            me = await api(apiUrl(["me"]));
            show(el("h1", {}, "Security"), el("p", { class: "ok" }, "Second factor on."), recoveryList(r.recovery_codes));
          } catch (err) {
            status.textContent = err.message;
          }
        });
        area.replaceChildren(
          el("ol", {},
            el("li", {}, "Scan this QR code with the app", qr ? el("div", {}, qr) : null),
            el("li", {}, "or type the key: ", el("code", { id: "factor-secret" }, e.secret.replace(/(.{4})/g, "$1 ").trim()),
              " (time-based, 6 digits, 30 seconds)"),
            el("li", {}, "then type the code it shows:")),
          form);
      } catch (err) {
        status.textContent = err.message;
      }
    });
    card.append(el("div", { class: "actions" }, startBtn), area, status);
    return card;
  }
  card.append(el("p", { id: "factor-on" }, "On. " + f.recovery_codes_left + " recovery codes left."));
  const renewCode = el("input", { name: "code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, required: true });
  const renew = el("form", { class: "inline", id: "factor-renew" },
    el("label", {}, "Current code", renewCode), el("button", { type: "submit", class: "secondary" }, "New recovery codes"));
  renew.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.textContent = "";
    try {
      const r = await api(apiUrl(["me", "second-factor", "recovery-codes"]), { method: "POST", body: { code: renewCode.value.trim() } });
      show(el("h1", {}, "Security"), recoveryList(r.recovery_codes));
    } catch (err) {
      status.textContent = err.message;
    }
  });
  card.append(renew);
  if (f.required) {
    card.append(el("p", { class: "muted" }, "Your role requires a second factor: it cannot be turned off. If you lose your phone, use a recovery code, or ask an admin to reset it."));
  } else {
    const pw = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const code = el("input", { name: "code", autocomplete: "one-time-code", required: true });
    const off = el("form", { class: "inline", id: "factor-off" },
      el("label", {}, "Password", pw), el("label", {}, "Code or recovery code", code),
      el("button", { type: "submit", class: "secondary" }, "Turn off"));
    off.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      status.textContent = "";
      try {
        await api(apiUrl(["me", "second-factor"]), { method: "DELETE", body: { password: pw.value, code: code.value.trim() } });
        route();
      } catch (err) {
        status.textContent = err.message;
      }
    });
    card.append(off);
  }
  card.append(status);
  return card;
}

async function sessionsSection() {
  const { sessions } = await api(apiUrl(["me", "sessions"]));
  const status = el("p", { class: "error", role: "alert" });
  const end = async (id) => {
    try {
      await api(apiUrl(["me", "sessions", id]), { method: "DELETE" });
    } catch (err) {
      status.textContent = err.message;
    }
  };
  const others = sessions.filter((s) => !s.current);
  const endOthers = el("button", { type: "button", class: "secondary", id: "end-other-sessions", disabled: !others.length },
    "Sign out everywhere else");
  endOthers.addEventListener("click", async () => {
    for (const s of others) await end(s.id);
    route();
  });
  return el("section", { class: "card", id: "sessions" }, el("h2", {}, "Where you are signed in"),
    el("table", {}, el("tr", {}, ...["Browser", "Signed in", "Last seen", "Ends", ""].map((h) => el("th", {}, h))),
      sessions.map((s) => el("tr", { "data-session": s.id },
        el("td", {}, s.user_agent || "unknown"), el("td", {}, s.created_at), el("td", {}, s.last_seen_at),
        el("td", {}, s.expires_at),
        el("td", {}, s.current ? el("span", { class: "muted" }, "this one")
          : el("button", { type: "button", class: "secondary", onclick: async () => { await end(s.id); route(); } }, "Sign out"))))),
    el("div", { class: "actions" }, endOthers), status);
}

async function signInsSection() {
  const { sign_ins } = await api(apiUrl(["me", "sign-ins"], { limit: 20 }));
  return el("section", { class: "card", id: "sign-ins" }, el("h2", {}, "Recent sign-ins to your account"),
    el("p", { class: "muted" }, "Failed ones too. A failure with a wrong code means someone knew your password: change it."),
    sign_ins.length ? el("table", {}, el("tr", {}, ...["When", "Result", "How", "From", "Browser"].map((h) => el("th", {}, h))),
      sign_ins.map((s) => el("tr", { class: s.outcome === "failure" ? "failed" : null },
        el("td", {}, s.count > 1 ? s.at + " – " + s.last_at + " (" + s.count + "×)" : s.at),
        el("td", {}, s.outcome), el("td", {}, s.reason.replace(/_/g, " ")), el("td", {}, s.address),
        el("td", {}, s.user_agent))))
      : el("p", { class: "muted" }, "None recorded."));
}

async function securityPage() {
  const parts = [el("h1", {}, "Security"), await factorSection()];
  if (!me.must_enrol) parts.push(await sessionsSection(), await signInsSection());
  show(parts);
}

// ---------- routing ----------

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
    if (me.must_enrol) return await securityPage();
    switch (parts[0]) {
      case "case": return await casePage(parts[1]);
      case "item": return await itemPage(checkedId(parts[1]));
      case "incidents": return await incidentsPage();
      case "persons": return await personsPage();
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

document.getElementById("logout").addEventListener("click", async () => {
  await api(apiUrl(["logout"]), { method: "POST" }).catch(() => {});
  location.href = "/login";
});

(async () => {
  try {
    me = await api(apiUrl(["me"]));
  } catch (e) {
    return;
  }
  document.getElementById("who").textContent = me.user + " (" + me.role + ")";
  window.addEventListener("hashchange", route);
  route();
})();
