// Review of person matches (called from web.mjs, signed in as an investigator of the case):
// the pair the test prepared (two synthetic records of two lists, a `review` match) is shown
// side by side with the evidence for and against; S from the keyboard decides "same person",
// U undoes it, the Different button decides "different persons"; each decision is read back
// from the API: the match's decision, `by: reviewer`, and a custody event naming the user.
// The pair is left in the queue, so the interface checks (interface.mjs) see it.
// The persons page of the case then shows the list-overlap table and the way to the review.

export async function reviewSteps(page, { base, check, shot, caseName, user }) {
  const match = async () => {
    const r = await page.evaluate(async (c) => {
      const res = await fetch("/api/records?kind=match&case=" + encodeURIComponent(c), { credentials: "same-origin" });
      return res.json();
    }, caseName);
    return r.records[0];
  };
  const history = (id) => page.evaluate(async (i) => {
    const res = await fetch("/api/records/" + i + "/history", { credentials: "same-origin" });
    return res.json();
  }, id);

  await page.goto(base + "/#/review?case=" + encodeURIComponent(caseName));
  await page.waitForSelector("#review-side");
  const side = await page.textContent("#review-side");
  check(side.includes("Synthetic Reviewed One") && side.includes("سامر المراجع"), "the two records side by side");
  check((await page.$$("#review-weights li")).length >= 3, "the evidence: one line per field weighed");
  check((await page.$$("#review-weights .weight.for")).length >= 1 && (await page.$$("#review-weights .weight.against")).length >= 1,
    "evidence for and against");
  await shot("review-pair");

  // S: same person, from the keyboard.
  await page.click("main h1");
  await page.keyboard.press("s");
  await page.waitForSelector("#review-empty");
  let m = await match();
  check(m.decision === "same" && m.by === "reviewer", "S decided same person: " + JSON.stringify(m));
  let h = await history(m.id);
  check(h.events[h.events.length - 1].actor === user, "the decision is a custody event naming the reviewer");

  // U: undone, back in the queue.
  await page.keyboard.press("u");
  await page.waitForSelector("#review-side");
  m = await match();
  check(m.decision === "review", "U undid it: " + m.decision);

  // The button: different persons.
  await page.click("#review-different");
  await page.waitForSelector("#review-empty");
  m = await match();
  check(m.decision === "different" && m.by === "reviewer", "the Different button: " + m.decision);
  h = await history(m.id);
  check(h.events.length === 4, "create, same, undo, different: " + h.events.length + " events");
  // Undone again, so the pages checked in both languages and widths show a pair.
  await page.click("main h1");
  await page.keyboard.press("u");
  await page.waitForSelector("#review-side");
  check((await match()).decision === "review", "undone again: back to review");

  // Decided the same person, search shows the two records as one hit with both spellings;
  // then the pair goes back to review.
  const decide = (id, decision) => page.evaluate(async ([i, d]) => {
    const csrf = (document.cookie.match(/(?:^|;\s*)athar_csrf=([^;]+)/) || [])[1] || "";
    const res = await fetch("/api/matches/" + i + "/decision", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ decision: d }) });
    return res.status;
  }, [id, decision]);
  check((await decide(m.id, "same")) === 200, "decided same through the API");
  await page.goto(base + "/#/search?kind=person&q=" + encodeURIComponent("Synthetic Reviewed One"));
  await page.waitForSelector("#search-total");
  const hits = await page.$$eval("[data-hit]", (as) => as.map((a) => a.getAttribute("data-hit")));
  check(m.persons.filter((x) => hits.includes(x)).length === 1, "search shows the person once: " + hits.join(", "));
  const also = await page.textContent("[data-same-as]");
  check(also.includes("سامر المراجع") && also.includes("Synthetic Reviewed One"), "with both spellings: " + also);
  check((await decide(m.id, "review")) === 200, "back to review");
  await page.goto(base + "/#/review?case=" + encodeURIComponent(caseName));
  await page.waitForSelector("#review-side");

  // Record A's page lists the pair waiting for review and leads to it.
  await page.click("#review-side thead a");
  await page.waitForSelector("#same-person [data-match]");
  check((await page.textContent("#same-person")).includes("سامر المراجع"), "the person's page shows the record it may be");
  check(await page.isVisible("#same-person a[href^='#/review']"), "and leads to its review");

  // The persons page: the overlap table and the way to the review.
  await page.goto(base + "/#/persons?case=" + encodeURIComponent(caseName));
  await page.waitForSelector("#list-overlap");
  check(await page.isVisible("#review-link"), "the persons page leads to the review");
  await shot("persons-across-lists");
}

// The investigator links the case's persons from the review page (after the interface
// checks, which see the prepared pair): the page reports the run, and the API's persons
// count every person record of the case once.
export async function linkageRunStep(page, { base, check, caseName }) {
  await page.goto(base + "/#/review?case=" + encodeURIComponent(caseName));
  await page.waitForSelector("#review-run");
  await page.click("#review-run");
  await page.waitForFunction(() => /\d+ records make \d+ persons/.test(document.getElementById("review-status").textContent));
  const status = await page.textContent("#review-status");
  const counts = await page.evaluate(async (c) => {
    const p = await (await fetch("/api/cases/" + encodeURIComponent(c) + "/persons", { credentials: "same-origin" })).json();
    const r = await (await fetch("/api/records?kind=person&case=" + encodeURIComponent(c), { credentials: "same-origin" })).json();
    return { persons: p.count, records: r.records.length };
  }, caseName);
  check(status.includes(counts.records + " records make " + counts.persons + " persons"),
    "the run from the review page: " + status + " " + JSON.stringify(counts));
}
