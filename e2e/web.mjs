// End-to-end test of the web app in a real browser: Debian's chromium, headless, driven
// by playwright-core. Started by crates/cli/tests/web_e2e.rs against a running
// `athar serve`; it can be run by hand too:
//
//   ATHAR_URL=http://127.0.0.1:8080 ATHAR_USER=... ATHAR_PASSWORD=... ATHAR_CASE=alpha \
//   ATHAR_VIDEO=clip.mp4 ATHAR_DUPLICATE=<item id of a copy> ATHAR_ARTIFACTS=out \
//   node e2e/web.mjs
//
// Steps: log in; upload the video by tus with a dropped connection that tus-js-client
// resumes; wait for its fingerprints; find its near-duplicate; reveal the blurred review
// image; play the video muted with range requests; download a custody proof and the
// verifier key; open crafted item links (an encoded path and purpose after the id) and
// check that no access was recorded with that purpose; export the case as a bag; set up a
// second factor on the Security page, sign in again with a code, and sign another browser
// out from the session list; review a pair of person records (e2e/review.mjs); capture a
// page of the fixture web site (ATHAR_CAPTURE_URL, e2e/captures.mjs). Screenshots and
// downloads go to ATHAR_ARTIFACTS.
// Exits non-zero on the first failed step.

import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { documentationSteps } from "./documentation.mjs";
import { mapSteps } from "./map.mjs";
import { interfaceSteps, axeRun } from "./interface.mjs";
import { reviewSteps, linkageRunStep } from "./review.mjs";
import { captureSteps } from "./captures.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`environment variable ${k} is required`);
  return v;
};
const base = env("ATHAR_URL");
const out = env("ATHAR_ARTIFACTS");
const caseName = env("ATHAR_CASE");
const duplicate = env("ATHAR_DUPLICATE");
mkdirSync(out, { recursive: true });

const log = (...a) => console.log("e2e:", ...a);

// An authenticator app: RFC 6238 codes (HMAC-SHA-1, 30 s, 6 digits) from a base32 key.
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, acc = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    acc = (acc << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); }
  }
  return Buffer.from(out);
}
function totp(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
const stepNow = () => Math.floor(Date.now() / 1000 / 30);
function check(ok, what) {
  if (!ok) throw new Error("check failed: " + what);
  log("ok:", what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push("page error: " + e.message));
page.on("console", (m) => {
  const axeStyle = axeRun.running && /Applying inline style violates/.test(m.text());
  if (m.type() === "error" && !/Failed to load resource/.test(m.text()) && !axeStyle) {
    problems.push("console: " + m.text() + " (on " + page.url() + ")");
    log("console error on " + page.url() + ": " + m.text().slice(0, 120));
  }
});
const shot = async (name) => page.screenshot({ path: join(out, name + ".png"), fullPage: true });
const summary = {};

try {
  // 1. Anonymous: sent to the log-in page; log in.
  await page.goto(base + "/");
  check(page.url().endsWith("/login"), "anonymous visitor is sent to /login");
  await shot("01-login");
  await page.fill("input[name=username]", env("ATHAR_USER"));
  await page.fill("input[name=password]", env("ATHAR_PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForSelector(`a[href="#/case/${encodeURIComponent(caseName)}"]`);
  check((await page.textContent("#who")).includes(env("ATHAR_USER")), "logged in");
  await shot("02-cases");

  // 2. Upload by tus; the second PATCH is cut off mid-transfer, tus-js-client asks the
  // server for the offset (HEAD) and resumes from there.
  let patches = 0, heads = 0, aborted = false;
  const offsets = [];
  await page.route("**/api/uploads/**", async (route) => {
    const req = route.request();
    if (req.method() === "HEAD") heads++;
    if (req.method() === "PATCH") {
      patches++;
      offsets.push(Number(req.headers()["upload-offset"]));
      if (patches === 2) {
        aborted = true;
        return route.abort("connectionreset");
      }
    }
    return route.continue();
  });
  await page.goto(base + "/#/upload");
  await page.waitForSelector("#upload-file");
  await page.setInputFiles("#upload-file", env("ATHAR_VIDEO"));
  await page.selectOption("#upload-case", caseName);
  await page.fill("input[name=source]", "synthetic test pattern");
  await page.fill("input[name=note]", "first upload");
  await page.click("#upload button[type=submit]");
  const link = await page.waitForSelector("#upload-results li:nth-child(1) a.uploaded-item", { timeout: 120_000 });
  const item = await link.getAttribute("data-item");
  await page.unroute("**/api/uploads/**");
  check(aborted && heads >= 1, `upload interrupted and resumed (${patches} PATCH, ${heads} HEAD)`);
  check(offsets.slice(2).some((o) => o > 0), "resumed from a non-zero offset: " + offsets.join(","));
  check((await page.inputValue("input[name=source]")) === "" && (await page.inputValue("input[name=note]")) === "",
    "source and note cleared for the next files");
  check((await page.getAttribute("#upload-results li:nth-child(1)", "data-state")) === "new", "a new item");
  summary.item = item;
  await shot("03-uploaded");

  // The same bytes again: the form says they were already held, and which item they are.
  await page.setInputFiles("#upload-file", env("ATHAR_VIDEO"));
  await page.click("#upload button[type=submit]");
  const again = await page.waitForSelector("#upload-results li:nth-child(2)[data-state=held] a.uploaded-item", { timeout: 60_000 });
  check((await again.getAttribute("data-item")) === item, "the same bytes are the same item");
  check((await page.textContent("#upload-results li:nth-child(2)")).includes("Already held"), "said to be already held");

  // Two files at once: each its own upload, in turn, each with its result.
  const files = ["witness-a.txt", "witness-b.txt"].map((name, i) => ({
    name, mimeType: "text/plain", buffer: Buffer.from(`synthetic statement ${i} ${Date.now()}\n`),
  }));
  await page.setInputFiles("#upload-file", files);
  await page.click("#upload button[type=submit]");
  await page.waitForSelector("#upload-results li:nth-child(4) a.uploaded-item", { timeout: 60_000 });
  const two = await page.$$eval("#upload-results li:nth-child(n+3)", (lis) => lis.map((li) => ({
    name: li.querySelector(".upload-name").textContent, state: li.dataset.state,
    item: li.querySelector("a.uploaded-item")?.dataset.item,
  })));
  check(two.length === 2 && two.every((f) => f.state === "new" && f.item) && two[0].item !== two[1].item
    && two[0].name === "witness-a.txt" && two[1].name === "witness-b.txt", "two files uploaded at once: " + JSON.stringify(two));
  await shot("03b-uploads");

  // The case's grid names each item by its file name, leaves out review images, and
  // finds items by name.
  const videoName = env("ATHAR_VIDEO").split("/").pop();
  await page.goto(base + "/#/case/" + encodeURIComponent(caseName));
  const tile = await page.waitForSelector(`.tile[data-item="${item}"] .tile-name`);
  check((await tile.textContent()) === videoName, "the grid shows the uploaded file's name");
  await page.fill("#grid-find", "witness-b");
  await page.waitForFunction(() => document.querySelectorAll(".tile").length === 1);
  check((await page.textContent(".tile .tile-name")) === "witness-b.txt", "found by file name");
  await page.fill("#grid-find", "");
  const tiles = await page.$$eval(".tile", (ts) => ts.length);
  check(tiles === 4, "the grid lists the evidence, not review images: " + tiles + " tiles");

  // 3. Wait for the background jobs: fingerprints and review images.
  const deadline = Date.now() + 180_000;
  await page.goto(base + "/#/item/" + item);
  for (;;) {
    // A hash-only navigation to the same address would not fetch again: reload.
    await page.reload();
    await page.waitForSelector('[data-field="fingerprints"]');
    const fp = await page.textContent('[data-field="fingerprints"]');
    if (fp.includes("vpdq")) break;
    if (Date.now() > deadline) throw new Error("no fingerprints after 180 s: " + fp);
    await page.waitForTimeout(1000);
  }
  check(true, "fingerprints made");

  // 4. Its near-duplicate: the re-encoded copy ingested beforehand.
  await page.waitForSelector(`#near-duplicates [data-match="${duplicate}"]`, { timeout: 30_000 });
  check(true, "near-duplicate " + duplicate + " listed");
  summary.documentation = await documentationSteps(page, { base, check, shot, log, item, caseName });

  // 5. The review image is blurred first; a click shows greyscale, another the clear one.
  const img = await page.waitForSelector("#review-image");
  const loaded = () => page.$eval("#review-image", (i) => i.complete && i.naturalWidth > 0);
  await page.waitForFunction(() => {
    const i = document.getElementById("review-image");
    return i && i.complete && i.naturalWidth > 0;
  });
  check((await img.getAttribute("data-variant")) === "blurred", "review image shown blurred first");
  await shot("04-item-blurred");
  await page.click("#reveal");
  check((await img.getAttribute("data-variant")) === "greyscale", "first click: greyscale");
  await page.click("#reveal");
  check((await img.getAttribute("data-variant")) === "clear", "second click: clear");
  await page.waitForFunction(() => {
    const i = document.getElementById("review-image");
    return i.complete && i.naturalWidth > 0 && i.src.includes("/review/clear");
  });
  check(await loaded(), "clear image loaded");
  await shot("05-item-revealed");

  // 6. The video: muted, not autoplaying, seeking by range requests.
  const ranges = [];
  page.on("request", (r) => {
    if (r.url().includes("/content")) ranges.push(r.headers()["range"] || "none");
  });
  await page.click("#load-video");
  const video = await page.waitForSelector("#video");
  check(await video.evaluate((v) => v.muted && !v.autoplay), "video muted, no autoplay");
  // Safe review goes on into the player: blurred and greyscale first, revealed step by step.
  const filterOf = () => video.evaluate((v) => getComputedStyle(v).filter);
  const first = await filterOf();
  check(first.includes("blur") && first.includes("grayscale"), "video starts blurred and greyscale: " + first);
  await page.click("#reveal-video");
  await page.waitForFunction(() => document.getElementById("video").dataset.variant !== "blurred");
  const second = await filterOf();
  check(!second.includes("blur") && second.includes("grayscale"), "then greyscale: " + second);
  const clearAsked = page.waitForRequest((r) => r.url().includes("purpose=review-clear"));
  await page.click("#reveal-video");
  await clearAsked;
  await page.waitForFunction(() => document.getElementById("video").dataset.variant === "clear");
  check((await filterOf()) === "none", "then clear, once the server recorded it");
  const playable = await video.evaluate((v) => v.canPlayType('video/mp4; codecs="avc1.42E01E"'));
  if (playable) {
    await video.evaluate((v) => new Promise((ok, bad) => {
      const t = setTimeout(() => bad(new Error("video metadata not loaded")), 30_000);
      const seek = () => {
        v.addEventListener("seeked", () => { clearTimeout(t); ok(); }, { once: true });
        v.currentTime = Math.max(0, v.duration - 0.5);
      };
      if (v.readyState >= 1) seek(); else v.addEventListener("loadedmetadata", seek, { once: true });
    }));
    check(ranges.some((r) => r.startsWith("bytes=")), "player used range requests: " + ranges.join(" "));
  } else {
    log("notice: this chromium cannot play H.264; seeking not checked");
  }
  await shot("06-video");

  // 7. Custody history: the access events are there; download the proof of the latest
  // event and the verifier key.
  // A fresh load (the same URL with the same fragment would not re-render the page).
  await page.goto(base + "/#/cases");
  await page.goto(base + "/#/item/" + item);
  await page.reload();
  await page.waitForSelector("#custody tr[data-seq]");
  const kinds = await page.$$eval("#custody tr[data-seq] td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
  check(kinds.includes("ingest") && kinds.includes("access"), "custody history: " + kinds.join(", "));
  // The clear image, the video loaded, the video revealed clear: each an access.
  check(kinds.filter((k) => k === "access").length === 3, "three accesses: " + kinds.join(", "));
  const proofs = await page.$$("#custody a.proof");
  check(proofs.length > 0, "proof links");
  const [proof] = await Promise.all([page.waitForEvent("download"), proofs[proofs.length - 1].click()]);
  await proof.saveAs(join(out, "event.tlog-proof"));
  const [key] = await Promise.all([page.waitForEvent("download"), page.click("#vkey")]);
  await key.saveAs(join(out, "athar.vkey"));
  await shot("07-custody");

  // 8. A crafted link: the item id in the fragment followed by an encoded path and query
  // (`…%2Fcontent%3Fpurpose%3D…`) must not reach the content route. The app refuses the
  // id, sends no request with the chosen purpose, and no access event records it.
  const crafted = "e2e-crafted-" + Date.now();
  const sent = [];
  const watch = (r) => { if (r.url().includes(crafted)) sent.push(r.method() + " " + r.url()); };
  page.on("request", watch);
  await page.goto(base + "/#/cases");
  await page.waitForSelector("main h1");
  for (const rest of ["/content?purpose=", "/review/clear?purpose="]) {
    await page.goto(base + "/#/item/" + item + encodeURIComponent(rest + crafted));
    await page.waitForSelector("main p.error");
    check((await page.textContent("main p.error")).includes("Not an item id"),
      "crafted link " + rest + "… refused as not an item id");
  }
  await page.waitForTimeout(500);
  page.off("request", watch);
  check(sent.length === 0, "no request carried the crafted purpose" + (sent.length ? ": " + sent.join(", ") : ""));
  const recorded = await page.evaluate(async (id) => {
    const res = await fetch("/api/items/" + encodeURIComponent(id), { credentials: "same-origin" });
    return (await res.json()).events;
  }, item);
  const chosen = recorded.filter((e) => JSON.stringify(e.details || {}).includes(crafted));
  check(recorded.length > 0 && chosen.length === 0,
    `no access event with the crafted purpose (${recorded.length} events read)`);
  await shot("08-crafted-link");

  // 9. Hand the case over: "Export as bag" opens the hand-over page, which asks for the
  // recipient and the purpose; a missing recipient is named next to its field.
  await page.goto(base + "/#/cases");
  await (await page.waitForSelector(`[data-export="${caseName}"]`)).click();
  await page.waitForSelector("#handover-recipient");
  check(await page.isChecked("#handover-records"), "the case's records are included by default");
  await page.fill("#handover-purpose", "Synthetic trial preparation");
  await page.click("#handover-submit");
  await page.waitForFunction(() => document.getElementById("handover-status").dataset.state === "refused");
  check((await page.textContent("#handover-recipient-error")).startsWith("recipient"),
    "a missing recipient is shown next to its field");
  const recipient = "Synthetic Prosecutor's Office";
  await page.fill("#handover-recipient", recipient);
  const [bag] = await Promise.all([page.waitForEvent("download", { timeout: 120_000 }), page.click("#handover-submit")]);
  const bagName = bag.suggestedFilename();
  await bag.saveAs(join(out, "export-" + bagName));
  summary.export = "export-" + bagName;
  summary.recipient = recipient;
  await page.waitForFunction(() => document.getElementById("handover-status").dataset.state === "done");
  await shot("09-exported");

  // 10. The other pages render without errors.
  for (const p of ["incidents", "persons", "search?q=synthetic", "settings"]) {
    await page.goto(base + "/#/" + p);
    await page.waitForSelector("main h1");
    await shot("10-" + p.split("?")[0]);
  }
  // 11. Security: set up a second factor (the key read off the page, as one would type it
  // into an app), confirm it, see the recovery codes once; sign in again with a code on the
  // log-in page; end another browser's session from the list.
  await page.goto(base + "/#/security");
  await page.click("#factor-start");
  await page.waitForSelector("#factor-secret");
  check((await page.$("#second-factor svg.qr")) !== null, "QR code shown");
  const factorKey = base32(await page.textContent("#factor-secret"));
  const enrolled = stepNow();
  await page.fill("#factor-code", totp(factorKey, enrolled));
  await shot("11-factor-setup");
  await page.click("#factor-confirm button[type=submit]");
  await page.waitForSelector("#recovery-codes li");
  check((await page.$$("#recovery-codes li")).length === 10, "ten recovery codes shown");
  const recovery = (await page.textContent("#recovery-codes li code")).trim();
  await shot("12-recovery-codes");
  await page.click("#recovery-codes button");
  await page.waitForSelector("#factor-on");
  check((await page.textContent("#factor-on")).includes("10 recovery codes"), "second factor on");
  const other = await browser.newContext();
  const signIn = (code) => other.request.post(base + "/api/login", {
    data: { username: env("ATHAR_USER"), password: env("ATHAR_PASSWORD"), code },
  });
  check((await signIn(null)).status() === 401, "without a code, no sign-in");
  check((await signIn(totp(factorKey, enrolled + 1))).ok(), "another browser signs in with a code");
  await page.click("#logout");
  await page.waitForURL(/\/login$/);
  await page.fill("input[name=username]", env("ATHAR_USER"));
  await page.fill("input[name=password]", env("ATHAR_PASSWORD"));
  // A recovery code in place of a code: the app opens the Security page, one code fewer.
  await page.fill("input[name=code]", recovery);
  await page.click("button[type=submit]");
  await page.waitForSelector("#factor-on");
  check((await page.textContent("#factor-on")).includes("9 recovery codes"), "a recovery code used");
  await page.waitForSelector("#sessions tr[data-session]");
  check((await page.$$("#sessions tr[data-session]")).length === 2, "two sessions listed");
  check((await page.$$("#sign-ins tr")).length >= 4, "sign-ins listed");
  await shot("13-security");
  await page.click("#sessions tr[data-session] button");
  await page.waitForFunction(() => document.querySelectorAll("#sessions tr[data-session]").length === 1);
  check((await other.request.get(base + "/api/me")).status() === 401, "the other browser is signed out");
  await other.close();

  await mapSteps(page, { base, check, shot, log });

  // 11b. Review of person matches: side by side, decided from the keyboard, undone.
  await reviewSteps(page, { base, check, shot, caseName, user: env("ATHAR_USER") });

  // 11c. Web captures: a page of the fixture site pasted, captured, kept (e2e/captures.mjs).
  if (process.env.ATHAR_CAPTURE_URL) {
    await captureSteps(page, { base, check, shot, caseName, url: process.env.ATHAR_CAPTURE_URL });
  } else {
    log("notice: no ATHAR_CAPTURE_URL: web capture not tried");
  }

  // 12. The interface in Arabic and English, at 1280 and 390 px, on every page.
  await interfaceSteps(page, browser, { base, out, check, shot, log, caseName, item });
  await linkageRunStep(page, { base, check, caseName });

  check(problems.length === 0, "no script errors" + (problems.length ? ": " + problems.join("; ") : ""));
  writeFileSync(join(out, "summary.json"), JSON.stringify(summary, null, 2));
  log("all steps passed");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("e2e: FAILED:", e.message);
  if (problems.length) console.error("e2e: page problems:", problems.join("; "));
  process.exitCode = 1;
} finally {
  await browser.close();
}
