// The incidents timeline: one bar per dated incident.
import { svg } from "./core.js";

function day(s) { return Date.parse(s + "T00:00:00Z") / 86400000; }

export function timeline(list) {
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

