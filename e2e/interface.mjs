// The interface in Arabic and English, on a wide and a narrow screen, checked on every page
// of the app (called from web.mjs, signed in, near its end):
//
// - Arabic chosen on the Settings page applies at once: <html lang="ar" dir="rtl">, the
//   navigation and the page in Arabic; kept by the server (a reload keeps it) and on the
//   device (for the log-in page); the header's quick switch goes back to English.
// - On every page the router in js/main.js knows (a route missing from PAGES below fails
//   the test), in both languages: no message key without a translation
//   (window.ATHAR_MISSING stays empty); in Arabic no untranslated English text outside
//   data (names, ids, times and codes are isolated in <bdi>, <code>, <time>, dir="auto");
//   at 390 px no horizontal page scroll and a header of one short row whose menu button
//   opens the navigation; axe-core finds no serious or critical accessibility violation;
//   screenshots at 1280 and 390 px into the artefacts folder.
// - Finally the language is set back to the browser's, as it was.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// axe-core's browser bundle, evaluated in the page (an inline <script> would be refused by
// the app's Content-Security-Policy, as it should be).
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// Every page of the app: `route` is its first path segment in js/main.js's router, `path`
// its address (from what earlier steps made: the case's name, the uploaded item, or a link
// found on a page visited before). `pending` lists checks not yet enforced on a page whose
// owner has not translated it yet ("text": untranslated English in the Arabic page;
// "scroll": horizontal page scroll at 390 px; "axe": accessibility findings):
// they still run and report what they find as notices. Remove an entry from `pending` once
// its page passes; add a page here when a route is added to main.js, for example
// { route: "incident", path: (c, links) => links.get("incident") } (the first link to an
// incident page on the pages above it).
const PAGES = [
  { route: "cases", path: () => "/cases" },
  { route: "case", path: (c) => "/case/" + encodeURIComponent(c.caseName) },
  { route: "case", name: "handover", path: (c) => "/case/" + encodeURIComponent(c.caseName) + "/handover" },
  { route: "item", path: (c) => "/item/" + c.item },
  { route: "incidents", path: () => "/incidents" },
  { route: "incident", path: (c, links) => links.get("incident") },
  { route: "place", path: (c, links) => links.get("place") },
  { route: "org", path: (c, links) => links.get("org") },
  { route: "persons", path: () => "/persons" },
  { route: "person", path: (c, links) => links.get("person") },
  { route: "record", name: "record-new", path: () => "/record/new?kind=incident" },
  { route: "record", name: "record-edit", path: (c, links) => links.get("incident") && links.get("incident").replace("/incident/", "/record/") + "/edit" },
  { route: "review", path: (c) => "/review?case=" + encodeURIComponent(c.caseName) },
  { route: "captures", path: (c) => "/captures?case=" + encodeURIComponent(c.caseName) },
  { route: "search", path: () => "/search?q=synthetic" },
  { route: "upload", path: () => "/upload" },
  { route: "settings", path: () => "/settings" },
  { route: "security", path: () => "/security" },
];

// Latin-script words allowed in the Arabic interface: names of things that have no Arabic
// name (apps, formats).
const PROPER = new Set(["QR", "TOTP", "FreeOTP", "Aegis", "English", "SHA", "PDQ", "vPDQ", "BagIt", "UTC", "Athar"]);

const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };

export async function interfaceSteps(page, browser, { base, out, check, shot, log, caseName, item }) {
  const notices = [];
  const notice = (what) => { notices.push(what); log("notice:", what); };

  // Every route of the router is a page checked here.
  const router = await (await fetch(base + "/assets/js/main.js")).text();
  const routes = [...router.matchAll(/case\s+"([\w-]+)"\s*:/g)].map((m) => m[1]);
  check(routes.length >= 8, "routes read from js/main.js: " + routes.join(", "));
  const missingPages = routes.filter((r) => !PAGES.some((p) => p.route === r));
  check(missingPages.length === 0, "every route has a page in e2e/interface.mjs"
    + (missingPages.length ? " (add: " + missingPages.join(", ") + ")" : ""));

  const lang = () => page.evaluate(() => [document.documentElement.lang, document.documentElement.dir]);
  const settings = () => page.evaluate(async () => (await fetch("/api/me/settings", { credentials: "same-origin" })).json());

  // 1. Arabic, chosen on the Settings page: applied at once, without a reload.
  await page.setViewportSize(WIDE);
  await page.goto(base + "/#/settings");
  await page.waitForSelector("#settings-lang");
  await page.evaluate(() => { window.__athar_same_document = true; });
  await page.selectOption("#settings-lang", "ar");
  await page.waitForFunction(() => document.documentElement.dir === "rtl");
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "الإعدادات");
  check((await lang()).join() === "ar,rtl", 'Arabic: <html lang="ar" dir="rtl">');
  check(await page.evaluate(() => window.__athar_same_document === true), "applied without a reload");
  check((await page.textContent('header nav a[href="#/cases"]')).trim() === "القضايا", "the navigation in Arabic");
  check((await page.textContent("#logout")).trim() === "تسجيل الخروج", "log out in Arabic");
  check((await page.inputValue("#lang-switch")) === "ar", "the header's switch shows Arabic");
  check((await settings()).lang === "ar", "the choice kept by the server");
  check(await page.evaluate(() => localStorage.getItem("athar.lang")) === "ar", "and on this device");
  await page.reload();
  await page.waitForSelector("main h1");
  check((await lang()).join() === "ar,rtl", "still Arabic after a reload");
  await shot("20-settings-ar");

  // 2. Every page, in Arabic, then (switched in the header) in English.
  const visitAll = async (language) => {
    const links = new Map();
    const context = { caseName, item };
    for (const p of PAGES) {
      const path = p.path(context, links);
      const name = p.name || p.route;
      check(typeof path === "string", `${name} (${language}): an address for the page (a link to it on a page before)`);
      // A full load of each page: its own ATHAR_MISSING, nothing left from the one before.
      await page.setViewportSize(WIDE);
      await page.goto("about:blank");
      await page.goto(base + "/#" + path);
      await page.waitForSelector("main h1", { timeout: 30_000 });
      await page.waitForLoadState("networkidle", { timeout: 10_000 }).catch(() => {});
      await page.waitForTimeout(200);
      const where = `${name} (${language})`;
      check((await lang())[0] === language, where + ": shown in " + language);
      for (const href of await page.$$eval("main a[href^='#/']", (as) => as.map((a) => a.getAttribute("href")))) {
        const route = href.slice(2).split(/[/?]/)[0];
        if (!links.has(route)) links.set(route, href.slice(1));
      }

      const missing = await page.evaluate(() => window.ATHAR_MISSING.slice());
      check(missing.length === 0, where + ": every message translated" + (missing.length ? ": " + missing.join(", ") : ""));
      if (language === "ar") {
        const english = await untranslated(page);
        const what = where + ": no untranslated English" + (english.length ? ": " + english.slice(0, 12).join(" | ") : "");
        if ((p.pending || []).includes("text")) {
          if (english.length) notice("pending " + what);
        } else {
          check(english.length === 0, what);
        }
      }
      await axeCheck(page, p, where + " at 1280 px", check, notice);
      await page.screenshot({ path: join(out, `i18n-${language}-${name}-1280.png`), fullPage: true });

      await page.setViewportSize(NARROW);
      // Layout settles (images arriving, fonts) before it is measured.
      await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, null, { timeout: 3000 })
        .catch(() => {});
      const sizes = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
        header: document.querySelector("header").getBoundingClientRect().height,
        wide: [...document.querySelectorAll("body *")]
          .filter((e) => {
            // What a scrolling region holds scrolls inside it.
            if (e.parentElement && e.parentElement.closest(".table-scroll")) return false;
            const r = e.getBoundingClientRect();
            return r.right > window.innerWidth + 0.5 || r.left < -0.5;
          })
          .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "")
            + " " + Math.round(e.getBoundingClientRect().left) + ".." + Math.round(e.getBoundingClientRect().right)),
      }));
      const scroll = `${where}: no horizontal scroll at 390 px (${sizes.scroll} <= ${sizes.inner})`
        + (sizes.wide.length ? "; too wide: " + sizes.wide.join(", ") : "");
      if ((p.pending || []).includes("scroll")) {
        if (sizes.scroll > sizes.inner) notice("pending " + scroll);
      } else {
        check(sizes.scroll <= sizes.inner, scroll);
      }
      check(sizes.header <= 72, `${where}: the header takes ${Math.round(sizes.header)} px at 390 px`);
      await axeCheck(page, p, where + " at 390 px", check, notice);
      await page.screenshot({ path: join(out, `i18n-${language}-${name}-390.png`), fullPage: true });
    }
  };

  await visitAll("ar");

  // The narrow header: the menu button opens the navigation, a link closes it.
  await page.goto(base + "/#/settings");
  await page.waitForSelector("#settings-lang");
  check(!(await page.isVisible('header nav a[href="#/search"]')), "at 390 px the navigation is folded");
  await page.click("#menu");
  check((await page.getAttribute("#menu", "aria-expanded")) === "true", "the menu button opens it");
  await page.waitForSelector('header nav a[href="#/search"]', { state: "visible" });
  await page.screenshot({ path: join(out, "i18n-ar-menu-390.png") });
  await page.click('header nav a[href="#/search"]');
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "البحث");
  check(!(await page.isVisible('header nav a[href="#/search"]')), "and following a link folds it again");

  // English through the header's quick switch, at once.
  await page.setViewportSize(WIDE);
  await page.selectOption("#lang-switch", "en");
  await page.waitForFunction(() => document.documentElement.dir === "ltr");
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Search");
  check((await lang()).join() === "en,ltr", "the header's switch: English, left to right");
  check((await settings()).lang === "en", "the switch kept by the server");
  await visitAll("en");

  // 3. The log-in page, before anyone signs in: in the browser's language (here Arabic),
  // right to left, its refusals in Arabic too.
  const arabicBrowser = await browser.newContext({ locale: "ar-SY", viewport: NARROW });
  try {
    const login = await arabicBrowser.newPage();
    await login.goto(base + "/login");
    await login.waitForFunction(() => document.documentElement.dir === "rtl");
    check((await login.textContent("button[type=submit]")).trim() === "دخول", "the log-in page in the browser's Arabic");
    check(await login.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "the log-in page fits 390 px");
    await axeCheck(login, { route: "login" }, "log-in (ar) at 390 px", check, notice);
    await login.fill("input[name=username]", "synthetic-nobody");
    await login.fill("input[name=password]", "not-the-password");
    await login.click("button[type=submit]");
    await login.waitForFunction(() => document.getElementById("error").textContent !== "");
    check((await login.textContent("#error")).startsWith("اسم المستخدم أو كلمة المرور أو الرمز غير صحيح"), "a refused log-in explained in Arabic: " + await login.textContent("#error"));
    await login.screenshot({ path: join(out, "i18n-ar-login-390.png"), fullPage: true });
    check(await login.evaluate(() => window.ATHAR_MISSING.length === 0), "the log-in page: every message translated");
  } finally {
    await arabicBrowser.close();
  }

  // 4. Back to the browser's language, as before these steps.
  await page.setViewportSize(WIDE);
  await page.goto(base + "/#/settings");
  await page.waitForSelector("#settings-lang");
  await page.selectOption("#settings-lang", "");
  await page.waitForFunction(() => document.querySelector("#settings-lang")?.value === "");
  check((await settings()).lang === "", "back to the browser's language");
  check((await lang()).join() === "en,ltr", "the browser's language here: English");
  if (notices.length) log(`${notices.length} pending findings on pages not yet translated (see notices above)`);
}

// Text in the Arabic page that reads as English: Latin-script words outside data.
async function untranslated(page) {
  return page.evaluate((proper) => {
    const DATA = "bdi, code, kbd, samp, pre, time, script, style, svg, option, textarea, [dir=auto], [dir=ltr], [translate=no]";
    const found = [];
    for (const root of [document.querySelector("header"), document.getElementById("main")]) {
      const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const host = n.parentElement;
        if (!host || host.closest(DATA)) continue;
        const language = host.closest("[lang]");
        if (language && language.lang !== "ar") continue;
        if (!host.getClientRects().length) continue; // not shown
        // Data isolated inside a message (U+2068 … U+2069) is the user's, not the app's.
        const text = n.textContent.replace(/\u2068[^\u2069]*\u2069/g, "");
        const words = (text.match(/[A-Za-z][A-Za-z'-]+/g) || []).filter((w) => !proper.includes(w));
        if (words.length) found.push(text.trim().slice(0, 60));
      }
    }
    return found;
  }, [...PROPER]);
}

// axe-core on the page as shown: no serious or critical violation.
// While axe-core runs, the policy's refusals of the inline styles it tries in its own
// measurements are axe's, not the app's: the browser test leaves those out of its problems.
export const axeRun = { running: false };

async function axeCheck(page, p, where, check, notice) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(axeSource);
  axeRun.running = true;
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  }).finally(() => { axeRun.running = false; });
  const what = where + ": no serious accessibility violation (axe-core)" + (violations.length ? ": " + violations.join("; ") : "");
  if ((p.pending || []).includes("axe")) {
    if (violations.length) notice("pending " + what);
  } else {
    check(violations.length === 0, what);
  }
}
