// Browser steps for the offline map and the timeline, called by web.mjs once logged in.
// The archive holds (crates/cli/tests/web_e2e.rs seeds them) a place with coordinates, an
// incident dated at it and an undated incident, with the titles below.
//
// Checks: the incidents page's map draws boundaries and town names, zooms and pans, has a
// marker for the seeded place whose popup links to the incident; the timeline has at least
// three tick labels and lists the undated incident under its own heading; in Arabic the
// towns and ticks are in Arabic and no map or timeline message is missing; the place picker
// reports a click's coordinates rounded to 5 decimals, and typed ones; at 390 px the
// incidents page does not scroll sideways; and no request leaves the server's origin.

export const DATED = "Synthetic shelling near the test square";
export const UNDATED = "Synthetic undated detention";

export async function mapSteps(page, { base, check, shot, log }) {
  const origin = new URL(base).origin;
  const elsewhere = [];
  const watch = (r) => {
    const url = r.url();
    if (!url.startsWith(origin + "/") && !url.startsWith("data:") && !url.startsWith("blob:")) elsewhere.push(url);
  };
  page.on("request", watch);
  try {
    const { incidents } = await page.evaluate(async () =>
      (await fetch("/api/incidents", { credentials: "same-origin" })).json());
    const dated = incidents.find((i) => i.title === DATED);
    const undated = incidents.find((i) => i.title === UNDATED);
    check(dated && undated, "the seeded incidents are listed by the API");
    const place = dated.places.find((p) => typeof p.lat === "number");
    check(place && typeof place.lat === "number", "the seeded place has coordinates");

    const open = async () => {
      await page.goto(base + "/#/cases");
      await page.waitForSelector("main h1");
      await page.goto(base + "/#/incidents");
      await page.waitForSelector(".incident-map[data-ready]", { timeout: 30_000 });
    };
    await open();

    // The map: boundaries, towns, a marker for the place, its popup linking to the incident.
    const map = ".incident-map";
    check(await page.$$eval(`${map} path.map-admin1`, (p) => p.length) > 10, "governorate boundaries drawn");
    check(await page.$$eval(`${map} path.map-border`, (p) => p.length) > 1, "country boundaries drawn");
    const towns = await page.$$eval(`${map} .map-town`, (t) => t.map((x) => x.textContent));
    check(towns.length >= 3 && towns.every((t) => t.trim().length > 0), "town names shown: " + towns.slice(0, 6).join(", "));
    const marker = `${map} .map-marker[data-place~="${place.id}"]`;
    await page.waitForSelector(marker);
    check(((await page.getAttribute(marker, "aria-label")) || "").includes(place.name), "the marker is named after its place");
    await page.click(marker);
    const link = await page.waitForSelector(`.leaflet-popup a[href="#/incident/${dated.id}"]`);
    check((await link.textContent()) === DATED, "the marker's popup links to the incident");
    await shot("14-map-popup");

    // Zoom with the control, then pan by dragging: the view changes each time.
    const view = () => page.$eval(map, (m) => ({ zoom: Number(m.dataset.zoom), center: m.dataset.center }));
    const before = await view();
    await page.click(`${map} .leaflet-control-zoom-in`);
    await page.waitForFunction((z) => Number(document.querySelector(".incident-map").dataset.zoom) > z, before.zoom);
    const zoomed = await view();
    check(zoomed.zoom === before.zoom + 1, `zoomed in (${before.zoom} → ${zoomed.zoom})`);
    const box = await page.$eval(map, (m) => { const r = m.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; });
    const [x, y] = [box.x + box.w * 0.6, box.y + box.h * 0.6];
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.mouse.move(x - 80, y - 40, { steps: 8 });
    await page.mouse.move(x - 160, y - 80, { steps: 8 });
    await page.mouse.up();
    await page.waitForFunction((c) => document.querySelector(".incident-map").dataset.center !== c, zoomed.center);
    const panned = await view();
    check(panned.center !== zoomed.center && panned.zoom === zoomed.zoom, `panned (${zoomed.center} → ${panned.center})`);
    await shot("15-map-zoomed");

    // The timeline: ticks, the dated incident's bar, the undated one apart.
    const ticks = await page.$$eval(".timeline .tl-tick", (t) => t.map((x) => x.textContent.trim()));
    check(ticks.length >= 3 && ticks.every((t) => t.length > 0), "timeline ticks: " + ticks.join(" | "));
    check((await page.$(`.timeline a.tl-row[href="#/incident/${dated.id}"] .tl-bar`)) !== null, "the dated incident has a bar linking to it");
    check((await page.$(`.timeline a.tl-row[href="#/incident/${undated.id}"]`)) === null, "the undated incident has no bar");
    const heading = await page.textContent(".timeline .tl-undated h3");
    check(heading.includes("Undated"), "undated incidents under their heading: " + heading);
    check((await page.$(`.timeline .tl-undated a[href="#/incident/${undated.id}"]`)) !== null, "the undated incident listed there");

    // The place picker: a click sets the place (5 decimals), typing sets it too.
    const picked = await page.evaluate(async () => {
      const { placePicker } = await import("/assets/js/map.js");
      window.E2E_PICKED = [];
      const node = placePicker({ lat: null, lon: null, onPick: (lat, lon) => window.E2E_PICKED.push([lat, lon]) });
      node.id = "e2e-picker";
      document.getElementById("main").append(node);
      return true;
    });
    check(picked, "a place picker mounted");
    await page.waitForSelector("#e2e-picker .place-picker[data-ready]");
    await page.locator("#e2e-picker .place-picker").scrollIntoViewIfNeeded();
    const pbox = await page.$eval("#e2e-picker .place-picker", (m) => { const r = m.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; });
    await page.mouse.click(pbox.x + pbox.w / 2, pbox.y + pbox.h / 2);
    await page.waitForFunction(() => window.E2E_PICKED.length === 1);
    const [clat, clon] = await page.evaluate(() => window.E2E_PICKED[0]);
    const five = (v) => Math.abs(v * 1e5 - Math.round(v * 1e5)) < 1e-6;
    check(clat > 29 && clat < 39 && clon > 32 && clon < 49 && five(clat) && five(clon), `a click picks ${clat}, ${clon}`);
    check(Number(await page.inputValue("#e2e-picker .map-lat")) === clat, "the picked latitude is shown in its field");
    await page.fill("#e2e-picker .map-lat", "36.2021");
    await page.fill("#e2e-picker .map-lon", "37.1343");
    await page.press("#e2e-picker .map-lon", "Enter");
    await page.locator("#e2e-picker .map-lat").focus();
    await page.waitForFunction(() => window.E2E_PICKED.some(([a, b]) => a === 36.2021 && b === 37.1343));
    check(true, "typed coordinates are picked");
    await shot("16-place-picker");

    // Arabic: towns and ticks in Arabic, nothing of this area missing from the catalogue.
    await page.evaluate(async () => (await import("/assets/js/i18n.js")).applyLanguage("ar"));
    await open();
    await page.waitForFunction(() => document.querySelectorAll(".incident-map .map-town").length >= 3);
    const arabicTowns = await page.$$eval(".incident-map .map-town", (t) => t.filter((x) => /[\u0600-\u06ff]/.test(x.textContent)).length);
    check(arabicTowns >= 3, `town names in Arabic (${arabicTowns})`);
    const arHeading = await page.textContent(".timeline .tl-undated h3");
    check(/[\u0600-\u06ff]/.test(arHeading), "the undated heading in Arabic: " + arHeading);
    const missing = await page.evaluate(() => (window.ATHAR_MISSING || []).filter((k) => /^ar:(map|timeline)\./.test(k)));
    check(missing.length === 0, "no map or timeline message missing in Arabic" + (missing.length ? ": " + missing.join(", ") : ""));
    await shot("17-incidents-ar");
    await page.evaluate(async () => (await import("/assets/js/i18n.js")).applyLanguage("en"));

    // A phone: no sideways scroll of the page; the timeline scrolls inside its own box.
    const size = page.viewportSize();
    await page.setViewportSize({ width: 390, height: 844 });
    await open();
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      map: document.querySelector(".incident-map").getBoundingClientRect().right,
      timeline: document.querySelector(".timeline").getBoundingClientRect().right,
    }));
    check(widths.map <= 390 && widths.timeline <= 390, `map and timeline fit 390 px (${widths.map}, ${widths.timeline})`);
    check(widths.page <= 390, `no horizontal page scroll at 390 px (${widths.page})`);
    await shot("18-incidents-390");
    await page.setViewportSize(size);

    check(elsewhere.length === 0, "no request left the server's origin" + (elsewhere.length ? ": " + elsewhere.join(", ") : ""));
    log("map and timeline steps passed");
  } finally {
    page.off("request", watch);
  }
}
