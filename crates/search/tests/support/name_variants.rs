//! Synthetic Arabic person names, and the spellings people actually type for them, for
//! measuring Athar's name search (recall at 1 and at 5 among namesakes).
//!
//! The generator is deliberately independent of the matching engine it evaluates: it uses
//! nothing from `athar_search` and does its own romanisation from a phonemic form.
//!
//! * **Synthetic people only.** Every person is a random combination of common Arabic given
//!   and family names from the lexicon below ([`MALE`], [`FEMALE`], [`FAMILY`]); no real
//!   person, and no victim's data, is modelled.
//! * **Lexicon.** Each entry has its standard Arabic spelling (hamza forms, ة and ى as
//!   normally written) and a phonemic transcription in the scheme below. Common given names
//!   also carry their usual Turkish and Kurdish (Kurmanji) spellings.
//! * **Latin spellings.** [`latin_name`] romanises a person in one of eight [`Style`]s
//!   (English/academic-lite, Levantine, Egyptian, Gulf, French/Maghreb, Turkish, Kurdish,
//!   sloppy), each with realistic randomness inside the style: ق as q/k/g/', ج as j/g/dj/c,
//!   ذ as dh/th/z/d, ث as th/s/t, ta marbuta as a/ah/eh/e/at, the article as al-/el-/Al /El/
//!   joined/assimilated/dropped, عبد ال… as Abdul/Abd al-/Abdel/Abdur…, Abu/Abou/Bou, bin/ibn/
//!   ben, ayn and hamza as ' ` ʿ ʾ ’ or nothing, long vowels doubled or not, shadda doubled or
//!   not, random capitalisation, plus optional typos.
//! * **Arabic spellings.** [`arabic_standard`] gives the standard spelling; [`arabic_name`]
//!   what people type: hamza forms dropped, ة↔ه, ى↔ي, ئ/ؤ flattened, harakat or tatweel
//!   sometimes, compounds joined (عبدالله), the family article dropped, an optional typo.
//! * **Populations.** [`population`] builds looked-for persons, each with namesakes sharing
//!   exactly two of given / father / family name, and no two persons sharing all three.
//!
//! Everything is deterministic given the [`Rng`] state. [`self_check`] validates the lexicon
//! and the renderers (it panics on a problem and prints nothing).
//!
//! # Phonemic scheme
//!
//! ASCII, one symbol (or digraph) per phoneme:
//!
//! | Arabic | ب | ت | ث  | ج | ح | خ | د | ذ  | ر | ز | س | ش  | ص | ض | ط | ظ | ع | غ  | ف | ق | ك | ل | م | ن | ه | و | ي | ء | ة |
//! |--------|---|---|----|---|---|---|---|----|---|---|---|----|---|---|---|---|---|----|---|---|---|---|---|---|---|---|---|---|---|
//! | scheme | b | t | th | j | H | x | d | dh | r | z | s | sh | S | D | T | Z | 3 | gh | f | q | k | l | m | n | h | w | y | ' | @ |
//!
//! * Short vowels `a i u`; long vowels doubled `aa ii uu` (ā is ا, or ى at the end of a
//!   word); diphthongs are `ay`, `aw`.
//! * Shadda: the consonant written twice (`muHammad`, `bashshaar`, `sha33aar`).
//! * A word-initial vowel carries the implied hamza (`aHmad` أحمد, `ibraahiim` إبراهيم,
//!   `aalaa'` آلاء); `'` is written only inside or at the end of a word (`waa'il`, `asmaa'`).
//! * `@` is ta marbuta, always after a short `a` (`faaTima@`).
//! * `al-` is the article, always written unassimilated (`al-raHmaan`, `al-shaamii`); the
//!   renderers assimilate it before sun letters (ar-Rahman, ash-Shami) when a style does.
//! * `allaah` is the word الله; words are separated by one space (`3abd al-qaadir`,
//!   `abuu bakr`, `bin 3alii`); `.` may separate letters that would otherwise read as a
//!   digraph (`ad.ham` أدهم).
#![allow(dead_code)]

use std::collections::HashSet;

// ------------------------------------------------------------------------------------------
// Random numbers
// ------------------------------------------------------------------------------------------

/// xorshift64* generator: small and fully deterministic. A zero state is treated as a fixed
/// non-zero constant.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        if x == 0 {
            x = 0x9E37_79B9_7F4A_7C15;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100 (always true from 100 up).
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A uniformly chosen element; panics on an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

type Weighted = [(&'static str, u32)];

fn wpick(rng: &mut Rng, items: &Weighted) -> &'static str {
    let total: u32 = items.iter().map(|&(_, w)| w).sum();
    let mut r = rng.below(total as usize) as u32;
    for &(s, w) in items {
        if r < w {
            return s;
        }
        r -= w;
    }
    items.last().map_or("", |&(s, _)| s)
}

// ------------------------------------------------------------------------------------------
// Lexicon
// ------------------------------------------------------------------------------------------

/// A given name: (Arabic, phonemic, Turkish, Kurdish Kurmanji). An empty Turkish or Kurdish
/// form means there is no usual one (rules are used); `/` separates alternatives.
pub type GivenName = (&'static str, &'static str, &'static str, &'static str);

/// A family name: (Arabic, phonemic).
pub type FamilyName = (&'static str, &'static str);

/// Male given names (also used for fathers and grandfathers).
pub static MALE: &[GivenName] = &[
    ("محمد", "muHammad", "Mehmet/Muhammed", "Mihemed/Mehmed"),
    ("أحمد", "aHmad", "Ahmet", "Ehmed"),
    ("محمود", "maHmuud", "Mahmut", "Mehmûd"),
    ("مصطفى", "muSTafaa", "Mustafa", "Mistefa"),
    ("علي", "3alii", "Ali", "Elî"),
    ("حسن", "Hasan", "Hasan", "Hesen"),
    ("حسين", "Husayn", "Hüseyin", "Husên"),
    ("خليل", "xaliil", "Halil", "Xelîl"),
    ("إبراهيم", "ibraahiim", "İbrahim", "Îbrahîm/Birahîm"),
    ("يوسف", "yuusuf", "Yusuf", "Ûsiv/Yûsif"),
    ("عمر", "3umar", "Ömer", "Omer"),
    ("عثمان", "3uthmaan", "Osman", "Osman"),
    ("عبد الله", "3abd allaah", "Abdullah", "Evdila/Ebdila"),
    (
        "عبد الرحمن",
        "3abd al-raHmaan",
        "Abdurrahman/Abdurahman",
        "Ebdulrehman/Evdirehman",
    ),
    (
        "عبد القادر",
        "3abd al-qaadir",
        "Abdülkadir/Abdulkadir",
        "Ebdulqadir/Evdilqadir",
    ),
    (
        "عبد الكريم",
        "3abd al-kariim",
        "Abdülkerim/Abdulkerim",
        "Ebdulkerîm/Evdilkerîm",
    ),
    ("عبد العزيز", "3abd al-3aziiz", "Abdülaziz", "Ebdulezîz"),
    (
        "عبد الحميد",
        "3abd al-Hamiid",
        "Abdülhamit/Abdulhamit",
        "Ebdulhemîd",
    ),
    ("عبد الرزاق", "3abd al-razzaaq", "Abdürrezzak", "Ebdulrezaq"),
    ("عبد اللطيف", "3abd al-laTiif", "Abdullatif", "Ebdulletîf"),
    ("عبد الباسط", "3abd al-baasiT", "Abdülbasit", ""),
    ("عبد الغني", "3abd al-ghanii", "Abdülgani", ""),
    ("عبد الناصر", "3abd al-naaSir", "", ""),
    ("عبد الجبار", "3abd al-jabbaar", "Abdülcebbar", ""),
    ("عبد الإله", "3abd al-ilaah", "", ""),
    ("عبد المجيد", "3abd al-majiid", "Abdülmecit", ""),
    ("عبد الوهاب", "3abd al-wahhaab", "Abdülvahap", ""),
    ("عبد السلام", "3abd al-salaam", "Abdüsselam", "Ebdulselam"),
    ("عبد الفتاح", "3abd al-fattaaH", "Abdülfettah", ""),
    ("عبد الهادي", "3abd al-haadii", "", ""),
    ("عبد الحكيم", "3abd al-Hakiim", "Abdülhakim", "Ebdulhekîm"),
    ("عبد الرحيم", "3abd al-raHiim", "Abdurrahim", "Ebdulrehîm"),
    ("أبو بكر", "abuu bakr", "Ebubekir", "Ebûbekir"),
    ("كمال", "kamaal", "Kemal", "Kemal"),
    ("جمال", "jamaal", "Cemal", "Cemal"),
    ("جلال", "jalaal", "Celal", "Celal"),
    ("قادر", "qaadir", "Kadir", "Qadir"),
    ("نجيب", "najiib", "Necip", "Necîb"),
    ("رجب", "rajab", "Recep", "Receb"),
    ("رمضان", "ramaDaan", "Ramazan", "Remezan"),
    ("سليمان", "sulaymaan", "Süleyman", "Silêman"),
    ("إسماعيل", "ismaa3iil", "İsmail", "Îsmaîl/Smaîl"),
    ("يعقوب", "ya3quub", "Yakup", "Yaqûb"),
    ("موسى", "muusaa", "Musa", "Mûsa"),
    ("عيسى", "3iisaa", "İsa", "Îsa"),
    ("صالح", "SaaliH", "Salih", "Salih"),
    ("حمزة", "Hamza@", "Hamza", "Hemze"),
    ("خالد", "xaalid", "Halit/Halid", "Xalid"),
    ("سعيد", "sa3iid", "Said/Sait", "Seîd"),
    ("رشيد", "rashiid", "Reşit", "Reşîd"),
    ("مراد", "muraad", "Murat", "Murad"),
    ("طارق", "Taariq", "Tarık", "Tariq"),
    ("كريم", "kariim", "Kerim", "Kerîm"),
    ("سليم", "saliim", "Selim", "Selîm"),
    ("جعفر", "ja3far", "Cafer", "Cefer"),
    ("صادق", "Saadiq", "Sadık", "Sadiq"),
    ("حامد", "Haamid", "Hamit", "Hamid"),
    ("حمدي", "Hamdii", "Hamdi", "Hemdî"),
    ("شكري", "shukrii", "Şükrü", "Şukrî"),
    ("شوكت", "shawkat", "Şevket", "Şewket"),
    ("نور الدين", "nuur al-diin", "Nurettin/Nureddin", "Nûredîn"),
    (
        "صلاح الدين",
        "SalaaH al-diin",
        "Selahattin/Selahaddin",
        "Selahedîn",
    ),
    (
        "علاء الدين",
        "3alaa' al-diin",
        "Alaattin/Alaaddin",
        "Elaedîn",
    ),
    ("عز الدين", "3izz al-diin", "İzzettin", "Izedîn"),
    ("سيف الدين", "sayf al-diin", "Seyfettin", "Seyfedîn"),
    ("رضا", "riDaa", "Rıza", "Riza"),
    ("كاظم", "kaaZim", "Kazım", "Kazim"),
    ("ياسين", "yaasiin", "Yasin", "Yasîn"),
    ("يونس", "yuunus", "Yunus", "Yûnis"),
    ("إلياس", "ilyaas", "İlyas", "Îlyas"),
    ("إدريس", "idriis", "İdris", "Îdrîs"),
    ("زكريا", "zakariyyaa", "Zekeriya", "Zekerîya"),
    ("يحيى", "yaHyaa", "Yahya", "Yehya"),
    ("هاشم", "haashim", "Haşim", "Haşim"),
    ("قاسم", "qaasim", "Kasım", "Qasim"),
    ("عزت", "3izzat", "İzzet", "Izet"),
    ("سيد", "sayyid", "Seyit/Seyyid", "Seyîd"),
    ("شريف", "shariif", "Şerif", "Şerîf"),
    ("نعمان", "nu3maan", "Numan", "Nûman"),
    ("فاروق", "faaruuq", "Faruk", "Farûq"),
    ("منصور", "manSuur", "Mansur", "Mensûr"),
    ("ناصر", "naaSir", "Nasır", "Nasir"),
    ("فتحي", "fatHii", "Fethi", "Fethî"),
    ("رفعت", "rif3at", "Rıfat", "Rifet"),
    ("حكمت", "Hikmat", "Hikmet", "Hikmet"),
    ("جودت", "jawdat", "Cevdet", "Cewdet"),
    ("عصمت", "3iSmat", "İsmet", "Îsmet"),
    ("فاضل", "faaDil", "Fazıl", "Fazil"),
    ("زيد", "zayd", "Zeyd", "Zeyd"),
    ("أمين", "amiin", "Emin", "Emîn"),
    ("أكرم", "akram", "Ekrem", "Ekrem"),
    ("أنس", "anas", "Enes", "Enes"),
    ("أيمن", "ayman", "Eymen", "Eymen"),
    ("بلال", "bilaal", "Bilal", "Bilal"),
    ("جميل", "jamiil", "Cemil", "Cemîl"),
    ("حبيب", "Habiib", "Habip", "Hebîb"),
    ("حسام", "Husaam", "Hüsam", "Husam"),
    ("سلمان", "salmaan", "Selman", "Selman"),
    ("صبري", "Sabrii", "Sabri", "Sebrî"),
    ("طاهر", "Taahir", "Tahir", "Tahir"),
    ("فيصل", "faySal", "Faysal", "Feysel"),
    ("مالك", "maalik", "Malik", "Malik"),
    ("نبيل", "nabiil", "Nebil", "Nebîl"),
    ("هارون", "haaruun", "Harun", "Harûn"),
    ("وليد", "waliid", "Velit", "Welîd"),
    ("ياسر", "yaasir", "Yasir", "Yasir"),
    ("إسحاق", "isHaaq", "İshak", "Îshaq"),
    ("أسامة", "usaama@", "Üsame", "Usame"),
    ("عمار", "3ammaar", "Ammar", "Emar"),
    ("هيثم", "haytham", "Heysem", "Heysem"),
    ("معاذ", "mu3aadh", "Muaz", "Muaz"),
    ("المقداد", "al-miqdaad", "", ""),
    ("مهند", "muhannad", "", ""),
    ("وائل", "waa'il", "", ""),
    ("ماهر", "maahir", "Mahir", "Mahir"),
    ("ماجد", "maajid", "", ""),
    ("فادي", "faadii", "", ""),
    ("رامي", "raamii", "", ""),
    ("سامي", "saamii", "Sami", "Samî"),
    ("باسل", "baasil", "", ""),
    ("بشار", "bashshaar", "Beşar", ""),
    ("غسان", "ghassaan", "", ""),
    ("عدنان", "3adnaan", "Adnan", "Ednan"),
    ("فراس", "firaas", "Firas", ""),
    ("أسعد", "as3ad", "Esat/Esad", "Esed"),
    ("أنور", "anwar", "Enver", "Enwer"),
    ("إياد", "iyaad", "", ""),
    ("تامر", "taamir", "", ""),
    ("ثائر", "thaa'ir", "", ""),
    ("جابر", "jaabir", "Cabir", "Cabir"),
    ("جواد", "jawaad", "Cevat", "Cewad"),
    ("حاتم", "Haatim", "Hatem/Hatim", "Hatim"),
    ("حازم", "Haazim", "Hazım", "Hazim"),
    ("حكم", "Hakam", "", ""),
    ("حمدان", "Hamdaan", "", ""),
    ("خضر", "xiDr", "Hızır", "Xidir"),
    ("خلدون", "xalduun", "Haldun", "Xeldûn"),
    ("ذياب", "dhiyaab", "", ""),
    ("رائد", "raa'id", "", ""),
    ("رياض", "riyaaD", "Riyaz", ""),
    ("زياد", "ziyaad", "Ziyad", "Ziyad"),
    ("زهير", "zuhayr", "Züheyr", "Zuheyr"),
    ("سامر", "saamir", "", ""),
    ("سفيان", "sufyaan", "Süfyan", "Sufyan"),
    ("سمير", "samiir", "Semir", "Semîr"),
    ("سهيل", "suhayl", "Süheyl", "Suheyl"),
    ("شادي", "shaadii", "", ""),
    ("شاكر", "shaakir", "Şakir", "Şakir"),
    ("صابر", "Saabir", "Sabir", "Sabir"),
    ("صفوان", "Safwaan", "Safvan", "Sefwan"),
    ("صهيب", "Suhayb", "Süheyp", "Suheyb"),
    ("ضياء", "Diyaa'", "Ziya", "Ziya"),
    ("طلال", "Talaal", "Talal", ""),
    ("طه", "Taahaa", "Taha", "Teha"),
    ("ظافر", "Zaafir", "Zafir", ""),
    ("عادل", "3aadil", "Adil", "Adil"),
    ("عاطف", "3aaTif", "Atıf", "Atif"),
    ("عامر", "3aamir", "Amir", "Amir"),
    ("عدي", "3udayy", "", ""),
    ("عصام", "3iSaam", "İsam", ""),
    ("علاء", "3alaa'", "Ala", ""),
    ("عماد", "3imaad", "İmad", ""),
    ("عمرو", "3amr", "Amr", "Emr"),
    ("عوض", "3awaD", "Avaz", ""),
    ("عيد", "3iid", "", ""),
    ("غازي", "ghaazii", "Gazi", "Xazî"),
    ("غيث", "ghayth", "", ""),
    ("فؤاد", "fu'aad", "Fuat", "Fuad"),
    ("فايز", "faayiz", "Faiz", ""),
    ("فهد", "fahd", "Fehd", "Fehd"),
    ("قتيبة", "qutayba@", "Kuteybe", ""),
    ("قصي", "quSayy", "Kusay", "Qusey"),
    ("لؤي", "lu'ayy", "", ""),
    ("ليث", "layth", "Leys", ""),
    ("مأمون", "ma'muun", "Memun", "Memûn"),
    ("مازن", "maazin", "Mazin", "Mazin"),
    ("مجدي", "majdii", "Mecdi", "Mecdî"),
    ("محسن", "muHsin", "Muhsin", "Muhsin"),
    ("مروان", "marwaan", "Mervan", "Merwan"),
    ("مصعب", "muS3ab", "Musab", "Mus'eb"),
    ("معتز", "mu3tazz", "Mutaz", ""),
    ("ممدوح", "mamduuH", "Memduh", "Memdûh"),
    ("منذر", "mundhir", "Münzir", ""),
    ("مؤيد", "mu'ayyad", "Müeyyet", ""),
    ("نادر", "naadir", "Nadir", "Nadir"),
    ("نزار", "nizaar", "Nizar", "Nizar"),
    ("نضال", "niDaal", "", ""),
    ("نواف", "nawwaaf", "Nevaf", ""),
    ("هادي", "haadii", "Hadi", "Hadî"),
    ("هشام", "hishaam", "Hişam", "Hîşam"),
    ("همام", "hammaam", "Hemmam", ""),
    ("وسيم", "wasiim", "Vesim", "Wesîm"),
    ("وضاح", "waDDaaH", "", ""),
    ("يزن", "yazan", "", ""),
    ("يامن", "yaamin", "", ""),
    ("عبادة", "3ubaada@", "Ubade", ""),
    ("حذيفة", "Hudhayfa@", "Huzeyfe", "Huzeyfe"),
    ("طلحة", "TalHa@", "Talha", "Telhe"),
    ("أسيد", "usayd", "", ""),
    ("المعتصم", "al-mu3taSim", "Mutasım", ""),
    ("المثنى", "al-muthannaa", "", ""),
    ("ثامر", "thaamir", "", ""),
    ("عروة", "3urwa@", "Urve", ""),
    ("جهاد", "jihaad", "Cihat", "Cîhad"),
    ("سعد", "sa3d", "", ""),
    ("ثابت", "thaabit", "Sabit", "Sabit"),
    ("ظاهر", "Zaahir", "Zahir", "Zahir"),
    ("ضرار", "Diraar", "", ""),
    ("مؤمن", "mu'min", "Mümin", "Mumin"),
    ("بدر", "badr", "Bedir", "Bedir"),
    ("منير", "muniir", "Münir", "Munîr"),
    ("رؤوف", "ra'uuf", "Rauf", "Reûf"),
    ("عارف", "3aarif", "Arif", "Arif"),
    ("وحيد", "waHiid", "Vahit", "Wehîd"),
    ("أيوب", "ayyuub", "Eyüp", "Eyûb"),
    ("لقمان", "luqmaan", "Lokman", "Loqman"),
    ("إحسان", "iHsaan", "İhsan", "Îhsan"),
    ("إسلام", "islaam", "İslam", "Îslam"),
    ("مختار", "muxtaar", "Muhtar", "Mixtar"),
    ("مرتضى", "murtaDaa", "Murtaza", "Murteza"),
    ("نعيم", "na3iim", "Naim", "Neîm"),
    ("أديب", "adiib", "Edip", "Edîb"),
    ("لطفي", "luTfii", "Lütfi", "Lutfî"),
    ("رفيق", "rafiiq", "Refik", "Refîq"),
    ("شفيق", "shafiiq", "Şefik", "Şefîq"),
    ("توفيق", "tawfiiq", "Tevfik", "Tewfîq"),
    ("شوقي", "shawqii", "Şevki", "Şewqî"),
    ("قيس", "qays", "Kays", "Qeys"),
    ("ذكوان", "dhakwaan", "", ""),
];

/// Female given names.
pub static FEMALE: &[GivenName] = &[
    ("فاطمة", "faaTima@", "Fatma", "Fatime"),
    ("عائشة", "3aa'isha@", "Ayşe", "Ayşe"),
    ("خديجة", "xadiija@", "Hatice", "Xedîce"),
    ("زينب", "zaynab", "Zeynep", "Zeyneb"),
    ("مريم", "maryam", "Meryem", "Meryem"),
    ("آمنة", "aamina@", "Emine", "Emîne"),
    ("رقية", "ruqayya@", "Rukiye", "Ruqiye"),
    ("حليمة", "Haliima@", "Halime", "Helîme"),
    ("ليلى", "laylaa", "Leyla", "Leyla"),
    ("سلمى", "salmaa", "Selma", "Selma"),
    ("هدى", "hudaa", "Hüda", "Huda"),
    ("نور", "nuur", "Nur", "Nûr"),
    ("سارة", "saara@", "Sare", "Sara"),
    ("هاجر", "haajar", "Hacer", "Hacer"),
    ("صفية", "Safiyya@", "Safiye", "Sefiye"),
    ("زهراء", "zahraa'", "Zehra", "Zehra"),
    ("أسماء", "asmaa'", "Esma", "Esma"),
    ("حفصة", "HafSa@", "Hafsa", "Hefse"),
    ("جميلة", "jamiila@", "Cemile", "Cemîle"),
    ("نعيمة", "na3iima@", "Naime", "Neîme"),
    ("شريفة", "shariifa@", "Şerife", "Şerîfe"),
    ("نسرين", "nasriin", "Nesrin", "Nesrîn"),
    ("كوثر", "kawthar", "Kevser", "Kewser"),
    ("سميرة", "samiira@", "Semire", ""),
    ("منى", "munaa", "Müna", ""),
    ("هند", "hind", "Hind", "Hind"),
    ("رنا", "ranaa", "", ""),
    ("ريم", "riim", "", ""),
    ("دعاء", "du3aa'", "", ""),
    ("آلاء", "aalaa'", "", ""),
    ("إيمان", "iimaan", "İman", "Îman"),
    ("ياسمين", "yaasmiin", "Yasemin", "Yasemîn"),
    ("لينا", "liinaa", "", ""),
    ("رزان", "razaan", "", ""),
    ("نادية", "naadiya@", "Nadiye", ""),
    ("وفاء", "wafaa'", "Vefa", "Wefa"),
    ("غادة", "ghaada@", "", ""),
    ("عبير", "3abiir", "", ""),
    ("سهى", "suhaa", "", ""),
    ("ضحى", "DuHaa", "Duha", ""),
    ("بتول", "batuul", "Betül", "Betûl"),
    ("أمل", "amal", "Emel", "Emel"),
    ("إسراء", "israa'", "İsra", "Îsra"),
    ("جنى", "janaa", "", ""),
    ("لمى", "lamaa", "", ""),
    ("رهف", "rahaf", "", ""),
    ("شيماء", "shaymaa'", "Şeyma", "Şeyma"),
    ("هبة", "hiba@", "Hibe", ""),
    ("رحاب", "riHaab", "", ""),
    ("سناء", "sanaa'", "Sena", "Sena"),
    ("ثريا", "thurayyaa", "Süreyya", "Sureya"),
    ("ظريفة", "Zariifa@", "Zarife", ""),
    ("عفاف", "3afaaf", "", ""),
    ("غدير", "ghadiir", "", ""),
    ("لبنى", "lubnaa", "", ""),
    ("مها", "mahaa", "", ""),
    ("نجلاء", "najlaa'", "", ""),
    ("هيفاء", "hayfaa'", "", ""),
    ("وداد", "widaad", "", ""),
    ("يسرى", "yusraa", "Yüsra", ""),
    ("سلوى", "salwaa", "Selva", ""),
    ("بشرى", "bushraa", "Büşra", "Buşra"),
    ("قمر", "qamar", "Kamer", "Qemer"),
    ("فدوى", "fadwaa", "", ""),
    ("صباح", "SabaaH", "Sabah", "Sebah"),
    ("تسنيم", "tasniim", "Tesnim", ""),
    ("آية", "aaya@", "", ""),
    ("ملاك", "malaak", "Melek", "Melek"),
    ("سوسن", "sawsan", "Sevsen", ""),
    ("حنان", "Hanaan", "Hanan", ""),
    ("إخلاص", "ixlaaS", "İhlas", ""),
    ("فريدة", "fariida@", "Feride", "Ferîde"),
    ("لطيفة", "laTiifa@", "Latife", "Letîfe"),
    ("عزيزة", "3aziiza@", "Azize", ""),
    ("نوال", "nawaal", "", ""),
    ("سعاد", "su3aad", "Suad", "Suad"),
    ("رشا", "rashaa", "", ""),
    ("أمينة", "amiina@", "", ""),
];

/// Family names: nisbas, names with and without the article, Abu/bin compounds, names in
/// Allah and in al-Din.
pub static FAMILY: &[FamilyName] = &[
    // nisbas and other names with the article
    ("الحلبي", "al-Halabii"),
    ("الشامي", "al-shaamii"),
    ("العلي", "al-3alii"),
    ("الخطيب", "al-xaTiib"),
    ("النابلسي", "al-naabulsii"),
    ("المصري", "al-miSrii"),
    ("الحمصي", "al-HimSii"),
    ("الحموي", "al-Hamawii"),
    ("الدمشقي", "al-dimashqii"),
    ("البغدادي", "al-baghdaadii"),
    ("الموصلي", "al-mawSilii"),
    ("التكريتي", "al-tikriitii"),
    ("الأنصاري", "al-anSaarii"),
    ("الهاشمي", "al-haashimii"),
    ("القرشي", "al-qurashii"),
    ("التميمي", "al-tamiimii"),
    ("الزعبي", "al-zu3bii"),
    ("الحسيني", "al-Husaynii"),
    ("الحسني", "al-Hasanii"),
    ("العمري", "al-3umarii"),
    ("الأحمد", "al-aHmad"),
    ("المحمد", "al-muHammad"),
    ("الحسن", "al-Hasan"),
    ("الصالح", "al-SaaliH"),
    ("الأسعد", "al-as3ad"),
    ("الجاسم", "al-jaasim"),
    ("العبد الله", "al-3abd allaah"),
    ("الكردي", "al-kurdii"),
    ("التركماني", "al-turkumaanii"),
    ("الدروبي", "al-duruubii"),
    ("الرفاعي", "al-rifaa3ii"),
    ("الشيخ", "al-shayx"),
    ("السيد", "al-sayyid"),
    ("النجار", "al-najjaar"),
    ("الحداد", "al-Haddaad"),
    ("العطار", "al-3aTTaar"),
    ("الخياط", "al-xayyaaT"),
    ("الطحان", "al-TaHHaan"),
    ("القصاب", "al-qaSSaab"),
    ("الدباغ", "al-dabbaagh"),
    ("الصباغ", "al-Sabbaagh"),
    ("الحلاق", "al-Hallaaq"),
    ("الخوري", "al-xuurii"),
    ("الأتاسي", "al-ataasii"),
    ("الجابري", "al-jaabirii"),
    ("العظم", "al-3aZm"),
    ("الظاهر", "al-Zaahir"),
    ("الطويل", "al-Tawiil"),
    ("القاسم", "al-qaasim"),
    ("الصافي", "al-Saafii"),
    ("الظواهري", "al-Zawaahirii"),
    ("الذهبي", "al-dhahabii"),
    ("الثوري", "al-thawrii"),
    ("الغزالي", "al-ghazaalii"),
    ("الغامدي", "al-ghaamidii"),
    ("القحطاني", "al-qaHTaanii"),
    ("العتيبي", "al-3utaybii"),
    ("الشمري", "al-shammarii"),
    ("الدوسري", "al-dawsarii"),
    ("المطيري", "al-muTayrii"),
    ("الزهراني", "al-zahraanii"),
    ("الحربي", "al-Harbii"),
    ("العنزي", "al-3anazii"),
    ("السعدي", "al-sa3dii"),
    ("البكري", "al-bakrii"),
    ("الجبوري", "al-jubuurii"),
    ("الدليمي", "al-dulaymii"),
    ("العبيدي", "al-3ubaydii"),
    ("الربيعي", "al-rubay3ii"),
    ("الساعدي", "al-saa3idii"),
    ("الكبيسي", "al-kubaysii"),
    ("الزبيدي", "al-zubaydii"),
    ("الخزرجي", "al-xazrajii"),
    ("الطائي", "al-Taa'ii"),
    ("الحكيم", "al-Hakiim"),
    ("الجزائري", "al-jazaa'irii"),
    ("التونسي", "al-tuunisii"),
    ("المغربي", "al-maghribii"),
    ("اليمني", "al-yamanii"),
    ("العراقي", "al-3iraaqii"),
    ("الفلسطيني", "al-filasTiinii"),
    ("اللبناني", "al-lubnaanii"),
    ("الأردني", "al-urdunii"),
    ("الحوراني", "al-Hawraanii"),
    ("الإدلبي", "al-idlibii"),
    ("الرقاوي", "al-raqqaawii"),
    ("الديري", "al-dayrii"),
    ("الحمادي", "al-Hammaadii"),
    ("البيطار", "al-bayTaar"),
    ("الشهابي", "al-shihaabii"),
    ("الحريري", "al-Hariirii"),
    ("الجمل", "al-jamal"),
    ("الصيرفي", "al-Sayrafii"),
    ("الفارس", "al-faaris"),
    ("الخليل", "al-xaliil"),
    ("العيسى", "al-3iisaa"),
    ("الموسى", "al-muusaa"),
    ("اليوسف", "al-yuusuf"),
    ("الإبراهيم", "al-ibraahiim"),
    ("العثمان", "al-3uthmaan"),
    ("الحمد", "al-Hamad"),
    ("السعيد", "al-sa3iid"),
    ("الرشيد", "al-rashiid"),
    ("الناصر", "al-naaSir"),
    ("الزين", "al-zayn"),
    ("العمر", "al-3umar"),
    ("الدرويش", "al-darwiish"),
    ("الزعيم", "al-za3iim"),
    ("الأمين", "al-amiin"),
    ("الأيوبي", "al-ayyuubii"),
    ("القادري", "al-qaadirii"),
    ("النقشبندي", "al-naqshabandii"),
    ("الجيلاني", "al-jiilaanii"),
    ("العباسي", "al-3abbaasii"),
    ("الأموي", "al-umawii"),
    ("السوري", "al-suurii"),
    ("الطرابلسي", "al-Taraabulusii"),
    ("البيروتي", "al-bayruutii"),
    ("الصيداوي", "al-Saydaawii"),
    ("المحاميد", "al-maHaamiid"),
    ("المقداد", "al-miqdaad"),
    ("الضامن", "al-Daamin"),
    ("الذياب", "al-dhiyaab"),
    ("الثلجي", "al-thaljii"),
    ("الغصين", "al-ghuSayn"),
    ("القوتلي", "al-quwwatlii"),
    ("الطباع", "al-Tabbaa3"),
    ("العجلاني", "al-3ajlaanii"),
    ("البرازي", "al-baraazii"),
    ("المعلم", "al-mu3allim"),
    ("الأخرس", "al-axras"),
    ("الأسود", "al-aswad"),
    ("الأبيض", "al-abyaD"),
    ("الأشقر", "al-ashqar"),
    ("الأحمر", "al-aHmar"),
    ("الكيالي", "al-kayyaalii"),
    ("الحفار", "al-Haffaar"),
    ("الشعار", "al-sha33aar"),
    ("الفحام", "al-faHHaam"),
    ("البزاز", "al-bazzaaz"),
    ("السقا", "al-saqqaa"),
    ("الجندي", "al-jundii"),
    ("الضابط", "al-DaabiT"),
    ("الصوفي", "al-Suufii"),
    ("الإمام", "al-imaam"),
    ("الحاج", "al-Haajj"),
    ("القاضي", "al-qaaDii"),
    ("المفتي", "al-muftii"),
    ("الجعفري", "al-ja3farii"),
    ("الظريف", "al-Zariif"),
    // without the article
    ("قباني", "qabbaanii"),
    ("حجازي", "Hijaazii"),
    ("شاهين", "shaahiin"),
    ("سلامة", "salaama@"),
    ("عودة", "3uuda@"),
    ("نصار", "naSSaar"),
    ("عواد", "3awwaad"),
    ("جبر", "jabr"),
    ("زيدان", "zaydaan"),
    ("شحادة", "shiHaada@"),
    ("بركات", "barakaat"),
    ("خليفة", "xaliifa@"),
    ("عبود", "3abbuud"),
    ("حمود", "Hammuud"),
    ("دياب", "diyaab"),
    ("صقر", "Saqr"),
    ("نمر", "namir"),
    ("ذيب", "dhiib"),
    ("طعمة", "Tu3ma@"),
    ("فضل", "faDl"),
    ("غانم", "ghaanim"),
    ("قنديل", "qandiil"),
    ("مرعي", "mar3ii"),
    ("معروف", "ma3ruuf"),
    ("كنعان", "kan3aan"),
    ("سرحان", "sarHaan"),
    ("عمران", "3imraan"),
    ("قطان", "qaTTaan"),
    ("رزق", "rizq"),
    ("عزام", "3azzaam"),
    ("هلال", "hilaal"),
    ("جرادات", "jaraadaat"),
    ("عبيدات", "3ubaydaat"),
    ("عياش", "3ayyaash"),
    ("حسون", "Hassuun"),
    ("سويدان", "suwaydaan"),
    ("رحال", "raHHaal"),
    ("كرم", "karam"),
    ("مشعل", "mish3al"),
    ("دقاق", "daqqaaq"),
    ("نجم", "najm"),
    ("جاد", "jaad"),
    ("فرح", "faraH"),
    ("ريحان", "rayHaan"),
    ("حلاوة", "Halaawa@"),
    ("شقير", "shuqayr"),
    ("غزال", "ghazaal"),
    ("شلبي", "shalabii"),
    ("حجار", "Hajjaar"),
    ("عرفات", "3arafaat"),
    ("قدورة", "qadduura@"),
    ("زعرور", "za3ruur"),
    ("مطر", "maTar"),
    ("عفريني", "3afriinii"),
    ("قامشلي", "qaamishlii"),
    ("داود", "daawuud"),
    ("سلوم", "salluum"),
    ("عكاشة", "3ukkaasha@"),
    ("زغلول", "zaghluul"),
    ("شعبان", "sha3baan"),
    ("عاشور", "3aashuur"),
    ("بدوي", "badawii"),
    ("حنفي", "Hanafii"),
    ("عباس", "3abbaas"),
    ("حيدر", "Haydar"),
    ("خضور", "xaDDuur"),
    ("ضاحي", "DaaHii"),
    ("ثابت", "thaabit"),
    // Abu compounds
    ("أبو زيد", "abuu zayd"),
    ("أبو شقرة", "abuu shaqra@"),
    ("أبو خليل", "abuu xaliil"),
    ("أبو حمدان", "abuu Hamdaan"),
    ("أبو عيد", "abuu 3iid"),
    ("أبو غزالة", "abuu ghazaala@"),
    ("أبو ريشة", "abuu riisha@"),
    ("أبو السعود", "abuu al-su3uud"),
    ("أبو النصر", "abuu al-naSr"),
    ("أبو الهدى", "abuu al-hudaa"),
    ("أبو طالب", "abuu Taalib"),
    ("أبو عمر", "abuu 3umar"),
    ("أبو ظهر", "abuu Zahr"),
    ("أبو قاسم", "abuu qaasim"),
    ("أبو جابر", "abuu jaabir"),
    ("أبو عودة", "abuu 3uuda@"),
    ("أبو صالح", "abuu SaaliH"),
    ("أبو طه", "abuu Taahaa"),
    ("أبو الخير", "abuu al-xayr"),
    // bin compounds
    ("بن علي", "bin 3alii"),
    ("بن يوسف", "bin yuusuf"),
    ("بن سالم", "bin saalim"),
    ("بن عمر", "bin 3umar"),
    ("بن سعيد", "bin sa3iid"),
    ("بن عيسى", "bin 3iisaa"),
    ("بن جلون", "bin jalluun"),
    ("بن خليفة", "bin xaliifa@"),
    ("بن عبد الله", "bin 3abd allaah"),
    // names in Allah
    ("نصر الله", "naSr allaah"),
    ("خير الله", "xayr allaah"),
    ("عطا الله", "3aTaa allaah"),
    ("فتح الله", "fatH allaah"),
    ("جاب الله", "jaab allaah"),
    ("حسب الله", "Hasab allaah"),
    // names in al-Din
    ("زين الدين", "zayn al-diin"),
    ("شمس الدين", "shams al-diin"),
    ("سيف الدين", "sayf al-diin"),
    ("شرف الدين", "sharaf al-diin"),
    ("بدر الدين", "badr al-diin"),
    ("عز الدين", "3izz al-diin"),
    ("كمال الدين", "kamaal al-diin"),
];

// ------------------------------------------------------------------------------------------
// Phonemic parsing
// ------------------------------------------------------------------------------------------

/// Consonants of the phonemic scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum C {
    B,
    T,
    Th,
    J,
    H,
    X,
    D,
    Dh,
    R,
    Z,
    S,
    Sh,
    Sd,
    Dd,
    Td,
    Zd,
    Ayn,
    Gh,
    F,
    Q,
    K,
    L,
    M,
    N,
    Hh,
    W,
    Y,
    Hz,
    Tm,
}

impl C {
    /// Sun letters: the article assimilates to them.
    fn sun(self) -> bool {
        matches!(
            self,
            C::T | C::Th
                | C::D
                | C::Dh
                | C::R
                | C::Z
                | C::S
                | C::Sh
                | C::Sd
                | C::Dd
                | C::Td
                | C::Zd
                | C::L
                | C::N
        )
    }

    /// Consonants that keep Turkish vowels back (a, not e).
    fn back(self) -> bool {
        matches!(
            self,
            C::Q | C::X | C::H | C::Ayn | C::Sd | C::Dd | C::Td | C::Zd | C::Gh
        )
    }

    /// Emphatics and qaf: Turkish writes a neighbouring short i as ı.
    fn emphatic(self) -> bool {
        matches!(self, C::Q | C::Sd | C::Dd | C::Td | C::Zd)
    }

    /// The Arabic letters this consonant is written with.
    fn letters(self) -> &'static str {
        match self {
            C::B => "ب",
            C::T => "ت",
            C::Th => "ث",
            C::J => "ج",
            C::H => "ح",
            C::X => "خ",
            C::D => "د",
            C::Dh => "ذ",
            C::R => "ر",
            C::Z => "ز",
            C::S => "س",
            C::Sh => "ش",
            C::Sd => "ص",
            C::Dd => "ض",
            C::Td => "ط",
            C::Zd => "ظ",
            C::Ayn => "ع",
            C::Gh => "غ",
            C::F => "ف",
            C::Q => "ق",
            C::K => "ك",
            C::L => "ل",
            C::M => "م",
            C::N => "ن",
            C::Hh => "ه",
            C::W => "و",
            C::Y => "يى",
            C::Hz => "ءأإآؤئ",
            C::Tm => "ة",
        }
    }
}

/// A phoneme: a consonant (and whether it is doubled) or a vowel (`a`/`i`/`u`, long?).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    C(C, bool),
    V(u8, bool),
}

fn cons_of(b: u8) -> Option<C> {
    Some(match b {
        b'b' => C::B,
        b't' => C::T,
        b'j' => C::J,
        b'H' => C::H,
        b'x' => C::X,
        b'd' => C::D,
        b'r' => C::R,
        b'z' => C::Z,
        b's' => C::S,
        b'S' => C::Sd,
        b'D' => C::Dd,
        b'T' => C::Td,
        b'Z' => C::Zd,
        b'3' => C::Ayn,
        b'f' => C::F,
        b'q' => C::Q,
        b'k' => C::K,
        b'l' => C::L,
        b'm' => C::M,
        b'n' => C::N,
        b'h' => C::Hh,
        b'w' => C::W,
        b'y' => C::Y,
        b'\'' => C::Hz,
        b'@' => C::Tm,
        _ => return None,
    })
}

/// Parses one phonemic word (without `al-`); `None` when it is outside the scheme.
fn parse_word(s: &str) -> Option<Vec<Tok>> {
    if s.is_empty() || !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' {
            i += 1;
            continue;
        }
        let next = b.get(i + 1).copied().unwrap_or(0);
        let (tok, step) = match (b[i], next) {
            (b't', b'h') => (Tok::C(C::Th, false), 2),
            (b'd', b'h') => (Tok::C(C::Dh, false), 2),
            (b'g', b'h') => (Tok::C(C::Gh, false), 2),
            (b's', b'h') => (Tok::C(C::Sh, false), 2),
            (v @ (b'a' | b'i' | b'u'), w) if w == v => (Tok::V(v, true), 2),
            (v @ (b'a' | b'i' | b'u'), _) => (Tok::V(v, false), 1),
            (c, _) => (Tok::C(cons_of(c)?, false), 1),
        };
        match (tok, out.last_mut()) {
            (Tok::V(..), Some(Tok::V(..))) => return None,
            (Tok::C(c, _), Some(Tok::C(p, gem))) if *p == c => {
                if *gem {
                    return None;
                }
                *gem = true;
            }
            _ => out.push(tok),
        }
        i += step;
    }
    Some(out)
}

/// One word of a name: the article flag, the phonemic text and its phonemes.
#[derive(Debug, Clone)]
struct Word {
    art: bool,
    raw: &'static str,
    toks: Vec<Tok>,
}

fn parse_entry(ph: &'static str) -> Option<Vec<Word>> {
    ph.split(' ')
        .map(|w| {
            let (art, raw) = match w.strip_prefix("al-") {
                Some(rest) => (true, rest),
                None => (false, w),
            };
            parse_word(raw).map(|toks| Word { art, raw, toks })
        })
        .collect()
}

/// Structural rules beyond the alphabet: ta marbuta only word-final after short a, no
/// written initial hamza, nothing empty.
fn well_formed(words: &[Word]) -> bool {
    !words.is_empty()
        && words.iter().all(|w| {
            let n = w.toks.len();
            n > 0
                && !matches!(w.toks[0], Tok::C(C::Hz, _))
                && w.toks.iter().enumerate().all(|(i, t)| match t {
                    Tok::C(C::Tm, gem) => {
                        !gem && i + 1 == n && i > 0 && w.toks[i - 1] == Tok::V(b'a', false)
                    }
                    _ => true,
                })
        })
}

// ------------------------------------------------------------------------------------------
// Styles and options
// ------------------------------------------------------------------------------------------

/// How a name is written in Latin letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// English / academic-lite: Muhammad, Khalid, Abd al-Rahman, al-Nabulsi, Sa'id.
    English,
    /// Levantine English: Mohammad, Khaled, Tarek, Kassem, Youssef, Al-Naboulsi.
    Levantine,
    /// Egyptian: g for ج (Gamal, Ragab), Mohamed, Abdel, El-, final -y (Hegazy, Elmasry).
    Egyptian,
    /// Gulf: q as g (Gasim), -ah, ee/oo, Al , bin, Abdulla.
    Gulf,
    /// French / Maghreb: ou, ch, dj, Abdelkader, Youssef, Brahim, Ben, -ine/-ane, é, ï.
    French,
    /// Turkish: the usual Turkish form when known (Mehmet, Hüseyin), else c ş ç ğ ı, e for a,
    /// final devoicing; sometimes typed without Turkish letters.
    Turkish,
    /// Kurdish Kurmanji: the usual form when known (Mihemed, Xelîl), else x e ê î û q c ş.
    Kurdish,
    /// Sloppy: no diacritics or apostrophes, random vowels, random case.
    Sloppy,
}

impl Style {
    /// Every style, in declaration order.
    pub const ALL: [Style; 8] = [
        Style::English,
        Style::Levantine,
        Style::Egyptian,
        Style::Gulf,
        Style::French,
        Style::Turkish,
        Style::Kurdish,
        Style::Sloppy,
    ];

    /// A short lower-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Style::English => "english",
            Style::Levantine => "levantine",
            Style::Egyptian => "egyptian",
            Style::Gulf => "gulf",
            Style::French => "french",
            Style::Turkish => "turkish",
            Style::Kurdish => "kurdish",
            Style::Sloppy => "sloppy",
        }
    }
}

/// Which name parts are written, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Given, father, family: "Mohammed Khaled al-Khatib".
    #[default]
    GivenFatherFamily,
    /// Family first, as in lists sorted by family name: "al-Khatib Mohammed Khaled".
    FamilyFirst,
    /// Father omitted: "Mohammed al-Khatib".
    GivenFamily,
    /// Given, father, grandfather (when the person has one), family.
    Full,
}

/// Variation applied when rendering one spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Variation {
    /// Percent chance of one typo in one word (a dropped, doubled or swapped letter; in
    /// Arabic also a neighbouring key).
    pub typo_percent: u64,
    /// Percent chance of dropping the article of the family name. Latin styles also drop
    /// articles on their own at a style rate (Turkish and Kurdish most of the time).
    pub drop_article_percent: u64,
    /// Which parts, in which order.
    pub order: Order,
}

impl Variation {
    /// No typos, no extra article drops, given–father–family.
    pub const CLEAN: Variation = Variation {
        typo_percent: 0,
        drop_article_percent: 0,
        order: Order::GivenFatherFamily,
    };
    /// What a search box typically receives: 5% typos, 20% family articles dropped.
    pub const REALISTIC: Variation = Variation {
        typo_percent: 5,
        drop_article_percent: 20,
        order: Order::GivenFatherFamily,
    };
}

// ------------------------------------------------------------------------------------------
// Romanisation of one word
// ------------------------------------------------------------------------------------------

const VOWEL_LETTERS: &str = "aeiouéèïıöüâêîûAEIOUÉÈÏÖÜÂÊÎÛİ";

fn ends_with_vowel(s: &str) -> bool {
    s.chars().last().is_some_and(|c| VOWEL_LETTERS.contains(c))
}

/// Context of a vowel inside its word.
#[derive(Debug, Clone, Copy)]
struct VCtx {
    /// First vowel of the word.
    first: bool,
    /// Last vowel of the word.
    last: bool,
    /// Its syllable is closed (a consonant cluster, a doubled consonant or the word end follows).
    closed: bool,
    /// Word-initial (implied hamza) or right after a word-initial ayn.
    onset: bool,
    /// Right after a word-initial ayn.
    after_ayn: bool,
    /// The word's last phoneme.
    word_final: bool,
    /// Next to an emphatic or qaf.
    near_emph: bool,
    /// Next to a back consonant (Turkish keeps a there: Ahmet, Cafer, Zafer, Muhammed).
    near_back: bool,
    /// The word has a back consonant (Turkish vowel choice).
    back: bool,
    /// The next vowel is a long i (French Chérif, Djémila).
    before_long_i: bool,
}

fn vowel(st: Style, rng: &mut Rng, v: u8, long: bool, x: &VCtx) -> &'static str {
    use Style::*;
    let shift = x.last && x.closed && !x.first;
    match (v, long) {
        (b'a', false) => match st {
            English => {
                if shift && rng.chance(5) {
                    "e"
                } else {
                    "a"
                }
            }
            Levantine => {
                if shift && rng.chance(15) {
                    "e"
                } else {
                    "a"
                }
            }
            Egyptian => {
                if shift && rng.chance(45) {
                    "e"
                } else {
                    "a"
                }
            }
            Gulf => {
                if shift && rng.chance(10) {
                    "e"
                } else {
                    "a"
                }
            }
            French => {
                if shift && rng.chance(35) {
                    "e"
                } else if !x.last && !x.closed && !x.first && rng.chance(8) {
                    wpick(rng, &[("é", 60), ("e", 40)])
                } else if x.first && !x.closed && !x.onset && x.before_long_i && rng.chance(10) {
                    "é"
                } else {
                    "a"
                }
            }
            Turkish => {
                if x.near_back {
                    "a"
                } else {
                    "e"
                }
            }
            Kurdish => {
                if rng.chance(88) {
                    "e"
                } else {
                    "a"
                }
            }
            Sloppy => wpick(rng, &[("a", 80), ("e", 20)]),
        },
        (b'i', false) => {
            let (p_final, p_other, p_onset) = match st {
                English => (5, 0, 10),
                Levantine => (60, 15, 45),
                Egyptian => (65, 40, 70),
                Gulf => (25, 5, 35),
                French => (50, 15, 30),
                Sloppy => (35, 20, 40),
                Turkish | Kurdish => (0, 0, 0),
            };
            let p = if x.onset {
                p_onset
            } else if x.last {
                p_final
            } else {
                p_other
            };
            match st {
                Turkish => {
                    if x.near_emph {
                        "ı"
                    } else {
                        "i"
                    }
                }
                Kurdish => "i",
                _ => {
                    if rng.chance(p) {
                        "e"
                    } else {
                        "i"
                    }
                }
            }
        }
        (b'u', false) => {
            let p_o = match st {
                English => {
                    if x.onset {
                        50
                    } else {
                        10
                    }
                }
                Levantine => {
                    if x.onset {
                        80
                    } else {
                        50
                    }
                }
                Egyptian => {
                    if x.onset {
                        85
                    } else {
                        55
                    }
                }
                Gulf => {
                    if x.onset {
                        70
                    } else {
                        30
                    }
                }
                French => {
                    if x.onset {
                        70
                    } else {
                        35
                    }
                }
                Sloppy => {
                    if x.onset {
                        60
                    } else {
                        40
                    }
                }
                Turkish | Kurdish => 0,
            };
            let p_e = match st {
                Levantine => 30,
                Egyptian => 25,
                French => 35,
                _ => 0,
            };
            match st {
                Turkish => "u",
                Kurdish => {
                    if x.first && !x.onset && rng.chance(40) {
                        "i"
                    } else {
                        "u"
                    }
                }
                _ if shift && rng.chance(p_e) => "e",
                French => {
                    if rng.chance(p_o) {
                        "o"
                    } else if rng.chance(75) {
                        "ou"
                    } else {
                        "u"
                    }
                }
                Sloppy => {
                    if rng.chance(p_o) {
                        "o"
                    } else {
                        wpick(rng, &[("u", 75), ("ou", 25)])
                    }
                }
                _ => {
                    if rng.chance(p_o) {
                        "o"
                    } else {
                        "u"
                    }
                }
            }
        }
        (b'a', true) => match st {
            English | Egyptian => wpick(rng, &[("a", 90), ("aa", 10)]),
            Levantine => wpick(rng, &[("a", 88), ("aa", 12)]),
            Gulf => wpick(rng, &[("a", 80), ("aa", 20)]),
            French => {
                if shift && rng.chance(20) {
                    "e"
                } else {
                    "a"
                }
            }
            Turkish | Kurdish => "a",
            Sloppy => wpick(rng, &[("a", 70), ("aa", 30)]),
        },
        (b'i', true) if x.onset && !x.after_ayn && !x.word_final => match st {
            Egyptian => wpick(rng, &[("i", 50), ("e", 40), ("ee", 10)]),
            English | Levantine | Gulf | Sloppy => wpick(rng, &[("i", 80), ("ee", 20)]),
            French | Turkish => "i",
            Kurdish => "î",
        },
        (b'i', true) if x.after_ayn && !x.word_final => match st {
            English => wpick(rng, &[("i", 60), ("ee", 20), ("ei", 20)]),
            Levantine | Gulf => wpick(rng, &[("i", 45), ("ei", 35), ("ee", 20)]),
            Egyptian => wpick(rng, &[("e", 30), ("ei", 30), ("i", 25), ("ee", 15)]),
            French => wpick(rng, &[("i", 50), ("aï", 10), ("ai", 15), ("ei", 25)]),
            Turkish => "i",
            Kurdish => "î",
            Sloppy => wpick(rng, &[("i", 40), ("ee", 30), ("ei", 30)]),
        },
        (b'i', true) => {
            if x.word_final {
                match st {
                    English => wpick(rng, &[("i", 90), ("y", 5), ("ee", 5)]),
                    Levantine => wpick(rng, &[("i", 70), ("y", 15), ("ie", 5), ("ee", 10)]),
                    Egyptian => wpick(rng, &[("y", 55), ("i", 40), ("ee", 5)]),
                    Gulf => wpick(rng, &[("i", 80), ("y", 10), ("ee", 10)]),
                    French => wpick(rng, &[("i", 90), ("y", 5), ("ie", 5)]),
                    Turkish => "i",
                    Kurdish => wpick(rng, &[("î", 75), ("i", 25)]),
                    Sloppy => wpick(rng, &[("i", 50), ("y", 20), ("ie", 15), ("ee", 15)]),
                }
            } else {
                match st {
                    English => wpick(rng, &[("i", 80), ("ee", 20)]),
                    Levantine => wpick(rng, &[("i", 75), ("ee", 25)]),
                    Egyptian => wpick(rng, &[("i", 85), ("ee", 15)]),
                    Gulf => wpick(rng, &[("i", 55), ("ee", 45)]),
                    French | Turkish => "i",
                    Kurdish => "î",
                    Sloppy => wpick(rng, &[("i", 50), ("ee", 40), ("ie", 10)]),
                }
            }
        }
        _ => match st {
            English => wpick(rng, &[("u", 80), ("oo", 20)]),
            Levantine => wpick(rng, &[("ou", 50), ("u", 35), ("oo", 15)]),
            Egyptian => wpick(rng, &[("ou", 45), ("o", 15), ("u", 35), ("oo", 5)]),
            Gulf => wpick(rng, &[("u", 60), ("oo", 30), ("ou", 10)]),
            French => wpick(rng, &[("ou", 95), ("u", 5)]),
            Turkish => "u",
            Kurdish => "û",
            Sloppy => wpick(rng, &[("u", 40), ("oo", 30), ("ou", 25), ("o", 5)]),
        },
    }
}

fn diphthong(st: Style, rng: &mut Rng, ay: bool) -> &'static str {
    use Style::*;
    if ay {
        match st {
            English => wpick(rng, &[("ay", 55), ("ai", 45)]),
            Levantine => wpick(rng, &[("ay", 30), ("ai", 25), ("ei", 30), ("ey", 15)]),
            Egyptian => wpick(rng, &[("ei", 50), ("ey", 20), ("ai", 20), ("ay", 10)]),
            Gulf => wpick(rng, &[("ai", 55), ("ay", 40), ("ei", 5)]),
            French => wpick(
                rng,
                &[("ai", 30), ("ei", 25), ("ay", 20), ("i", 15), ("e", 10)],
            ),
            Turkish => "ey",
            Kurdish => wpick(rng, &[("ê", 60), ("ey", 40)]),
            Sloppy => wpick(
                rng,
                &[("ay", 25), ("ai", 30), ("ei", 25), ("ey", 15), ("a", 5)],
            ),
        }
    } else {
        match st {
            English => wpick(rng, &[("aw", 80), ("ow", 10), ("ou", 10)]),
            Levantine => wpick(rng, &[("aw", 50), ("ou", 30), ("o", 10), ("ow", 10)]),
            Egyptian => wpick(rng, &[("aw", 40), ("o", 30), ("ow", 15), ("ou", 15)]),
            Gulf => wpick(rng, &[("aw", 70), ("ow", 30)]),
            French => wpick(rng, &[("aou", 30), ("ou", 30), ("aw", 20), ("o", 20)]),
            Turkish => "ev",
            Kurdish => wpick(rng, &[("ew", 75), ("o", 25)]),
            Sloppy => wpick(rng, &[("aw", 35), ("ow", 25), ("ou", 25), ("au", 15)]),
        }
    }
}

/// The ending written for short a + ta marbuta.
fn ta_marbuta(st: Style, rng: &mut Rng, construct: bool, back: bool) -> &'static str {
    use Style::*;
    if construct {
        return match st {
            Turkish | Kurdish => "et",
            _ => wpick(rng, &[("at", 80), ("et", 20)]),
        };
    }
    match st {
        English => wpick(rng, &[("a", 75), ("ah", 25)]),
        Levantine => wpick(rng, &[("a", 55), ("eh", 20), ("ah", 15), ("e", 10)]),
        Egyptian => wpick(rng, &[("a", 70), ("ah", 15), ("eh", 10), ("e", 5)]),
        Gulf => wpick(rng, &[("ah", 60), ("a", 40)]),
        French => wpick(rng, &[("a", 85), ("e", 10), ("ah", 5)]),
        Turkish => {
            if back {
                "a"
            } else {
                "e"
            }
        }
        Kurdish => wpick(rng, &[("e", 90), ("a", 10)]),
        Sloppy => wpick(rng, &[("a", 50), ("ah", 25), ("eh", 15), ("e", 10)]),
    }
}

fn apostrophe(st: Style, rng: &mut Rng, ayn: bool) -> &'static str {
    match st {
        Style::English if ayn => wpick(rng, &[("'", 55), ("ʿ", 25), ("`", 10), ("’", 10)]),
        Style::English => wpick(rng, &[("'", 60), ("ʾ", 25), ("’", 15)]),
        Style::Turkish | Style::Kurdish | Style::Sloppy => "'",
        _ => wpick(rng, &[("'", 80), ("`", 10), ("’", 10)]),
    }
}

/// Ayn or hamza: nothing, an apostrophe-like sign, or a vowel echo (Saad, Jaafar, Moataz,
/// Musaab, Alaa).
fn glottal(st: Style, rng: &mut Rng, ayn: bool, i: usize, toks: &[Tok], out: &str) -> String {
    if i == 0 {
        return match st {
            Style::English if ayn => wpick(rng, &[("", 75), ("'", 12), ("ʿ", 13)]).to_string(),
            _ => String::new(),
        };
    }
    let prev = toks.get(i - 1).copied();
    let next = toks.get(i + 1).copied();
    let echo = match (prev, next) {
        (Some(Tok::V(b'a', _)), Some(Tok::C(..)) | None) => "a",
        (Some(Tok::V(b'u', false)), Some(Tok::C(..))) => "a",
        (Some(Tok::C(..)), Some(Tok::V(b'a', _))) => "a",
        _ => "",
    };
    let echo = if out.ends_with("aa") { "" } else { echo };
    let (none, mark, mut echo_w) = match st {
        Style::English => (35, 50, 15),
        Style::Levantine => (50, 15, 35),
        Style::Egyptian => (50, 10, 40),
        Style::Gulf => (45, 30, 25),
        Style::French => (70, 10, 20),
        Style::Turkish => (85, 15, 0),
        Style::Kurdish => (70, 30, 0),
        Style::Sloppy => (60, 10, 30),
    };
    if echo.is_empty() {
        echo_w = 0;
    }
    match wpick(rng, &[("none", none), ("mark", mark), ("echo", echo_w)]) {
        "mark" => apostrophe(st, rng, ayn).to_string(),
        "echo" => echo.to_string(),
        _ => String::new(),
    }
}

fn double_rate(st: Style) -> u64 {
    match st {
        Style::English => 85,
        Style::Levantine | Style::Gulf => 70,
        Style::Egyptian => 45,
        Style::French | Style::Sloppy => 50,
        Style::Turkish => 35,
        Style::Kurdish => 30,
    }
}

fn consonant(st: Style, rng: &mut Rng, i: usize, toks: &[Tok], construct: bool) -> String {
    use Style::*;
    let Tok::C(c, gem) = toks[i] else {
        return String::new();
    };
    let n = toks.len();
    let initial = i == 0;
    // A word in construct (Nasrullah, Bedreddin) is not word-final for devoicing/epenthesis.
    let final_ = i + 1 == n && !construct;
    let prev_v = i > 0 && matches!(toks[i - 1], Tok::V(..));
    let prev = if i > 0 { Some(toks[i - 1]) } else { None };
    let next = toks.get(i + 1).copied();
    let next_v = matches!(next, Some(Tok::V(..)));
    let base: &str = match c {
        C::Ayn | C::Hz => return String::new(), // handled by `glottal`
        C::B => {
            if st == Turkish && final_ && prev_v {
                "p"
            } else {
                "b"
            }
        }
        C::T | C::Td => "t",
        C::D => {
            if st == Turkish && final_ && prev_v {
                "t"
            } else {
                "d"
            }
        }
        C::R => "r",
        C::Z => "z",
        C::L => "l",
        C::M => "m",
        C::N => "n",
        C::Hh | C::H => "h",
        C::Y => "y",
        C::K => "k",
        C::Tm => "a",
        C::Th => match st {
            English => wpick(rng, &[("th", 90), ("s", 5), ("t", 5)]),
            Levantine => wpick(rng, &[("th", 50), ("s", 30), ("t", 20)]),
            Egyptian => wpick(rng, &[("s", 60), ("th", 25), ("t", 15)]),
            Gulf => wpick(rng, &[("th", 85), ("s", 10), ("t", 5)]),
            French => wpick(rng, &[("th", 50), ("t", 30), ("s", 20)]),
            Turkish | Kurdish => "s",
            Sloppy => wpick(rng, &[("th", 50), ("s", 25), ("t", 25)]),
        },
        C::J => match st {
            English | Gulf => "j",
            Levantine => wpick(rng, &[("j", 95), ("g", 5)]),
            Egyptian => wpick(rng, &[("g", 75), ("j", 25)]),
            French => wpick(rng, &[("dj", 50), ("j", 50)]),
            Turkish | Kurdish => "c",
            Sloppy => wpick(rng, &[("j", 70), ("g", 20), ("dj", 10)]),
        },
        C::X => match st {
            French => wpick(rng, &[("kh", 90), ("k", 5), ("h", 5)]),
            Turkish => "h",
            Kurdish => "x",
            Sloppy => wpick(rng, &[("kh", 80), ("k", 10), ("h", 10)]),
            _ => "kh",
        },
        C::Dh => match st {
            English => wpick(rng, &[("dh", 85), ("th", 10), ("z", 5)]),
            Levantine => wpick(rng, &[("z", 45), ("d", 25), ("dh", 20), ("th", 10)]),
            Egyptian => wpick(rng, &[("z", 70), ("d", 20), ("th", 10)]),
            Gulf => wpick(rng, &[("dh", 70), ("th", 20), ("z", 10)]),
            French => wpick(rng, &[("dh", 40), ("d", 40), ("z", 20)]),
            Turkish | Kurdish => "z",
            Sloppy => wpick(rng, &[("dh", 30), ("th", 25), ("z", 25), ("d", 20)]),
        },
        C::S | C::Sd => {
            let intervocalic = prev_v && next_v && !gem;
            let p_ss = match st {
                Levantine => 30,
                Egyptian => 15,
                French => 60,
                Sloppy => 20,
                _ => 0,
            };
            if st == French && matches!(next, Some(Tok::V(b'i', _))) && rng.chance(15) {
                "c"
            } else if intervocalic && rng.chance(p_ss) {
                "ss"
            } else {
                "s"
            }
        }
        C::Sh => match st {
            French => wpick(rng, &[("ch", 90), ("sh", 10)]),
            Turkish | Kurdish => "ş",
            Sloppy => wpick(rng, &[("sh", 85), ("ch", 15)]),
            _ => "sh",
        },
        C::Dd => match st {
            English => wpick(rng, &[("d", 85), ("dh", 15)]),
            Levantine => wpick(rng, &[("d", 90), ("dh", 10)]),
            Egyptian => "d",
            Gulf => wpick(rng, &[("dh", 55), ("d", 45)]),
            French | Sloppy => wpick(rng, &[("d", 80), ("dh", 20)]),
            Turkish => wpick(rng, &[("z", 70), ("d", 30)]),
            Kurdish => wpick(rng, &[("z", 50), ("d", 50)]),
        },
        C::Zd => match st {
            English => wpick(rng, &[("z", 60), ("dh", 40)]),
            Levantine => wpick(rng, &[("z", 80), ("d", 10), ("dh", 10)]),
            Gulf => wpick(rng, &[("dh", 65), ("z", 35)]),
            French => wpick(rng, &[("z", 70), ("dh", 30)]),
            Sloppy => wpick(rng, &[("z", 60), ("dh", 20), ("th", 20)]),
            Egyptian | Turkish | Kurdish => "z",
        },
        C::Gh => match st {
            French => wpick(rng, &[("gh", 90), ("g", 10)]),
            Turkish => {
                if initial {
                    "g"
                } else {
                    "ğ"
                }
            }
            Kurdish => wpick(rng, &[("gh", 60), ("x", 40)]),
            Sloppy => wpick(rng, &[("gh", 85), ("g", 15)]),
            _ => "gh",
        },
        C::F => {
            if st == French && !initial && next_v && rng.chance(10) {
                "ph"
            } else {
                "f"
            }
        }
        C::Q => {
            let q = match st {
                English => wpick(rng, &[("q", 85), ("k", 15)]),
                Levantine => wpick(rng, &[("q", 45), ("k", 47), ("'", 3), ("g", 5)]),
                Egyptian => wpick(rng, &[("k", 48), ("q", 37), ("'", 5), ("g", 10)]),
                Gulf => wpick(rng, &[("g", 40), ("q", 40), ("k", 20)]),
                French => wpick(rng, &[("k", 60), ("q", 40)]),
                Turkish => "k",
                Kurdish => wpick(rng, &[("q", 80), ("k", 20)]),
                Sloppy => wpick(rng, &[("q", 40), ("k", 50), ("g", 10)]),
            };
            if q == "'" && initial {
                ""
            } else {
                q
            }
        }
        C::W => match st {
            // Daoud, Dawoud: w before ū after ā is often not written.
            French | Levantine | Egyptian | Sloppy
                if matches!(prev, Some(Tok::V(b'a', true)))
                    && matches!(next, Some(Tok::V(b'u', true)))
                    && rng.chance(if st == French { 60 } else { 40 }) =>
            {
                ""
            }
            French if next_v && !matches!(prev, Some(Tok::V(b'u', _))) && rng.chance(40) => "ou",
            Turkish => "v",
            Kurdish => wpick(rng, &[("w", 80), ("v", 20)]),
            _ => "w",
        },
    };
    let mut s = base.to_string();
    if gem && base.len() == 1 && base != "'" && rng.chance(double_rate(st)) {
        s.push_str(base);
    }
    // Turkish epenthesis in a final cluster: Bekir, Bedir, Sabır.
    if st == Turkish
        && final_
        && matches!(c, C::R | C::L | C::M | C::N)
        && i > 0
        && matches!(toks[i - 1], Tok::C(p, false) if !matches!(p, C::Hz | C::Ayn | C::W | C::Y))
        && rng.chance(70)
    {
        let back = toks.iter().any(|t| matches!(t, Tok::C(b, _) if b.back()));
        s.insert_str(0, if back { "ı" } else { "i" });
    }
    s
}

/// Romanises one word (no article) in lower case.
fn roman_word(toks: &[Tok], st: Style, rng: &mut Rng, construct: bool) -> String {
    let n = toks.len();
    let back = toks.iter().any(|t| matches!(t, Tok::C(c, _) if c.back()));
    let first_v = toks.iter().position(|t| matches!(t, Tok::V(..)));
    let last_v = toks.iter().rposition(|t| matches!(t, Tok::V(..)));
    let mut out = String::new();
    let mut final_e = false;
    let mut i = 0;
    // French/Maghreb elision of an initial i before a cluster: Brahim, Smail, Driss, Lyes.
    if st == Style::French
        && n > 3
        && toks[0] == Tok::V(b'i', false)
        && matches!(toks[1], Tok::C(_, false))
        && matches!(toks[2], Tok::C(C::R | C::M | C::L | C::Y, _))
        && rng.chance(40)
    {
        i = 1;
    }
    while i < n {
        let next = toks.get(i + 1).copied();
        match toks[i] {
            Tok::V(v, long) => {
                if v == b'a' && !long && matches!(next, Some(Tok::C(C::Tm, _))) {
                    out.push_str(ta_marbuta(st, rng, construct, back));
                    i += 2;
                    continue;
                }
                if v == b'a' && !long {
                    if let Some(Tok::C(g @ (C::Y | C::W), false)) = next {
                        if !matches!(toks.get(i + 2), Some(Tok::V(..))) {
                            let mut s = diphthong(st, rng, g == C::Y);
                            if i == 0 && s.len() == 1 && g == C::Y {
                                s = "ay"; // Aymen, not Iman
                            }
                            if st == Style::French
                                && s == "i"
                                && i + 3 == n
                                && matches!(toks[i + 2], Tok::C(C::N, false))
                            {
                                final_e = true; // Hocine
                            }
                            out.push_str(s);
                            i += 2;
                            continue;
                        }
                    }
                }
                let closed = match next {
                    Some(Tok::C(_, true)) => true,
                    Some(Tok::C(..)) => !matches!(toks.get(i + 2), Some(Tok::V(..))),
                    _ => false,
                };
                let near = |f: fn(C) -> bool| {
                    matches!(next, Some(Tok::C(c, _)) if f(c))
                        || (i > 0 && matches!(toks[i - 1], Tok::C(c, _) if f(c)))
                };
                let near_emph = near(C::emphatic);
                let near_back = near(C::back);
                let cx = VCtx {
                    first: Some(i) == first_v,
                    last: Some(i) == last_v,
                    closed,
                    onset: i == 0 || (i == 1 && toks[0] == Tok::C(C::Ayn, false)),
                    after_ayn: i == 1 && toks[0] == Tok::C(C::Ayn, false),
                    word_final: i + 1 == n,
                    near_emph,
                    near_back,
                    back,
                    before_long_i: toks[i + 1..].iter().find(|t| matches!(t, Tok::V(..)))
                        == Some(&Tok::V(b'i', true)),
                };
                let s = vowel(st, rng, v, long, &cx);
                // Maghreb -ine / -ane / -oune: Amine, Yassine, Othmane, Marouane.
                if st == Style::French
                    && long
                    && i + 2 == n
                    && matches!(toks[i + 1], Tok::C(C::N, false))
                    && matches!(s, "i" | "a" | "ou")
                {
                    let p = match v {
                        b'i' => 60,
                        b'a' => 45,
                        _ => 10,
                    };
                    final_e = rng.chance(p);
                }
                let after_glottal = i > 0 && matches!(toks[i - 1], Tok::C(C::Ayn | C::Hz, _));
                if st == Style::French
                    && s.starts_with('i')
                    && after_glottal
                    && ends_with_vowel(&out)
                    && rng.chance(40)
                {
                    out.push('ï');
                    out.push_str(&s[1..]);
                } else if s.len() == 2
                    && s.as_bytes()[0] == s.as_bytes()[1]
                    && out.ends_with(&s[..1])
                {
                    out.push_str(&s[..1]); // no "Shaaar"
                } else {
                    out.push_str(s);
                }
            }
            Tok::C(C::Ayn, _) => {
                let g = glottal(st, rng, true, i, toks, &out);
                out.push_str(&g);
            }
            Tok::C(C::Hz, _) => {
                let g = glottal(st, rng, false, i, toks, &out);
                out.push_str(&g);
            }
            Tok::C(..) => {
                let s = consonant(st, rng, i, toks, construct);
                out.push_str(&s);
            }
        }
        i += 1;
    }
    if final_e {
        out.push('e');
    }
    out
}

// ------------------------------------------------------------------------------------------
// Romanisation of name parts
// ------------------------------------------------------------------------------------------

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '`' | 'ʿ' | 'ʾ' | '’')
}

/// Upper-cases the first letter (after any leading apostrophe); Turkish i becomes İ.
fn cap(st: Style, s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let mut done = false;
    for c in s.chars() {
        if !done && !is_apostrophe(c) {
            done = true;
            if st == Style::Turkish && c == 'i' {
                out.push('İ');
            } else {
                out.extend(c.to_uppercase());
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Lower-cases the first letter.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some('İ') => format!("i{}", chars.as_str()),
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The consonant letters a word starts with (for an assimilated article: ash-Shami → "sh").
fn lead_cluster(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphabetic() && !VOWEL_LETTERS.contains(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn style_drop_rate(st: Style) -> u64 {
    match st {
        Style::English | Style::Egyptian | Style::Gulf => 5,
        Style::Levantine => 10,
        Style::French | Style::Sloppy => 20,
        Style::Turkish | Style::Kurdish => 80,
    }
}

/// Puts an article in front of a capitalised word.
fn attach_article(st: Style, rng: &mut Rng, body: &str, sun: bool) -> String {
    use Style::*;
    let lower = lower_first(body);
    let assim = match st {
        English | French => 15,
        Levantine | Gulf | Sloppy | Kurdish => 10,
        Egyptian => 5,
        Turkish => 30,
    };
    if sun && rng.chance(assim) {
        let c = lead_cluster(body);
        if !c.is_empty() {
            let v = match st {
                Egyptian | French | Levantine | Turkish | Kurdish => {
                    wpick(rng, &[("e", 60), ("a", 40)])
                }
                _ => wpick(rng, &[("a", 85), ("e", 15)]),
            };
            let big = cap(st, v);
            return match rng.below(100) {
                0..=59 => format!("{v}{c}-{body}"),
                60..=84 => format!("{big}{c}-{body}"),
                _ => format!("{big}{c}{lower}"),
            };
        }
    }
    let form = match st {
        English => wpick(
            rng,
            &[
                ("al-", 60),
                ("Al-", 15),
                ("Al ", 10),
                ("Al+", 10),
                ("el-", 5),
            ],
        ),
        Levantine => wpick(
            rng,
            &[
                ("Al-", 25),
                ("al-", 20),
                ("Al ", 20),
                ("El-", 10),
                ("El ", 5),
                ("Al+", 15),
                ("El+", 5),
            ],
        ),
        Egyptian => wpick(
            rng,
            &[
                ("El-", 30),
                ("El ", 25),
                ("El+", 20),
                ("Al-", 10),
                ("Al ", 5),
                ("el-", 10),
            ],
        ),
        Gulf => wpick(rng, &[("Al-", 40), ("Al ", 30), ("Al+", 20), ("al-", 10)]),
        French => wpick(
            rng,
            &[
                ("El ", 30),
                ("El-", 20),
                ("El+", 15),
                ("Al ", 15),
                ("el-", 10),
                ("Al-", 10),
            ],
        ),
        Turkish => wpick(rng, &[("El+", 40), ("El-", 30), ("Al-", 30)]),
        Kurdish => wpick(rng, &[("El-", 40), ("El+", 30), ("Al-", 30)]),
        Sloppy => wpick(
            rng,
            &[
                ("al ", 20),
                ("el ", 15),
                ("Al ", 15),
                ("Al+", 15),
                ("El+", 10),
                ("Al-", 10),
                ("al-", 10),
                ("El ", 5),
            ],
        ),
    };
    match form.strip_suffix('+') {
        Some(pre) => format!("{pre}{lower}"),
        None => format!("{form}{body}"),
    }
}

/// One word, with its article unless dropped.
fn single(w: &Word, st: Style, rng: &mut Rng, drop: u64, construct: bool) -> String {
    if w.raw == "allaah" {
        return "Allah".to_string();
    }
    let body = cap(st, &roman_word(&w.toks, st, rng, construct));
    if !w.art || rng.chance(drop) {
        return body;
    }
    let sun = matches!(w.toks.first(), Some(Tok::C(c, _)) if c.sun());
    attach_article(st, rng, &body, sun)
}

/// X al-Y: عبد الرحمن, نور الدين, صلاح الدين.
fn construct(x: &Word, y: &Word, st: Style, rng: &mut Rng) -> String {
    use Style::*;
    let xs = cap(st, &roman_word(&x.toks, st, rng, true));
    let ys = roman_word(&y.toks, st, rng, false);
    let yc = cap(st, &ys);
    if y.raw == "diin" && st == Turkish {
        return format!("{xs}{}", wpick(rng, &[("ettin", 60), ("eddin", 40)]));
    }
    if y.raw == "diin" && st == Kurdish {
        return format!(
            "{xs}{}",
            wpick(rng, &[("edîn", 60), ("eddîn", 20), ("edin", 20)])
        );
    }
    let sun = matches!(y.toks.first(), Some(Tok::C(c, _)) if c.sun());
    let v = match st {
        English => wpick(rng, &[("a", 45), ("u", 45), ("e", 10)]),
        Levantine => wpick(rng, &[("a", 45), ("e", 35), ("u", 20)]),
        Egyptian => wpick(rng, &[("e", 80), ("a", 10), ("u", 10)]),
        Gulf => wpick(rng, &[("u", 55), ("a", 40), ("e", 5)]),
        French => wpick(rng, &[("e", 90), ("a", 10)]),
        Turkish => wpick(rng, &[("u", 60), ("ü", 40)]),
        Kurdish => wpick(rng, &[("u", 60), ("i", 40)]),
        Sloppy => wpick(rng, &[("a", 35), ("e", 35), ("u", 30)]),
    };
    let assim = match st {
        English | Gulf => 25,
        Levantine => 20,
        Egyptian => 15,
        French => 70,
        Turkish => 90,
        Kurdish => 40,
        Sloppy => 30,
    };
    let l = if sun && rng.chance(assim) {
        let c = lead_cluster(&ys);
        if c.is_empty() {
            "l".to_string()
        } else {
            c
        }
    } else {
        "l".to_string()
    };
    let big = match v {
        "e" => "E",
        "a" => "A",
        _ if matches!(st, Egyptian | French) => "E",
        _ => "A",
    };
    let abd = x.raw == "3abd";
    let table: &Weighted = match (st, abd) {
        (English, true) => &[
            ("sp1", 40),
            ("j1", 25),
            ("j2", 15),
            ("el", 5),
            ("hy", 5),
            ("sp2", 5),
            ("sp3", 5),
        ],
        (Levantine, true) => &[
            ("j1", 30),
            ("j2", 30),
            ("sp1", 10),
            ("sp2", 10),
            ("sp3", 5),
            ("el", 5),
            ("hy", 5),
            ("na", 5),
        ],
        (Egyptian, true) => &[("j1", 35), ("j2", 25), ("sp2", 20), ("sp3", 15), ("sp1", 5)],
        (Gulf, true) => &[("j1", 35), ("j2", 40), ("sp1", 15), ("el", 5), ("sp2", 5)],
        (French, true) => &[("j2", 55), ("j1", 20), ("sp2", 10), ("sp3", 10), ("sp1", 5)],
        (Turkish, true) => &[("j2", 90), ("j1", 10)],
        (Kurdish, true) => &[("j2", 85), ("j1", 15)],
        (Sloppy, true) => &[
            ("j1", 25),
            ("j2", 25),
            ("sp1", 10),
            ("sp2", 10),
            ("sp3", 10),
            ("el", 10),
            ("na", 10),
        ],
        (English, false) => &[("sp1", 60), ("j2", 20), ("hy", 10), ("sp2", 10)],
        (Levantine, false) => &[("sp2", 25), ("j2", 35), ("sp1", 20), ("sp3", 15), ("hy", 5)],
        (Egyptian, false) => &[("sp2", 40), ("sp3", 30), ("j2", 20), ("sp1", 10)],
        (Gulf, false) => &[("j2", 40), ("sp1", 30), ("sp2", 20), ("sp3", 10)],
        (French, false) => &[("j2", 55), ("sp3", 35), ("sp2", 10)],
        (Turkish | Kurdish, false) => &[("j2", 100)],
        (Sloppy, false) => &[
            ("j2", 30),
            ("sp2", 25),
            ("sp3", 20),
            ("sp1", 15),
            ("na", 10),
        ],
    };
    match wpick(rng, table) {
        "sp1" => format!("{xs} {v}{l}-{yc}"),
        "sp2" => format!("{xs} {big}{l} {yc}"),
        "sp3" => format!("{xs} {big}{l}{ys}"),
        "j1" => format!("{xs}{v}{l} {yc}"),
        "j2" => format!("{xs}{v}{l}{ys}"),
        "hy" => format!("{xs}-{v}{l}-{yc}"),
        "el" => format!("{xs}{v} {yc}"),
        _ => format!("{xs} {yc}"),
    }
}

/// X allaah: Abdullah, Abdallah, Abdellah, Abd Allah, Nasrallah, Atallah.
fn allah(x: &Word, st: Style, rng: &mut Rng) -> String {
    use Style::*;
    let xs = cap(st, &roman_word(&x.toks, st, rng, true));
    let form = match st {
        English => wpick(rng, &[("ju", 40), ("ja", 20), ("sp", 30), ("hy", 10)]),
        Levantine => wpick(rng, &[("ja", 45), ("ju", 30), ("sp", 20), ("hy", 5)]),
        Egyptian => wpick(rng, &[("ja", 40), ("ju", 30), ("sp", 20), ("je", 10)]),
        Gulf => wpick(rng, &[("ju", 65), ("ja", 20), ("sp", 15)]),
        French => wpick(rng, &[("je", 35), ("ja", 40), ("ju", 10), ("sp", 15)]),
        Turkish => "ju",
        Kurdish => wpick(rng, &[("ju", 50), ("ja", 20), ("ji", 30)]),
        Sloppy => wpick(
            rng,
            &[("ju", 30), ("ja", 30), ("je", 10), ("sp", 20), ("hy", 10)],
        ),
    };
    let drop_h = rng.chance(match st {
        Gulf => 40,
        Kurdish => 30,
        Egyptian | Sloppy => 20,
        _ => 5,
    });
    let tail = if drop_h { "lla" } else { "llah" };
    match form {
        "sp" => format!("{xs} Allah"),
        "hy" => format!("{xs}-Allah"),
        "ja" if ends_with_vowel(&xs) => format!("{xs}{tail}"),
        "ja" => format!("{xs}a{tail}"),
        "je" => format!("{xs}e{tail}"),
        "ji" => format!("{xs}i{tail}"),
        _ => format!("{xs}u{tail}"),
    }
}

/// Abu + rest: Abu Zeid, Abou Zeid, Abuzeid, Abo Zaid, Bouzid, Ebubekir.
fn abu(rest: &[Word], st: Style, rng: &mut Rng, drop: u64) -> String {
    use Style::*;
    let pre = match st {
        English => wpick(rng, &[("Abu", 90), ("Abou", 5), ("Abo", 5)]),
        Levantine => wpick(rng, &[("Abu", 55), ("Abou", 30), ("Abo", 15)]),
        Egyptian => wpick(rng, &[("Abu", 45), ("Abou", 45), ("Abo", 10)]),
        Gulf => wpick(rng, &[("Abu", 85), ("Abo", 15)]),
        French => wpick(rng, &[("Abou", 55), ("Bou", 25), ("Abu", 20)]),
        Turkish => wpick(rng, &[("Ebu", 80), ("Abu", 20)]),
        Kurdish => wpick(rng, &[("Ebû", 50), ("Ebu", 30), ("Abu", 20)]),
        Sloppy => wpick(rng, &[("Abu", 50), ("Abou", 25), ("Abo", 25)]),
    };
    let body = render_words(rest, st, rng, drop, false);
    let sep = if pre == "Bou" {
        ""
    } else {
        match st {
            English => wpick(rng, &[(" ", 80), ("", 10), ("-", 10)]),
            Levantine => wpick(rng, &[(" ", 65), ("", 25), ("-", 10)]),
            Egyptian => wpick(rng, &[(" ", 60), ("", 35), ("-", 5)]),
            Gulf => wpick(rng, &[(" ", 80), ("", 15), ("-", 5)]),
            French => wpick(rng, &[(" ", 55), ("", 40), ("-", 5)]),
            Turkish => wpick(rng, &[("", 70), (" ", 30)]),
            Kurdish => wpick(rng, &[("", 50), (" ", 50)]),
            Sloppy => wpick(rng, &[(" ", 50), ("", 40), ("-", 10)]),
        }
    };
    let joinable = !body.contains([' ', '-'])
        && !body.starts_with(|c: char| is_apostrophe(c) || VOWEL_LETTERS.contains(c));
    if sep.is_empty() && joinable {
        format!("{pre}{}", lower_first(&body))
    } else if sep.is_empty() {
        format!("{pre} {body}")
    } else {
        format!("{pre}{sep}{body}")
    }
}

fn bin_word(st: Style, rng: &mut Rng) -> &'static str {
    use Style::*;
    match st {
        English => wpick(rng, &[("ibn", 40), ("bin", 40), ("Ibn", 10), ("Bin", 10)]),
        Levantine => wpick(
            rng,
            &[
                ("Bin", 35),
                ("bin", 25),
                ("Ben", 20),
                ("ibn", 10),
                ("Ibn", 10),
            ],
        ),
        Egyptian => wpick(rng, &[("Ben", 30), ("Bin", 30), ("ben", 20), ("Ibn", 20)]),
        Gulf => wpick(rng, &[("Bin", 50), ("bin", 40), ("Ibn", 10)]),
        French => wpick(rng, &[("Ben", 85), ("Bin", 5), ("Ibn", 10)]),
        Turkish => wpick(rng, &[("Bin", 60), ("İbn", 40)]),
        Kurdish => wpick(rng, &[("Bin", 70), ("Ibn", 30)]),
        Sloppy => wpick(
            rng,
            &[
                ("ben", 25),
                ("bin", 25),
                ("Ben", 20),
                ("Bin", 20),
                ("ibn", 10),
            ],
        ),
    }
}

/// bin + rest as a family name: Ben Ali, Benali, Bin Salem, Ibn Omar, Benjelloun.
fn bin(rest: &[Word], st: Style, rng: &mut Rng, drop: u64) -> String {
    let pre = bin_word(st, rng);
    let body = render_words(rest, st, rng, drop, false);
    let joined = rng.chance(match st {
        Style::French => 50,
        Style::Sloppy => 25,
        Style::Levantine | Style::Egyptian => 10,
        _ => 5,
    });
    if joined && !body.contains([' ', '-']) && !body.starts_with(is_apostrophe) {
        format!("{}{}", cap(st, pre), lower_first(&body))
    } else {
        format!("{pre} {body}")
    }
}

/// Renders the words of one lexicon entry.
fn render_words(ws: &[Word], st: Style, rng: &mut Rng, drop: u64, construct_tail: bool) -> String {
    match ws {
        [] => String::new(),
        [w] => single(w, st, rng, drop, construct_tail),
        [w0, rest @ ..] => {
            if w0.art {
                // al-3abd allaah: the article goes in front of the whole compound.
                let mut inner: Vec<Word> = ws.to_vec();
                inner[0].art = false;
                let body = render_words(&inner, st, rng, drop, construct_tail);
                if rng.chance(drop) {
                    return body;
                }
                let sun = matches!(w0.toks.first(), Some(Tok::C(c, _)) if c.sun());
                return attach_article(st, rng, &body, sun);
            }
            match (w0.raw, rest) {
                ("abuu", _) => abu(rest, st, rng, drop),
                ("bin", _) => bin(rest, st, rng, drop),
                (_, [y]) if y.raw == "allaah" => allah(w0, st, rng),
                (_, [y]) if y.art => construct(w0, y, st, rng),
                _ => ws
                    .iter()
                    .map(|w| single(w, st, rng, drop, false))
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        }
    }
}

/// Removes Turkish/Kurdish/French letters, as typed on a plain keyboard.
fn fold_diacritics(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'É' | 'È' | 'Ê' => 'E',
            'ï' | 'î' | 'ı' => 'i',
            'Ï' | 'Î' | 'İ' => 'I',
            'û' | 'ü' => 'u',
            'Û' | 'Ü' => 'U',
            'ö' => 'o',
            'Ö' => 'O',
            'â' => 'a',
            'Â' => 'A',
            'ş' => 's',
            'Ş' => 'S',
            'ç' => 'c',
            'Ç' => 'C',
            'ğ' => 'g',
            'Ğ' => 'G',
            c => c,
        })
        .collect()
}

/// One Latin typo in one word of at least four letters: a letter dropped, doubled, or two
/// adjacent letters swapped (the first letter is kept).
fn latin_typo(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<Vec<char>> = name.split(' ').map(|w| w.chars().collect()).collect();
    let candidates: Vec<usize> = (0..words.len())
        .filter(|&k| words[k].iter().filter(|c| c.is_alphabetic()).count() >= 4)
        .collect();
    if candidates.is_empty() {
        return name.to_string();
    }
    let k = *rng.pick(&candidates);
    let w = &mut words[k];
    let letters: Vec<usize> = (1..w.len()).filter(|&i| w[i].is_alphabetic()).collect();
    let pos = *rng.pick(&letters);
    match rng.below(3) {
        0 => {
            w.remove(pos);
        }
        1 => {
            let c = w[pos];
            w.insert(pos, c);
        }
        _ => {
            if pos + 1 < w.len() && w[pos + 1].is_alphabetic() && w[pos] != w[pos + 1] {
                w.swap(pos, pos + 1);
            } else {
                w.remove(pos);
            }
        }
    }
    words
        .iter()
        .map(|w| w.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tidies separators: no doubled, leading or trailing spaces or hyphens.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let sep = c == ' ' || c == '-';
        if sep && (out.is_empty() || out.ends_with([' ', '-'])) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with([' ', '-']) {
        out.pop();
    }
    out
}

// ------------------------------------------------------------------------------------------
// People
// ------------------------------------------------------------------------------------------

/// A synthetic person: indices into the lexicon. `given` indexes [`FEMALE`] when `female`,
/// else [`MALE`]; `father` and `grandfather` index [`MALE`]; `family` indexes [`FAMILY`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SynthPerson {
    pub given: usize,
    pub father: usize,
    pub grandfather: Option<usize>,
    pub family: usize,
    pub female: bool,
}

impl SynthPerson {
    /// The identifying triple (with the gender, since given indices are per gender).
    pub fn key(&self) -> (bool, usize, usize, usize) {
        (self.female, self.given, self.father, self.family)
    }

    /// How many of given, father, family two persons share.
    pub fn shared_main_parts(&self, other: &SynthPerson) -> usize {
        usize::from(self.female == other.female && self.given == other.given)
            + usize::from(self.father == other.father)
            + usize::from(self.family == other.family)
    }

    /// The lexicon entry of the given name.
    pub fn given_name(&self) -> GivenName {
        if self.female {
            FEMALE[self.given % FEMALE.len()]
        } else {
            MALE[self.given % MALE.len()]
        }
    }
}

fn random_person(rng: &mut Rng) -> SynthPerson {
    let female = rng.chance(35);
    SynthPerson {
        given: rng.below(if female { FEMALE.len() } else { MALE.len() }),
        father: rng.below(MALE.len()),
        grandfather: if rng.chance(50) {
            Some(rng.below(MALE.len()))
        } else {
            None
        },
        family: rng.below(FAMILY.len()),
        female,
    }
}

/// `n` looked-for persons (indices `0..n` of the result), followed by their namesakes:
/// `namesakes_per_person` for each looked-for person in turn, each sharing exactly two of
/// given / father / family with it (the kinds rotate: same given+family, same father+family,
/// same given+father). No two persons in the result share all three; a namesake that cannot
/// be made unique after many tries is left out (only with absurdly large populations).
pub fn population(rng: &mut Rng, n: usize, namesakes_per_person: usize) -> Vec<SynthPerson> {
    let mut seen: HashSet<(bool, usize, usize, usize)> = HashSet::new();
    let mut out: Vec<SynthPerson> = Vec::with_capacity(n * (1 + namesakes_per_person));
    let mut tries = 0usize;
    while out.len() < n && tries < n * 100 + 1000 {
        tries += 1;
        let p = random_person(rng);
        if seen.insert(p.key()) {
            out.push(p);
        }
    }
    let targets = out.len();
    for t in 0..targets {
        let target = out[t].clone();
        let offset = rng.below(3);
        for j in 0..namesakes_per_person {
            for _ in 0..500 {
                let mut q = target.clone();
                q.grandfather = if rng.chance(50) {
                    Some(rng.below(MALE.len()))
                } else {
                    None
                };
                match (j + offset) % 3 {
                    0 => q.father = rng.below(MALE.len()),
                    1 => q.given = rng.below(if q.female { FEMALE.len() } else { MALE.len() }),
                    _ => q.family = rng.below(FAMILY.len()),
                }
                if q.shared_main_parts(&target) == 2 && seen.insert(q.key()) {
                    out.push(q);
                    break;
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Part {
    ar: &'static str,
    ph: &'static str,
    tr: &'static str,
    ku: &'static str,
    family: bool,
}

fn parts(p: &SynthPerson, order: Order) -> Vec<Part> {
    let g = p.given_name();
    let given = Part {
        ar: g.0,
        ph: g.1,
        tr: g.2,
        ku: g.3,
        family: false,
    };
    let male = |i: usize| {
        let e = MALE[i % MALE.len()];
        Part {
            ar: e.0,
            ph: e.1,
            tr: e.2,
            ku: e.3,
            family: false,
        }
    };
    let f = FAMILY[p.family % FAMILY.len()];
    let fam = Part {
        ar: f.0,
        ph: f.1,
        tr: "",
        ku: "",
        family: true,
    };
    match order {
        Order::GivenFatherFamily => vec![given, male(p.father), fam],
        Order::FamilyFirst => vec![fam, given, male(p.father)],
        Order::GivenFamily => vec![given, fam],
        Order::Full => {
            let mut v = vec![given, male(p.father)];
            if let Some(gf) = p.grandfather {
                v.push(male(gf));
            }
            v.push(fam);
            v
        }
    }
}

/// The phonemic form of a person's name (for debugging and reports).
pub fn phonemic_name(p: &SynthPerson, order: Order) -> String {
    parts(p, order)
        .iter()
        .map(|x| x.ph)
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------------------------------
// Latin rendering
// ------------------------------------------------------------------------------------------

fn latin_part(part: &Part, st: Style, rng: &mut Rng, opts: &Variation) -> String {
    let known = match st {
        Style::Turkish => part.tr,
        Style::Kurdish => part.ku,
        _ => "",
    };
    if !known.is_empty() && rng.chance(85) {
        let alts: Vec<&str> = known.split('/').collect();
        return rng.pick(&alts).to_string();
    }
    let words = parse_entry(part.ph).unwrap_or_default();
    let base = style_drop_rate(st);
    let drop = if part.family {
        100 - (100 - base) * (100 - opts.drop_article_percent.min(100)) / 100
    } else {
        base
    };
    render_words(&words, st, rng, drop, false)
}

/// A person's name in Latin letters, as written in `style`, with the variation in `opts`.
pub fn latin_name(p: &SynthPerson, rng: &mut Rng, style: Style, opts: &Variation) -> String {
    let fold = match style {
        Style::Turkish => rng.chance(30),
        Style::Kurdish => rng.chance(35),
        Style::Sloppy => true,
        _ => false,
    };
    let with_bin = matches!(opts.order, Order::GivenFatherFamily | Order::Full)
        && rng.chance(match style {
            Style::Gulf => 15,
            Style::English => 3,
            _ => 0,
        });
    let mut words: Vec<String> = Vec::new();
    for (k, part) in parts(p, opts.order).iter().enumerate() {
        if k == 1 && with_bin {
            words.push(
                if p.female {
                    "bint"
                } else {
                    wpick(rng, &[("bin", 80), ("ibn", 20)])
                }
                .to_string(),
            );
        }
        words.push(latin_part(part, style, rng, opts));
    }
    let mut name = words.join(" ");
    if fold {
        name = fold_diacritics(&name);
    }
    if style == Style::Sloppy {
        name.retain(|c| !is_apostrophe(c));
    }
    if rng.chance(opts.typo_percent) {
        name = latin_typo(&name, rng);
    }
    let case = if style == Style::Sloppy {
        wpick(rng, &[("as", 55), ("lower", 35), ("upper", 10)])
    } else {
        wpick(rng, &[("as", 93), ("upper", 4), ("lower", 3)])
    };
    name = match case {
        "upper" => name.to_uppercase(),
        "lower" => name.replace('İ', "i").to_lowercase(),
        _ => name,
    };
    tidy(&name)
}

// ------------------------------------------------------------------------------------------
// Arabic rendering
// ------------------------------------------------------------------------------------------

const FATHA: char = '\u{064E}';
const DAMMA: char = '\u{064F}';
const KASRA: char = '\u{0650}';
const SHADDA: char = '\u{0651}';
const SUKUN: char = '\u{0652}';
const TATWEEL: char = '\u{0640}';

/// An Arabic word as letters, each with the harakat written after it.
type ArWord = Vec<(char, String)>;

fn plain(s: &str) -> ArWord {
    s.chars().map(|c| (c, String::new())).collect()
}

/// Full vocalisation of an Arabic word from its phonemic form; `None` when the two do not
/// align (then the word is left bare).
fn vocalize(ar: &str, w: &Word) -> Option<ArWord> {
    let letters: Vec<char> = ar.chars().collect();
    let mut out: ArWord = Vec::new();
    let mut j = 0;
    let mut pending_shadda = false;
    if w.art {
        if letters.len() < 3 || letters[0] != 'ا' || letters[1] != 'ل' {
            return None;
        }
        out.push(('ا', String::new()));
        out.push(('ل', String::new()));
        j = 2;
        pending_shadda = matches!(w.toks.first(), Some(Tok::C(c, _)) if c.sun());
        if !pending_shadda {
            out[1].1.push(SUKUN);
        }
    }
    for (k, t) in w.toks.iter().enumerate() {
        match *t {
            Tok::C(c, gem) => {
                let ch = *letters.get(j)?;
                if !c.letters().contains(ch) {
                    return None;
                }
                out.push((ch, String::new()));
                j += 1;
                if gem && letters.get(j) == Some(&ch) {
                    out.push((ch, String::new())); // الله: the doubled letter is written twice
                    j += 1;
                }
                if gem || pending_shadda {
                    out.last_mut()?.1.push(SHADDA);
                }
                pending_shadda = false;
            }
            Tok::V(v, long) => {
                let mark = match v {
                    b'a' => FATHA,
                    b'i' => KASRA,
                    _ => DAMMA,
                };
                if k == 0 {
                    let ch = *letters.get(j)?;
                    if !"اأإآ".contains(ch) {
                        return None;
                    }
                    out.push((ch, String::new()));
                    j += 1;
                    if ch == 'آ' || w.raw == "allaah" {
                        continue; // madda: hamza + long a; the hamzat al-wasl of الله
                    }
                }
                out.last_mut()?.1.push(mark);
                if long {
                    if let Some(&ch) = letters.get(j) {
                        let ok = match v {
                            b'a' => ch == 'ا' || ch == 'ى',
                            b'i' => ch == 'ي',
                            _ => ch == 'و',
                        };
                        if ok {
                            out.push((ch, String::new()));
                            j += 1;
                        }
                    }
                }
            }
        }
    }
    while let Some(&ch) = letters.get(j) {
        if ch != 'و' && ch != 'ا' {
            return None;
        }
        out.push((ch, String::new())); // عمرو
        j += 1;
    }
    Some(out)
}

/// How one person types Arabic: decided once per rendered name.
#[derive(Debug, Clone, Copy)]
struct ArProfile {
    flat_hamza: bool,
    flat_seats: bool,
    ha_for_ta: bool,
    ta_for_ha: bool,
    ya_for_maqsura: bool,
    maqsura_for_ya: bool,
    /// 0: none, 1: shadda only, 2: full harakat.
    harakat: u8,
    tatweel: bool,
    join: bool,
}

impl ArProfile {
    fn draw(rng: &mut Rng) -> Self {
        ArProfile {
            flat_hamza: rng.chance(55),
            flat_seats: rng.chance(15),
            ha_for_ta: rng.chance(25),
            ta_for_ha: rng.chance(4),
            ya_for_maqsura: rng.chance(35),
            maqsura_for_ya: rng.chance(8),
            harakat: if rng.chance(6) {
                1 + u8::from(rng.chance(50))
            } else {
                0
            },
            tatweel: rng.chance(3),
            join: rng.chance(40),
        }
    }
}

fn ar_text(w: &ArWord) -> String {
    w.iter().map(|(c, _)| *c).collect()
}

const NON_JOINING: &str = "اأإآدذرزوؤةىء";
const AR_KEY_ROWS: [&str; 3] = ["ضصثقفغعهخحجد", "شسيبلاتنمكط", "ئءؤرىةوزظ"];

fn arabic_typo(words: &mut [ArWord], rng: &mut Rng) {
    let candidates: Vec<usize> = (0..words.len()).filter(|&k| words[k].len() >= 3).collect();
    if candidates.is_empty() {
        return;
    }
    let k = *rng.pick(&candidates);
    let w = &mut words[k];
    let pos = rng.below(w.len());
    match rng.below(3) {
        0 if pos + 1 < w.len() && w[pos].0 != w[pos + 1].0 => w.swap(pos, pos + 1),
        1 => {
            let row = AR_KEY_ROWS
                .iter()
                .map(|r| r.chars().collect::<Vec<_>>())
                .find(|r| r.contains(&w[pos].0));
            match row.and_then(|r| r.iter().position(|&c| c == w[pos].0).map(|i| (r, i))) {
                Some((r, i)) => {
                    let ni = if i == 0 || (i + 1 < r.len() && rng.chance(50)) {
                        i + 1
                    } else {
                        i - 1
                    };
                    w[pos].0 = r[ni];
                }
                None => {
                    w.remove(pos);
                }
            }
        }
        _ => {
            w.remove(pos);
        }
    }
}

/// The standard Arabic spelling of a person's name.
pub fn arabic_standard(p: &SynthPerson, order: Order) -> String {
    parts(p, order)
        .iter()
        .map(|x| x.ar)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A person's name as someone types it in Arabic script: per typist, hamza forms dropped
/// (أ إ آ → ا), ة → ه (and final ه → ة), final ى ↔ ي, ئ/ؤ → ي/و, harakat (shadda only or full)
/// or tatweel sometimes, compounds joined (عبدالله, ابوبكر, نورالدين); the family article
/// dropped at `opts.drop_article_percent`; one typo (adjacent letters swapped, a neighbouring
/// key, or a dropped letter) in one word at `opts.typo_percent`.
pub fn arabic_name(p: &SynthPerson, rng: &mut Rng, opts: &Variation) -> String {
    let prof = ArProfile::draw(rng);
    let mut words: Vec<ArWord> = Vec::new();
    for part in parts(p, opts.order) {
        let ph_words = parse_entry(part.ph).unwrap_or_default();
        let drop_art = part.family && rng.chance(opts.drop_article_percent);
        let mut pw: Vec<ArWord> = Vec::new();
        for (k, aw) in part.ar.split(' ').enumerate() {
            let mut a: &str = aw;
            let mut w = ph_words.get(k).cloned();
            if k == 0 && drop_art {
                if let (Some(rest), Some(wd)) = (a.strip_prefix("ال"), w.as_mut()) {
                    if wd.art {
                        a = rest;
                        wd.art = false;
                    }
                }
            }
            let mut word = match (&w, prof.harakat) {
                (Some(wd), h) if h > 0 => vocalize(a, wd).unwrap_or_else(|| plain(a)),
                _ => plain(a),
            };
            if prof.harakat == 1 {
                for (_, marks) in &mut word {
                    marks.retain(|m| m == SHADDA);
                }
            }
            let n = word.len();
            for (i, (ch, _)) in word.iter_mut().enumerate() {
                let last = i + 1 == n;
                *ch = match *ch {
                    'أ' | 'إ' | 'آ' if prof.flat_hamza => 'ا',
                    'ئ' if prof.flat_seats => 'ي',
                    'ؤ' if prof.flat_seats => 'و',
                    'ة' if last && prof.ha_for_ta => 'ه',
                    'ه' if last && prof.ta_for_ha => 'ة',
                    'ى' if last && prof.ya_for_maqsura => 'ي',
                    'ي' if last && prof.maqsura_for_ya => 'ى',
                    c => c,
                };
            }
            pw.push(word);
        }
        // Compounds typed as one word.
        let mut k = 0;
        while k + 1 < pw.len() {
            let first = ar_text(&pw[k]);
            let second = ar_text(&pw[k + 1]);
            let join = if first == "بن" {
                rng.chance(10)
            } else {
                prof.join
                    && (matches!(first.as_str(), "عبد" | "العبد" | "أبو" | "ابو")
                        || second.starts_with("ال"))
            };
            if join {
                let tail = pw.remove(k + 1);
                pw[k].extend(tail);
            } else {
                k += 1;
            }
        }
        words.extend(pw);
    }
    if rng.chance(opts.typo_percent) {
        arabic_typo(&mut words, rng);
    }
    if prof.tatweel {
        let candidates: Vec<usize> = (0..words.len()).filter(|&k| words[k].len() >= 3).collect();
        if !candidates.is_empty() {
            let k = *rng.pick(&candidates);
            let spots: Vec<usize> = (0..words[k].len() - 1)
                .filter(|&i| !NON_JOINING.contains(words[k][i].0) && words[k][i].0 != TATWEEL)
                .collect();
            if !spots.is_empty() {
                let i = *rng.pick(&spots);
                words[k].insert(i + 1, (TATWEEL, String::new()));
            }
        }
    }
    words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.iter().fold(String::new(), |mut s, (c, m)| {
                s.push(*c);
                s.push_str(m);
                s
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------------------------------
// Reports and self-check
// ------------------------------------------------------------------------------------------

/// Counts for a benchmark header.
pub fn describe() -> String {
    let tr = MALE
        .iter()
        .chain(FEMALE)
        .filter(|g| !g.2.is_empty())
        .count();
    let ku = MALE
        .iter()
        .chain(FEMALE)
        .filter(|g| !g.3.is_empty())
        .count();
    let styles: Vec<&str> = Style::ALL.iter().map(|s| s.name()).collect();
    format!(
        "synthetic names: {} male and {} female given names ({} with a Turkish, {} with a Kurdish form), \
         {} family names; {} Latin styles ({}) and Arabic-script typing variants",
        MALE.len(),
        FEMALE.len(),
        tr,
        ku,
        FAMILY.len(),
        Style::ALL.len(),
        styles.join(", ")
    )
}

/// A rough normal form to catch entries that are really the same name.
fn ar_key(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|&c| c != ' ')
        .map(|c| match c {
            'أ' | 'إ' | 'آ' => 'ا',
            'ة' => 'ه',
            'ى' | 'ئ' => 'ي',
            'ؤ' => 'و',
            c => c,
        })
        .collect();
    match s.strip_prefix("ال") {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

fn latin_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars().any(char::is_alphabetic)
        && s.chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '-' || is_apostrophe(c))
}

fn arabic_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c == ' ' || ('\u{0621}'..='\u{0652}').contains(&c))
}

/// Panics when the lexicon or the renderers are broken: a phonemic string outside the
/// scheme or not matching its Arabic spelling, an empty or too-small list, a duplicate name,
/// or a rendering that is empty or has characters other than letters, spaces, hyphens and
/// apostrophe-like signs (Latin) or Arabic letters, harakat, tatweel and spaces (Arabic).
/// Prints nothing.
pub fn self_check() {
    assert!(
        !MALE.is_empty() && !FEMALE.is_empty() && !FAMILY.is_empty(),
        "empty lexicon list"
    );
    assert!(MALE.len() >= 160, "only {} male given names", MALE.len());
    assert!(
        FEMALE.len() >= 60,
        "only {} female given names",
        FEMALE.len()
    );
    assert!(FAMILY.len() >= 220, "only {} family names", FAMILY.len());
    let entries = MALE
        .iter()
        .map(|g| (g.0, g.1, g.2, g.3))
        .chain(FEMALE.iter().map(|g| (g.0, g.1, g.2, g.3)))
        .chain(FAMILY.iter().map(|f| (f.0, f.1, "", "")));
    for (ar, ph, tr, ku) in entries {
        let words = parse_entry(ph)
            .unwrap_or_else(|| panic!("{ph:?} ({ar}) is outside the phonemic scheme"));
        assert!(well_formed(&words), "{ph:?} ({ar}) is malformed");
        assert!(
            arabic_ok(ar) && !ar.contains("  "),
            "{ar:?} is not plain Arabic"
        );
        let ar_words: Vec<&str> = ar.split(' ').collect();
        assert_eq!(
            ar_words.len(),
            words.len(),
            "{ar} and {ph:?} have different word counts"
        );
        for (a, w) in ar_words.iter().zip(&words) {
            assert!(vocalize(a, w).is_some(), "{a} does not match {:?}", w.raw);
        }
        for form in [tr, ku] {
            assert!(
                form.is_empty() || form.split('/').all(latin_ok),
                "bad form {form:?} for {ar}"
            );
        }
    }
    for (name, list) in [
        (
            "male/female",
            MALE.iter()
                .map(|g| g.0)
                .chain(FEMALE.iter().map(|g| g.0))
                .collect::<Vec<_>>(),
        ),
        ("family", FAMILY.iter().map(|f| f.0).collect()),
    ] {
        let mut seen = HashSet::new();
        for ar in list {
            assert!(seen.insert(ar_key(ar)), "duplicate {name} name {ar}");
        }
    }
    // Every entry, in every style and order.
    let mut rng = Rng(0x5EED_F00D_A7A5);
    let orders = [
        Order::GivenFatherFamily,
        Order::FamilyFirst,
        Order::GivenFamily,
        Order::Full,
    ];
    let rounds = MALE.len().max(FEMALE.len()).max(FAMILY.len()) * 2;
    for i in 0..rounds {
        let female = i % 2 == 1;
        let p = SynthPerson {
            given: i / 2 % if female { FEMALE.len() } else { MALE.len() },
            father: (i + 7) % MALE.len(),
            grandfather: Some((i * 3) % MALE.len()),
            family: i / 2 % FAMILY.len(),
            female,
        };
        let opts = Variation {
            typo_percent: 20,
            drop_article_percent: 20,
            order: orders[i % 4],
        };
        for st in Style::ALL {
            let s = latin_name(&p, &mut rng, st, &opts);
            assert!(
                latin_ok(&s),
                "{st:?} rendering {s:?} of {}",
                phonemic_name(&p, opts.order)
            );
            assert_eq!(s, tidy(&s), "untidy {s:?}");
        }
        let a = arabic_name(&p, &mut rng, &opts);
        assert!(arabic_ok(&a), "Arabic rendering {a:?}");
        assert!(arabic_ok(&arabic_standard(&p, opts.order)));
    }
    // Populations: unique triples, namesakes share exactly two parts.
    let mut rng = Rng(7);
    let pop = population(&mut rng, 60, 4);
    assert_eq!(pop.len(), 60 * 5, "population size");
    let keys: HashSet<_> = pop.iter().map(SynthPerson::key).collect();
    assert_eq!(keys.len(), pop.len(), "duplicate person in population");
    for t in 0..60 {
        for j in 0..4 {
            assert_eq!(
                pop[60 + t * 4 + j].shared_main_parts(&pop[t]),
                2,
                "namesake shares not two parts"
            );
        }
    }
}
