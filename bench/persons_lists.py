#!/usr/bin/env python3
"""Lists as organisations keep them, for bench/persons.sh: splits a file in the shared
linkage format (link_eval emit: record_id,list,row,name,given,father,grandfather,family,
mother,sex,birth_year,birth_date,death_date,place,cluster,place_in) into one CSV per list
with Arabic headers, as `athar records import --map` reads them; and scores what `athar
persons list --format csv` found against the `cluster` column (pairwise and B-cubed).
All names are synthetic.

  persons_lists.py split IN.csv OUT_DIR        -> OUT_DIR/<list>.csv, OUT_DIR/map.txt
  persons_lists.py score IN.csv PERSONS.csv    -> the scores, then one JSON line
"""
import csv, json, os, sys
from collections import Counter, defaultdict

HEADERS = [("الرقم", "source_row"), ("الاسم", "names"), ("اسم الأب", "father_name"),
           ("اسم الأم", "mother_name"), ("الجنس", "sex"), ("تاريخ الولادة", "birth_date"),
           ("تاريخ الوفاة", "event_date"), ("مكان الوفاة", "event_place")]


def day_first(d):
    parts = d.split("-")
    if len(parts) == 3:
        y, m, dd = parts
        return f"{int(dd)}/{int(m)}/{y}"
    return d


def split(inp, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    writers, files = {}, {}
    with open(inp, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            lst = r["list"]
            if lst not in writers:
                files[lst] = open(os.path.join(out_dir, lst + ".csv"), "w", newline="", encoding="utf-8")
                writers[lst] = csv.writer(files[lst])
                writers[lst].writerow([h for h, _ in HEADERS])
            if r["given"] or r["family"]:
                name, father = f'{r["given"]} {r["family"]}'.strip(), r["father"]
            else:
                name, father = r["name"], ""
            sex = {"m": "ذكر", "f": "أنثى"}.get(r["sex"], "")
            birth = r["birth_date"] or r["birth_year"]
            writers[lst].writerow([r["record_id"], name, father, r["mother"], sex,
                                   day_first(birth), day_first(r["death_date"]), r["place"]])
    for f in files.values():
        f.close()
    with open(os.path.join(out_dir, "map.txt"), "w", encoding="utf-8") as m:
        for h, field in HEADERS:
            m.write(f"{h}={field}\n")
    print(" ".join(sorted(writers)))


def score(inp, found):
    truth = {}
    with open(inp, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            truth[r["record_id"]] = r["cluster"]
    person = {}
    with open(found, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            person[r["row"]] = r["person"]
    assert set(person) == set(truth), f"{len(person)} records found, {len(truth)} in the lists"
    def pairs(groups):
        return sum(n * (n - 1) // 2 for n in Counter(groups.values()).values())
    both = Counter((truth[r], person[r]) for r in truth)
    tp = sum(n * (n - 1) // 2 for n in both.values())
    found_pairs, true_pairs = pairs(person), pairs(truth)
    p = tp / found_pairs if found_pairs else 1.0
    rc = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    size_t, size_p = Counter(truth.values()), Counter(person.values())
    bp = sum(both[(truth[r], person[r])] / size_p[person[r]] for r in truth) / len(truth)
    br = sum(both[(truth[r], person[r])] / size_t[truth[r]] for r in truth) / len(truth)
    bf = 2 * bp * br / (bp + br)
    print(f"  pairwise P {p:.3f} R {rc:.3f} F1 {f1:.3f}   B-cubed P {bp:.3f} R {br:.3f} F1 {bf:.3f}")
    print(json.dumps({"records": len(truth), "pairwise": {"precision": p, "recall": rc, "f1": f1},
                      "bcubed": {"precision": bp, "recall": br, "f1": bf}}))


if __name__ == "__main__":
    {"split": split, "score": score}[sys.argv[1]](*sys.argv[2:])
