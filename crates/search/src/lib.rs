//! Search for the documentation model: Arabic-aware normalisation, transliteration-insensitive
//! names, and a tantivy index over cases, incidents, acts, persons, places, sources, claims
//! and items.
//!
//! * [`normalize()`] folds text for indexing and querying (NFKC, Arabic letter forms and
//!   diacritics, tatweel, Persian/Urdu forms and digits, Latin case and accents, compound
//!   names joined: `ابو بكر` = `ابوبكر`);
//! * [`name_keys`] and [`name_similarity`] match names across scripts and romanisations
//!   (`محمد` ↔ `Mohammed`, `المسمية` ↔ `al-Masmiyah`) without confusing `محمد` and `محمود`;
//! * [`SearchIndex`] indexes [`Doc`]s and answers [`Query`]s with ranked hits and facet
//!   counts, with date-interval overlap and case restriction: one name word of a query may
//!   be missing or misspelt (it lowers the rank), and the facets count exactly the hits.
//!
//! How well names are found is measured by `tests/name_search.rs` (a small run with the
//! targets) and `examples/name_eval.rs` (the full run, `bench/names.sh`) on synthetic
//! persons with namesakes, and on name parts from published spelling pairs.
//!
//! What this crate must not do:
//!
//! * depend on any other Athar crate: the caller turns its records into [`Doc`]s;
//! * decide access: it restricts results to the cases the caller passes in
//!   [`Query::cases`], and never widens them;
//! * be the record of anything: the index is derived data that can be deleted and rebuilt
//!   from the catalog at any time, so it holds no state that exists nowhere else;
//! * panic on any text: queries and documents are untrusted input.
#![forbid(unsafe_code)]

pub mod index;
pub mod names;
pub mod normalize;

pub use index::{Doc, Error, Facets, Hit, Options, Query, SearchIndex, SearchResults};
pub use names::{name_coverage, name_keys, name_similarity, word_keys, ParsedName, NAME_THRESHOLD};
pub use normalize::normalize;
