//! Index behaviour: replacement, deletion, text and name queries across scripts, date
//! overlap, case restriction, facets.

#![allow(clippy::unwrap_used)]

use athar_search::{Doc, Error, Query, SearchIndex};

/// Days since 1970-01-01 of a calendar date (proleptic Gregorian).
fn day(y: i32, m: u32, d: u32) -> i32 {
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn year(y: i32) -> (i32, i32) {
    (day(y, 1, 1), day(y, 12, 31))
}

fn story() -> Vec<Doc> {
    vec![
        Doc {
            id: "inc-1".into(),
            kind: "incident".into(),
            cases: vec!["case-daraa".into()],
            title: "Burning of remains near al-Masmiyah".into(),
            text: "Detainees who died in security branches were trucked to a semi-desert site \
                   and burned in pits, about a hundred a day according to one source."
                .into(),
            names: vec![],
            date: Some((day(2011, 1, 1), day(2013, 12, 31))),
            places: vec!["al-Masmiyah".into(), "Daraa".into()],
            violations: vec![
                "mutilation or destruction of remains".into(),
                "killing".into(),
            ],
            verification: vec!["geolocated".into()],
        },
        Doc {
            id: "inc-2".into(),
            kind: "incident".into(),
            cases: vec!["case-daraa".into()],
            title: "حرق جثث المعتقلين قرب المسمية".into(),
            text: "نُقلت جثث المعتقلين الذين قضوا تحت التعذيب إلى موقع شبه صحراوي".into(),
            names: vec![],
            date: Some(year(2012)),
            places: vec!["المسمية".into(), "درعا".into()],
            violations: vec!["torture".into()],
            verification: vec!["unverified".into()],
        },
        Doc {
            id: "person-1".into(),
            kind: "person".into(),
            cases: vec!["case-daraa".into()],
            title: "محمد أحمد المصري".into(),
            names: vec!["محمد أحمد المصري".into()],
            date: Some((day(2012, 3, 1), day(2012, 3, 31))),
            ..Doc::default()
        },
        Doc {
            id: "person-2".into(),
            kind: "person".into(),
            cases: vec!["case-homs".into()],
            title: "Mahmoud Hassan".into(),
            names: vec!["Mahmoud Hassan".into()],
            date: Some(year(2014)),
            ..Doc::default()
        },
        Doc {
            id: "person-3".into(),
            kind: "person".into(),
            cases: Vec::new(),
            title: "Abu Bakr al-Shami".into(),
            names: vec!["Abu Bakr al-Shami".into()],
            date: None,
            ..Doc::default()
        },
    ]
}

fn index_with_story() -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let mut index = SearchIndex::open_or_create(dir.path()).unwrap();
    for d in story() {
        index.add(&d).unwrap();
    }
    index.commit().unwrap();
    (dir, index)
}

fn ids(index: &SearchIndex, q: Query) -> Vec<String> {
    let q = Query {
        limit: if q.limit == 0 { 20 } else { q.limit },
        ..q
    };
    let mut v: Vec<String> = index
        .search(&q)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    v.sort();
    v
}

fn text(t: &str) -> Query {
    Query {
        text: t.into(),
        ..Query::default()
    }
}

#[test]
fn text_queries_in_both_scripts() {
    let (_d, index) = index_with_story();
    // Latin text
    assert_eq!(ids(&index, text("burned pits")), ["inc-1"]);
    // Arabic text with and without diacritics and article
    assert_eq!(ids(&index, text("المعتقلين")), ["inc-2"]);
    assert_eq!(ids(&index, text("مُعتقلين")), ["inc-2"]);
    assert_eq!(ids(&index, text("التعذيب")), ["inc-2"]);
    // a place name in Arabic finds the Latin-named incident and vice versa
    assert_eq!(ids(&index, text("المسمية")), ["inc-1", "inc-2"]);
    assert_eq!(ids(&index, text("Masmiyah")), ["inc-1", "inc-2"]);
    assert_eq!(ids(&index, text("Al Masmiya")), ["inc-1", "inc-2"]);
    // a person's name across scripts, without confusing Muhammad and Mahmoud
    assert_eq!(ids(&index, text("Mohammed")), ["person-1"]);
    assert_eq!(ids(&index, text("Muhammad al-Masri")), ["person-1"]);
    assert_eq!(ids(&index, text("محمود")), ["person-2"]);
    assert_eq!(ids(&index, text("Mahmud")), ["person-2"]);
    // compound spacing
    assert_eq!(ids(&index, text("ابوبكر الشامي")), ["person-3"]);
    assert_eq!(ids(&index, text("Abubakr")), ["person-3"]);
    // no match
    assert!(ids(&index, text("Aleppo")).is_empty());
}

#[test]
fn date_overlap() {
    let (_d, index) = index_with_story();
    let by_date = |lo, hi| {
        ids(
            &index,
            Query {
                date: Some((lo, hi)),
                ..Query::default()
            },
        )
    };
    // "2012" overlaps the 2011–2013 interval, the year 2012 and March 2012
    assert_eq!(
        by_date(year(2012).0, year(2012).1),
        ["inc-1", "inc-2", "person-1"]
    );
    // a single day inside the interval
    assert_eq!(by_date(day(2013, 6, 1), day(2013, 6, 1)), ["inc-1"]);
    // the interval's first and last days count (inclusive)
    assert_eq!(by_date(day(2010, 1, 1), day(2011, 1, 1)), ["inc-1"]);
    assert_eq!(
        by_date(day(2013, 12, 31), day(2014, 1, 1)),
        ["inc-1", "person-2"]
    );
    // nothing before; unknown dates never match a date filter
    assert!(by_date(day(1990, 1, 1), day(2010, 12, 31)).is_empty());
    // an interval that ends before it starts is refused
    let bad = Query {
        date: Some((10, 5)),
        limit: 10,
        ..Query::default()
    };
    assert!(matches!(index.search(&bad), Err(Error::InvalidQuery(_))));
}

#[test]
fn case_restriction_and_filters() {
    let (_d, index) = index_with_story();
    let only = |cases: &[&str]| Query {
        cases: Some(cases.iter().map(|s| s.to_string()).collect()),
        ..Query::default()
    };
    assert_eq!(ids(&index, only(&["case-homs"])), ["person-2"]);
    assert_eq!(
        ids(&index, only(&["case-daraa"])),
        ["inc-1", "inc-2", "person-1"]
    );
    assert!(ids(&index, only(&[])).is_empty());
    // None = every record, those without a case included
    assert_eq!(ids(&index, Query::default()).len(), 5);
    // restriction holds for text queries too
    let q = Query {
        text: "Hassan".into(),
        ..only(&["case-daraa"])
    };
    assert!(ids(&index, q).is_empty());
    // kind, case, violation, verification, place
    let q = Query {
        kind: Some("person".into()),
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["person-1", "person-2", "person-3"]);
    let q = Query {
        case: Some("case-homs".into()),
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["person-2"]);
    let q = Query {
        violation: Some("torture".into()),
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["inc-2"]);
    let q = Query {
        verification: Some("geolocated".into()),
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["inc-1"]);
    let q = Query {
        place: Some("Masmiyeh".into()),
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["inc-1", "inc-2"]);
    let q = Query {
        place: Some("درعا".into()),
        date: Some(year(2012)),
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["inc-1", "inc-2"]);
}

#[test]
fn facets_count_the_matched_set() {
    let (_d, index) = index_with_story();
    let res = index
        .search(&Query {
            limit: 1,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(res.total, 5);
    assert_eq!(res.hits.len(), 1);
    assert_eq!(
        res.facets.kind,
        [("person".to_string(), 3), ("incident".to_string(), 2)]
    );
    assert_eq!(
        res.facets.case,
        [("case-daraa".to_string(), 3), ("case-homs".to_string(), 1)]
    );
    let res = index
        .search(&Query {
            text: "المسمية".into(),
            limit: 10,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(res.total, 2);
    assert_eq!(
        res.facets.violation,
        [
            ("killing".to_string(), 1),
            ("mutilation or destruction of remains".to_string(), 1),
            ("torture".to_string(), 1)
        ]
    );
    assert_eq!(
        res.facets.verification,
        [("geolocated".to_string(), 1), ("unverified".to_string(), 1)]
    );
}

#[test]
fn replace_delete_and_reopen() {
    let (dir, mut index) = index_with_story();
    let mut d = story().remove(3);
    d.title = "Mahmoud Hassan (updated)".into();
    d.names.push("محمود حسن".into());
    index.add(&d).unwrap();
    index.commit().unwrap();
    assert_eq!(index.num_docs(), 5);
    let hits = index
        .search(&Query {
            text: "updated".into(),
            limit: 5,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(hits.hits.len(), 1);
    assert_eq!(hits.hits[0].title, "Mahmoud Hassan (updated)");
    assert_eq!(hits.hits[0].case.as_deref(), Some("case-homs"));
    assert_eq!(hits.hits[0].kind, "person");
    index.delete("person-2").unwrap();
    index.commit().unwrap();
    assert_eq!(index.num_docs(), 4);
    assert!(ids(&index, text("Mahmoud")).is_empty());
    index.close().unwrap();
    // reopened from disk
    let index = SearchIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(index.num_docs(), 4);
    assert_eq!(ids(&index, text("Mohamed")), ["person-1"]);
}

#[test]
fn uncommitted_changes_are_invisible_and_can_be_rolled_back() {
    let (_d, mut index) = index_with_story();
    index.delete("inc-1").unwrap();
    assert_eq!(index.num_docs(), 5);
    index.rollback().unwrap();
    index.commit().unwrap();
    assert_eq!(index.num_docs(), 5);
}

#[test]
fn second_writer_is_refused() {
    let (dir, mut index) = index_with_story();
    index.delete("nothing").unwrap(); // takes the writer lock
    let mut other = SearchIndex::open_or_create(dir.path()).unwrap();
    assert!(matches!(other.delete("x"), Err(Error::Locked)));
    // reading needs no lock
    assert_eq!(other.num_docs(), 5);
}

#[test]
fn odd_queries_do_not_fail() {
    let (_d, index) = index_with_story();
    for t in [
        "",
        " ",
        "ال",
        "al",
        "'",
        "ـ",
        "\u{200F}",
        "🙂",
        "a b c d e f g h i j k l m n o p",
    ] {
        index
            .search(&Query {
                text: t.into(),
                limit: 5,
                ..Query::default()
            })
            .unwrap();
    }
}

#[test]
fn wide_intervals_and_wide_queries() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = SearchIndex::open_or_create(dir.path()).unwrap();
    let doc = |id: &str, date| Doc {
        id: id.into(),
        kind: "claim".into(),
        title: id.into(),
        date,
        ..Doc::default()
    };
    // a century-long interval is indexed under one "wide" term, not a hundred years
    index
        .add(&doc("century", Some((day(1900, 1, 1), day(2020, 1, 1)))))
        .unwrap();
    index
        .add(&doc("day", Some((day(2012, 5, 5), day(2012, 5, 5)))))
        .unwrap();
    index.add(&doc("unknown", None)).unwrap();
    index.commit().unwrap();
    let by_date = |lo, hi| {
        ids(
            &index,
            Query {
                date: Some((lo, hi)),
                ..Query::default()
            },
        )
    };
    assert_eq!(by_date(year(2012).0, year(2012).1), ["century", "day"]);
    assert_eq!(by_date(year(1950).0, year(1950).1), ["century"]);
    assert!(by_date(year(2021).0, year(2030).1).is_empty());
    // a query wider than the year terms is checked on the date column alone
    assert_eq!(
        by_date(day(1800, 1, 1), day(2100, 1, 1)),
        ["century", "day"]
    );
    assert_eq!(by_date(i32::MIN, i32::MAX), ["century", "day"]);
    // with text, the date check is applied to ranked hits too
    let q = Query {
        text: "day".into(),
        date: Some(year(2013)),
        ..Query::default()
    };
    assert!(ids(&index, q).is_empty());
    let q = Query {
        text: "day".into(),
        date: Some(year(2012)),
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["day"]);
}

#[test]
fn an_index_with_another_schema_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = tantivy::schema::Schema::builder();
    b.add_text_field("something_else", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
    let err = SearchIndex::open_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, Error::SchemaMismatch(_)), "{err}");
}

#[test]
fn a_record_in_several_cases_is_found_from_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = SearchIndex::open_or_create(dir.path()).unwrap();
    let mut docs = story();
    docs.push(Doc {
        id: "item-1".into(),
        kind: "item".into(),
        cases: vec!["case-daraa".into(), "case-homs".into()],
        title: "shared-video.mp4".into(),
        ..Doc::default()
    });
    for d in &docs {
        index.add(d).unwrap();
    }
    index.commit().unwrap();
    for case in ["case-daraa", "case-homs"] {
        let members = Query {
            cases: Some(vec![case.into()]),
            kind: Some("item".into()),
            ..Query::default()
        };
        assert_eq!(ids(&index, members), ["item-1"], "{case} members");
        let facet = Query {
            case: Some(case.into()),
            kind: Some("item".into()),
            ..Query::default()
        };
        assert_eq!(ids(&index, facet), ["item-1"], "--case {case}");
    }
    let res = index
        .search(&Query {
            kind: Some("item".into()),
            limit: 10,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        res.facets.case,
        [("case-daraa".to_owned(), 1), ("case-homs".to_owned(), 1)]
    );
    assert_eq!(res.hits[0].case.as_deref(), Some("case-daraa"));
}

/// Persons with namesakes that share two of their three names, as lists record them.
fn namesakes() -> Vec<Doc> {
    let person = |id: &str, case: &str, name: &str| Doc {
        id: id.into(),
        kind: "person".into(),
        cases: vec![case.into()],
        title: name.into(),
        names: vec![name.into()],
        ..Doc::default()
    };
    vec![
        person("tarek", "case-a", "Tarek Kassem Al Naboulsi"),
        person("tarek-2", "case-a", "Tarek Hassan Al Naboulsi"),
        person("tarek-3", "case-b", "Ziad Kassem Al Naboulsi"),
        person("tarek-4", "case-b", "Tarek Kassem Al Halabi"),
        person("omar", "case-a", "Omar Moaz Al Meqdad"),
        person("omar-2", "case-a", "Omar Khaled Al Meqdad"),
        person("omar-3", "case-b", "Omar Moaz Al Zoubi"),
        person("omar-4", "case-b", "Ahmad Moaz Al Meqdad"),
        person("yaser", "case-a", "ياسر عبد الله المسالمة"),
        person("yaser-2", "case-a", "ياسر محمد المسالمة"),
        person("yaser-3", "case-b", "ياسر عبد الله الحريري"),
        person("yaser-4", "case-b", "خالد عبد الله المسالمة"),
        person("unrelated", "case-a", "Samira Haddad"),
    ]
}

#[test]
fn one_unmatched_word_lowers_the_rank_and_does_not_remove_the_person() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = SearchIndex::open_or_create(dir.path()).unwrap();
    for d in namesakes() {
        index.add(&d).unwrap();
    }
    index.commit().unwrap();
    for (query, want) in [
        ("طارق قاسم النابلسي", "tarek"),
        ("Omar Muath al-Miqdad", "omar"),
        ("Yaser Abdulla al-Masalmeh", "yaser"),
        // one word misspelt beyond any romanisation: still first
        ("Tarek Kassem Al Nabxulsi", "tarek"),
        // the family name first, as lists sorted by it write names
        ("al-Meqdad Omar Moaz", "omar"),
    ] {
        let res = index
            .search(&Query {
                text: query.into(),
                limit: 20,
                ..Query::default()
            })
            .unwrap();
        let got: Vec<&str> = res.hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(got.first(), Some(&want), "{query}: {got:?}");
        // Namesakes that share two names follow; the unrelated person is not listed.
        assert!(got.len() >= 2, "{query}: {got:?}");
        assert!(!got.contains(&"unrelated"), "{query}: {got:?}");
        // The full match scores clearly above every namesake.
        assert!(
            res.hits[0].score > res.hits[1].score + 0.15,
            "{query}: {:?}",
            res.hits
        );
        // Facets count what the list shows.
        assert_eq!(res.total as usize, got.len(), "{query}");
        let kinds: u64 = res.facets.kind.iter().map(|(_, n)| n).sum();
        assert_eq!(kinds, res.total, "{query}");
        let cases: u64 = res.facets.case.iter().map(|(_, n)| n).sum();
        assert_eq!(cases, res.total, "{query}");
    }
    // Two unmatched words of three remove the person; a single word must match.
    assert!(ids(&index, text("Tarek Xyzzy Qwrtp")).is_empty());
    assert!(ids(&index, text("Mahmoud")).is_empty());
    // Filters stay exact: the case restriction removes the namesakes of the other case.
    let q = Query {
        text: "Omar Muath al-Miqdad".into(),
        cases: Some(vec!["case-b".into()]),
        limit: 20,
        ..Query::default()
    };
    assert_eq!(ids(&index, q), ["omar-3", "omar-4"]);
    // Numbers and codes are never the word left out.
    let mut index = index;
    index
        .add(&Doc {
            id: "item-0".into(),
            kind: "item".into(),
            title: "release-0.mp4".into(),
            ..Doc::default()
        })
        .unwrap();
    index
        .add(&Doc {
            id: "item-1".into(),
            kind: "item".into(),
            title: "release-1.mp4".into(),
            ..Doc::default()
        })
        .unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&index, text("release-0.mp4")), ["item-0"]);
}
