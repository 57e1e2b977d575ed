// Maps: the places of incidents, and picking a place's coordinates, on an offline map of
// Syria and its neighbours.
//
// Leaflet (BSD-2, vendor/leaflet) draws the map from one file shipped with the app,
// geo/region.json (countries, governorates and provinces from Natural Earth, towns from
// GeoNames; scripts/map-data.py makes it, geo/SOURCES.txt says from what): no tile and
// nothing else is fetched from elsewhere. Leaflet rather than a WebGL library: it draws
// SVG and DOM, so it works where WebGL is software or missing (headless browsers, old
// phones), and town names are DOM text, which the browser shapes and lays out right to left
// in Arabic without a plugin. Names are shown in the user's language: towns in Arabic where
// the data has an Arabic name, countries through Intl.DisplayNames.
import * as L from "../vendor/leaflet/leaflet-src.esm.js";
import { el, t } from "./core.js";
import { lang } from "./i18n.js";

// Where a map opens when it has nothing to show: Syria.
const SYRIA = [[32.3, 35.6], [37.35, 42.4]];

let region = null;
/** The map data, fetched once from this server. */
function regionData() {
  if (!region) {
    region = fetch("/assets/geo/region.json", { credentials: "same-origin" }).then((res) => {
      if (!res.ok) throw new Error(res.statusText);
      return res.json();
    });
    region.catch(() => { region = null; });
  }
  return region;
}

const round5 = (v) => Math.round(v * 1e5) / 1e5;

// Calls `f` once `node` is in the document and has a size (Leaflet measures its box).
function whenShown(node, f) {
  const seen = new ResizeObserver(() => {
    if (node.isConnected && node.clientWidth > 0 && node.clientHeight > 0) {
      seen.disconnect();
      f();
    }
  });
  seen.observe(node);
}

// The base map in `box`: countries, governorate and province boundaries, country names and
// town names placed so that they do not overlap, a zoom control, the sources credited.
// Resolves to the Leaflet map once drawn.
function baseMap(box, status) {
  return new Promise((resolve) => {
    whenShown(box, async () => {
      let data;
      try {
        data = await regionData();
      } catch (e) {
        status.textContent = t("map.loadFailed");
        status.classList.add("error");
        return;
      }
      status.textContent = "";
      const bounds = L.latLngBounds(data.bounds);
      const map = L.map(box, {
        zoomControl: false,
        attributionControl: false,
        maxZoom: 14,
        maxBounds: bounds.pad(0.05),
        maxBoundsViscosity: 1,
        renderer: L.svg({ padding: 0.5 }),
      });
      // No zooming out past the region: beyond it the map has no data. Set before the first
      // view (so that no zoom is animated to meet it).
      const fit = () => map.setMinZoom(Math.max(4, map.getBoundsZoom(bounds, true)));
      fit();
      // A view next: Leaflet adds layers (and makes markers' elements) only once it has one.
      map.fitBounds(SYRIA, { animate: false });
      L.control.zoom({ zoomInTitle: t("map.zoomIn"), zoomOutTitle: t("map.zoomOut") }).addTo(map);
      L.control.attribution({ prefix: false }).addAttribution(t("map.sources")).addTo(map);
      map.createPane("labels").classList.add("map-labels");
      const style = (className) => () => ({ className, interactive: false });
      L.geoJSON(data.countries, { style: style("map-land") }).addTo(map);
      L.geoJSON(data.admin1, { style: style("map-admin1") }).addTo(map);
      L.geoJSON(data.countries, { style: () => ({ className: "map-border", fill: false, interactive: false }) }).addTo(map);
      // Country names in the user's language (Intl); areas without a country code unnamed.
      let regionNames = null;
      try { regionNames = new Intl.DisplayNames([lang()], { type: "region" }); } catch (e) { regionNames = null; }
      for (const f of data.countries.features) {
        const p = f.properties;
        if (!p.code || !p.label) continue;
        const name = (regionNames && regionNames.of(p.code)) || p.name;
        L.marker([p.label[1], p.label[0]], {
          icon: L.divIcon({ className: "map-country", html: el("span", {}, name), iconSize: null }),
          interactive: false, keyboard: false, pane: "labels",
        }).addTo(map);
      }
      const towns = townLabels(map, data.towns);
      const moved = () => {
        towns();
        box.dataset.zoom = String(map.getZoom());
        const c = map.getCenter();
        box.dataset.center = c.lat.toFixed(5) + "," + c.lng.toFixed(5);
      };
      map.on("zoomend moveend", moved);
      moved();
      // Later changes of the box's size (a rotated phone, a resized window).
      new ResizeObserver(() => { map.invalidateSize(); fit(); }).observe(box);
      resolve(map);
    });
  });
}

// Town names: at each zoom, the most populous towns whose names fit without overlapping
// those already placed (a greedy pass in population order). Returns the re-layout function.
function townLabels(map, towns) {
  const layer = L.layerGroup().addTo(map);
  const arabic = lang() === "ar";
  const markers = new Map();
  const marker = (town) => {
    let m = markers.get(town);
    if (!m) {
      const name = (arabic && town[5]) || town[4];
      m = L.marker([town[1], town[0]], {
        icon: L.divIcon({ className: "map-town", html: el("span", { lang: arabic && town[5] ? "ar" : "en", dir: "auto" }, name), iconSize: null }),
        interactive: false, keyboard: false, pane: "labels",
      });
      m.width = 12 + name.length * 7;
      markers.set(town, m);
    }
    return m;
  };
  return () => {
    const zoom = map.getZoom(), view = map.getBounds().pad(0.1), size = map.getSize();
    const rtl = document.documentElement.dir === "rtl";
    // The incidents' markers first: no town name is laid over one.
    const placed = (map.athar_markers || []).map((ll) => {
      const p = map.latLngToContainerPoint(ll);
      return [p.x - 13, p.y - 13, p.x + 13, p.y + 13];
    });
    const shown = new Set();
    for (const town of towns) {
      if (town[3] > zoom + 0.01 || !view.contains([town[1], town[0]])) continue;
      const m = marker(town);
      const p = map.latLngToContainerPoint([town[1], town[0]]);
      const x0 = rtl ? p.x - m.width : p.x - 4, box = [x0, p.y - 9, x0 + m.width + 4, p.y + 9];
      if (box[2] < 0 || box[0] > size.x || box[3] < 0 || box[1] > size.y) continue;
      if (placed.some((b) => b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3])) continue;
      placed.push(box);
      shown.add(m);
    }
    for (const m of markers.values()) {
      if (shown.has(m) && !layer.hasLayer(m)) layer.addLayer(m);
      else if (!shown.has(m) && layer.hasLayer(m)) layer.removeLayer(m);
    }
  };
}

// The map's frame: the box Leaflet draws in and a line for loading and errors.
function frame(className, label) {
  const box = el("div", { class: "map-box " + className, role: "region", "aria-label": label });
  const status = el("p", { class: "map-status muted", role: "status" }, t("map.loading"));
  return { box, status };
}

// Leaflet's popup close button says "Close popup" in English: say it in the user's language.
function translatePopups(map) {
  map.on("popupopen", (e) => {
    const close = e.popup.getElement() && e.popup.getElement().querySelector(".leaflet-popup-close-button");
    if (close) close.setAttribute("aria-label", t("map.closePopup"));
  });
}

/**
 * The places of incidents on the map: one marker per place (incidents at the same place
 * share it, and its popup lists them all, each linking to its page). Places without
 * coordinates are not on the map.
 */
export function incidentMap(incidents) {
  const places = new Map();
  for (const i of incidents) {
    for (const p of i.places || []) {
      if (typeof p.lat !== "number" || typeof p.lon !== "number") continue;
      const key = p.lat.toFixed(5) + "," + p.lon.toFixed(5);
      if (!places.has(key)) places.set(key, { lat: p.lat, lon: p.lon, names: new Set(), ids: new Set(), incidents: [] });
      const at = places.get(key);
      at.names.add(p.name);
      at.ids.add(p.id);
      if (!at.incidents.some((x) => x.id === i.id)) at.incidents.push(i);
    }
  }
  const { box, status } = frame("incident-map", t("map.incidentsLabel"));
  const note = el("p", { class: "muted map-note" },
    places.size ? t("map.placesShown", { n: places.size }) : t("map.noPlaces"));
  baseMap(box, status).then((map) => {
    translatePopups(map);
    const all = [];
    for (const at of places.values()) {
      const names = [...at.names].join(" · ");
      const n = at.incidents.length;
      const icon = L.divIcon({
        className: "map-marker",
        html: el("span", {}, n > 1 ? String(n) : ""),
        iconSize: [22, 22],
        iconAnchor: [11, 11],
        popupAnchor: [0, -10],
      });
      const m = L.marker([at.lat, at.lon], { icon, keyboard: true, riseOnHover: true }).addTo(map);
      const popup = el("div", { class: "map-popup" },
        el("strong", {}, names),
        el("ul", {}, at.incidents.map((i) => el("li", {}, el("a", { href: "#/incident/" + encodeURIComponent(i.id) }, i.title)))));
      m.bindPopup(popup);
      const node = m.getElement();
      node.setAttribute("aria-label", t("map.placeMarker", { place: names, n }));
      node.dataset.place = [...at.ids].join(" ");
      all.push([at.lat, at.lon]);
    }
    map.athar_markers = all;
    if (all.length) map.fitBounds(L.latLngBounds(all).pad(0.2), { maxZoom: 9, animate: false });
    box.dataset.ready = "true";
  });
  return el("div", { class: "map" }, box, status, note);
}

/**
 * A place's coordinates, picked on the map by a click or a tap (or by dragging the
 * marker), or typed into the latitude and longitude fields (the keyboard's way).
 * Calls onPick(lat, lon), both rounded to 5 decimals (about a metre).
 */
export function placePicker({ lat, lon, onPick }) {
  const has = (v) => typeof v === "number" && Number.isFinite(v);
  const latIn = el("input", { type: "number", step: "any", min: -90, max: 90, class: "map-lat", value: has(lat) ? lat : null });
  const lonIn = el("input", { type: "number", step: "any", min: -180, max: 180, class: "map-lon", value: has(lon) ? lon : null });
  const { box, status } = frame("place-picker", t("map.pickerLabel"));
  let map = null, mark = null;
  const put = (la, lo, pan) => {
    if (!map) return;
    if (!mark) {
      mark = L.marker([la, lo], {
        icon: L.divIcon({ className: "map-marker map-picked", html: el("span", {}), iconSize: [22, 22], iconAnchor: [11, 11] }),
        draggable: true, keyboard: false,
      }).addTo(map);
      mark.on("dragend", () => {
        const p = mark.getLatLng().wrap();
        pick(p.lat, p.lng, false);
      });
    } else mark.setLatLng([la, lo]);
    if (pan) map.panTo([la, lo]);
  };
  const pick = (la, lo, pan) => {
    const a = round5(la), b = round5(lo);
    latIn.value = String(a);
    lonIn.value = String(b);
    put(a, b, pan);
    box.dataset.picked = a + "," + b;
    onPick(a, b);
  };
  const typed = () => {
    const a = latIn.valueAsNumber, b = lonIn.valueAsNumber;
    if (!Number.isFinite(a) || !Number.isFinite(b) || Math.abs(a) > 90 || Math.abs(b) > 180) return;
    pick(a, b, true);
  };
  latIn.addEventListener("change", typed);
  lonIn.addEventListener("change", typed);
  baseMap(box, status).then((m) => {
    map = m;
    map.on("click", (e) => {
      const p = e.latlng.wrap();
      pick(p.lat, p.lng, false);
    });
    if (has(lat) && has(lon)) {
      map.setView([lat, lon], 9, { animate: false });
      put(lat, lon, false);
    }
    box.dataset.ready = "true";
  });
  return el("div", { class: "map picker" },
    box, status,
    el("p", { class: "muted map-note" }, t("map.pickerHelp")),
    el("div", { class: "map-coordinates" },
      el("label", {}, el("span", {}, t("map.latitude")), latIn),
      el("label", {}, el("span", {}, t("map.longitude")), lonIn)));
}
