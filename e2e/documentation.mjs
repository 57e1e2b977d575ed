// Documentation in the web app, in the browser (called from web.mjs once the uploaded video
// has its fingerprints): create a place (picked on the map), a victim (a person named in
// Arabic and Latin letters) and a perpetrator unit (an org); an incident with an Arabic
// title, the place and a date interval; an act of it with the victim and the unit; link a
// time range of the uploaded video to the incident from the item page ("start here" and
// "end here" on the player); find the incident by an Arabic search and open it; check its
// page shows the act, victim, perpetrator, place and the linked range; edit it and see two
// versions in its history; try to delete the place the incident refers to and see the
// refusal. The names are synthetic.
//
// The video is loaded once here; the item page's later steps in web.mjs count the access
// events it makes (one access per viewing: the player's range requests within ten minutes
// are covered by it).

const PLACE_AR = "موقع المثال للحرق";
const PLACE_EN = "Example burning site";
const VICTIM_AR = "زيد المثال";
const VICTIM_EN = "Zaid al-Mithal";
const UNIT_AR = "الوحدة التجريبية ٠٠٠";
const UNIT_EN = "Test Unit 000";
const TITLE_AR = "حرق الجثث في موقع المثال";

export async function documentationSteps(page, { base, check, shot, log, item, caseName }) {
  const go = async (hash) => {
    await page.goto(base + "/" + hash);
    await page.waitForSelector("main h1");
  };
  // Saves the form on the page and waits for the record page it opens: its id.
  const save = async (pagePrefix) => {
    const before = page.url();
    await page.click("#save-record");
    await page.waitForFunction((b) => location.href !== b && !location.hash.startsWith("#/record/new"), before, { timeout: 15_000 })
      .catch(async () => {
        const err = await page.textContent("#record-form").catch(() => "");
        throw new Error("the form was not saved: " + err);
      });
    await page.waitForSelector("#record-title");
    const m = new RegExp("#/" + pagePrefix + "/([0-9A-Z]{26})").exec(page.url());
    if (!m) throw new Error("not on a " + pagePrefix + " page: " + page.url());
    return m[1];
  };
  // Picks a record by name in the picker `id`: types, searches, clicks the hit.
  const pick = async (scope, query, expectText) => {
    const input = await page.waitForSelector(scope + " input[type=search]");
    await input.fill(query);
    await input.press("Enter");
    const hit = await page.waitForSelector(scope + " button.pick", { timeout: 15_000 });
    const text = await hit.textContent();
    check(text.includes(expectText), `picker finds "${expectText}" by "${query}"`);
    await hit.click();
    await page.waitForSelector(scope + " ul.chips li");
  };

  // 1. A place: two names, a type, coordinates picked on the map.
  await go("#/record/new?kind=place&case=" + encodeURIComponent(caseName));
  await page.waitForSelector("#record-form[data-kind=place]");
  await page.fill('[data-field=names] li:nth-child(1) input', PLACE_AR);
  await page.click('[data-add=names]');
  await page.fill('[data-field=names] li:nth-child(2) input', PLACE_EN);
  await page.selectOption('[data-field=place_type] select', "burning_site");
  const map = await page.waitForSelector("[data-field=coordinates] .place-picker svg");
  await map.scrollIntoViewIfNeeded();
  const box = await map.boundingBox();
  await page.mouse.click(box.x + box.width * 0.45, box.y + box.height * 0.4);
  const lat = await page.inputValue("[data-field=coordinates] [data-part=lat]");
  check(lat !== "" && Number(lat) > 30 && Number(lat) < 38, "a place picked on the map gives coordinates: " + lat);
  await shot("d01-place-form");
  const place = await save("place");
  check((await page.textContent("main")).includes(PLACE_AR), "the place page shows its Arabic name");

  // 2. The victim, a person named in two scripts.
  await go("#/record/new?kind=person&case=" + encodeURIComponent(caseName));
  await page.fill('[data-field=names] li:nth-child(1) input', VICTIM_AR);
  await page.click('[data-add=names]');
  await page.fill('[data-field=names] li:nth-child(2) input', VICTIM_EN);
  await page.selectOption('[data-field=status] select', "dead");
  const person = await save("person");

  // 3. The perpetrator unit.
  await go("#/record/new?kind=org&case=" + encodeURIComponent(caseName));
  await page.fill('[data-field=names] li:nth-child(1) input', UNIT_AR);
  await page.click('[data-add=names]');
  await page.fill('[data-field=names] li:nth-child(2) input', UNIT_EN);
  await page.selectOption('[data-field=org_type] select', "army");
  const org = await save("org");

  // 4. The incident: an Arabic title, a date interval, the place picked by name. A bad
  // interval first: the server's message (the CLI's parser) is shown beside the field.
  await go("#/incidents");
  await page.click("#new-incident");
  await page.waitForSelector("#record-form[data-kind=incident]");
  await page.selectOption("#f-case", caseName);
  await page.fill("[data-field=title] input", TITLE_AR);
  await page.selectOption("[data-field=date] [data-part=mode]", "range");
  await page.fill("[data-field=date] [data-part=from]", "2012-13");
  await page.fill("[data-field=date] [data-part=to]", "2013");
  await page.click("#save-record");
  await page.waitForFunction(() => {
    const e = document.querySelector("[data-field=date] .field-error");
    return e && e.textContent.length > 0;
  });
  const dateError = await page.textContent("[data-field=date] .field-error");
  check(dateError.startsWith("date:"), "the parser's message is shown beside the date: " + dateError);
  await shot("d02-incident-error");
  await page.fill("[data-field=date] [data-part=from]", "2012-03");
  await pick("[data-field=places]", "موقع المثال", PLACE_AR);
  await page.selectOption("[data-field=status] select", "alleged");
  const incident = await save("incident");
  check((await page.textContent("[data-field=date]")).length > 0, "the incident page shows its date interval");

  // 5. An act of it: a victim (the person) and a perpetrator (the unit, which carried it out).
  await page.click("#add-act");
  await page.waitForSelector("#record-form[data-kind=act]");
  await page.waitForFunction(() => document.querySelector("[data-field=incident] ul.chips li"));
  await page.selectOption("[data-field=violation] select", "destruction_of_remains");
  await page.selectOption("[data-field=date] [data-part=mode]", "single");
  await page.fill("[data-field=date] [data-part=from]", "2012-03-04");
  await page.click("[data-add=victims]");
  await pick("[data-field=victims] li[data-row]", "زيد", VICTIM_AR);
  await page.click("[data-add=perpetrators]");
  await pick("[data-field=perpetrators] li[data-row] [data-picker*=perp-org]", "Test Unit", UNIT_AR);
  await page.selectOption("[data-field=perpetrators] [data-part=involvement]", "carried_out");
  await shot("d03-act-form");
  await page.click("#save-record");
  await page.waitForFunction((id) => location.hash === "#/incident/" + id, incident, { timeout: 15_000 });
  await page.waitForSelector("#acts [data-act]");

  // 6. Link a time range of the uploaded video to the incident from the item page.
  await go("#/item/" + item);
  await page.waitForSelector("#link-form");
  await pick("#link-form", "حرق الجثث", TITLE_AR);
  await page.click("#start-here");
  check((await page.textContent("#link-video-note")).length > 0, "without the video, start here asks to load it");
  await page.click("#load-video");
  const video = await page.waitForSelector("#video");
  const playable = await video.evaluate((v) => v.canPlayType('video/mp4; codecs="avc1.42E01E"'));
  let start = "1", end = "2.5";
  if (playable) {
    const seek = (t) => video.evaluate((v, t) => new Promise((ok, bad) => {
      const timer = setTimeout(() => bad(new Error("video did not seek")), 30_000);
      const go = () => {
        v.addEventListener("seeked", () => { clearTimeout(timer); ok(); }, { once: true });
        v.currentTime = t;
      };
      if (v.readyState >= 1) go(); else v.addEventListener("loadedmetadata", go, { once: true });
    }), t);
    await seek(1);
    await page.click("#start-here");
    await seek(2.5);
    await page.click("#end-here");
    check(await page.inputValue("#link-start") === "1" && await page.inputValue("#link-end") === "2.5",
      "start and end taken from the player");
  } else {
    log("notice: this chromium cannot play H.264; the range is typed");
    await page.fill("#link-start", start);
    await page.fill("#link-end", end);
  }
  await page.selectOption("#link-verification", "chronolocated");
  await page.fill("#link-note", "synthetic test range");
  await shot("d04-link-form");
  await page.click("#link-save");
  await page.waitForSelector(`#item-links li[data-target="${incident}"]`, { timeout: 15_000 });
  check(true, "the item lists its link to the incident");

  // 7. Find the incident by an Arabic search (another form of a word of its title) and open it.
  await go("#/search?q=" + encodeURIComponent("الجثث") + "&kind=incident");
  const hit = await page.waitForSelector(`a[data-hit="${incident}"]`, { timeout: 15_000 });
  await shot("d05-search");
  await hit.click();
  await page.waitForFunction((id) => location.hash === "#/incident/" + id, incident);
  await page.waitForSelector("#acts [data-act]");
  await page.waitForSelector("#history [data-versions]");

  // 8. Its page: act, victim, perpetrator, place, linked evidence with the range.
  const acts = await page.textContent("#acts");
  check(acts.includes("destruction of remains"), "the act is shown");
  check(await page.$(`#acts [data-victim="${person}"] a`) !== null && acts.includes(VICTIM_AR), "the victim is shown");
  check(await page.$(`#acts [data-perpetrator="${org}"] a`) !== null && acts.includes(UNIT_AR) && acts.includes("carried it out"),
    "the perpetrator unit and its involvement are shown");
  check(await page.$(`[data-field=places] a[data-record="${place}"]`) !== null, "the place is shown");
  const range = await page.getAttribute(`#linked-evidence tr[data-item="${item}"] td[data-range]`, "data-range");
  check(range === start + "-" + end, "the linked evidence shows its range: " + range);
  check((await page.textContent("#linked-evidence")).includes("0:01"), "the range is shown as a time");
  check(await page.getAttribute("#history [data-versions]", "data-versions") === "1", "one version before the edit");
  await shot("d06-incident");

  // At 390 px the page does not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot("d07-incident-390");
  await page.setViewportSize({ width: 1280, height: 900 });
  check(overflow <= 0, "no horizontal scroll at 390 px on the incident page: " + overflow);

  // 9. Edit it: the history shows two versions.
  await page.click("#edit-record");
  await page.waitForSelector("#record-form[data-kind=incident]");
  await page.selectOption("[data-field=status] select", "corroborated");
  await page.fill("[data-field=description] textarea", "وصف اصطناعي للاختبار");
  await page.click("#save-record");
  await page.waitForFunction((id) => location.hash === "#/incident/" + id, incident);
  await page.waitForSelector("#history [data-versions]");
  check(await page.getAttribute("#history [data-versions]", "data-versions") === "2", "the history shows two versions");
  check((await page.$$("#history tr[data-action=edit]")).length === 1, "one edit in the history");
  check((await page.textContent("[data-field=status]")).includes("corroborated"), "the edit is shown");
  await shot("d08-history");

  // 10. Deleting the place the incident refers to is refused, plainly.
  await go("#/place/" + place);
  page.once("dialog", (d) => d.accept());
  await page.click("#delete-record");
  await page.waitForFunction(() => document.getElementById("delete-error").textContent.length > 0);
  const refusal = await page.textContent("#delete-error");
  check(refusal.includes("other records refer to this one"), "deleting a referred-to record is refused: " + refusal);
  await shot("d09-delete-refused");
  const still = await page.evaluate(async (id) => (await fetch("/api/records/" + id)).status, place);
  check(still === 200, "the place is still there");

  // Back on the item page for the steps that follow.
  await page.goto(base + "/#/item/" + item);
  await page.reload();
  return { place, person, org, incident };
}
