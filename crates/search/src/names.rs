//! Transliteration-insensitive matching of personal and place names.
//!
//! A name in Arabic script and its romanisations (`محمد`, `Muhammad`, `Mohamed`, `Mehmet`,
//! `Mihemed`) are read into one phonetic alphabet, word by word:
//!
//! * Arabic letters map to their sounds; `ا` (after the first letter), `و` and `ي` are long
//!   vowels or glides, short vowels are unwritten; `ة` is a final `-a(h)`, `ع` and `ء` are
//!   weak consonants;
//! * Latin spellings are read with the usual digraphs (`sh ch kh gh th dh zh dj ph`, `ou oo ee
//!   aa`), doubled letters collapsed, a final `h` after a vowel treated as optional; French
//!   `ou` before another syllable as u of either length (`Roukaya` رقية), `c` as Turkish `j`
//!   or French `s` (`Cemal`, `Youcef`), Turkish `ş ç ğ` and final devoicing (`Ahmet`,
//!   `Recep`), `-at` for ta marbuta in construct, an apostrophe as a glottal stop (`Shu'eir`
//!   شقير, ق said as `'`);
//! * the article (`ال`, `al-`, `el-`, assimilated `ad-`, `esh-`, joined `Essaid`) is optional;
//!   the particles of compound names (`abu`, `abd` in every spelling: `Abdul`, `Abd al-`,
//!   `Abdel`, `Abde`, `Abden`, `Ebdul`, `Evdil`…; `ibn`/`bin`/`ben`, joined or apart: `Bensalem`
//!   بن سالم; `umm`) are units of their own; the second halves `الدين` and `الله` are joined to
//!   the word before them (`نور الدين` = `Nureddin` = `Nur ad-Din`, `Nasrallah`), with the
//!   article's l optional before a sun letter.
//!
//! [`name_keys`] gives coarse, script-independent keys (the consonant skeleton in broad
//! classes: `q k g` together, `d dh z ḍ ẓ` together, ث also as `s` and `t`, ق also unwritten,
//! `v` also as `w`…) for finding candidates in an index: they aim at recall.
//! [`name_similarity`] then aligns the phonetic spellings with costs that know which
//! differences are mere romanisation (a short vowel written or not, `o`/`u`, `q`/`k`/`g`,
//! `th`/`t`, two neighbouring letters swapped) and which change the name (a long vowel that
//! one spelling has and the other has not: `محمد`/`Muhammad` against `محمود`/`Mahmoud`): it
//! is the precision step. The search index scores each name word of the index once per
//! query this way (see `index`).

use crate::normalize::fold;

/// Similarity at and above which two names are taken to be the same name
/// (see `tests/name_eval.rs` for the precision and recall measured at this threshold).
pub const NAME_THRESHOLD: f32 = 0.85;

/// Name particles, recognised joined or apart, compared as whole units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Particle {
    Abd,
    Abu,
    Ibn,
    Umm,
    Bint,
}

impl Particle {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Particle::Abd => "~abd",
            Particle::Abu => "~abu",
            Particle::Ibn => "~ibn",
            Particle::Umm => "~umm",
            Particle::Bint => "~bint",
        }
    }
}

/// One word of a name: a particle, or the phonetic spellings it may stand for.
#[derive(Clone, Debug)]
pub(crate) enum Word {
    Particle(Particle),
    /// Alternative readings (article stripped or kept, digraph or separate letters).
    Sounds(Vec<Vec<char>>),
}

/// `Abd`, with its article joined, as English, French, Turkish and Kurdish write it (longest
/// first within each spelling of `abd`).
const LATIN_ABD: &[&str] = &[
    "abdoul", "abdul", "abdel", "abdal", "abdol", "abdur", "abdar", "abder", "abdil", "abdu",
    "abd", "ebdoul", "ebdul", "ebdel", "ebdil", "ebdur", "ebdu", "ebd", "evdul", "evdel", "evdil",
    "evdi", "evd", "abde",
];

/// `Abd` with its article assimilated to the sun letter that follows (`Abden Nasser`,
/// `Abdessalam`, `Abdesh-Shakur`): `abd` + a vowel + the letter.
fn abd_assimilated(w: &str) -> Option<&str> {
    let rest = w.strip_prefix("abd")?;
    let rest = rest.strip_prefix(['a', 'e', 'u'])?;
    ["sh", "th", "dh", "n", "s", "r", "t", "z", "d"]
        .iter()
        .find(|c| rest.starts_with(*c))
        .map(|_| rest)
}
const LATIN_ABU: &[&str] = &["abou", "abu", "abo", "ebou", "ebu"];
const LATIN_ARTICLES: &[&str] = &[
    "al", "el", "ul", "il", "ad", "an", "ar", "as", "at", "az", "ash", "ath", "adh", "ed", "en",
    "er", "es", "et", "ez", "esh", "eth", "edh", "ud", "un", "ur", "us", "ut", "uz", "ush",
];

fn latin_particle(w: &str) -> Option<Particle> {
    if w.len() <= 6 && abd_assimilated(w).is_some_and(|r| r.len() <= 2) {
        return Some(Particle::Abd);
    }
    Some(match w {
        "abu" | "abou" | "abo" | "abi" | "aba" | "ebu" | "bou" | "bu" => Particle::Abu,
        // Every spelling of `abd` written apart, with the article or a vowel after it
        // (`Abdel`, `Abde`, `Ebdal`, `Evdil`); not `Abdo` and `Abdi`, names of their own.
        w if LATIN_ABD.contains(&w) || matches!(w, "abda" | "ebda" | "ebde" | "ebdal") => {
            Particle::Abd
        }
        "ibn" | "bin" | "ben" | "bn" | "ibni" => Particle::Ibn,
        "umm" | "um" | "oum" | "om" | "omm" => Particle::Umm,
        "bint" | "bent" => Particle::Bint,
        _ => return None,
    })
}

fn arabic_particle(w: &str) -> Option<Particle> {
    Some(match w {
        "عبد" => Particle::Abd,
        "ابو" | "ابي" | "ابا" => Particle::Abu,
        "ابن" | "بن" => Particle::Ibn,
        "ام" => Particle::Umm,
        "بنت" => Particle::Bint,
        _ => return None,
    })
}

fn is_arabic(w: &str) -> bool {
    w.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
}

/// Split a name into words: particles separated, articles noted as optional.
fn words(name: &str) -> Vec<Word> {
    let folded = fold(&turkish(name), true);
    let toks: Vec<String> = join_compound_ends(
        folded
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect(),
    );
    let mut out = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        token_words(tok, i + 1 == toks.len(), &mut out);
    }
    out
}

/// Turkish and Kurdish letters whose sound the accent-stripping fold would lose:
/// `ş` → `sh`, `ç` → `ch`, `ğ` → `gh`.
///
/// An apostrophe between two Latin letters is kept as a glottal stop `ʔ` (`Shu'eir` شقير,
/// `Sa'id` سعيد): it stands for ع, ء or a ق said as a glottal stop.
fn turkish(text: &str) -> std::borrow::Cow<'_, str> {
    const APOSTROPHES: [char; 7] = ['\'', '`', '’', 'ʼ', 'ʿ', 'ʾ', '‘'];
    if !text.contains(['ş', 'Ş', 'ç', 'Ç', 'ğ', 'Ğ']) && !text.contains(APOSTROPHES) {
        return std::borrow::Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            'ş' | 'Ş' => out.push_str("sh"),
            'ç' | 'Ç' => out.push_str("ch"),
            'ğ' | 'Ğ' => out.push_str("gh"),
            c if APOSTROPHES.contains(&c) => {
                let latin = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphabetic() && !is_arabic_char(*c))
                };
                if latin(i.checked_sub(1)) && latin(Some(i + 1)) {
                    out.push('ʔ');
                }
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_arabic_char(c: char) -> bool {
    ('\u{0600}'..='\u{06FF}').contains(&c)
}

/// The tokens of a name as the index stores them and queries look them up: folded (`ة` and
/// `ى` kept), compound names joined (`عبد الله` → `عبدالله`, `Abu Bakr` → `abubakr`).
pub(crate) fn name_tokens(text: &str) -> Vec<String> {
    let tokens = join_compound_ends(join_name_particles(&fold(&turkish(text), true)));
    // An article written apart belongs to the next word.
    let n = tokens.len();
    tokens
        .into_iter()
        .enumerate()
        .filter(|(i, t)| i + 1 == n || !(t == "ال" || LATIN_ARTICLES.contains(&t.as_str())))
        .map(|(_, t)| t)
        .collect()
}

/// Joins `abu` and `abd` (with an article written apart) to the name they begin:
/// `ابو بكر` → `ابوبكر`, `Abd al Rahman` → `abdalrahman`. `ibn`, `bin` and `umm` stay
/// apart: they introduce another person's name (`bin Isam`).
fn join_name_particles(folded: &str) -> Vec<String> {
    let joins = |t: &str| {
        if is_arabic(t) {
            matches!(arabic_particle(t), Some(Particle::Abu | Particle::Abd))
        } else {
            matches!(latin_particle(t), Some(Particle::Abu | Particle::Abd))
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for t in folded.split(' ').filter(|w| !w.is_empty()) {
        if !pending.is_empty() {
            pending.push_str(t);
            let continues = joins(t) || (!is_arabic(t) && LATIN_ARTICLES.contains(&t));
            if !continues {
                out.push(std::mem::take(&mut pending));
            }
        } else if joins(t) {
            // `Bou Omar`, `Abo Omar`: Abu as the words it is joined to are read.
            let abu = !is_arabic(t) && latin_particle(t) == Some(Particle::Abu);
            pending.push_str(if abu { "abu" } else { t });
        } else {
            out.push(t.to_owned());
        }
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    out
}

/// The words one token stands for (a joined compound gives its particle and its name).
pub(crate) fn token_units(token: &str) -> Vec<Word> {
    let mut out = Vec::new();
    for tok in fold(&turkish(token), true)
        .split(' ')
        .filter(|w| !w.is_empty())
    {
        token_words(tok, true, &mut out);
    }
    out
}

/// Adds the words of one folded token to `out`; `last`: no word follows it in the name.
fn token_words(tok: &str, last: bool, out: &mut Vec<Word>) {
    if is_arabic(tok) {
        if let Some(p) = arabic_particle(tok) {
            out.push(Word::Particle(p));
            return;
        }
        if tok == "ال" {
            return;
        }
        // `بنخليفة`: `bin` written joined; the word is also read whole (`بنكيران`).
        let mut whole = None;
        let mut tok = tok;
        if let Some(r) = tok.strip_prefix("بن").filter(|r| r.chars().count() >= 4) {
            out.push(Word::Particle(Particle::Ibn));
            whole = Some(tok);
            tok = r;
        }
        // A family name `العبد الله`, `الابو ...`: the article before the particle.
        if let Some(r) = tok
            .strip_prefix("ال")
            .filter(|r| r.starts_with("عبد") || r.starts_with("ابو"))
        {
            tok = r;
        }
        let mut rest = tok;
        if let Some(r) = tok.strip_prefix("عبد").filter(|r| r.chars().count() >= 2) {
            out.push(Word::Particle(Particle::Abd));
            rest = r;
        } else if let Some(r) = tok.strip_prefix("ابو").filter(|r| r.chars().count() >= 3) {
            out.push(Word::Particle(Particle::Abu));
            rest = r;
        }
        let mut variants = Vec::with_capacity(2);
        if let Some(sounds) = arabic_compound(rest) {
            variants.push(sounds);
        } else if matches!(rest, "الله" | "اللة" | "لله" | "اله") {
            // Allah: its final ه is silent (`Abdullah`, `Abdulla`).
            variants.push(vec!['l', 'Ā', 'ℎ']);
        } else if let Some(r) = rest.strip_prefix("ال").filter(|r| r.chars().count() >= 2) {
            variants.push(arabic_sounds(r));
        }
        variants.push(arabic_sounds(rest));
        variants.extend(whole.map(arabic_sounds));
        variants.retain(|v| !v.is_empty());
        if !variants.is_empty() {
            out.push(Word::Sounds(variants));
        }
    } else {
        if let Some(p) = latin_particle(tok) {
            out.push(Word::Particle(p));
            return;
        }
        if LATIN_ARTICLES.contains(&tok) && !last {
            return;
        }
        // `Bensalem`, `Ibnyoussef`: `bin` written joined to the name it introduces. The
        // word is also read whole (`Bennani`, `Benkirane`).
        let mut whole = None;
        let mut tok = tok;
        if let Some((_, r)) = strip_longest(tok, &["ibn", "bin", "ben"], 4) {
            out.push(Word::Particle(Particle::Ibn));
            whole = Some(tok);
            tok = r;
        }
        let mut rest = tok;
        // `Abdulah`, `Abdurahman`: the article's consonant, written once, also begins
        // the name (`abdu` + `lah`).
        let mut assimilated = None;
        // `Al-Abdallah` written joined: the article before the particle.
        if let Some(r) = ["al", "el"]
            .iter()
            .find_map(|a| tok.strip_prefix(a))
            .filter(|r| r.starts_with("abd") || r.starts_with("abu") || r.starts_with("abou"))
        {
            tok = r;
            rest = r;
        }
        if let Some(r) = abd_assimilated(tok).filter(|r| r.len() >= 4) {
            // `abdessalam`: the sun letter begins the name.
            out.push(Word::Particle(Particle::Abd));
            rest = r;
        } else if let Some((p, r)) = strip_longest(tok, LATIN_ABD, 2) {
            out.push(Word::Particle(Particle::Abd));
            rest = r;
            let after_abd = p.get(3..).filter(|_| p.len() > 3);
            if let Some(c) = after_abd.and_then(|a| a.chars().last()) {
                if matches!(c, 'l' | 'r') && !r.starts_with(c) {
                    assimilated = Some(format!("{c}{r}"));
                }
            }
        } else if let Some((_, r)) = strip_longest(tok, LATIN_ABU, 3) {
            out.push(Word::Particle(Particle::Abu));
            rest = r;
        }
        let mut variants = Vec::with_capacity(4);
        let stripped = ["al", "el"]
            .iter()
            .find_map(|a| rest.strip_prefix(a).filter(|r| r.len() >= 3))
            .or_else(|| strip_assimilated_article(rest));
        let forms = stripped
            .into_iter()
            .chain(std::iter::once(rest))
            .chain(assimilated.as_deref())
            .chain(whole);
        for form in forms {
            for spelling in latin_spellings(form) {
                variants.push(latin_sounds(&spelling, true));
                if has_split_digraph(&spelling) {
                    variants.push(latin_sounds(&spelling, false));
                }
            }
        }
        variants.retain(|v| !v.is_empty());
        if !variants.is_empty() {
            out.push(Word::Sounds(variants));
        }
    }
}

/// The second halves of compound names (`نور الدين`, `فتح الله`) that are joined to the word
/// before them: in Arabic script, and romanised (`ad-Din`, `Eddine`, `Allah`, `ullah`).
const ARABIC_COMPOUND_ENDS: &[&str] = &["الدين", "الله", "اللة", "لله"];
const LATIN_COMPOUND_ENDS: &[&str] = &[
    "din", "deen", "dine", "dien", "ddin", "ddine", "ddeen", "eddin", "eddine", "eddeen", "edine",
    "uddin", "uddeen", "uddine", "iddin", "addin", "addeen", "addine", "aldin", "aldeen", "aldine",
    "eldin", "eldeen", "eldine", "uldin", "allah", "ullah", "llah", "alla", "ulla", "ella",
    "illah", "ellah", "allahi",
];

/// Joins the second halves of compound names to the word before them (with an article
/// written apart between them): `نور الدين` → `نورالدين`, `Nur ad-Din` → `nuraddin`,
/// `Fath Allah` → `fathallah`, so that each spelling is one word whether written joined
/// or apart.
fn join_compound_ends(tokens: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    for t in tokens {
        let end = if is_arabic(&t) {
            ARABIC_COMPOUND_ENDS.contains(&t.as_str())
        } else {
            LATIN_COMPOUND_ENDS.contains(&t.as_str())
        };
        let n = out.len();
        if end && n > 0 {
            // An article apart only goes with an end that has none (`ad Din`, not the
            // name `Ez` in `Ez Eldin`).
            let article = !is_arabic(&t)
                && t.starts_with('d')
                && LATIN_ARTICLES.contains(&out[n - 1].as_str());
            if article && n > 1 && !is_particle_token(&out[n - 2]) {
                let a = out.pop().unwrap_or_default();
                let last = out.len() - 1;
                out[last].push_str(&a);
                out[last].push_str(&t);
                continue;
            }
            if !article && !is_particle_token(&out[n - 1]) {
                out[n - 1].push_str(&t);
                continue;
            }
        }
        out.push(t);
    }
    out
}

fn is_particle_token(t: &str) -> bool {
    arabic_particle(t).is_some() || latin_particle(t).is_some()
}

/// The sounds of an Arabic compound ending in `الدين` or `الله` (`نورالدين`, `جابالله`),
/// with the article's vowel and (before a sun letter) its l optional, as romanisations
/// write them (`Nureddin`, `Nur al-Din`, `Jaballah`, `Gaballa`).
fn arabic_compound(w: &str) -> Option<Vec<char>> {
    let (stem, end): (&str, &[char]) = if let Some(stem) = w.strip_suffix("الدين") {
        (stem, &['ə', 'ʟ', 'd', 'Ī', 'n'])
    } else if let Some(stem) = w
        .strip_suffix("الله")
        .or_else(|| w.strip_suffix("اللة"))
        .or_else(|| w.strip_suffix("لله"))
    {
        (stem, &['ə', 'l', 'Ā', 'ℎ'])
    } else {
        return None;
    };
    if stem.chars().count() < 2 {
        return None;
    }
    let mut sounds = arabic_sounds(stem);
    // The stem's last letter is not final: a final ه or ي there is a consonant.
    if let Some(last) = sounds.last_mut() {
        match *last {
            'ℎ' => *last = 'h',
            'Ÿ' => *last = 'Y',
            _ => {}
        }
    }
    sounds.extend_from_slice(end);
    Some(sounds)
}

fn strip_longest<'a, 'p>(
    w: &'a str,
    prefixes: &[&'p str],
    min_rest: usize,
) -> Option<(&'p str, &'a str)> {
    // `prefixes` are listed longest first.
    prefixes.iter().find_map(|p| {
        w.strip_prefix(p)
            .filter(|r| r.chars().count() >= min_rest)
            .map(|r| (*p, r))
    })
}

/// A joined article assimilated to the sun letter it precedes, as French and Maghreb
/// spellings write it: `Essaid` (السعيد), `Ennasser`, `Eddine`, `Arrachid`.
fn strip_assimilated_article(w: &str) -> Option<&str> {
    let b = w.as_bytes();
    if b.len() >= 6
        && matches!(b[0], b'a' | b'e')
        && b[1] == b[2]
        && matches!(b[1], b's' | b'n' | b'd' | b'r' | b't' | b'z')
    {
        return w.get(2..);
    }
    None
}

/// The spellings a romanised word may stand for, itself first: a `c` read as Turkish `j`
/// (`Cemal`) or French `s` (`Youcef`); a final `t` or `p` devoiced in Turkish (`Ahmet`,
/// `Recep`); a final `-at`/`-et` for the ta marbuta of a name in construct (`Fatimat`).
fn latin_spellings(w: &str) -> Vec<String> {
    let mut out = vec![w.to_owned()];
    out.extend(soft_c(w));
    let mut with_ends = Vec::with_capacity(out.len() * 2);
    for v in &out {
        with_ends.extend(compound_end_spellings(v));
    }
    out.extend(with_ends);
    let mut devoiced = Vec::with_capacity(out.len() * 2);
    for v in &out {
        devoiced.extend(devoiced_spellings(v));
    }
    out.extend(devoiced);
    out.dedup();
    out
}

/// A lone `c` read as Turkish `j` (`Cemal`) and as French `s` (`Youcef`).
fn soft_c(w: &str) -> Vec<String> {
    let b = w.as_bytes();
    let lone = |i: usize| {
        b[i] == b'c'
            && !matches!(b.get(i + 1), Some(b'h' | b'k'))
            && !(i > 0 && matches!(b[i - 1], b's' | b't'))
    };
    if !(0..b.len()).any(lone) {
        return Vec::new();
    }
    ["j", "s"]
        .iter()
        .map(|with| {
            let mut s = String::with_capacity(w.len() + 1);
            for (i, ch) in w.char_indices() {
                // French c is s only before e, i, y; Turkish c is always j.
                let soft = *with == "j" || matches!(b.get(i + 1), Some(b'e' | b'i' | b'y'));
                if ch == 'c' && lone(i) && soft {
                    s.push_str(with);
                } else {
                    s.push(ch);
                }
            }
            s
        })
        .filter(|s| s != w)
        .collect()
}

/// ad-Din with its article's l written or assimilated (`Nur al-Din`, `Nureddin`), and the
/// Turkish `-ettin` (`Seyfettin`, `Selahattin`).
fn compound_end_spellings(w: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (a, b) in [
        ("aldin", "addin"),
        ("eldin", "eddin"),
        ("uldin", "uddin"),
        ("aldeen", "addeen"),
        ("eldeen", "eddeen"),
        ("aldine", "addine"),
        ("eldine", "eddine"),
        ("ettin", "eddin"),
        ("attin", "addin"),
        ("uttin", "uddin"),
        ("ittin", "iddin"),
    ] {
        if let Some(stem) = w.strip_suffix(a) {
            out.push(format!("{stem}{b}"));
        } else if let Some(stem) = w.strip_suffix(b) {
            if !a.ends_with("tin") {
                out.push(format!("{stem}{a}"));
            }
        }
    }
    out
}

/// A final `t` or `p` devoiced in Turkish (`Ahmet`, `Recep`), and a final `-at`/`-et` for
/// the ta marbuta of a name in construct (`Fatimat`).
fn devoiced_spellings(w: &str) -> Vec<String> {
    let b = w.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    if n >= 4 && is_vowel_letter(b[n - 2]) {
        match b[n - 1] {
            b't' => {
                out.push(format!("{}d", &w[..n - 1]));
                if matches!(b[n - 2], b'a' | b'e') && n >= 5 {
                    out.push(format!("{}h", &w[..n - 1]));
                }
            }
            b'p' => out.push(format!("{}b", &w[..n - 1])),
            _ => {}
        }
    }
    out
}

fn has_split_digraph(w: &str) -> bool {
    w.contains("dh") || w.contains("th") || w.contains("sh") || w.contains("kh")
}

// ---- phonetic alphabet ----------------------------------------------------------------
//
// Consonants: b t d r z s f q k g l m n h j x (kh) p v, 'θ' (th, ث), 'ð' (dh, ذ), 'ḍ' (ض),
// 'ẓ' (ظ), 'š' (sh, ش), 'č' (چ), 'ɣ' (gh, غ), 'ʕ' (ع), 'ʔ' (ء), 'ℎ' (a final h that may
// be silent: ة, or a final -h after a vowel).
// Vowels: Latin short 'a' 'e' 'i' 'o' 'u'; long 'Ā' 'Ī' 'Ū' (aa, ee/ii, oo/ou/uu; Arabic ا);
// glides 'y' 'w' (Latin) and 'Y' 'W' (Arabic ي و: long vowel or glide); 'V' the Arabic
// initial alef (a vowel of unknown quality); 'ɑ' the vowel of ة.

fn arabic_sounds(w: &str) -> Vec<char> {
    let letters: Vec<char> = w.chars().collect();
    let n = letters.len();
    let mut out = Vec::with_capacity(n + 1);
    for (i, &c) in letters.iter().enumerate() {
        let last = i + 1 == n;
        let s: &[char] = match c {
            'ا' if i == 0 => &['V'],
            'ا' => &['Ā'],
            // Final ى and ي are typed for each other (هدى / هدي, مصطفى / مصطفي).
            'ى' | 'ي' if last && n > 2 => &['Ÿ'],
            'ى' => &['Ā'],
            'ة' => &['ɑ', 'ℎ'],
            'ه' if last && n > 2 => &['ℎ'],
            'ه' | 'ح' => &['h'],
            'ب' | 'پ' => &['b'],
            'ت' | 'ط' => &['t'],
            'ث' => &['θ'],
            'ج' => &['j'],
            'خ' => &['x'],
            'د' => &['d'],
            'ذ' => &['ð'],
            'ر' => &['r'],
            'ز' | 'ژ' => &['z'],
            'س' | 'ص' => &['s'],
            'ش' => &['š'],
            'ض' => &['ḍ'],
            'ظ' => &['ẓ'],
            'ع' => &['ʕ'],
            'ء' => &['ʔ'],
            'غ' => &['ɣ'],
            'ف' => &['f'],
            'ڤ' => &['v'],
            'ق' => &['q'],
            'ك' => &['k'],
            'گ' => &['g'],
            'چ' => &['č'],
            'ل' => &['l'],
            'م' => &['m'],
            'ن' => &['n'],
            'و' => &['W'],
            'ي' => &['Y'],
            c if c.is_alphanumeric() && !c.is_ascii_digit() => {
                out.push(c);
                continue;
            }
            _ => continue,
        };
        for &p in s {
            if out.last() != Some(&p) || is_long(p) {
                out.push(p);
            }
        }
    }
    out
}

fn is_vowel_letter(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Read a lowercase romanised word. With `digraphs` false, `dh th sh kh` are read as two
/// letters (`Adham` is `d`+`h`, not `dh`).
fn latin_sounds(w: &str, digraphs: bool) -> Vec<char> {
    let b = w.as_bytes();
    let n = b.len();
    // Two letters, a vowel then a consonant (`Id`, `Ed` عيد): the vowel is long.
    if n == 2 && is_vowel_letter(b[0]) && b[1].is_ascii_alphabetic() && !is_vowel_letter(b[1]) {
        let long = match b[0] {
            b'a' => 'Ā',
            b'o' | b'u' => 'Ū',
            _ => 'Ī',
        };
        return vec!['V', long, b[1] as char];
    }
    // `Amr`, `Amro`: عمرو, whose final و is unwritten in the spelling, not `Omar` عمر.
    if matches!(w, "amr" | "amro" | "amru" | "amrou" | "amrr") {
        return vec!['V', 'm', 'r', 'W'];
    }
    let mut out: Vec<char> = Vec::with_capacity(n);
    let mut i = 0;
    let at = |j: usize| -> u8 {
        if j < n {
            b[j]
        } else {
            0
        }
    };
    let consonant =
        |c: u8| c.is_ascii_alphabetic() && !is_vowel_letter(c) && c != b'y' && c != b'w';
    let cluster = |j: usize| consonant(at(j)) && consonant(at(j + 1)) && at(j) != at(j + 1);
    let open_syllable = |j: usize| {
        let k = if at(j + 1) == at(j) { j + 1 } else { j };
        consonant(at(j)) && is_vowel_letter(at(k + 1))
    };
    while i < n {
        let c = b[i];
        let c2 = at(i + 1);
        let prev_vowel = out.last().is_some_and(|&p| {
            matches!(p, 'a' | 'e' | 'i' | 'o' | 'u' | 'Ā' | 'Ī' | 'Ū' | 'V' | 'Ǔ')
        });
        let (sound, len): (char, usize) = match (c, c2) {
            (b's', b'c') if at(i + 2) == b'h' => ('š', 3),
            (b't', b'c') if at(i + 2) == b'h' => ('č', 3),
            (b's', b'h') if digraphs => ('š', 2),
            (b'c', b'h') => ('š', 2),
            (b'k', b'h') if digraphs => ('x', 2),
            (b'g', b'h') => ('ɣ', 2),
            (b't', b'h') if digraphs => ('θ', 2),
            (b'd', b'h') if digraphs => ('ð', 2),
            (b'z', b'h') => ('ẓ', 2),
            (b'd', b'j') => ('j', 2),
            (b'p', b'h') => ('f', 2),
            (b'c', b'k') => ('k', 2),
            (b'a', b'a') => ('Ā', 2),
            (b'e', b'e') | (b'i', b'i') => ('Ī', 2),
            // Before two different consonants the vowel is short (`Naboulsi`, نابلسي).
            (b'o', b'o') | (b'o', b'u') | (b'u', b'u') if cluster(i + 2) => ('u', 2),
            // French `ou` before another syllable is u, long or short (`Youssef` يوسف,
            // `Roukaya` رقية); in the last syllable it is long (`Mahmoud` محمود).
            (b'o', b'u') if open_syllable(i + 2) => ('Ǔ', 2),
            (b'o', b'o') | (b'o', b'u') | (b'u', b'u') => ('Ū', 2),
            (b'i', b'y') if !is_vowel_letter(at(i + 2)) => ('Ī', 2),
            // A word-initial vowel is the alef (or ayn) that Arabic writes: a letter.
            (b'a' | b'e' | b'i' | b'o' | b'u', _) if i == 0 => ('V', 1),
            (b'a', _) => ('a', 1),
            (b'e', _) => ('e', 1),
            (b'o', _) => ('o', 1),
            (b'i', _) if prev_vowel && !is_vowel_letter(c2) => ('y', 1),
            (b'i', _) => ('i', 1),
            (b'u', _) if prev_vowel && !is_vowel_letter(c2) => ('w', 1),
            (b'u', _) => ('u', 1),
            (b'y', _) => ('y', 1),
            (b'w', _) => ('w', 1),
            (b'h', _) if i + 1 == n && prev_vowel => ('ℎ', 1),
            (b'c', _) => ('k', 1),
            (b'0'..=b'9', _) => {
                i += 1;
                continue;
            }
            (c, _) if c.is_ascii_alphabetic() => (c as char, 1),
            _ => {
                // Letters of other scripts: kept as they are.
                if let Some(ch) = w[i..].chars().next() {
                    out.push(ch);
                    i += ch.len_utf8();
                } else {
                    i += 1;
                }
                continue;
            }
        };
        // Doubled consonants (and doubled glides) are written once.
        let doubled = out.last() == Some(&sound) && !matches!(sound, 'a' | 'e' | 'i' | 'o' | 'u');
        if !doubled {
            out.push(sound);
        }
        i += len;
    }
    lengthen_final_u(&mut out);
    out
}

/// A short `u`/`o` in a final syllable closed by one consonant and opened after a
/// consonant cluster is read long: `Mahmud`, `Mansur`, `Mabruk` are the pattern maf'ūl
/// (محمود, منصور, مبروك), and short u in that position hardly occurs in names, while a
/// short final u after a single consonant does (`Yusuf`, `Yunus`).
fn lengthen_final_u(s: &mut [char]) {
    let n = s.len();
    if n < 5 {
        return;
    }
    let consonant = |p: char| !is_vowelish(p) && p != 'ℎ';
    let end = if s[n - 1] == 'ℎ' { n - 1 } else { n };
    if end < 5 {
        return;
    }
    let v = end - 2;
    if matches!(s[v], 'u' | 'o')
        && consonant(s[end - 1])
        && consonant(s[v - 1])
        && consonant(s[v - 2])
    {
        s[v] = 'Ū';
    }
}

fn is_long(p: char) -> bool {
    matches!(p, 'Ā' | 'Ī' | 'Ū' | 'Y' | 'W' | 'Ÿ')
}

// 'Ǔ': a romanised `ou` that may be long or short (see `latin_sounds`).

fn is_vowelish(p: char) -> bool {
    matches!(
        p,
        'a' | 'e'
            | 'i'
            | 'o'
            | 'u'
            | 'Ā'
            | 'Ī'
            | 'Ū'
            | 'Y'
            | 'W'
            | 'y'
            | 'w'
            | 'V'
            | 'ɑ'
            | 'Ÿ'
            | 'ə'
            | 'Ǔ'
    )
}

/// Weight of a sound in a word's length (for turning a cost into a similarity).
fn weight(p: char) -> f32 {
    match p {
        'a' | 'e' | 'i' | 'o' | 'u' | 'V' | 'ə' => 0.3,
        'Ǔ' => 0.5,
        'ℎ' | 'ʟ' => 0.3,
        'ʕ' | 'ʔ' | 'ɑ' => 0.5,
        'Ā' | 'Ī' | 'Ū' | 'Y' | 'W' | 'y' | 'w' | 'Ÿ' => 0.8,
        _ => 1.0,
    }
}

/// Cost of a sound that one spelling has and the other has not.
fn indel(p: char) -> f32 {
    match p {
        'a' | 'e' => 0.1,
        'i' => 0.15,
        'o' | 'u' | 'Ǔ' => 0.3,
        'V' => 0.4,
        'ℎ' => 0.1,
        'ʕ' | 'ʔ' | 'ə' | 'ʟ' => 0.15,
        'ɑ' => 0.2,
        'y' | 'w' => 0.45,
        'Ā' => 0.6,
        'Ī' | 'Ū' | 'Y' | 'W' | 'Ÿ' => 0.8,
        _ => 1.0,
    }
}

/// Cost of reading sound `a` in one spelling where the other has `b`.
fn subst(a: char, b: char) -> f32 {
    if a == b {
        return 0.0;
    }
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    if let Some(c) = pair_cost(x, y) {
        return c;
    }
    let (va, vb) = (is_vowelish(a), is_vowelish(b));
    if va && vb {
        if a == 'V' || b == 'V' {
            return 0.1;
        }
        if is_long(a) || is_long(b) {
            0.8
        } else {
            0.5
        }
    } else {
        1.0
    }
}

/// Costs of the pairs that differ by romanisation only (`x < y` as chars).
fn pair_cost(x: char, y: char) -> Option<f32> {
    // Order-insensitive lookup: try both orders in one table.
    const T: &[(char, char, f32)] = &[
        // vowels
        ('a', 'Ā', 0.05),
        ('a', 'ɑ', 0.0),
        ('e', 'ɑ', 0.05),
        ('Ā', 'ɑ', 0.3),
        ('a', 'e', 0.15),
        ('e', 'i', 0.15),
        ('e', 'Ī', 0.3),
        ('e', 'Y', 0.3),
        ('e', 'y', 0.3),
        ('e', 'Ā', 0.3),
        ('i', 'Ī', 0.05),
        ('i', 'Y', 0.05),
        ('i', 'y', 0.1),
        ('Ī', 'Y', 0.0),
        ('y', 'Y', 0.0),
        ('Ī', 'y', 0.05),
        ('o', 'u', 0.1),
        ('o', 'Ū', 0.05),
        ('u', 'Ū', 0.05),
        ('o', 'W', 0.05),
        ('u', 'W', 0.05),
        ('Ū', 'W', 0.0),
        ('w', 'W', 0.0),
        ('u', 'w', 0.2),
        ('o', 'w', 0.2),
        ('w', 'Ū', 0.1),
        ('a', 'o', 0.3),
        ('a', 'u', 0.4),
        ('a', 'i', 0.4),
        ('e', 'o', 0.4),
        ('e', 'u', 0.5),
        ('i', 'u', 0.5),
        ('i', 'o', 0.5),
        ('V', 'Ā', 0.1),
        ('V', 'ʕ', 0.05),
        ('V', 'ʔ', 0.05),
        // final ى/ي: long a or long i
        ('Y', 'Ÿ', 0.0),
        ('Ā', 'Ÿ', 0.5),
        ('a', 'Ÿ', 0.1),
        ('e', 'Ÿ', 0.15),
        ('i', 'Ÿ', 0.05),
        ('y', 'Ÿ', 0.0),
        ('Ī', 'Ÿ', 0.0),
        ('V', 'Ī', 0.15),
        ('V', 'Ū', 0.15),
        // consonants
        ('t', 'θ', 0.1),
        ('s', 'θ', 0.2),
        ('z', 'θ', 0.2),
        ('d', 'ð', 0.1),
        ('z', 'ð', 0.1),
        ('θ', 'ð', 0.1),
        ('z', 'ẓ', 0.1),
        ('ð', 'ẓ', 0.1),
        ('d', 'ẓ', 0.2),
        ('θ', 'ẓ', 0.2),
        ('d', 'ḍ', 0.1),
        ('ð', 'ḍ', 0.1),
        ('z', 'ḍ', 0.2),
        ('ḍ', 'ẓ', 0.1),
        ('k', 'q', 0.1),
        ('g', 'q', 0.1),
        ('g', 'k', 0.3),
        ('g', 'j', 0.1),
        ('g', 'ɣ', 0.1),
        ('r', 'ɣ', 0.5),
        ('h', 'x', 0.3),
        ('k', 'x', 0.3),
        ('ʔ', 'ʕ', 0.0),
        ('f', 'v', 0.1),
        ('v', 'w', 0.2),
        ('v', 'W', 0.2),
        ('b', 'p', 0.1),
        ('s', 'š', 0.4),
        ('č', 'š', 0.2),
        ('j', 'č', 0.3),
        ('h', 'ℎ', 0.0),
        ('a', 'ʕ', 0.1),
        ('e', 'ʕ', 0.1),
        ('i', 'ʕ', 0.1),
        ('o', 'ʕ', 0.1),
        ('u', 'ʕ', 0.1),
        ('Ā', 'ʕ', 0.3),
        ('u', 'Ǔ', 0.0),
        ('o', 'Ǔ', 0.05),
        ('Ū', 'Ǔ', 0.0),
        ('W', 'Ǔ', 0.0),
        ('w', 'Ǔ', 0.1),
        ('ʕ', 'Ǔ', 0.1),
        ('ʔ', 'Ǔ', 0.1),
        ('V', 'Ǔ', 0.15),
        ('y', 'ʕ', 0.3),
        // ق said as a glottal stop (`Shu'eir`, شقير)
        ('q', 'ʔ', 0.2),
        ('y', 'ʔ', 0.3),
        // the vowel and l of an article inside a compound
        ('l', 'ʟ', 0.0),
        ('a', 'ə', 0.0),
        ('e', 'ə', 0.0),
        ('i', 'ə', 0.05),
        ('o', 'ə', 0.05),
        ('u', 'ə', 0.0),
        ('V', 'ə', 0.05),
        ('Ā', 'ə', 0.1),
        ('a', 'ʔ', 0.1),
        ('e', 'ʔ', 0.1),
        ('i', 'ʔ', 0.1),
        ('o', 'ʔ', 0.1),
        ('u', 'ʔ', 0.1),
        ('Ā', 'ʔ', 0.3),
    ];
    T.iter()
        .find(|&&(p, q, _)| (p == x && q == y) || (p == y && q == x))
        .map(|&(_, _, c)| c)
}

/// Similarity of two phonetic spellings: 1 − weighted edit cost / the longer one's weight.
fn sound_similarity(a: &[char], b: &[char]) -> f32 {
    let m = b.len();
    // Three rows: the one before the previous serves transpositions.
    let mut before = vec![0.0f32; m + 1];
    let mut prev: Vec<f32> = Vec::with_capacity(m + 1);
    prev.push(0.0);
    for j in 0..m {
        let v = prev[j] + indel(b[j]);
        prev.push(v);
    }
    let mut cur = vec![0.0f32; m + 1];
    for (i, &x) in a.iter().enumerate() {
        cur[0] = prev[0] + indel(x);
        for j in 0..m {
            let s = prev[j] + subst(x, b[j]);
            let d = prev[j + 1] + indel(x);
            let ins = cur[j] + indel(b[j]);
            let mut best = s.min(d).min(ins);
            // Two neighbouring consonants typed in the wrong order (`Sarbi` for `Sabri`).
            if i > 0 && j > 0 && x == b[j - 1] && a[i - 1] == b[j] && x != b[j] {
                best = best.min(before[j - 1] + TRANSPOSITION);
            }
            cur[j + 1] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let cost = prev[m];
    let wa: f32 = a.iter().map(|&p| weight(p)).sum();
    let wb: f32 = b.iter().map(|&p| weight(p)).sum();
    let norm = wa.max(wb).max(1.0);
    (1.0 - cost / norm).max(0.0)
}

/// Cost of two neighbouring sounds swapped.
const TRANSPOSITION: f32 = 0.6;

pub(crate) fn word_similarity(a: &Word, b: &Word) -> f32 {
    match (a, b) {
        (Word::Particle(x), Word::Particle(y)) if x == y => 1.0,
        (Word::Sounds(va), Word::Sounds(vb)) => {
            let mut best = 0.0f32;
            for x in va {
                for y in vb {
                    best = best.max(sound_similarity(x, y));
                }
            }
            best
        }
        _ => 0.0,
    }
}

fn word_weight(w: &Word) -> f32 {
    match w {
        Word::Particle(_) => 0.5,
        Word::Sounds(_) => 1.0,
    }
}

/// What is kept of a name's score when its words come in another order than the query's
/// (other than rotated): `Ahmed Mohammed` is the son of `Mohammed Ahmed`.
const ORDER_PENALTY: f32 = 0.7;

/// Greedy one-to-one alignment of the words of `a` with those of `b`.
/// Returns (weighted sum of matched similarities, lowest matched similarity of a full word).
fn align(a: &[Word], b: &[Word]) -> (f32, f32) {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::with_capacity(a.len() * b.len());
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            pairs.push((word_similarity(x, y), i, j));
        }
    }
    pairs.sort_by(|p, q| q.0.total_cmp(&p.0));
    let mut used_a = vec![false; a.len()];
    let mut used_b = vec![false; b.len()];
    let mut sum = 0.0;
    let mut min = 1.0f32;
    let mut partner = vec![usize::MAX; a.len()];
    for (s, i, j) in pairs {
        if used_a[i] || used_b[j] {
            continue;
        }
        used_a[i] = true;
        used_b[j] = true;
        if s >= 0.5 {
            partner[i] = j;
        }
        sum += s * word_weight(&a[i]).min(word_weight(&b[j]));
        if matches!(a[i], Word::Sounds(_)) {
            min = min.min(s);
        }
    }
    // A full word of `a` left without a partner counts as a mismatch.
    if used_a
        .iter()
        .zip(a)
        .any(|(u, w)| !u && matches!(w, Word::Sounds(_)))
    {
        min = 0.0;
    }
    // Word order: the same order, or the same order rotated (`al-Masri Mohammed Ahmed`, as
    // lists sorted by family name write it) is fine; any other order (`Ahmed Mohammed`
    // for `Mohammed Ahmed`: another person, father and son) is penalised.
    let seq: Vec<usize> = partner.into_iter().filter(|&j| j != usize::MAX).collect();
    let descents = seq.windows(2).filter(|w| w[1] < w[0]).count();
    let rotation =
        descents == 0 || (descents == 1 && seq.first().zip(seq.last()).is_some_and(|(f, l)| l < f));
    if !rotation {
        sum *= ORDER_PENALTY;
        min *= ORDER_PENALTY;
    }
    (sum, min)
}

fn combine(sum: f32, total: f32, min: f32) -> f32 {
    if total <= 0.0 {
        return 0.0;
    }
    let mean = (sum / total).min(1.0);
    0.5 * mean + 0.5 * min
}

/// How alike two names are, from 0 (unrelated) to 1 (the same spelling up to
/// normalisation), whatever their scripts. Word order does not matter; a word one name has
/// and the other lacks lowers the score. Compare with [`NAME_THRESHOLD`].
///
/// ```
/// use athar_search::{name_similarity, NAME_THRESHOLD};
/// assert!(name_similarity("محمد", "Mohammed") >= NAME_THRESHOLD);
/// assert!(name_similarity("محمد", "Mahmoud") < NAME_THRESHOLD);
/// ```
pub fn name_similarity(a: &str, b: &str) -> f32 {
    ParsedName::new(a).similarity(&ParsedName::new(b))
}

/// A name read once into the phonetic alphabet, to be compared with many others (record
/// linkage compares each name with every candidate's).
#[derive(Clone, Debug, Default)]
pub struct ParsedName {
    words: Vec<Word>,
}

impl ParsedName {
    pub fn new(name: &str) -> ParsedName {
        ParsedName { words: words(name) }
    }

    /// Whether the name has no word at all.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// [`name_similarity`] of the two names.
    pub fn similarity(&self, other: &ParsedName) -> f32 {
        let (wa, wb) = (&self.words, &other.words);
        let (a_short, b_long) = if wa.len() <= wb.len() {
            (wa, wb)
        } else {
            (wb, wa)
        };
        let (sum, mut min) = align(a_short, b_long);
        let total = wa
            .iter()
            .map(word_weight)
            .sum::<f32>()
            .max(wb.iter().map(word_weight).sum::<f32>());
        if wa.iter().filter(|w| matches!(w, Word::Sounds(_))).count()
            != wb.iter().filter(|w| matches!(w, Word::Sounds(_))).count()
        {
            min = min.min(0.5);
        }
        combine(sum, total, min)
    }

    /// The [`name_keys`] of the name.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for k in self.words.iter().flat_map(keys_of_word) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }
}

/// How well the words of `query` are found in `name` (0..1): like [`name_similarity`] but
/// words of `name` that the query does not mention cost nothing (`Mohammed` covers
/// `محمد أحمد المصري` fully).
pub fn name_coverage(query: &str, name: &str) -> f32 {
    coverage_of(&name_words(query), name)
}

/// The words of a name, read once for many [`coverage_of`] calls.
pub(crate) fn name_words(name: &str) -> Vec<Word> {
    words(name)
}

/// [`name_coverage`] with the query's words already read.
pub(crate) fn coverage_of(query: &[Word], name: &str) -> f32 {
    let wn = words(name);
    let (sum, min) = align(query, &wn);
    let total = query.iter().map(word_weight).sum::<f32>();
    combine(sum, total, min)
}

/// Script-independent keys for `name`, for finding candidate matches in an index.
///
/// Each word gives one or a few keys (its consonant skeleton in broad classes, read with and
/// without its article); two spellings of the same name share a key for each word.
/// Candidates found by keys are then confirmed with [`name_similarity`].
///
/// ```
/// use athar_search::name_keys;
/// assert_eq!(name_keys("محمد"), name_keys("Mohammed"));
/// assert!(name_keys("al-Masmiyah").iter().any(|k| name_keys("المسمية").contains(k)));
/// ```
pub fn name_keys(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for group in word_keys(name) {
        for k in group {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// The keys of each word of `name`, word by word (a query matches a name when every word's
/// group shares a key with the name).
pub fn word_keys(name: &str) -> Vec<Vec<String>> {
    words(name).iter().map(keys_of_word).collect()
}

pub(crate) fn keys_of_word(w: &Word) -> Vec<String> {
    match w {
        Word::Particle(p) => vec![p.key().to_string()],
        Word::Sounds(variants) => {
            let mut keys: Vec<String> = Vec::new();
            for v in variants {
                for k in skeletons(v) {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            keys
        }
    }
}

/// Broad consonant classes; `g` may stand for ق, ج or غ so it gives three.
fn class(p: char) -> &'static [char] {
    match p {
        'b' | 'p' => &['b'],
        't' => &['t'],
        // ث is also said s or t; a romanised `th` may also be ذ or ظ.
        'θ' => &['t', 's', 'd'],
        'd' | 'ð' | 'ḍ' | 'ẓ' | 'z' => &['d'],
        's' => &['s'],
        // ش is often typed as s (`Kuresi` for Kureşi, القرشي).
        'š' | 'č' => &['s'],
        // A final h that may be silent (ة, `-ah`) or a real ح or ه (`Saleh`, صالح).
        'ℎ' => &['h', SILENT],
        // The optional l of an article inside a compound (`Nureddin`, نور الدين).
        'ʟ' => &['l', SILENT],
        'j' => &['j'],
        'g' => &['k', 'j', 'g'],
        'k' => &['k'],
        // ق said as a glottal stop is often written as an apostrophe or not at all.
        'q' => &['k', SILENT],
        'ɣ' => &['g'],
        // خ is `h` in Turkish (`Halil`), and sometimes typed `k`.
        'x' => &['x', 'h', 'k'],
        'h' => &['h'],
        'f' => &['f'],
        // v is w in Turkish and Kurdish (`Mervan`, مروان).
        'v' => &['f', SILENT],
        'l' => &['l'],
        'm' => &['m'],
        'n' => &['n'],
        'r' => &['r'],
        _ => &[],
    }
}

/// In [`class`]: the letter may be unwritten.
const SILENT: char = '_';

const MAX_KEYS_PER_READING: usize = 6;

fn skeletons(sounds: &[char]) -> Vec<String> {
    let mut keys: Vec<String> = vec![String::new()];
    for &p in sounds {
        if is_vowelish(p) || matches!(p, 'ʕ' | 'ʔ') {
            continue;
        }
        let classes = class(p);
        let classes: &[char] = if classes.is_empty() && p.is_alphabetic() {
            // A letter of another script: its own class.
            std::slice::from_ref(match sounds.iter().find(|&&q| q == p) {
                Some(q) => q,
                None => continue,
            })
        } else {
            classes
        };
        if classes.is_empty() {
            continue;
        }
        let mut next = Vec::with_capacity(keys.len() * classes.len());
        for k in &keys {
            for &c in classes {
                let mut k2 = k.clone();
                if c != SILENT && !k2.ends_with(c) {
                    k2.push(c);
                }
                if !next.contains(&k2) {
                    next.push(k2);
                }
            }
        }
        next.truncate(MAX_KEYS_PER_READING);
        keys = next;
    }
    for k in &mut keys {
        if k.is_empty() {
            k.push_str("~v");
        }
    }
    keys
}
