#!/usr/bin/env python3
"""Arabic-script <-> Latin personal-name spelling pairs, read from data files that
PyPI packages ship, for the cross-script name-matching evaluation.

  name_pairs.py OUT.tsv [--include-persian] [--arabnamer-all] [--egy-min-count N]

Writes OUT.tsv with the header `arabic<TAB>latin<TAB>source`: one Arabic name unit
(a single word, or a compound kept as one unit such as `عبد الرحمن`, `بن علي`,
`سيف الدين`) and ONE Latin spelling per line, several lines per Arabic unit when
the source gives several spellings; deduplicated per source (Latin compared
case-insensitively). Prints counts per source at the end (to stdout).

Sources (exact versions, wheel sha256 pinned; installed with --no-deps because
only their data files are read, never their code or models):

  arabic-name-romanizer 0.2.0  resources/names.sqlite3, table `units`: unit
      spellings of people with citizenship in the 22 Arab League states
      (Wikidata, CC0) and Algerian name corpora (DziriNames, MIT / Zerrouki, CC0).
      Rows for AF/IR/PK (Persian-script names) are skipped unless
      --include-persian. NB: its Arabic side is the package's lookup key, i.e.
      hamza forms folded to ا, ة -> ه, ى -> ي (e.g. `احمد`, `فاطمه`).
  arabnamer 0.1.3  data/dict_FINAL.json: English -> Arabic dictionary (CC-BY-4.0;
      JRC-Names plus machine- and LLM-filled entries, plus rule-generated
      spelling families for compounds). Inverted. Only entries whose Arabic
      words (particles aside) all occur in the other three sources are kept
      (the dictionary also holds foreign names: Disney, Aaltonen...), unless
      --arabnamer-all; Binn/Benn/Abduel/Ul- forms are dropped as generated.
  egy-names 0.3.6  data/names.json.gz: 44,626 Egyptian name lemmas (MIT) with a
      main English spelling (`e`) and English variants (`ev`); lemmas are
      aggregated from Egyptian student records, so only lemmas seen at least
      --egy-min-count times (default 10) in its 13.2M-token corpus are used;
      title lemmas (`l` == "t") are skipped.
  name-variants 0.1.3  name_variants/arabic_names.py: 92 hand-written Arabic
      names with romanization forms (MIT); read with ast, not imported. A few
      forms that are translations or a different name are rejected (see
      NAME_VARIANTS_REJECT).

Filters applied to every pair (plausible personal-name unit): Arabic side is
Arabic letters only, 1-3 words, >= 2 letters; Latin side is letters (ASCII or the
common French/Turkish accented ones) plus space/hyphen/apostrophe, 1-3 words,
>= 2 letters, no letter tripled; the Latin side has at least one non-particle
token and no more non-particle tokens than the Arabic side (drops "Syed Abdul
Qadir" for `عبد القادر`, "Abd" for `عبد القادر`); the Latin letter count is
0.6-3.5 times the Arabic letter count (article ال not counted); the first Latin
letter fits the first Arabic letter (an article, a prothetic E/I or a dropped
initial alef allowed: Essaid, Embarek, Brahim), which drops index misalignments
such as يوسف -> France.

No network use other than pip installing the four pinned wheels into the venv
(default: <repo>/target/names-venv, or $NAME_PAIRS_VENV).
"""
from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("NAME_PAIRS_VENV", ROOT / "target" / "names-venv"))

# name -> (version, sha256 of the py3-none-any wheel on PyPI)
PINS = {
    "arabic-name-romanizer": ("0.2.0", "f70b89614d9b5866dcf911d098c5e45d2b1f559461f238e8c5259b731fcf2a7e"),
    "arabnamer": ("0.1.3", "78d4921a47707420780dcdd24a256cd4f9cdf0fb49b4b8df22b612db14c8bbdc"),
    "egy-names": ("0.3.6", "689af06ec27c628827d6a07ffa8d5d59c8962ee3833e32554c170d209e304e42"),
    "name-variants": ("0.1.3", "0d7b7f728b190bcad0d152f645310c54cd7c7649baa5eccc090724492c0d1a98"),
}
SOURCES = list(PINS)
PERSIAN_COUNTRIES = {"AF", "IR", "PK"}

# (arabic, latin) pairs of name-variants 0.1.3 that are not a spelling of that name.
NAME_VARIANTS_REJECT = {
    ("إبراهيم", "abraham"), ("سليمان", "solomon"), ("داود", "david"),  # translations
    ("زكريا", "zechariah"), ("مريم", "miriam"), ("ياسمين", "jasmine"),  # translations
    ("رنا", "rania"),  # رانيا
    ("نور", "noura"),  # نورة
    ("سمير", "samer"),  # سامر
    ("سمية", "samia"), ("سمية", "samya"),  # سامية
}


# ---------------------------------------------------------------- venv


def site_packages() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating venv {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    out = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    )
    sp = Path(out.stdout.strip())
    missing = [n for n, (v, _) in PINS.items() if not dist_info(sp, n, v)]
    if missing:
        req = VENV / "name-pairs-requirements.txt"
        req.write_text("".join(f"{n}=={PINS[n][0]} --hash=sha256:{PINS[n][1]}\n" for n in missing))
        print(f"pip installing {', '.join(missing)} into {VENV}", file=sys.stderr)
        subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
             "--require-hashes", "-r", str(req)],
            check=True,
        )
        still = [n for n, (v, _) in PINS.items() if not dist_info(sp, n, v)]
        if still:
            sys.exit(f"not installed at the pinned version: {still}")
    return sp


def dist_info(sp: Path, name: str, version: str) -> Path | None:
    d = sp / f"{name.replace('-', '_')}-{version}.dist-info"
    return d if d.is_dir() else None


# ---------------------------------------------------------------- normalisation

_AR_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_INVISIBLE = re.compile("[\u200b-\u200f\u061c\ufeff]")
# Arabic-script letters (no digits, no punctuation, no diacritics).
_AR_WORD = "[\u0621-\u063a\u0641-\u064a\u0671-\u06d3\u06fa-\u06ff\u0750-\u077f]+"
_AR_RE = re.compile(rf"{_AR_WORD}(?: {_AR_WORD}){{0,2}}")
_LATIN_LETTERS = "A-Za-zÀÂÄÇÉÈÊËÎÏÔÖÙÛÜàâäçéèêëîïôöùûüÿğĞıİşŞ"
_LAT_WORD = rf"'?[{_LATIN_LETTERS}]+(?:['-][{_LATIN_LETTERS}]+)*'?"
_LAT_RE = re.compile(rf"{_LAT_WORD}(?: {_LAT_WORD}){{0,2}}")
_TRIPLE = re.compile(r"(.)\1\1", re.IGNORECASE)
_JOINED_SUFFIX = "ال(?:له|دين|رحمن|اسلام|إسلام|حق|دوله|دولة|نور|هدى|خير)$"
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ک": "ك", "ی": "ي", "ؤ": "ء", "ئ": "ء"})

AR_PARTICLES = {"عبد", "ابو", "ابي", "بن", "ابن", "بنت", "ال", "ذو", "ذي", "ولد"}
LAT_PARTICLES = {
    "al", "el", "ul", "il", "ad", "ed", "ud", "ar", "er", "ur", "as", "es", "us", "at", "et", "ut",
    "ash", "ech", "az", "ez", "an", "en", "ab", "abd", "abdel", "abdul", "abdal", "abdil",
    "abdu", "abdou", "abdo", "abde", "abu", "abou", "abo", "bou", "bu", "bin", "ben", "ibn", "bint",
    "binti", "ould", "mint", "ait", "aït", "ba", "bel", "bil", "dh", "dhu", "zu",
}


def norm_arabic(s: str) -> str:
    s = unicodedata.normalize("NFC", s)
    s = _INVISIBLE.sub("", s)
    s = _AR_DIACRITICS.sub("", s)
    return " ".join(s.split())


def fold_arabic(s: str) -> str:
    """Comparison key only (hamza/ta marbuta/alef maqsura folded, spaces dropped)."""
    return norm_arabic(s).translate(_FOLD).replace(" ", "")


_APOS = str.maketrans({c: "'" for c in "‘’ʼʻ`´"})
_HYPH = str.maketrans({c: "-" for c in "‐‑‒–—−"})
_KEEP_LOWER = {"al", "el", "ul", "ad", "ed", "ud", "ibn", "bin", "bint"}


def norm_latin(s: str) -> str:
    s = unicodedata.normalize("NFC", s).translate(_APOS).translate(_HYPH)
    s = re.sub(r"\s*-\s*", "-", s)
    s = " ".join(s.split())
    if s and s == s.lower():  # all-lowercase source: capitalise tokens
        parts = re.split(r"([ -])", s)
        out, first = [], True
        for p in parts:
            if p in (" ", "-") or not p:
                out.append(p)
                continue
            out.append(p if (not first and p in _KEEP_LOWER) else p[:1].upper() + p[1:])
            first = False
        s = "".join(out)
    return s


# Latin initials a spelling of a word starting with this Arabic letter may have.
_VOWELS = "AEIOUY"
_INITIALS = {
    "ا": _VOWELS, "أ": _VOWELS, "إ": _VOWELS, "آ": _VOWELS, "ٱ": _VOWELS, "ع": _VOWELS, "ء": _VOWELS,
    "ؤ": _VOWELS, "ئ": _VOWELS, "ب": "BPV", "پ": "P", "ت": "TC", "ث": "TS", "ج": "JGDZC", "چ": "CT",
    "ح": "H", "خ": "KH", "د": "D", "ذ": "DZT", "ر": "R", "ز": "ZS", "ژ": "ZJ", "س": "SC", "ش": "SC",
    "ص": "SC", "ض": "DZ", "ط": "T", "ظ": "ZDT", "غ": "GR", "ف": "FPV", "ق": "QKGC", "ك": "KCQ",
    "ک": "KCQ", "گ": "GK", "ل": "L", "م": "M", "ن": "N", "ه": "HAE", "و": "WOUV", "ي": "YIJE",
    "ی": "YIJE",
}
# Latin forms of the article ال: Al-, El, L', Ech-, Es-, Ad-...
_LAT_ARTICLE = re.compile(r"^(?:[ae]?l|[aeu]l|[ae](?:ch|sh|[tdrsznc])h?)[- ']?", re.IGNORECASE)


def initials_agree(ar: str, lat: str) -> bool:
    """First letter of the Latin fits the first Arabic letter (catches index
    misalignments such as يوسف -> France, احمد -> Mohamed)."""
    allowed = _INITIALS.get(ar[0])
    if allowed is None:
        return True
    bare = unicodedata.normalize("NFD", lat.lstrip("'")).upper()
    if bare[:1] in allowed:
        return True
    # a prothetic vowel or an article before the first consonant: Embarek, Essaid,
    # and the Egyptian El- of a nisba written without ال: شربيني -> El-Sherbiny
    if bare[:1] in "EI" and bare[1:2] in allowed:
        return True
    m = _LAT_ARTICLE.match(bare)
    if m and bare[m.end():m.end() + 1] in allowed:
        return True
    # initial alef not written in Latin: ابراهيم -> Brahim, امبارك -> Mbarek
    if ar[0] in "اأإ" and len(ar) > 1 and bare[:1] in _INITIALS.get(ar[1], ""):
        return True
    if ar.startswith("ال") and len(ar) > 3:  # article spelled or dropped
        rest = _INITIALS.get(ar[2], "")
        m = _LAT_ARTICLE.match(bare)
        return bare[:1] in rest or bool(m and bare[m.end():m.end() + 1] in rest)
    return False


def plausible(ar: str, lat: str) -> bool:
    if not _AR_RE.fullmatch(ar) or not _LAT_RE.fullmatch(lat):
        return False
    ar_letters = sum(len(w[2:]) if w.startswith("ال") and len(w) > 3 else len(w) for w in ar.split())
    lat_letters = sum(ch.isalpha() for ch in lat)
    if ar_letters < 2 or lat_letters < 2 or _TRIPLE.search(lat):
        return False
    if not 0.6 * ar_letters <= lat_letters <= 3.5 * ar_letters:
        return False
    if not initials_agree(ar, lat):
        return False
    ar_tokens = ar.split()
    ar_content = [w for w in ar_tokens if fold_arabic(w) not in AR_PARTICLES]
    if not ar_content:  # a bare particle: ابن, ابو, بن
        return False
    # compounds written joined (سيفالله, نورالاسلام) may be two Latin words
    joined = sum(len(re.findall(_JOINED_SUFFIX, w[2:])) for w in ar_content)
    lat_tokens = [t for t in re.split(r"[ -]", lat.replace("'", "")) if t]
    if len(lat_tokens) == 1 and lat_tokens[0].lower() in LAT_PARTICLES and len(ar_content) < len(ar_tokens):
        return False  # "Abdel" alone for عبد الرحمن
    # a particle counts as one only when a word follows it ("Abdou" alone is a name)
    lat_content = [t for i, t in enumerate(lat_tokens) if not (t.lower() in LAT_PARTICLES and i < len(lat_tokens) - 1)]
    return 1 <= len(lat_content) <= len(ar_content) + joined


# ---------------------------------------------------------------- readers
# Each yields (arabic, latin, weight); weight orders spellings (higher first).


def read_romanizer(sp: Path, include_persian: bool):
    db = sp / "arabic_name_romanizer" / "resources" / "names.sqlite3"
    con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    rows = con.execute("SELECT arabic_key, latin, country, count FROM units")
    for ar, lat, country, count in rows:
        if country in PERSIAN_COUNTRIES and not include_persian:
            continue
        yield ar, lat, count
    con.close()


def read_arabnamer(sp: Path):
    data = json.loads((sp / "arabnamer" / "data" / "dict_FINAL.json").read_text(encoding="utf-8"))
    for lat, ar in data.items():
        # ("read" counts what survives these three source-specific rules)
        low, ar_n = lat.lower(), norm_arabic(ar)
        # rule-generated spellings no one uses: "Binn Ahmed", "Benndjihad"
        if ar_n.split(" ")[0] == "بن" and low.startswith(("binn", "benn")):
            continue
        if low.startswith("abduel"):  # "Abduelkader": a generated prefix, not a convention
            continue
        # halves of a split compound: "Ulhamid" for الحميد, "Il Ahad" for الأحد
        if ar_n.startswith("ال") and low.startswith(("ul", "il")):
            continue
        yield ar, lat, 1


def read_egy(sp: Path, min_count: int):
    with gzip.open(sp / "egy_names" / "data" / "names.json.gz", "rt", encoding="utf-8") as f:
        bundle = json.load(f)
    tokens = bundle["metadata"]["corpus_tokens"]
    for r in bundle["names"]:
        if r.get("l") == "t":
            continue
        occurrences = r.get("tp", 0.0) / 100.0 * tokens
        if occurrences < min_count:
            continue
        spellings = [r["e"]] + [x for x in (r.get("ev") or "").split("|") if x]
        for i, lat in enumerate(spellings):
            yield r["a"], lat, occurrences * (2.0 if i == 0 else 1.0)


def read_name_variants(sp: Path):
    path = sp / "name_variants" / "arabic_names.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    table = None
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "ARABIC_NAME_VARIANTS":
            table = ast.literal_eval(node.value)
    if table is None:
        sys.exit(f"ARABIC_NAME_VARIANTS not found in {path}")
    for ar, entry in table.items():
        forms = entry["forms"]
        for i, lat in enumerate(forms):
            if (ar, lat.lower()) in NAME_VARIANTS_REJECT:
                continue
            yield ar, lat, len(forms) - i


# ---------------------------------------------------------------- main


def collect(rows):
    """Normalise, filter, merge case-insensitive duplicates; -> {arabic: [(latin, weight)]}."""
    weight: dict[tuple[str, str], float] = Counter()
    shown: dict[tuple[str, str], Counter] = defaultdict(Counter)
    raw = dropped = 0
    for ar, lat, w in rows:
        raw += 1
        ar, lat = norm_arabic(ar), norm_latin(lat)
        if not plausible(ar, lat):
            dropped += 1
            continue
        key = (ar, lat.casefold())
        weight[key] += w
        shown[key][lat] += w
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (ar, _), w in weight.items():
        out[ar].append((shown[(ar, _)].most_common(1)[0][0], w))
    for ar in out:
        out[ar].sort(key=lambda x: (-x[1], x[0]))
    return out, raw, dropped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--include-persian", action="store_true", help="keep AF/IR/PK rows of arabic-name-romanizer")
    ap.add_argument("--arabnamer-all", action="store_true", help="keep arabnamer entries not attested elsewhere")
    ap.add_argument("--egy-min-count", type=int, default=10, help="min corpus occurrences of an egy-names lemma")
    a = ap.parse_args()

    sp = site_packages()
    got = {
        "arabic-name-romanizer": collect(read_romanizer(sp, a.include_persian)),
        "egy-names": collect(read_egy(sp, a.egy_min_count)),
        "name-variants": collect(read_name_variants(sp)),
    }
    # Arabic words seen in the other sources (folded), to drop arabnamer's foreign names
    attested = {fold_arabic(w) for pairs, _, _ in got.values() for ar in pairs for w in ar.split()}
    an_pairs, an_raw, an_dropped = collect(read_arabnamer(sp))
    an_foreign = 0
    if not a.arabnamer_all:
        for ar in list(an_pairs):
            content = [w for w in ar.split() if fold_arabic(w) not in AR_PARTICLES]
            if not all(fold_arabic(w) in attested for w in content):
                an_foreign += len(an_pairs.pop(ar))
    got["arabnamer"] = (an_pairs, an_raw, an_dropped)

    a.out.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with a.out.open("w", encoding="utf-8", newline="\n") as f:
        f.write("arabic\tlatin\tsource\n")
        for src in SOURCES:
            pairs = got[src][0]
            for ar in sorted(pairs):
                for lat, _ in pairs[ar]:
                    f.write(f"{ar}\t{lat}\t{src}\n")
                    lines += 1

    print(f"wrote {lines} pairs to {a.out}")
    print(f"{'source':<24}{'version':>8}{'read':>9}{'filtered':>10}{'pairs':>8}{'arabic':>8}")
    for src in SOURCES:
        pairs, raw, dropped = got[src]
        n = sum(len(v) for v in pairs.values())
        print(f"{src:<24}{PINS[src][0]:>8}{raw:>9}{dropped:>10}{n:>8}{len(pairs):>8}")
    if not a.arabnamer_all:
        print(f"arabnamer: {an_foreign} further pairs dropped, Arabic not attested in the other sources")
    keys = {src: {fold_arabic(ar) for ar in got[src][0]} for src in SOURCES}
    union = set().union(*keys.values())
    print(f"distinct Arabic units over all sources (folded): {len(union)}")


if __name__ == "__main__":
    main()
