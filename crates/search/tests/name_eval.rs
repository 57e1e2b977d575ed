//! Name matching measured on generated variants of synthetic people.
//!
//! 300 synthetic persons are drawn from lists of common given, father's and family names in
//! Arabic script with their usual romanisations. Each person is recorded under its Arabic
//! name and one Latin spelling. Every person is then queried by generated variants: Arabic
//! spellings (hamza and alef forms, ta marbuta, alef maqsura, diacritics, tatweel, compound
//! spacing, article dropped) and Latin ones (each word's romanisations, article forms,
//! doubled consonants, final -ah/-a/-eh, ayn apostrophes, case, compound spacing). A person
//! is retrieved when every query word shares a name key with the person's name and
//! `name_similarity` reaches `NAME_THRESHOLD`. Precision and recall are over all queries.

#![allow(clippy::unwrap_used)]

use athar_search::{name_similarity, word_keys, Doc, Query, SearchIndex, NAME_THRESHOLD};

/// (Arabic, romanisations; the first is the recorded Latin spelling).
const GIVEN: &[(&str, &[&str])] = &[
    (
        "محمد",
        &[
            "Muhammad", "Mohammad", "Mohammed", "Mohamed", "Muhammed", "Mohamad",
        ],
    ),
    ("محمود", &["Mahmoud", "Mahmud", "Mahmood"]),
    ("أحمد", &["Ahmad", "Ahmed"]),
    ("حامد", &["Hamid", "Hamed"]),
    ("خالد", &["Khalid", "Khaled", "Xalid"]),
    ("عمر", &["Omar", "Umar"]),
    ("علي", &["Ali", "Aly"]),
    ("حسن", &["Hassan", "Hasan"]),
    ("حسين", &["Hussein", "Husein", "Hussain", "Hossein"]),
    ("يوسف", &["Yusuf", "Youssef", "Yousef", "Yusif"]),
    ("إبراهيم", &["Ibrahim", "Ebrahim", "Ibraheem"]),
    (
        "عبد الله",
        &["Abdullah", "Abdallah", "Abd Allah", "Abdellah"],
    ),
    (
        "عبد الرحمن",
        &[
            "Abdul Rahman",
            "Abdelrahman",
            "Abd al-Rahman",
            "Abdurrahman",
        ],
    ),
    ("سعيد", &["Said", "Saeed", "Sa'id"]),
    ("سعد", &["Saad", "Sa'ad"]),
    ("قاسم", &["Qasim", "Kassem", "Gasim", "Qassem"]),
    ("طارق", &["Tariq", "Tarek", "Tareq"]),
    ("ياسر", &["Yasser", "Yasir"]),
    ("جمال", &["Jamal", "Gamal"]),
    ("مصطفى", &["Mustafa", "Moustafa", "Mostafa"]),
    ("فيصل", &["Faisal", "Faysal", "Feisal"]),
    ("وليد", &["Walid", "Waleed"]),
    ("رشيد", &["Rashid", "Rasheed", "Rachid"]),
    ("ظافر", &["Zafer", "Dhafer", "Dhafir"]),
    ("هيثم", &["Haitham", "Haytham", "Heitham"]),
    ("عثمان", &["Othman", "Uthman"]),
    ("زكريا", &["Zakaria", "Zakariya", "Zakariyya"]),
    ("غسان", &["Ghassan", "Ghasan"]),
    ("خليل", &["Khalil", "Khaleel", "Xalil"]),
    ("شريف", &["Sharif", "Sherif", "Cherif"]),
    ("عادل", &["Adel", "Adil", "'Adil"]),
    ("عماد", &["Imad", "Emad"]),
    ("هشام", &["Hisham", "Hesham"]),
    ("نبيل", &["Nabil", "Nabeel"]),
    ("أيمن", &["Ayman", "Aiman", "Eiman"]),
    ("زيد", &["Zaid", "Zayd", "Zeid"]),
    ("فؤاد", &["Fouad", "Fuad", "Fu'ad"]),
    ("وائل", &["Wael", "Wa'il", "Wail"]),
    ("جعفر", &["Jafar", "Ja'far", "Jaafar"]),
    ("منصور", &["Mansour", "Mansur", "Mansoor"]),
    ("أبو بكر", &["Abu Bakr", "Abubakr", "Abou Bakr"]),
    ("فاطمة", &["Fatima", "Fatma", "Fatimah", "Fatemeh"]),
    ("عائشة", &["Aisha", "Aicha", "A'isha", "Ayesha"]),
    ("زينب", &["Zainab", "Zaynab", "Zeinab"]),
    ("خديجة", &["Khadija", "Khadijah", "Khadeeja"]),
    ("هدى", &["Huda", "Hoda", "Houda"]),
];

const FAMILY: &[(&str, &[&str])] = &[
    ("المصري", &["al-Masri", "el-Masry", "Almasri", "Masri"]),
    ("الحلبي", &["al-Halabi", "Halaby", "el-Halabi"]),
    ("الشامي", &["al-Shami", "ash-Shami", "Chami", "el-Shami"]),
    ("الحوراني", &["al-Hourani", "Hurani", "el-Horani"]),
    ("الزعبي", &["al-Zoubi", "Zoubi", "al-Zu'bi", "el-Zoubi"]),
    ("المقداد", &["al-Miqdad", "Mekdad", "Meqdad"]),
    ("الخطيب", &["al-Khatib", "Khateeb", "el-Khatib"]),
    ("الأحمد", &["al-Ahmad", "Alahmad", "el-Ahmed"]),
    ("القاسم", &["al-Qasim", "el-Kassem", "Alqasim"]),
    ("الدرويش", &["al-Darwish", "Darwiche", "Derwish"]),
    ("الصالح", &["al-Saleh", "as-Salih", "el-Saleh"]),
    ("الرفاعي", &["al-Rifai", "Refai", "al-Rifa'i"]),
    ("البكري", &["al-Bakri", "Bakry", "el-Bakri"]),
    ("التميمي", &["al-Tamimi", "Tamimi", "at-Tamimi"]),
    ("العبيدي", &["al-Obaidi", "Obeidi", "al-Ubaydi"]),
    ("الجبوري", &["al-Jubouri", "al-Juburi", "Jubouri"]),
    ("الدليمي", &["al-Dulaimi", "Dulaymi", "al-Duleimi"]),
    ("الكردي", &["al-Kurdi", "Kurdy", "el-Kurdi"]),
    ("الحمصي", &["al-Homsi", "Homsi", "al-Himsi"]),
    ("الشمري", &["al-Shammari", "Shamari", "el-Shammary"]),
    ("حداد", &["Haddad", "Hadad"]),
    ("نجار", &["Najjar", "Najar", "Nagar"]),
    ("خوري", &["Khoury", "Khouri", "Khuri"]),
    ("يونس", &["Younes", "Yunus", "Younis"]),
    ("سليمان", &["Suleiman", "Sulayman", "Soliman"]),
    ("الأسعد", &["al-Asaad", "Alasad", "el-Assad"]),
    ("المسالمة", &["al-Masalmeh", "Masalma", "al-Musalama"]),
    ("الحريري", &["al-Hariri", "Hariri", "el-Hariry"]),
    ("العودات", &["al-Awdat", "Odat", "al-'Awdat"]),
    ("أبو زيد", &["Abu Zaid", "Abuzeid", "Abou Zeid"]),
];

/// Small deterministic generator (xorshift64*), so the figures are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Debug)]
struct Person {
    parts: [usize; 3], // given, father (both from GIVEN), family
    arabic: String,
    latin: String,
}

fn persons(n: usize, rng: &mut Rng) -> Vec<Person> {
    let mut out: Vec<Person> = Vec::new();
    while out.len() < n {
        let parts = [
            rng.below(GIVEN.len()),
            rng.below(GIVEN.len()),
            rng.below(FAMILY.len()),
        ];
        if parts[0] == parts[1] || out.iter().any(|p| p.parts == parts) {
            continue;
        }
        let arabic = format!(
            "{} {} {}",
            GIVEN[parts[0]].0, GIVEN[parts[1]].0, FAMILY[parts[2]].0
        );
        let latin = format!(
            "{} {} {}",
            GIVEN[parts[0]].1[0], GIVEN[parts[1]].1[0], FAMILY[parts[2]].1[0]
        );
        out.push(Person {
            parts,
            arabic,
            latin,
        });
    }
    out
}

/// An Arabic-script variant: orthographic changes people make when typing.
fn arabic_variant(p: &Person, rng: &mut Rng) -> String {
    let mut words: Vec<String> = vec![
        GIVEN[p.parts[0]].0.to_string(),
        GIVEN[p.parts[1]].0.to_string(),
        FAMILY[p.parts[2]].0.to_string(),
    ];
    for w in &mut words {
        if rng.chance(50) {
            *w = w.replace(['أ', 'إ', 'آ'], "ا");
        }
        if rng.chance(50) {
            *w = w.replace('ة', "ه");
        }
        if rng.chance(50) {
            *w = w.replace('ى', "ي");
        }
        if rng.chance(40) {
            // compound spacing: ابو بكر / ابوبكر, عبد الله / عبدالله
            *w = w
                .replace("عبد ", "عبد")
                .replace("أبو ", "أبو")
                .replace("ابو ", "ابو");
        }
        if rng.chance(25) {
            // diacritics on the first letter, tatweel in the middle
            let mut chars: Vec<char> = w.chars().collect();
            if chars.len() > 2 {
                chars.insert(1, '\u{064E}');
                chars.insert(3, 'ـ');
            }
            *w = chars.into_iter().collect();
        }
    }
    if rng.chance(30) {
        if let Some(rest) = words[2].strip_prefix("ال") {
            words[2] = rest.to_string();
        }
    }
    words.join(" ")
}

/// A Latin variant: one of each word's romanisations, then romanisation-level changes.
fn latin_variant(p: &Person, rng: &mut Rng) -> String {
    let pick = |rng: &mut Rng, list: &[&str]| list[rng.below(list.len())].to_string();
    let mut words = vec![
        pick(rng, GIVEN[p.parts[0]].1),
        pick(rng, GIVEN[p.parts[1]].1),
        pick(rng, FAMILY[p.parts[2]].1),
    ];
    for w in &mut words {
        match rng.below(10) {
            // doubled consonants written once
            0 => {
                for d in ["ss", "mm", "dd", "ll", "rr", "bb", "yy", "jj", "ss"] {
                    *w = w.replacen(d, &d[..1], 1);
                }
            }
            // final -ah / -a / -eh
            1 => {
                if let Some(s) = w.strip_suffix("ah") {
                    *w = format!("{s}a");
                } else if let Some(s) = w.strip_suffix('a') {
                    *w = format!("{s}ah");
                } else if let Some(s) = w.strip_suffix("eh") {
                    *w = format!("{s}a");
                }
            }
            // ou / u, ee / i, ei / ay
            2 => {
                *w = w
                    .replacen("ou", "u", 1)
                    .replacen("ee", "i", 1)
                    .replacen("ei", "ay", 1);
            }
            // q / k / g
            3 => *w = w.replacen('q', "k", 1),
            // kh / x
            4 => *w = w.replacen("kh", "x", 1),
            // ayn apostrophe dropped
            5 => *w = w.replace('\'', ""),
            // article forms
            6 => {
                for a in ["al-", "el-", "as-", "ash-", "at-"] {
                    if let Some(rest) = w.strip_prefix(a) {
                        *w = match rng.below(4) {
                            0 => format!("Al {rest}"),
                            1 => format!("el{}", rest.to_lowercase()),
                            2 => rest.to_string(),
                            _ => format!("El-{rest}"),
                        };
                        break;
                    }
                }
            }
            // compound spacing
            7 => {
                *w = w
                    .replacen("Abd ", "Abd", 1)
                    .replacen("Abu ", "Abu-", 1)
                    .replacen("Abdul ", "Abdul-", 1)
            }
            // case
            8 => *w = w.to_uppercase(),
            _ => {}
        }
    }
    words.join(" ")
}

fn candidates(query: &str, names: &[String]) -> bool {
    // Every query word must share a key with some word of one of the names.
    let q = word_keys(query);
    names.iter().any(|n| {
        let nk: Vec<String> = word_keys(n).into_iter().flatten().collect();
        q.iter().all(|g| g.iter().any(|k| nk.contains(k)))
    })
}

struct Tally {
    queries: usize,
    found: usize,
    retrieved: usize,
    correct: usize,
}

impl Tally {
    fn recall(&self) -> f64 {
        self.found as f64 / self.queries.max(1) as f64
    }
    fn precision(&self) -> f64 {
        self.correct as f64 / self.retrieved.max(1) as f64
    }
}

fn queries(people: &[Person], rng: &mut Rng) -> Vec<(usize, &'static str, String)> {
    let mut out = Vec::new();
    for (i, p) in people.iter().enumerate() {
        for _ in 0..3 {
            out.push((i, "arabic", arabic_variant(p, rng)));
        }
        for _ in 0..5 {
            out.push((i, "latin", latin_variant(p, rng)));
        }
    }
    out
}

#[test]
fn name_matching_precision_and_recall() {
    let mut rng = Rng(0x5eed_0a7a_2024);
    let people = persons(300, &mut rng);
    let qs = queries(&people, &mut rng);
    let names: Vec<[String; 2]> = people
        .iter()
        .map(|p| [p.arabic.clone(), p.latin.clone()])
        .collect();
    // For each query: the key candidates with their best similarity.
    let scored: Vec<Vec<(usize, f32)>> = qs
        .iter()
        .map(|(_, _, q)| {
            names
                .iter()
                .enumerate()
                .filter(|(_, ns)| candidates(q, &ns[..]))
                .map(|(j, ns)| {
                    let best = ns
                        .iter()
                        .map(|n| name_similarity(q, n))
                        .fold(0.0f32, f32::max);
                    (j, best)
                })
                .collect()
        })
        .collect();
    let mean_candidates =
        scored.iter().map(Vec::len).sum::<usize>() as f64 / scored.len().max(1) as f64;
    println!(
        "key candidates per query: {mean_candidates:.1} of {}",
        people.len()
    );
    let tally = |threshold: f32, kind: Option<&str>| {
        let mut t = Tally {
            queries: 0,
            found: 0,
            retrieved: 0,
            correct: 0,
        };
        for ((want, k, _), cands) in qs.iter().zip(&scored) {
            if kind.is_some_and(|kind| kind != *k) {
                continue;
            }
            let got: Vec<usize> = cands
                .iter()
                .filter(|(_, s)| *s >= threshold)
                .map(|(j, _)| *j)
                .collect();
            t.queries += 1;
            t.retrieved += got.len();
            if got.contains(want) {
                t.found += 1;
                t.correct += 1;
            }
        }
        t
    };
    println!("threshold  recall  precision");
    for th in [0.70, 0.75, 0.80, 0.85, 0.90, 0.95] {
        let t = tally(th, None);
        println!("  {th:.2}     {:.3}   {:.3}", t.recall(), t.precision());
    }
    for kind in ["arabic", "latin"] {
        let t = tally(NAME_THRESHOLD, Some(kind));
        println!(
            "{kind:7} queries {:5}  recall {:.3}  precision {:.3}",
            t.queries,
            t.recall(),
            t.precision()
        );
    }
    let all = tally(NAME_THRESHOLD, None);
    println!(
        "all     queries {:5}  recall {:.3}  precision {:.3}  (threshold {NAME_THRESHOLD})",
        all.queries,
        all.recall(),
        all.precision()
    );
    for ((want, _, q), cands) in qs.iter().zip(&scored) {
        for (j, s) in cands {
            let hit = *s >= NAME_THRESHOLD;
            if hit != (j == want) && (hit || j == want) {
                let what = if hit { "false hit" } else { "miss" };
                println!("{what}: {q:?} ~ {:?} ({s:.3})", people[*j].arabic);
            }
        }
    }
    // The keys do much of the work for three-word names (few persons share a key for
    // every word); the similarity alone, against all 300 persons, shows what it adds
    // (on every 8th query, to keep the test short).
    let mut alone = Tally {
        queries: 0,
        found: 0,
        retrieved: 0,
        correct: 0,
    };
    for (want, _, q) in qs.iter().step_by(8) {
        let got: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, ns)| ns.iter().any(|n| name_similarity(q, n) >= NAME_THRESHOLD))
            .map(|(j, _)| j)
            .collect();
        alone.queries += 1;
        alone.retrieved += got.len();
        if got.contains(want) {
            alone.found += 1;
            alone.correct += 1;
        }
    }
    println!(
        "similarity alone, no key filter ({} queries): recall {:.3}  precision {:.3}",
        alone.queries,
        alone.recall(),
        alone.precision()
    );
    assert!(all.recall() >= 0.95, "recall {:.3}", all.recall());
    assert!(all.precision() >= 0.9, "precision {:.3}", all.precision());
    assert!(
        alone.precision() >= 0.9,
        "precision without keys {:.3}",
        alone.precision()
    );
}

fn want_i(id: &str) -> usize {
    id.trim_start_matches("person-").parse().unwrap()
}

/// The same queries through the index: persons as documents with both names.
#[test]
fn name_matching_through_the_index() {
    let mut rng = Rng(0x001d_ea5e_ed77);
    let people = persons(300, &mut rng);
    let qs = queries(&people, &mut rng);
    let dir = tempfile::tempdir().unwrap();
    let mut index = SearchIndex::open_or_create(dir.path()).unwrap();
    for (i, p) in people.iter().enumerate() {
        index
            .add(&Doc {
                id: format!("person-{i}"),
                kind: "person".into(),
                title: format!("person {i}"),
                names: vec![p.arabic.clone(), p.latin.clone()],
                ..Doc::default()
            })
            .unwrap();
    }
    index.commit().unwrap();
    // Ranked search: the person should come first, ahead of every other person who
    // shares some of the words.
    let (mut first, mut top5, mut misses) = (0usize, 0usize, 0usize);
    for (want, _, q) in &qs {
        let res = index
            .search(&Query {
                text: q.clone(),
                limit: 50,
                ..Query::default()
            })
            .unwrap();
        let want = format!("person-{want}");
        let rank = res.hits.iter().position(|h| h.id == want);
        first += usize::from(rank == Some(0));
        top5 += usize::from(rank.is_some_and(|r| r < 5));
        if rank != Some(0) {
            misses += 1;
            if misses <= 30 {
                let got = res.hits.first().map(|h| want_i(&h.id));
                println!(
                    "index rank {rank:?}: {q:?} → {:?}, first {:?}",
                    people[want_i(&want)].arabic,
                    got.map(|g| &people[g].arabic)
                );
            }
        }
    }
    let n = qs.len() as f64;
    let (r1, r5) = (first as f64 / n, top5 as f64 / n);
    println!(
        "index   queries {:5}  first {r1:.3}  top five {r5:.3}",
        qs.len()
    );
    assert!(r1 >= 0.95, "first hit {r1:.3}");
    assert!(r5 >= 0.99, "top five {r5:.3}");
}
