//! Text normalisation for indexing and querying, Arabic-aware.
//!
//! [`normalize`] turns any text into lowercase words separated by single spaces, so that the
//! spellings people actually type for the same word compare equal:
//!
//! * Unicode compatibility folding (NFKC/NFKD): Arabic presentation forms, ligatures such as
//!   `ﷲ`, full-width Latin letters;
//! * every combining mark is dropped: Arabic harakat (U+064B–U+065F), superscript alef
//!   (U+0670), Quranic annotation signs (U+0610–U+061A, U+06D6–U+06ED), Latin accents
//!   (`é` → `e`); tatweel (U+0640) and invisible format characters (ZWNJ, bidi marks) too;
//! * Arabic letter forms: `أ إ آ ٱ` → `ا`, `ؤ` → `و`, `ئ` → `ي`, `ى` → `ي`, `ة` → `ه`,
//!   Persian and Urdu forms (`ک ی ۀ ہ ھ ے`) → the Arabic letters;
//! * Arabic-Indic (`٠`–`٩`) and Persian (`۰`–`۹`) digits → ASCII digits;
//! * Latin: lowercase, accents stripped, a few letters without a decomposition folded
//!   (`ø` → `o`, `ł` → `l`, `ß` → `ss`…); apostrophes and the ayn/hamza signs (`'` `’` `ʿ` `ʾ`)
//!   are dropped inside words, hyphens and all other punctuation separate words;
//! * compound-name spacing: a name particle (`ابو`, `ابي`, `ابا`, `عبد`, `ابن`, `بن`, `ام`, and
//!   in Latin `abu`, `abd`, `abdul`, `abdel`, `ibn`, `bin`, `umm`…) is joined to the word that
//!   follows it, so `ابو بكر` and `ابوبكر`, `عبد الله` and `عبدالله`, `Abdel-Rahman` and
//!   `Abdelrahman` normalise to the same word. The index also indexes the parts of such a
//!   word, so `بكر` alone still finds `ابو بكر` (see [`index_variants`]).

use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

/// Arabic name particles joined to the following word (after letter folding).
const AR_PARTICLES: &[&str] = &["ابو", "ابي", "ابا", "عبد", "ابن", "بن", "ام"];

/// Latin name particles joined to the following word.
const LATIN_PARTICLES: &[&str] = &[
    "abu", "abou", "abd", "abdul", "abdel", "abdal", "abdol", "abdoul", "abdur", "abdu", "ibn",
    "bin", "umm",
];

/// Latin articles that continue a compound after a particle (`abd al rahman`).
const LATIN_ARTICLES: &[&str] = &["al", "el", "ul", "ar", "ur", "ad", "as", "an", "at", "az"];

/// Arabic prefixes carrying the definite article, stripped for matching (longest first).
const AR_ARTICLE_PREFIXES: &[&str] = &["وال", "بال", "كال", "فال", "لل", "ال"];

/// Normalise `text` for indexing or querying: lowercase, folded words separated by one space.
///
/// ```
/// use athar_search::normalize;
/// assert_eq!(normalize("أبو بكر"), normalize("ابوبكر"));
/// assert_eq!(normalize("Abdel-Rahman"), "abdelrahman");
/// assert_eq!(normalize("مُحَمَّـــد"), "محمد");
/// ```
pub fn normalize(text: &str) -> String {
    join_compounds(fold(text, false))
}

/// Letter-level folding without compound joining; words separated by one space.
///
/// With `keep_marbuta`, `ة` and `ى` are kept (name matching reads them as vowels).
pub(crate) fn fold(text: &str, keep_marbuta: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let push = |out: &mut String, c: char, pending_space: &mut bool| {
        if *pending_space && !out.is_empty() {
            out.push(' ');
        }
        *pending_space = false;
        out.push(c);
    };
    if text.is_ascii() {
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' => push(&mut out, (b + 32) as char, &mut pending_space),
                b'a'..=b'z' | b'0'..=b'9' => push(&mut out, b as char, &mut pending_space),
                b'\'' | b'`' => {}
                _ => pending_space = true,
            }
        }
        return out;
    }
    let one = |c: char, out: &mut String, pending_space: &mut bool| match fold_char(c, keep_marbuta)
    {
        Folded::Drop => {}
        Folded::Space => *pending_space = true,
        Folded::One(c) => push(out, c, pending_space),
        Folded::Two(a, b) => {
            push(out, a, pending_space);
            out.push(b);
        }
        Folded::Lower(c) => {
            for l in c.to_lowercase() {
                push(out, l, pending_space);
            }
        }
    };
    // Compatibility decomposition (NFKD) character by character: the canonical reordering
    // of combining marks that full NFKD adds does not matter, since every mark is dropped.
    // ASCII and the plain Arabic letters have no decomposition and skip the lookup.
    for c in text.chars() {
        if c.is_ascii() || (plain_arabic_letter(c) && !('\u{0622}'..='\u{0626}').contains(&c)) {
            one(c, &mut out, &mut pending_space);
        } else {
            decompose_compatible(c, |d| one(d, &mut out, &mut pending_space));
        }
    }
    // NFKD split Hangul syllables and other composed letters outside the folds above;
    // put them back together.
    if out.chars().any(|c| ('\u{1100}'..='\u{11FF}').contains(&c)) {
        return out.nfc().collect();
    }
    out
}

/// Arabic letters U+0621–U+064A except tatweel: letters that fold to themselves or
/// (U+0622–U+0626, `ة`, `ى`) through the rules of `fold_char`.
fn plain_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0621}'..='\u{063A}' | '\u{0641}'..='\u{064A}')
}

enum Folded {
    Drop,
    Space,
    One(char),
    Two(char, char),
    Lower(char),
}

fn fold_char(c: char, keep_marbuta: bool) -> Folded {
    use Folded::*;
    match c {
        // The common cases first, without Unicode table lookups.
        'a'..='z' | '0'..='9' => One(c),
        'A'..='Z' => One(c.to_ascii_lowercase()),
        c if plain_arabic_letter(c) && c != 'ة' && c != 'ى' => One(c),
        // Combining marks: harakat, shadda, sukun, superscript alef, Quranic marks, accents.
        c if is_combining_mark(c) => Drop,
        // Quranic signs that are not combining marks, tatweel.
        '\u{06DD}' | '\u{06DE}' | '\u{06E5}' | '\u{06E6}' | '\u{06E9}' | '\u{0640}' => Drop,
        // Invisible format characters: ZWSP, ZWNJ, ZWJ, LRM/RLM, bidi embeddings and
        // isolates, word joiner, BOM, soft hyphen, Arabic letter mark.
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{00AD}'
        | '\u{061C}' => Drop,
        // Apostrophes and the signs used for ayn and hamza in romanised names.
        '\'' | '`' | '\u{00B4}' | '\u{2018}' | '\u{2019}' | '\u{02BB}' | '\u{02BC}'
        | '\u{02BE}' | '\u{02BF}' | '\u{02B9}' | '\u{02CA}' | '\u{02CB}' => Drop,
        // Alef forms (hamza and madda forms arrive decomposed: alef + combining mark).
        '\u{0671}' | '\u{0672}' | '\u{0673}' | '\u{0675}' => One('ا'),
        'ى' if keep_marbuta => One('ى'),
        'ة' if keep_marbuta => One('ة'),
        // Yeh forms: alef maqsura, Persian yeh, Pashto/Uyghur yeh, Urdu yeh barree, high hamza.
        'ى' | '\u{06CC}' | '\u{06D0}' | '\u{06D2}' | '\u{0678}' | '\u{06CD}' => One('ي'),
        // Heh forms: ta marbuta, Urdu heh goal, heh doachashmee, ae, goal with hamza.
        'ة' | '\u{06C1}' | '\u{06C2}' | '\u{06C3}' | '\u{06BE}' | '\u{06D5}' => One('ه'),
        // Kaf forms: Persian keheh, swash kaf.
        '\u{06A9}' | '\u{06AA}' => One('ك'),
        // Waw with small marks used in other languages.
        '\u{06C4}'..='\u{06CB}' | '\u{06CF}' => One('و'),
        // Arabic-Indic and extended (Persian/Urdu) digits.
        '\u{0660}'..='\u{0669}' => One(char::from(b'0' + (c as u32 - 0x0660) as u8)),
        '\u{06F0}'..='\u{06F9}' => One(char::from(b'0' + (c as u32 - 0x06F0) as u8)),
        // Latin letters without a canonical decomposition.
        'ø' | 'Ø' => One('o'),
        'đ' | 'Đ' | 'ð' | 'Ð' => One('d'),
        'ł' | 'Ł' => One('l'),
        'ħ' | 'Ħ' => One('h'),
        'ı' => One('i'),
        'ß' => Two('s', 's'),
        'æ' | 'Æ' => Two('a', 'e'),
        'œ' | 'Œ' => Two('o', 'e'),
        'þ' | 'Þ' => Two('t', 'h'),
        c if c.is_alphanumeric() => {
            if c.is_uppercase() {
                Lower(c)
            } else {
                One(c)
            }
        }
        _ => Space,
    }
}

fn join_compounds(folded: String) -> String {
    let has_particle = folded
        .split(' ')
        .any(|w| may_be_particle(w) && (AR_PARTICLES.contains(&w) || LATIN_PARTICLES.contains(&w)));
    if !has_particle {
        return folded;
    }
    let mut out = String::with_capacity(folded.len());
    let mut pending = String::new();
    let mut pending_latin = false;
    for word in folded.split(' ').filter(|w| !w.is_empty()) {
        if !pending.is_empty() {
            pending.push_str(word);
            let continues = if pending_latin {
                LATIN_ARTICLES.contains(&word) || LATIN_PARTICLES.contains(&word)
            } else {
                AR_PARTICLES.contains(&word)
            };
            if !continues {
                push_word(&mut out, &pending);
                pending.clear();
            }
        } else if AR_PARTICLES.contains(&word) {
            pending.push_str(word);
            pending_latin = false;
        } else if LATIN_PARTICLES.contains(&word) {
            pending.push_str(word);
            pending_latin = true;
        } else {
            push_word(&mut out, word);
        }
    }
    if !pending.is_empty() {
        push_word(&mut out, &pending);
    }
    out
}

/// Whether `word` can begin with a particle (`a…`, `i…`, `b…`, `u…`, `ا…`, `ع…`, `ب…`): a
/// cheap test that spares most words the list comparisons.
fn may_be_particle(word: &str) -> bool {
    matches!(
        word.chars().next(),
        Some('a' | 'i' | 'b' | 'u' | 'ا' | 'ع' | 'ب')
    )
}

fn push_word(out: &mut String, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
}

/// The word with its Arabic definite article (and an attached `و`/`ب`/`ك`/`ف`/`ل`) removed,
/// when at least three letters remain: `المسميه` → `مسميه`, `والمسميه` → `مسميه`.
pub fn strip_article(word: &str) -> Option<&str> {
    for prefix in AR_ARTICLE_PREFIXES {
        if let Some(rest) = word.strip_prefix(prefix) {
            if rest.chars().count() >= 3 {
                return Some(rest);
            }
        }
    }
    None
}

/// The term a normalised query word is looked up by: the word without its Arabic article.
pub fn query_term(word: &str) -> &str {
    strip_article(word).unwrap_or(word)
}

/// Words of normalised text that carry no meaning on their own in a query: the Arabic
/// article written apart, in Arabic script or romanised, with its assimilated forms
/// (`al-Masmiyah` → `al masmiyah`, `ash-Shami` → `ash shami`).
pub fn is_query_stopword(word: &str) -> bool {
    matches!(
        word,
        "al" | "el"
            | "ul"
            | "ال"
            | "ad"
            | "adh"
            | "an"
            | "ar"
            | "as"
            | "ash"
            | "at"
            | "ath"
            | "az"
            | "ed"
            | "en"
            | "er"
            | "es"
            | "esh"
            | "et"
            | "ez"
    )
}

/// Every term indexed for one normalised word: the word, its form without the article, and
/// the parts of a joined compound (`ابوبكر` → `ابوبكر`, `ابو`, `بكر`;
/// `عبدالرحمن` → also `عبد`, `الرحمن`, `رحمن`). Calls `emit` for each.
pub fn index_variants(word: &str, mut emit: impl FnMut(&str)) {
    emit(word);
    if let Some(s) = strip_article(word) {
        emit(s);
    }
    let (particles, min_rest): (&[&str], usize) = if word.is_ascii() {
        (LATIN_PARTICLES, 3)
    } else {
        (AR_PARTICLES, 3)
    };
    if !may_be_particle(word) {
        return;
    }
    // Longest particle first, so `abdul…` is preferred to `abd…`.
    let mut best: Option<&str> = None;
    for p in particles {
        if word.starts_with(p) && best.is_none_or(|b| p.len() > b.len()) {
            best = Some(p);
        }
    }
    if let Some(p) = best {
        let rest = &word[p.len()..];
        if rest.chars().count() >= min_rest {
            emit(p);
            emit(rest);
            if let Some(s) = strip_article(rest) {
                emit(s);
            }
        }
    }
}
