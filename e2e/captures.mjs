// Web captures in the browser (called from web.mjs, signed in as an investigator of the
// case, with ATHAR_CAPTURE_URL a page of the fixture web site that web_e2e.rs runs): the
// case's page leads to its captures page; a bad address pasted beside a good one is refused
// by name and nothing is queued; the good one pasted alone is queued, shown while it is
// captured (the page asks again by itself), then listed as kept: its title, its address,
// the watch's state (available), and its files, each linking to its item, whose custody
// history starts with a web-capture event. The capture is left in the case, so the
// interface checks (interface.mjs) see the page with it, in Arabic and English.

export async function captureSteps(page, { base, check, shot, caseName, url }) {
  await page.goto(base + "/#/case/" + encodeURIComponent(caseName));
  await page.waitForSelector("#case-captures");
  await page.click("#case-captures");
  await page.waitForSelector("#capture-form");
  check(page.url().includes("#/captures?case="), "the case's page leads to its captures");
  check((await page.getAttribute('header nav a[href="#/captures"]', "aria-current")) === "page", "the navigation marks the captures page");

  // Every address is checked before any is queued: the bad one is named.
  const bad = "ftp://example.org/not-a-web-page";
  await page.fill("#capture-urls", url + "\n\n" + bad + "\n");
  await page.click("#capture-submit");
  await page.waitForFunction(() => document.getElementById("capture-error").textContent !== "");
  const error = await page.textContent("#capture-error");
  check(error.includes(bad), "a bad address is refused by name: " + error);
  const listed = () => page.evaluate(async (c) => {
    const res = await fetch("/api/cases/" + encodeURIComponent(c) + "/captures", { credentials: "same-origin" });
    return res.json();
  }, caseName);
  const before = await listed();
  check(before.jobs.length === 0 && before.captures.length === 0, "nothing was queued");

  // The good one: queued, captured, kept.
  await page.fill("#capture-urls", url);
  await page.fill("#capture-source", "Synthetic channel");
  await page.click("#capture-submit");
  await page.waitForFunction(() => document.getElementById("capture-queued").textContent !== "");
  check((await page.textContent("#capture-error")) === "", "accepted without an error");
  await page.waitForFunction((u) => {
    const failed = document.querySelector("#capture-jobs li[data-state=failed]");
    if (failed) return true;
    const kept = [...document.querySelectorAll("article.capture [data-url]")].some((a) => a.textContent === u);
    return kept && !document.querySelector("#capture-jobs li[data-state=queued], #capture-jobs li[data-state=running]");
  }, url, { timeout: 240_000, polling: 500 });
  const failed = await page.$("#capture-jobs li[data-state=failed]");
  check(!failed, "the capture did not fail" + (failed ? ": " + await failed.textContent() : ""));
  const after = await listed();
  check(after.captures.length === 1 && after.captures[0].url === url, "the API lists the capture: " + JSON.stringify(after.captures.map((c) => c.url)));
  const kept = after.captures[0];
  const card = `article.capture[data-capture="${kept.id}"]`;
  await page.waitForSelector(card);
  check((await page.getAttribute(card + " [data-watch]", "data-watch")) === "available", "its source is available");
  check((await page.textContent(card + " [data-watch]")).trim() === "available", "the state in words");
  check(!(await page.$(card + " [data-only-copy]")), "no only-copy flag while the source is there");
  const title = (await page.textContent(card + " .capture-title")).trim();
  check(title.length > 0 && title === (kept.title || kept.url), "titled as captured: " + title);
  const links = await page.$$eval(card + " .capture-files a[data-item]", (as) => as.map((a) => [a.dataset.item, a.getAttribute("href")]));
  check(links.length === kept.files.length && links.length >= 4, `every file links to its item (${links.length})`);
  check(links.every(([id, href]) => href === "#/item/" + id), "links to item pages");
  const roles = await page.$$eval(card + " .capture-files li", (lis) => lis.map((li) => li.dataset.role));
  check(["wacz", "screenshot", "html-served"].every((r) => roles.includes(r)), "the bundle's files: " + roles.join(", "));
  await shot("captures");

  // A file's item: preserved with a web-capture custody event.
  await page.click(card + " .capture-files summary");
  await page.click(card + ' .capture-files li[data-role="screenshot"] a');
  await page.waitForSelector("#custody tr[data-seq]");
  const kinds = await page.$$eval("#custody tr[data-seq] td:nth-child(2)", (tds) => tds.map((td) => td.textContent));
  check(kinds.includes("web capture"), "the screenshot's custody starts with a web capture: " + kinds.join(", "));
}
