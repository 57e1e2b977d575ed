//! The tantivy index over the documentation model's records.
//!
//! One tantivy document per record ([`Doc`]). Free text (title, text) is indexed through
//! [`normalize`] with the variants of [`index_variants`] (article stripped, compound parts);
//! each word of the names, places and title is also indexed under each of its name keys
//! ([`name_keys`](crate::name_keys)) as a `key` U+0001 `word` term. Filters (case, kind,
//! violation, verification) are raw terms with fast columns for facet counts; dates are two
//! integer columns (first and last day) so that interval overlap is two range conditions.
//!
//! A query word matches a record when it occurs (normalised) in the title or text, or when
//! one of the record's name words is alike enough: the name words that share a key with the
//! query word are read from the term dictionary and scored once per query with the name
//! engine's word similarity, so that `محمد` finds `Mohamed` and `Muhammad` but not
//! `Mahmoud`. Queries are ranked, not all-or-nothing: one name word of a query may be
//! missing or misspelt, which lowers the rank (see [`SearchIndex::search`]). Membership is
//! decided in the index alone, so the total and the facet counts are those of the hits; the
//! best candidates are then reordered by how well the whole query covers a record's name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tantivy::collector::{Collector, FilterCollector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, Occur, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, FAST,
    STORED, STRING,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader,
    TantivyDocument, Term,
};

use crate::names::{
    coverage_of, keys_of_word, name_tokens, name_words, token_units, word_keys, word_similarity,
    Particle, Word, NAME_THRESHOLD,
};
use crate::normalize::{index_variants, is_query_stopword, normalize, query_term};

/// Ends the key in a name-word term (`key` U+0001 `word`).
const KEY_END: char = '\u{1}';
/// Index words looked at per key of a query word (a bound for degenerate keys).
const MAX_WORDS_PER_KEY: usize = 5_000;
/// Similarity from which a name word that does not count as the query word still ranks.
const WORD_NEAR: f32 = 0.6;
/// Weight of a near word against a matching one (1).
const NEAR_WEIGHT: f32 = 0.5;
/// Similarity kept by a name word with `abd` or `abu` where the query word has none, or
/// the other way round.
const PARTICLE_MISMATCH: f32 = 0.8;
/// Score of a name word found as written in the title or text (as a compound's part, say):
/// below a name word's own match, so a spelling in the query's script has no edge.
const EXACT_NAME_WORD: f32 = 0.8;
/// Weight of a matching particle (`abu`, `abd`).
const PARTICLE_WEIGHT: f32 = 0.3;
/// Weight of text relevance (BM25), which orders hits that match equally.
const TEXT_WEIGHT: f32 = 0.01;
/// Weight of the whole query's coverage of a record's best name in the final order.
const COVERAGE_WEIGHT: f32 = 2.0;

/// Errors of the search index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The index folder could not be created or read.
    #[error("search index at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `SearchIndex`) holds the index's writer lock.
    #[error("search index is being written by another process")]
    Locked,
    /// The folder holds an index written with another schema (an older Athar): delete the
    /// folder and index again.
    #[error("search index at {0} has another schema; rebuild it")]
    SchemaMismatch(PathBuf),
    /// The query cannot be run (e.g. a date interval that ends before it starts).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// Any other failure inside tantivy.
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

/// One record to index. `id` is unique across kinds; adding a doc with an existing id
/// replaces it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Doc {
    pub id: String,
    /// `item`, `incident`, `person`, `place`, `source`, `claim`, `org`, `act` or `case`.
    pub kind: String,
    /// The cases it belongs to (an item may be in several; hits name the first). Searches
    /// restricted to any of them find it.
    pub cases: Vec<String>,
    pub title: String,
    /// Free text: descriptions, notes.
    pub text: String,
    /// Person, place and organisation names in any script, matched with name keys.
    pub names: Vec<String>,
    /// Inclusive interval in days since 1970-01-01; `None` when unknown.
    pub date: Option<(i32, i32)>,
    pub places: Vec<String>,
    pub violations: Vec<String>,
    pub verification: Vec<String>,
}

/// A search. Every set field restricts the result; an empty `text` lists by the filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub text: String,
    /// Access control: only records of these cases (`None`: all records, including those
    /// without a case; `Some`: records without a case are not returned).
    pub cases: Option<Vec<String>>,
    pub kind: Option<String>,
    pub case: Option<String>,
    /// Records whose date interval overlaps this one (records with unknown dates are left out).
    pub date: Option<(i32, i32)>,
    /// A place name, matched by name keys (any script).
    pub place: Option<String>,
    pub violation: Option<String>,
    pub verification: Option<String>,
    pub limit: usize,
}

/// One hit, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: String,
    pub kind: String,
    pub case: Option<String>,
    pub title: String,
    pub score: f32,
}

/// Counts of matching records per value, largest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facets {
    pub kind: Vec<(String, u64)>,
    pub case: Vec<(String, u64)>,
    pub violation: Vec<(String, u64)>,
    pub verification: Vec<(String, u64)>,
}

/// Hits with the size of the matched set and its facets.
///
/// `total` and `facets` count exactly the records that are hits: the first `limit` of them
/// are in `hits`, best first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    pub total: u64,
    pub facets: Facets,
}

/// How the writer is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Memory for all indexing threads together (at least 15 MB per thread).
    pub writer_memory: usize,
    /// Indexing threads.
    pub writer_threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            writer_memory: 64 << 20,
            writer_threads: 1,
        }
    }
}

impl Options {
    /// For loading many records at once: one indexing thread per core (up to 4) and
    /// 256 MB per thread, so segments are few and large.
    pub fn bulk() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        Options {
            writer_memory: threads * (256 << 20),
            writer_threads: threads,
        }
    }
}

const TEXT_TOKENIZER: &str = "athar_text";
const NAME_TOKENIZER: &str = "athar_names";
const NAME_WORDS_TOKENIZER: &str = "athar_name_words";

#[derive(Clone, Copy, Debug)]
struct Fields {
    id: Field,
    kind: Field,
    case: Field,
    /// Stored only.
    title: Field,
    /// Title and text, through the text tokenizer.
    words: Field,
    /// Stored only (read back for the name-similarity check).
    names: Field,
    /// Name keys, stored: the place filter.
    places: Field,
    /// Each word of the names, places and title under each of its name keys
    /// (`key` U+0001 `word`), and name particles (`~abu`): a query word finds the words
    /// that share one of its keys and scores each.
    name_words: Field,
    violation: Field,
    verification: Field,
    /// Years a record's date interval touches (coarse date filter, inverted index).
    years: Field,
    /// The date interval packed into one dense column (precise overlap check).
    date: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_indexing = TextFieldIndexing::default()
        .set_tokenizer(TEXT_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqs);
    let key_indexing = TextFieldIndexing::default()
        .set_tokenizer(NAME_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqs);
    let text = TextOptions::default().set_indexing_options(text_indexing.clone());
    let keys = TextOptions::default().set_indexing_options(key_indexing);
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED | FAST),
        case: b.add_text_field("case", STRING | STORED | FAST),
        title: b.add_text_field("title", STORED),
        words: b.add_text_field("words", text),
        names: b.add_text_field("names", STORED),
        places: b.add_text_field("place_keys", keys.set_stored()),
        name_words: b.add_text_field(
            "name_words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(NAME_WORDS_TOKENIZER)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        ),
        violation: b.add_text_field("violation", STRING | FAST),
        verification: b.add_text_field("verification", STRING | FAST),
        years: b.add_i64_field("years", NumericOptions::default().set_indexed()),
        date: b.add_u64_field("date", NumericOptions::default().set_fast()),
    };
    (b.build(), fields)
}

/// The search index in one folder.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    options: Options,
    dir: PathBuf,
    /// Facets of the whole index for the searcher generation that computed them.
    all_counts: std::sync::Mutex<Option<(u64, u64, Counts)>>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .field("writing", &self.writer.is_some())
            .finish()
    }
}

impl SearchIndex {
    /// Open the index in `dir`, creating the folder and an empty index if needed. Opening
    /// takes no lock; the first write takes the writer lock.
    pub fn open_or_create(dir: &Path) -> Result<SearchIndex, Error> {
        Self::open_or_create_with(dir, Options::default())
    }

    /// Like [`SearchIndex::open_or_create`] with writer options (see [`Options::bulk`]).
    pub fn open_or_create_with(dir: &Path, options: Options) -> Result<SearchIndex, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields) = schema();
        let mmap = MmapDirectory::open(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        let mut index = Index::open_or_create(mmap, schema).map_err(|e| match e {
            tantivy::TantivyError::SchemaError(_) => Error::SchemaMismatch(dir.to_path_buf()),
            e => Error::Tantivy(e),
        })?;
        index
            .tokenizers()
            .register(TEXT_TOKENIZER, TextTokenizer::default());
        index
            .tokenizers()
            .register(NAME_TOKENIZER, NameTokenizer::default());
        index
            .tokenizers()
            .register(NAME_WORDS_TOKENIZER, NameWordsTokenizer::default());
        // Segments are searched in parallel, one thread per core (up to 4).
        let search_threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        if search_threads > 1 {
            index.set_multithread_executor(search_threads)?;
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            writer: None,
            fields,
            options,
            dir: dir.to_path_buf(),
            all_counts: std::sync::Mutex::new(None),
        })
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, Error> {
        let w = match self.writer.take() {
            Some(w) => w,
            None => {
                let threads = self.options.writer_threads.max(1);
                let memory = self.options.writer_memory.max(threads * (16 << 20));
                self.index
                    .writer_with_num_threads(threads, memory)
                    .map_err(|e| match e {
                        tantivy::TantivyError::LockFailure(..) => Error::Locked,
                        e => Error::Tantivy(e),
                    })?
            }
        };
        Ok(self.writer.insert(w))
    }

    fn to_tantivy(&self, doc: &Doc) -> TantivyDocument {
        let f = &self.fields;
        let mut d = TantivyDocument::new();
        d.add_text(f.id, &doc.id);
        d.add_text(f.kind, &doc.kind);
        for c in &doc.cases {
            d.add_text(f.case, c);
        }
        d.add_text(f.title, &doc.title);
        d.add_text(f.words, &doc.title);
        d.add_text(f.name_words, &doc.title);
        if !doc.text.is_empty() {
            d.add_text(f.words, &doc.text);
        }
        for n in &doc.names {
            d.add_text(f.names, n);
            d.add_text(f.name_words, n);
        }
        for p in &doc.places {
            d.add_text(f.places, p);
            d.add_text(f.name_words, p);
        }
        for v in &doc.violations {
            d.add_text(f.violation, v);
        }
        for v in &doc.verification {
            d.add_text(f.verification, v);
        }
        // Every record has the date column (dense columns read fastest); an unknown date is
        // an empty interval that overlaps nothing and touches no year.
        match doc.date {
            Some((a, b)) => {
                let (lo, hi) = (a.min(b), a.max(b));
                d.add_u64(f.date, pack_interval(lo, hi));
                let (ylo, yhi) = (year_of_day(lo), year_of_day(hi));
                if yhi - ylo < MAX_YEAR_TERMS {
                    for y in ylo..=yhi {
                        d.add_i64(f.years, i64::from(y));
                    }
                } else {
                    d.add_i64(f.years, WIDE_INTERVAL);
                }
            }
            None => d.add_u64(f.date, pack_interval(i32::MAX, i32::MIN)),
        }
        d
    }

    /// Add `doc`, replacing any record with the same id. Visible to searches after
    /// [`SearchIndex::commit`].
    pub fn add(&mut self, doc: &Doc) -> Result<(), Error> {
        let d = self.to_tantivy(doc);
        let term = Term::from_field_text(self.fields.id, &doc.id);
        let w = self.writer()?;
        w.delete_term(term);
        w.add_document(d)?;
        Ok(())
    }

    /// Add `doc` whose id the caller knows is not in the index (a first import into an
    /// empty index): no replacement is looked for, which makes bulk loading cheaper. Adding
    /// an id twice this way leaves two records.
    pub fn add_new(&mut self, doc: &Doc) -> Result<(), Error> {
        let d = self.to_tantivy(doc);
        self.writer()?.add_document(d)?;
        Ok(())
    }

    /// Add many records, replacing every record with one of their ids; returns how many.
    /// Several documents may share an id (an item has one per case): all of them replace
    /// what the index held under that id.
    pub fn add_many<'a>(
        &mut self,
        docs: impl IntoIterator<Item = &'a Doc>,
    ) -> Result<usize, Error> {
        let docs: Vec<&Doc> = docs.into_iter().collect();
        let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.delete(id)?;
        }
        for d in &docs {
            self.add_new(d)?;
        }
        Ok(docs.len())
    }

    /// Remove the record with this id (no error when there is none).
    pub fn delete(&mut self, id: &str) -> Result<(), Error> {
        let term = Term::from_field_text(self.fields.id, id);
        self.writer()?.delete_term(term);
        Ok(())
    }

    /// Make every change so far durable and visible to searches.
    pub fn commit(&mut self) -> Result<(), Error> {
        if let Some(w) = self.writer.as_mut() {
            w.commit()?;
            self.reader.reload()?;
        }
        Ok(())
    }

    /// Two-phase commit: makes every change so far ready to commit (segments written, the
    /// slow part), then asks `decide`; commits when it answers true, else discards the
    /// changes. Returns whether it committed.
    pub fn commit_if(&mut self, decide: impl FnOnce() -> bool) -> Result<bool, Error> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(decide());
        };
        let prepared = w.prepare_commit()?;
        if decide() {
            prepared.commit()?;
            self.reader.reload()?;
            Ok(true)
        } else {
            prepared.abort()?;
            Ok(false)
        }
    }

    /// Discard the changes made since the last commit.
    pub fn rollback(&mut self) -> Result<(), Error> {
        if let Some(w) = self.writer.as_mut() {
            w.rollback()?;
        }
        Ok(())
    }

    /// Commit, wait for background segment merges and release the writer lock.
    pub fn close(mut self) -> Result<(), Error> {
        self.commit()?;
        if let Some(w) = self.writer.take() {
            w.wait_merging_threads()?;
        }
        Ok(())
    }

    /// Number of records visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Run a search.
    ///
    /// A query with words is ranked, not all-or-nothing: a record is a hit when it matches
    /// every word of the query except at most one name word (a query of one name word needs
    /// it; numbers and codes are always needed; particles such as `abu` alone only rank),
    /// each word either as written (normalised) in the title or text or as a name word alike
    /// enough ([`NAME_THRESHOLD`]) in the names, places or title. Hits are ranked by how many words match and how well; the filters stay exact.
    /// `total` and the facets count exactly the hits.
    pub fn search(&self, q: &Query) -> Result<SearchResults, Error> {
        if let Some((lo, hi)) = q.date {
            if lo > hi {
                return Err(Error::InvalidQuery(format!(
                    "date interval ends ({hi}) before it starts ({lo})"
                )));
            }
        }
        if q.cases.as_ref().is_some_and(|c| c.is_empty()) {
            return Ok(SearchResults::default());
        }
        let Some(mut must) = self.filters(q) else {
            return Ok(SearchResults::default());
        };
        let searcher = self.reader.searcher();
        let words = self.query_words(&searcher, &q.text)?;
        if !words.is_empty() {
            must.push(self.ranked_words(&words));
        }
        let (total, counts, top) = self.candidates(&searcher, q, must, words.is_empty())?;
        let hits = self.rank(&searcher, q, top)?;
        let [kind, case, violation, verification] = counts;
        Ok(SearchResults {
            hits,
            total,
            facets: Facets {
                kind,
                case,
                violation,
                verification,
            },
        })
    }

    /// The words of a query, each with the name words of the index it may stand for.
    fn query_words(
        &self,
        searcher: &tantivy::Searcher,
        text: &str,
    ) -> Result<Vec<QueryWord>, Error> {
        let tokens = name_tokens(text);
        let mut words: Vec<QueryWord> = Vec::with_capacity(tokens.len());
        let mut scored: HashMap<String, Vec<Word>> = HashMap::new();
        for token in &tokens {
            let norm = normalize(token);
            if norm.is_empty() || norm.contains(' ') && norm.split(' ').all(is_query_stopword) {
                continue;
            }
            let mut word = QueryWord {
                exact: query_term(&norm).to_owned(),
                stopword: is_query_stopword(&norm),
                ..QueryWord::default()
            };
            let units = token_units(token);
            let own = name_particles(&units);
            for unit in &units {
                match unit {
                    Word::Particle(p) => word.particles.push(p.key().to_owned()),
                    Word::Sounds(_) => {
                        word.name = !token.bytes().any(|b| b.is_ascii_digit());
                        self.similar_words(searcher, unit, own, &mut scored, &mut word)?;
                    }
                }
            }
            words.push(word);
        }
        // Lone articles and particles count only when the query is nothing else.
        if words.iter().any(|w| !w.stopword) {
            words.retain(|w| !w.stopword);
        }
        let counted = words.iter().filter(|w| w.counts()).count();
        for w in &mut words {
            w.counted = counted == 0 || w.counts();
        }
        Ok(words)
    }

    /// Adds to `word` the name words of the index that share a key with `unit`, with their
    /// similarity to it (`cache`: the words of each index word, parsed once per query).
    fn similar_words(
        &self,
        searcher: &tantivy::Searcher,
        unit: &Word,
        particles: (bool, bool),
        cache: &mut HashMap<String, Vec<Word>>,
        word: &mut QueryWord,
    ) -> Result<(), Error> {
        let mut seen: HashMap<String, ()> = HashMap::new();
        for key in keys_of_word(unit) {
            let mut lo = key.clone().into_bytes();
            lo.push(KEY_END as u8);
            let mut hi = key.into_bytes();
            hi.push(KEY_END as u8 + 1);
            for segment in searcher.segment_readers() {
                let inverted = segment.inverted_index(self.fields.name_words)?;
                let mut stream = inverted
                    .terms()
                    .range()
                    .ge(&lo)
                    .lt(&hi)
                    .into_stream()
                    .map_err(|e| Error::Tantivy(e.into()))?;
                let mut n = 0;
                while stream.advance() && n < MAX_WORDS_PER_KEY {
                    n += 1;
                    let Ok(term) = std::str::from_utf8(stream.key()) else {
                        continue;
                    };
                    if seen.contains_key(term) {
                        continue;
                    }
                    seen.insert(term.to_owned(), ());
                    let token = &term[lo.len()..];
                    let units = cache
                        .entry(token.to_owned())
                        .or_insert_with(|| token_units(token));
                    let mut sim = units
                        .iter()
                        .map(|u| word_similarity(unit, u))
                        .fold(0.0f32, f32::max);
                    // `Abd al-Karim` is not `Karim`, nor `Abu Omar` `Omar`.
                    if name_particles(units) != particles {
                        sim *= PARTICLE_MISMATCH;
                    }
                    if sim >= NAME_THRESHOLD {
                        word.matches.push((term.to_owned(), sim));
                    } else if sim >= WORD_NEAR {
                        word.near.push((term.to_owned(), sim));
                    }
                }
            }
        }
        Ok(())
    }

    /// The clause for the words of a query: all of them but one must match (see
    /// [`SearchIndex::search`]); what matches and how well is the score.
    fn ranked_words(&self, words: &[QueryWord]) -> Box<dyn tantivy::query::Query> {
        let f = &self.fields;
        let score = |field: Field, t: &str, s: f32| -> Box<dyn tantivy::query::Query> {
            Box::new(ConstScoreQuery::new(term(field, t), s))
        };
        let mut required: Vec<(Occur, Box<dyn tantivy::query::Query>)> = Vec::new();
        let mut names: Vec<(Occur, Box<dyn tantivy::query::Query>)> = Vec::new();
        let mut optional: Vec<(Occur, Box<dyn tantivy::query::Query>)> = Vec::new();
        for w in words {
            if !w.counted {
                // A particle alone (`bin`, `abu`): only ranks, however it is found.
                let mut alts = vec![score(f.words, &w.exact, PARTICLE_WEIGHT)];
                alts.extend(
                    w.particles
                        .iter()
                        .map(|p| score(f.name_words, p, PARTICLE_WEIGHT)),
                );
                optional.push((Occur::Should, Box::new(DisjunctionMaxQuery::new(alts))));
                continue;
            }
            let exact = if w.name { EXACT_NAME_WORD } else { 1.0 };
            let mut alts: Vec<Box<dyn tantivy::query::Query>> =
                vec![score(f.words, &w.exact, exact)];
            alts.extend(w.matches.iter().map(|(t, s)| score(f.name_words, t, *s)));
            let clause: Box<dyn tantivy::query::Query> = Box::new(DisjunctionMaxQuery::new(alts));
            if w.name {
                names.push((Occur::Should, clause));
            } else {
                required.push((Occur::Must, clause));
            }
            if !w.near.is_empty() {
                let near: Vec<_> = w
                    .near
                    .iter()
                    .map(|(t, s)| score(f.name_words, t, s * NEAR_WEIGHT))
                    .collect();
                optional.push((Occur::Should, Box::new(DisjunctionMaxQuery::new(near))));
            }
            for p in &w.particles {
                optional.push((Occur::Should, score(f.name_words, p, PARTICLE_WEIGHT)));
            }
            // Relevance of the word in the text, only to order otherwise equal hits.
            optional.push((
                Occur::Should,
                Box::new(BoostQuery::new(term(f.words, &w.exact), TEXT_WEIGHT)),
            ));
        }
        let n = names.len();
        if n > 0 {
            let need = if n == 1 { 1 } else { n - 1 };
            required.push((
                Occur::Must,
                Box::new(BooleanQuery::with_minimum_required_clauses(names, need)),
            ));
        }
        let mut clauses = required;
        clauses.extend(optional);
        Box::new(BooleanQuery::new(clauses))
    }

    /// The clauses every hit must match apart from its words: cases, exact fields, the
    /// years a date interval touches, and place name keys. None when the place gives no
    /// key, so nothing can match.
    fn filters(&self, q: &Query) -> Option<Vec<Box<dyn tantivy::query::Query>>> {
        let f = &self.fields;
        let mut must: Vec<Box<dyn tantivy::query::Query>> = Vec::new();
        if let Some(cases) = &q.cases {
            must.push(any_term(f.case, cases));
        }
        for (field, value) in [
            (f.case, &q.case),
            (f.kind, &q.kind),
            (f.violation, &q.violation),
            (f.verification, &q.verification),
        ] {
            if let Some(v) = value {
                must.push(term(field, v));
            }
        }
        // Dates: the years the query touches select candidates through the inverted index;
        // the collectors then check the exact overlap on the date column.
        if let Some((lo, hi)) = q.date {
            let (ylo, yhi) = (year_of_day(lo), year_of_day(hi));
            if yhi - ylo < MAX_YEAR_TERMS {
                let mut years: Vec<(Occur, Box<dyn tantivy::query::Query>)> = (ylo..=yhi)
                    .map(|y| (Occur::Should, int_term(f.years, i64::from(y))))
                    .collect();
                years.push((Occur::Should, int_term(f.years, WIDE_INTERVAL)));
                must.push(Box::new(BooleanQuery::new(years)));
            }
        }
        if let Some(place) = &q.place {
            let groups = word_keys(place);
            if groups.is_empty() {
                return None;
            }
            for g in groups {
                must.push(any_term(f.places, &g));
            }
        }
        Some(must)
    }

    /// The total, the facet counts and the candidate records (scored when there are
    /// `words`) for the clauses `must`.
    fn candidates(
        &self,
        searcher: &tantivy::Searcher,
        q: &Query,
        must: Vec<Box<dyn tantivy::query::Query>>,
        no_words: bool,
    ) -> Result<Candidates, Error> {
        let counter = FacetCounter {
            keep: if no_words { q.limit } else { 0 },
            date: q.date,
        };
        // Without text: facets and the first records in one pass without scoring (for the
        // whole index, straight from the columns, cached). With text: one scored pass that
        // ranks candidates and counts facets together.
        if must.is_empty() && q.date.is_none() {
            let generation = searcher.generation().generation_id();
            let cached = self
                .all_counts
                .lock()
                .ok()
                .and_then(|c| c.as_ref().filter(|c| c.0 == generation).cloned());
            let (total, counts, first) = match cached {
                Some((_, total, counts)) => (total, counts, first_docs(searcher, q.limit)),
                None => {
                    let (total, counts, first) = counter.count_all(searcher)?;
                    if let Ok(mut c) = self.all_counts.lock() {
                        *c = Some((generation, total, counts.clone()));
                    }
                    (total, counts, first)
                }
            };
            return Ok((total, counts, first.into_iter().map(|a| (0.0, a)).collect()));
        }
        let query: Box<dyn tantivy::query::Query> = if must.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(
                must.into_iter().map(|q| (Occur::Must, q)).collect(),
            ))
        };
        if no_words {
            let (total, counts, first) = searcher.search(&query, &counter)?;
            return Ok((total, counts, first.into_iter().map(|a| (0.0, a)).collect()));
        }
        let candidates = TopDocs::with_limit(q.limit.saturating_mul(2).saturating_add(50));
        let (top, (total, counts, _)) = match q.date {
            Some((lo, hi)) => searcher.search(
                &query,
                &(
                    FilterCollector::new(
                        "date".to_string(),
                        move |v: u64| overlaps(v, lo, hi),
                        candidates,
                    ),
                    counter,
                ),
            )?,
            None => searcher.search(&query, &(candidates, counter))?,
        };
        Ok((total, counts, top))
    }

    /// The hits among the candidates `top`, best first, at most `q.limit`: the index's
    /// score refined by how well the whole query covers one of the record's names, places
    /// or its title (word order and the words that matched only nearly count there).
    fn rank(
        &self,
        searcher: &tantivy::Searcher,
        q: &Query,
        top: Vec<(Score, DocAddress)>,
    ) -> Result<Vec<Hit>, Error> {
        let f = &self.fields;
        let mut hits = Vec::with_capacity(top.len());
        let ranked = !q.text.trim().is_empty();
        let query = if ranked {
            name_words(&q.text)
        } else {
            Vec::new()
        };
        for (score, addr) in top {
            let stored: TantivyDocument = searcher.doc(addr)?;
            let title = first_str(&stored, f.title).unwrap_or_default();
            let coverage = if ranked {
                stored
                    .get_all(f.names)
                    .chain(stored.get_all(f.places))
                    .filter_map(|v| v.as_str())
                    .chain(std::iter::once(title.as_str()))
                    .map(|n| coverage_of(&query, n))
                    .fold(0.0f32, f32::max)
            } else {
                0.0
            };
            hits.push(Hit {
                id: first_str(&stored, f.id).unwrap_or_default(),
                kind: first_str(&stored, f.kind).unwrap_or_default(),
                case: first_str(&stored, f.case),
                title,
                score: score + COVERAGE_WEIGHT * coverage,
            });
        }
        if ranked {
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        }
        hits.truncate(q.limit);
        Ok(hits)
    }
}

/// Whether the words of one token begin with `abd` and with `abu`: a name with one of them
/// is another name than the same name without it.
fn name_particles(units: &[Word]) -> (bool, bool) {
    let has = |p: Particle| {
        units
            .iter()
            .any(|u| matches!(u, Word::Particle(q) if *q == p))
    };
    (has(Particle::Abd), has(Particle::Abu))
}

/// One word of a query and what it may match.
#[derive(Debug, Default)]
struct QueryWord {
    /// The word as the text index holds it.
    exact: String,
    /// Whether it reads as a name word (not a number, a code or a particle alone): one
    /// name word of a query may be missing from a hit, other words may not.
    name: bool,
    /// A lone article (`al`, `ال`).
    stopword: bool,
    /// Name particles it carries (`abu`, `abd`…), by key.
    particles: Vec<String>,
    /// Index name words alike enough to count as this word, with their similarity.
    matches: Vec<(String, f32)>,
    /// Index name words close to it that do not count but add to the rank.
    near: Vec<(String, f32)>,
    /// Whether it must match (name words: all of them but one).
    counted: bool,
}

impl QueryWord {
    /// Particles alone (`abu`, `bin`) only add to the rank.
    fn counts(&self) -> bool {
        self.name || self.particles.is_empty()
    }
}

fn first_str(d: &TantivyDocument, f: Field) -> Option<String> {
    d.get_first(f).and_then(|v| v.as_str()).map(str::to_string)
}

fn term(field: Field, value: &str) -> Box<dyn tantivy::query::Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::WithFreqs,
    ))
}

fn int_term(field: Field, value: i64) -> Box<dyn tantivy::query::Query> {
    Box::new(TermQuery::new(
        Term::from_field_i64(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Records whose interval spans this many years or more are indexed under one term.
const MAX_YEAR_TERMS: i32 = 64;
const WIDE_INTERVAL: i64 = i64::MIN;

/// An inclusive interval of days in one u64: first day in the high half, last in the low.
fn pack_interval(lo: i32, hi: i32) -> u64 {
    let bias = |d: i32| (i64::from(d) - i64::from(i32::MIN)) as u64;
    (bias(lo) << 32) | bias(hi)
}

fn overlaps(packed: u64, lo: i32, hi: i32) -> bool {
    let unbias = |v: u64| (v as i64 + i64::from(i32::MIN)) as i32;
    let (a, b) = (unbias(packed >> 32), unbias(packed & 0xFFFF_FFFF));
    // An unknown date is stored as an empty interval (first day after the last).
    a <= b && a <= hi && b >= lo
}

/// The proleptic Gregorian year of a day counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn year_of_day(day: i32) -> i32 {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    year as i32
}

fn any_term(field: Field, values: &[String]) -> Box<dyn tantivy::query::Query> {
    if values.len() == 1 {
        return term(field, &values[0]);
    }
    Box::new(BooleanQuery::new(
        values
            .iter()
            .map(|v| (Occur::Should, term(field, v)))
            .collect(),
    ))
}

// ---- facet counting over fast string columns ------------------------------------------

const FACET_FIELDS: [&str; 4] = ["kind", "case", "violation", "verification"];

/// Counts the matched records, their facet values, and keeps the first `keep` of them.
struct FacetCounter {
    keep: usize,
    /// Only records whose date interval overlaps this one.
    date: Option<(i32, i32)>,
}

type Counts = [Vec<(String, u64)>; 4];

/// What the first pass of a search finds: the total, the facet counts and the candidate
/// records (with their scores when the query has words).
type Candidates = (u64, Counts, Vec<(Score, DocAddress)>);

/// A segment's column for one facet field and the count per term ordinal.
type FacetColumn = Option<(StrColumn, Vec<u32>)>;
type FacetFruit = (u64, Counts, Vec<DocAddress>);

struct FacetSegment {
    segment: u32,
    date: Option<(Column<u64>, i32, i32)>,
    filtered: Vec<DocId>,
    keep: usize,
    count: u64,
    first: Vec<DocAddress>,
    columns: Vec<FacetColumn>,
    docs_buf: Vec<DocId>,
    rows_buf: Vec<u32>,
    ords_buf: Vec<u64>,
}

fn segment_columns(segment: &SegmentReader) -> tantivy::Result<Vec<FacetColumn>> {
    let mut columns = Vec::with_capacity(FACET_FIELDS.len());
    for name in FACET_FIELDS {
        let col = segment.fast_fields().str(name)?;
        columns.push(col.map(|c| {
            let n = c.num_terms();
            (c, vec![0u32; n])
        }));
    }
    Ok(columns)
}

fn harvest_counts(columns: Vec<FacetColumn>) -> Counts {
    let mut out: Counts = Default::default();
    for (slot, col) in out.iter_mut().zip(columns) {
        let Some((col, counts)) = col else { continue };
        let mut buf = String::new();
        for (ord, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            buf.clear();
            if col.ord_to_str(ord as u64, &mut buf).unwrap_or(false) {
                slot.push((buf.clone(), u64::from(n)));
            }
        }
    }
    out
}

fn merge_counts(parts: impl IntoIterator<Item = Counts>) -> Counts {
    let mut maps: [HashMap<String, u64>; 4] = Default::default();
    for part in parts {
        for (map, counts) in maps.iter_mut().zip(part) {
            for (k, v) in counts {
                *map.entry(k).or_default() += v;
            }
        }
    }
    maps.map(|m| {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    })
}

/// The first `keep` records of the index, in index order.
fn first_docs(searcher: &tantivy::Searcher, keep: usize) -> Vec<DocAddress> {
    let mut out = Vec::with_capacity(keep);
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let need = keep - out.len();
        if need == 0 {
            break;
        }
        let ord = ord as u32;
        match segment.alive_bitset() {
            None => out.extend(
                (0..segment.max_doc())
                    .take(need)
                    .map(|d| DocAddress::new(ord, d)),
            ),
            Some(alive) => out.extend(
                alive
                    .iter_alive()
                    .take(need)
                    .map(|d| DocAddress::new(ord, d)),
            ),
        }
    }
    out
}

impl FacetCounter {
    /// The same result as searching for every record, read straight from the columns.
    fn count_all(&self, searcher: &tantivy::Searcher) -> tantivy::Result<FacetFruit> {
        let mut total = 0u64;
        let mut parts = Vec::new();
        let mut first = Vec::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let ord = ord as u32;
            let mut columns = segment_columns(segment)?;
            match segment.alive_bitset() {
                None => {
                    total += u64::from(segment.max_doc());
                    for (col, counts) in columns.iter_mut().flatten() {
                        for o in col.ords().values.iter() {
                            if let Some(c) = counts.get_mut(o as usize) {
                                *c += 1;
                            }
                        }
                    }
                    let take = (self.keep - first.len()).min(segment.max_doc() as usize);
                    first.extend((0..take as u32).map(|d| DocAddress::new(ord, d)));
                }
                Some(alive) => {
                    let mut seg = FacetSegment::new(ord, self.keep - first.len(), columns, None);
                    let docs: Vec<DocId> = alive.iter_alive().collect();
                    for chunk in docs.chunks(1024) {
                        seg.collect_block(chunk);
                    }
                    total += seg.count;
                    first.extend(seg.first);
                    columns = seg.columns;
                }
            }
            parts.push(harvest_counts(columns));
        }
        Ok((total, merge_counts(parts), first))
    }
}

impl FacetSegment {
    fn new(
        segment: u32,
        keep: usize,
        columns: Vec<FacetColumn>,
        date: Option<(Column<u64>, i32, i32)>,
    ) -> Self {
        FacetSegment {
            segment,
            date,
            filtered: Vec::new(),
            keep,
            count: 0,
            first: Vec::new(),
            columns,
            docs_buf: Vec::new(),
            rows_buf: Vec::new(),
            ords_buf: Vec::new(),
        }
    }
}

impl Collector for FacetCounter {
    type Fruit = FacetFruit;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        segment_local_id: u32,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let date = match self.date {
            Some((lo, hi)) => Some((segment.fast_fields().u64("date")?, lo, hi)),
            None => None,
        };
        Ok(FacetSegment::new(
            segment_local_id,
            self.keep,
            segment_columns(segment)?,
            date,
        ))
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetFruit>) -> tantivy::Result<FacetFruit> {
        let mut total = 0;
        let mut first = Vec::new();
        let mut parts = Vec::with_capacity(fruits.len());
        for (n, counts, f) in fruits {
            total += n;
            first.extend(f);
            parts.push(counts);
        }
        first.sort();
        first.truncate(self.keep);
        Ok((total, merge_counts(parts), first))
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        let mut filtered = std::mem::take(&mut self.filtered);
        let docs = match &self.date {
            Some((col, lo, hi)) => {
                filtered.clear();
                filtered.extend(
                    docs.iter()
                        .copied()
                        .filter(|&d| col.first(d).is_some_and(|v| overlaps(v, *lo, *hi))),
                );
                &filtered[..]
            }
            None => docs,
        };
        self.count_block(docs);
        self.filtered = filtered;
    }

    fn harvest(self) -> FacetFruit {
        (self.count, harvest_counts(self.columns), self.first)
    }
}

impl FacetSegment {
    fn count_block(&mut self, docs: &[DocId]) {
        self.count += docs.len() as u64;
        if self.first.len() < self.keep {
            let take = (self.keep - self.first.len()).min(docs.len());
            let seg = self.segment;
            self.first
                .extend(docs[..take].iter().map(|&d| DocAddress::new(seg, d)));
        }
        for (col, counts) in self.columns.iter_mut().flatten() {
            let ords = col.ords();
            self.docs_buf.clear();
            self.rows_buf.clear();
            ords.row_ids_for_docs(docs, &mut self.docs_buf, &mut self.rows_buf);
            self.ords_buf.clear();
            self.ords_buf.resize(self.rows_buf.len(), 0);
            ords.values.get_vals(&self.rows_buf, &mut self.ords_buf);
            for &o in &self.ords_buf {
                if let Some(c) = counts.get_mut(o as usize) {
                    *c += 1;
                }
            }
        }
    }
}

// ---- tokenizers --------------------------------------------------------------------------

/// Tokens of one field value; their strings are reused from value to value.
#[derive(Clone, Default)]
struct TokenBuf {
    tokens: Vec<Token>,
    len: usize,
}

impl TokenBuf {
    fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, position: usize, text: &str) {
        if let Some(t) = self.tokens.get_mut(self.len) {
            t.text.clear();
            t.text.push_str(text);
            t.position = position;
        } else {
            self.tokens.push(Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text: text.to_string(),
                position_length: 1,
            });
        }
        self.len += 1;
    }

    fn stream(&mut self) -> VecTokenStream<'_> {
        VecTokenStream {
            tokens: &mut self.tokens[..self.len],
            next: 0,
        }
    }
}

/// Free text: [`normalize`], then each word with its [`index_variants`].
#[derive(Clone, Default)]
struct TextTokenizer {
    buf: TokenBuf,
}

/// A name: its [`name_keys`](crate::name_keys).
#[derive(Clone, Default)]
struct NameTokenizer {
    buf: TokenBuf,
}

/// A name: each word under each of its keys (`key` U+0001 `word`), particles by their key.
#[derive(Clone, Default)]
struct NameWordsTokenizer {
    buf: TokenBuf,
    term: String,
}

struct VecTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1)]
    }
    fn token_mut(&mut self) -> &mut Token {
        let i = self.next.saturating_sub(1);
        &mut self.tokens[i]
    }
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.buf.clear();
        let norm = normalize(text);
        for (pos, w) in norm.split(' ').filter(|w| !w.is_empty()).enumerate() {
            index_variants(w, |v| self.buf.push(pos, v));
        }
        self.buf.stream()
    }
}

impl Tokenizer for NameTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.buf.clear();
        for (pos, group) in word_keys(text).iter().enumerate() {
            for k in group {
                self.buf.push(pos, k);
            }
        }
        self.buf.stream()
    }
}

impl Tokenizer for NameWordsTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.buf.clear();
        for (pos, token) in name_tokens(text).iter().enumerate() {
            for unit in token_units(token) {
                for key in keys_of_word(&unit) {
                    if matches!(unit, Word::Particle(_)) {
                        self.buf.push(pos, &key);
                    } else {
                        self.term.clear();
                        self.term.push_str(&key);
                        self.term.push(KEY_END);
                        self.term.push_str(token);
                        self.buf.push(pos, &self.term);
                    }
                }
            }
        }
        self.buf.stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_of_days() {
        for (day, year) in [
            (0, 1970),
            (-1, 1969),
            (364, 1970),
            (365, 1971),
            (14_975, 2011),
            (15_340, 2012),
            (15_705, 2012), // 2013-01-01 is 15706
            (15_706, 2013),
            (-719_468, 0),
            (i32::MAX, 5_881_580),
            (i32::MIN, -5_877_641),
        ] {
            assert_eq!(year_of_day(day), year, "day {day}");
        }
    }

    #[test]
    fn packed_intervals_overlap() {
        let p = pack_interval(-10, 20);
        for (lo, hi, want) in [
            (-10, -10, true),
            (20, 20, true),
            (21, 30, false),
            (-30, -11, false),
            (i32::MIN, i32::MAX, true),
            (0, 0, true),
        ] {
            assert_eq!(overlaps(p, lo, hi), want, "{lo}..{hi}");
        }
        // the unknown interval overlaps nothing
        let unknown = pack_interval(i32::MAX, i32::MIN);
        assert!(!overlaps(unknown, i32::MIN, i32::MAX));
    }
}
