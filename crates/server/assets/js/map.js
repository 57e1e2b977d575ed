// Maps: the places of incidents; picking a place's coordinates.
import { svg } from "./core.js";

// Equirectangular projection of the embedded outline and the places, scaled by cos(lat).
export function incidentMap(incidents) {
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

// A place chosen on the outline by a click, or typed: calls onPick(lat, lon).
export function placePicker({ lat, lon, onPick }) {
  const outline = window.ATHAR_OUTLINE.points;
  const lons = outline.map((p) => p[0]), lats = outline.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...lons) - 0.3, Math.max(...lons) + 0.3, Math.min(...lats) - 0.3, Math.max(...lats) + 0.3];
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180), W = 700;
  const H = Math.round(W * (y1 - y0) / ((x1 - x0) * k));
  const px = (v) => ((v - x0) / (x1 - x0)) * W, py = (v) => ((y1 - v) / (y1 - y0)) * H;
  const mark = svg("circle", { class: "place", r: 6, cx: -10, cy: -10 });
  const s = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "picker", role: "img" },
    svg("polygon", { class: "outline", points: outline.map(([a, b]) => px(a).toFixed(1) + "," + py(b).toFixed(1)).join(" ") }), mark);
  const put = (la, lo) => { mark.setAttribute("cx", px(lo).toFixed(1)); mark.setAttribute("cy", py(la).toFixed(1)); };
  if (typeof lat === "number" && typeof lon === "number") put(lat, lon);
  s.addEventListener("click", (ev) => {
    const box = s.getBoundingClientRect();
    const lo = x0 + ((ev.clientX - box.left) / box.width) * (x1 - x0);
    const la = y1 - ((ev.clientY - box.top) / box.height) * (y1 - y0);
    const r = (v) => Math.round(v * 1e5) / 1e5;
    put(la, lo);
    onPick(r(la), r(lo));
  });
  return s;
}
