//! Linking synthetic victim lists that mix Arabic and Latin spellings: pairwise F1 and
//! B-cubed F1 of the persons found, and the explanation every pair carries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../search/tests/support/name_variants.rs"]
mod name_variants;

#[path = "support/lists.rs"]
mod lists;

use athar_link::{link, Options, FIELDS};

#[test]
fn lists_in_two_scripts_are_linked() {
    let data = lists::lists(0x0011_57ed, 1500, 4);
    let started = std::time::Instant::now();
    let out = link(&data.records, &Options::default());
    let [p, r, f, bp, br, bf] = lists::score(&data.truth, &out.clusters.of);
    println!(
        "{} records in 4 lists, {} candidate pairs, {} persons found in {:.2} s\n\
         pairwise P {p:.3} R {r:.3} F1 {f:.3}; B-cubed P {bp:.3} R {br:.3} F1 {bf:.3}\n\
         prior probability of a match {:.2e}",
        data.records.len(),
        out.candidates,
        out.clusters.persons.len(),
        started.elapsed().as_secs_f64(),
        out.model.lambda,
    );
    for (i, field) in FIELDS.iter().enumerate() {
        let w: Vec<String> = (1..field.levels())
            .map(|l| format!("{:.1}", (out.model.m[i][l] / out.model.u[i][l]).log2()))
            .collect();
        println!("  {:12} {}", field.as_str(), w.join(" "));
    }
    assert!(f >= 0.97, "pairwise F1 {f:.3}");
    assert!(bf >= 0.97, "B-cubed F1 {bf:.3}");
    // Every pair explains itself: its probability follows from its field weights.
    let best = &out.pairs[0];
    let total: f64 = best.weights.iter().sum();
    assert!(total > 0.0 && best.probability > 0.99, "{best:?}");
}

#[test]
fn namesakes_are_kept_apart() {
    // 700 persons and a namesake of each (two of given, father's and family names the
    // same): what tells them apart is the third name, birth, date and place.
    let data = lists::lists_with_namesakes(0x5a3e_0001, 700, 4, 1);
    let out = link(&data.records, &Options::default());
    let [p, r, f, _, _, bf] = lists::score(&data.truth, &out.clusters.of);
    println!(
        "{} records: pairwise P {p:.3} R {r:.3} F1 {f:.3}; B-cubed F1 {bf:.3}",
        data.records.len()
    );
    assert!(p >= 0.98, "pairwise precision {p:.3}");
    assert!(f >= 0.95, "pairwise F1 {f:.3}");
}
