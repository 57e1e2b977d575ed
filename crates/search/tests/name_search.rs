//! Ranked name search on generated persons with namesakes: a person stored in one script or
//! spelling and searched in another comes first (≥ 95 %) and in the first five (≥ 99 %).
//! The full run, with published spelling pairs and larger populations, is
//! `bench/names.sh`; see `support/name_search_eval.rs` for how the set is made.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/name_variants.rs"]
mod name_variants;

#[path = "support/name_search_eval.rs"]
mod name_search_eval;

use name_search_eval::{run, synthetic, Synthetic};

#[test]
fn the_generator_is_sound() {
    name_variants::self_check();
}

#[test]
fn persons_are_found_in_every_spelling_among_namesakes() {
    let set = synthetic(Synthetic {
        seed: 0x00a7_4a12_0017,
        looked_for: 300,
        namesakes: 6,
        typo_percent: 0,
    });
    let dir = tempfile::tempdir().unwrap();
    let out = run(&set, dir.path());
    println!("{}\n{}", set.description, out.table());
    for (kind, q, stored, first) in &out.misses {
        println!("{kind}: {q:?} (stored {stored:?}) → first {first:?}");
    }
    assert!(out.all.at1() >= 0.95, "first hit {:.3}", out.all.at1());
    assert!(out.all.at5() >= 0.99, "top five {:.3}", out.all.at5());
}

#[test]
fn one_typo_costs_little() {
    let set = synthetic(Synthetic {
        seed: 0x007e_570f_7e05,
        looked_for: 150,
        namesakes: 6,
        typo_percent: 100,
    });
    let dir = tempfile::tempdir().unwrap();
    let out = run(&set, dir.path());
    println!("{}\n{}", set.description, out.table());
    for (kind, q, stored, first) in &out.misses {
        println!("typo {kind}: {q:?} (stored {stored:?}) → first {first:?}");
    }
    assert!(out.all.at5() >= 0.9, "top five {:.3}", out.all.at5());
}
