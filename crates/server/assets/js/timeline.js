// The incidents timeline: one bar per dated incident on an axis whose ticks (years, months
// or days) suit the span shown, labelled in the user's language; undated incidents listed
// apart. Built of HTML boxes placed with logical properties, so in Arabic time runs from
// right to left like the text. Wider than a phone when it has many ticks: it then scrolls
// inside its own box, the incidents' titles staying in view.
import { el, t } from "./core.js";
import { lang, calendarDate } from "./i18n.js";

const DAY = 86400000;

// A calendar date (YYYY-MM-DD) as a day number (days since 1970-01-01, UTC).
function day(s) { return Math.floor(Date.parse(s + "T00:00:00Z") / DAY); }
function dateOf(d) { return new Date(d * DAY); }

// The ticks: a unit (year, month or day) and a step of it, giving between 3 and about 10
// ticks over [lo, hi). Returns the padded span and the ticks' day numbers.
export function ticks(lo, hi) {
  const span = hi - lo;
  const unit = span > 3 * 366 ? "year" : span > 62 ? "month" : "day";
  const steps = { year: [1, 2, 5, 10, 20, 50, 100], month: [1, 2, 3, 6], day: [1, 2, 7, 14] }[unit];
  // Moves day d by n units (floored to a unit boundary first).
  const floor = (d) => {
    const x = dateOf(d);
    if (unit === "year") return day(x.getUTCFullYear() + "-01-01");
    if (unit === "month") return Math.floor(Date.UTC(x.getUTCFullYear(), x.getUTCMonth(), 1) / DAY);
    return d;
  };
  const add = (d, n) => {
    const x = dateOf(d);
    if (unit === "year") return Math.floor(Date.UTC(x.getUTCFullYear() + n, 0, 1) / DAY);
    if (unit === "month") return Math.floor(Date.UTC(x.getUTCFullYear(), x.getUTCMonth() + n, 1) / DAY);
    return d + n;
  };
  const count = (a, b) => {
    let n = 0;
    for (let d = a; d <= b; d = add(d, 1)) n++;
    return n;
  };
  let a = floor(lo);
  const b = unit === "day" ? hi : add(floor(hi - 1), 1);
  const total = count(a, b);
  const step = steps.find((s) => total / s <= 10) || steps[steps.length - 1];
  // Align the start to the step (years to multiples of it, months to quarters or halves)
  // and pad to at least 3 ticks.
  if (unit === "year") {
    const y = dateOf(a).getUTCFullYear();
    a = add(a, -(((y % step) + step) % step));
  } else if (unit === "month") {
    a = add(a, -(dateOf(a).getUTCMonth() % step));
  }
  const list = [];
  for (let d = a; ; d = add(d, step)) {
    list.push(d);
    if (d >= b && list.length >= 3) break;
  }
  return { unit, start: list[0], end: list[list.length - 1], ticks: list };
}

function tickLabel(d, unit) {
  const opts = { timeZone: "UTC" };
  if (unit === "year") opts.year = "numeric";
  else if (unit === "month") Object.assign(opts, { month: "short", year: "numeric" });
  else Object.assign(opts, { day: "numeric", month: "short" });
  return new Intl.DateTimeFormat(lang(), opts).format(dateOf(d));
}

// An incident's date as shown: its own precision (a year, a month, a day, a range).
function dateText(i) {
  const text = String(i.date || "");
  if (!text.includes("/")) return calendarDate(text || i.start || i.end);
  const [from, to] = text.split("/");
  if (from && to) return t("timeline.range", { from: calendarDate(from), to: calendarDate(to) });
  if (from) return t("timeline.from", { date: calendarDate(from) });
  return t("timeline.until", { date: calendarDate(to) });
}

const href = (i) => "#/incident/" + encodeURIComponent(i.id);

/** The timeline of `incidents` (all of them: those without a date are listed apart). */
export function timeline(incidents) {
  const dated = incidents.filter((i) => i.start || i.end);
  const undated = incidents.filter((i) => !(i.start || i.end));
  const parts = [];
  if (dated.length) {
    const spans = dated.map((i) => {
      const a = day(i.start || i.end), b = day(i.end || i.start) + 1;
      return { i, a, b, open: !(i.start && i.end) };
    }).sort((x, y) => x.a - y.a || x.b - y.b);
    const axis = ticks(Math.min(...spans.map((s) => s.a)), Math.max(...spans.map((s) => s.b)));
    const width = Math.max(1, axis.end - axis.start);
    const at = (d) => (100 * (d - axis.start)) / width;
    const place = (node, start, size) => {
      node.style.insetInlineStart = start + "%";
      if (size !== undefined) node.style.inlineSize = size + "%";
      return node;
    };
    const scale = el("div", { class: "tl-axis", "aria-hidden": "true" },
      axis.ticks.map((d) => place(el("span", { class: "tl-tick" }, tickLabel(d, axis.unit)), at(d))));
    const grid = el("div", { class: "tl-grid", "aria-hidden": "true" },
      axis.ticks.map((d) => place(el("span", { class: "tl-line" }), at(d))));
    const rows = el("ol", { class: "tl-rows" }, spans.map((s) => {
      const bar = place(el("span", { class: "tl-bar" + (s.open ? " open" : "") }), at(s.a), Math.max(0, at(s.b) - at(s.a)));
      return el("li", {}, el("a", { class: "tl-row", href: href(s.i), "data-incident": s.i.id },
        el("span", { class: "tl-label" }, el("span", { class: "tl-title", dir: "auto" }, s.i.title), " ",
          el("span", { class: "tl-date" }, dateText(s.i))),
        el("span", { class: "tl-track" }, bar)));
    }));
    const canvas = el("div", { class: "tl-canvas", "data-unit": axis.unit }, scale, el("div", { class: "tl-body" }, grid, rows));
    // Room for each tick's label: the canvas grows past a phone's width and scrolls.
    canvas.style.minInlineSize = axis.ticks.length * (axis.unit === "month" ? 6.5 : 5) + "rem";
    parts.push(el("div", { class: "tl-scroll", role: "group", tabindex: "0", "aria-label": t("timeline.label") }, canvas));
  } else {
    parts.push(el("p", { class: "muted" }, t("timeline.noDated")));
  }
  if (undated.length) {
    parts.push(el("section", { class: "tl-undated" },
      el("h3", {}, t("timeline.undated", { n: undated.length })),
      el("ul", {}, undated.map((i) => el("li", {}, el("a", { href: href(i), "data-incident": i.id, dir: "auto" }, i.title))))));
  }
  return el("div", { class: "timeline" }, parts);
}
