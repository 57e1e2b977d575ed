#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The web app's message catalogues (`assets/js/i18n/<area>.js`, `{ en: {...}, ar: {...} }`)
//! agree across languages: every key of one language is in the other, a message counting
//! something (plural forms) is one in both, with known plural categories and an `other`
//! form, and a translation uses only the placeholders the English message offers. Every
//! catalogue file is merged by `i18n.js`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/js")
}

/// A message: a string, or plural forms by category.
#[derive(Debug, PartialEq)]
enum Message {
    Text(String),
    Plural(BTreeMap<String, String>),
}

/// A small reader of the catalogue files' shape: comments, an `export default` object of
/// languages, each an object of `"key": "text"` or `"key": { form: "text", ... }`.
struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    file: String,
}

impl Reader<'_> {
    fn fail(&self, what: &str) -> ! {
        let line = self.s[..self.i].iter().filter(|&&b| b == b'\n').count() + 1;
        panic!("{}:{line}: {what}", self.file)
    }

    fn skip(&mut self) {
        loop {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if self.s[self.i..].starts_with(b"//") {
                while self.i < self.s.len() && self.s[self.i] != b'\n' {
                    self.i += 1;
                }
            } else if self.s[self.i..].starts_with(b"/*") {
                match self.s[self.i..].windows(2).position(|w| w == b"*/") {
                    Some(p) => self.i += p + 2,
                    None => self.fail("unterminated comment"),
                }
            } else {
                return;
            }
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) {
        if !self.eat(b) {
            self.fail(&format!("expected {:?}", b as char));
        }
    }

    /// A string literal ('…' or "…", with JSON-like escapes) or a bare identifier key.
    fn string_or_name(&mut self) -> String {
        self.skip();
        let Some(&q) = self.s.get(self.i) else {
            self.fail("unexpected end")
        };
        if q == b'"' || q == b'\'' {
            self.i += 1;
            let mut out = Vec::new();
            while let Some(&b) = self.s.get(self.i) {
                self.i += 1;
                if b == q {
                    return String::from_utf8(out).unwrap_or_else(|_| self.fail("not UTF-8"));
                }
                if b == b'\\' {
                    let Some(&e) = self.s.get(self.i) else { break };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'u' => {
                            let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            let c = char::from_u32(u32::from_str_radix(hex, 16).unwrap())
                                .unwrap_or_else(|| self.fail("bad \\u escape"));
                            self.i += 4;
                            out.extend_from_slice(c.to_string().as_bytes());
                        }
                        other => out.push(other),
                    }
                } else {
                    out.push(b);
                }
            }
            self.fail("unterminated string")
        }
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.i += 1;
        }
        if start == self.i {
            self.fail("expected a string or a name");
        }
        String::from_utf8(self.s[start..self.i].to_vec()).unwrap()
    }

    /// `{ key: value, ... }` (a trailing comma allowed), values read by `value`.
    fn object<T>(&mut self, mut value: impl FnMut(&mut Self) -> T) -> Vec<(String, T)> {
        self.expect(b'{');
        let mut out = Vec::new();
        loop {
            if self.eat(b'}') {
                return out;
            }
            let key = self.string_or_name();
            self.expect(b':');
            let v = value(self);
            out.push((key, v));
            if !self.eat(b',') {
                self.expect(b'}');
                return out;
            }
        }
    }

    fn message(&mut self) -> Message {
        self.skip();
        if self.s.get(self.i) == Some(&b'{') {
            let forms = self.object(|r| r.string_or_name());
            let n = forms.len();
            let map: BTreeMap<String, String> = forms.into_iter().collect();
            if map.len() != n {
                self.fail("a plural form given twice");
            }
            Message::Plural(map)
        } else {
            Message::Text(self.string_or_name())
        }
    }
}

type Catalogue = BTreeMap<String, BTreeMap<String, Message>>;

fn read(path: &Path) -> Catalogue {
    let text = std::fs::read_to_string(path).unwrap();
    let start = text
        .find("export default")
        .unwrap_or_else(|| panic!("{}: no `export default`", path.display()))
        + "export default".len();
    let mut r = Reader {
        s: text.as_bytes(),
        i: start,
        file: path.display().to_string(),
    };
    let langs = r.object(|r| {
        let entries = r.object(Reader::message);
        let n = entries.len();
        let map: BTreeMap<String, Message> = entries.into_iter().collect();
        if map.len() != n {
            r.fail("a key given twice");
        }
        map
    });
    r.eat(b';');
    r.skip();
    assert_eq!(
        r.i,
        r.s.len(),
        "{}: text after the catalogue",
        path.display()
    );
    langs.into_iter().collect()
}

/// The `{name}` placeholders of a message (all forms together).
fn placeholders(m: &Message) -> BTreeSet<String> {
    let texts: Vec<&String> = match m {
        Message::Text(t) => vec![t],
        Message::Plural(forms) => forms.values().collect(),
    };
    let mut out = BTreeSet::new();
    for t in texts {
        let mut rest = t.as_str();
        while let Some(open) = rest.find('{') {
            rest = &rest[open + 1..];
            let Some(close) = rest.find('}') else { break };
            let name = &rest[..close];
            if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                out.insert(name.to_owned());
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

/// Every disagreement between the languages of one catalogue.
fn problems(area: &str, cat: &Catalogue) -> Vec<String> {
    const LANGS: [&str; 2] = ["en", "ar"];
    const CATEGORIES: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];
    let mut out = Vec::new();
    let langs: BTreeSet<&str> = cat.keys().map(String::as_str).collect();
    if langs != BTreeSet::from(LANGS) {
        out.push(format!("{area}: languages {langs:?}, not en and ar"));
        return out;
    }
    let (en, ar) = (&cat["en"], &cat["ar"]);
    for (key, m) in en {
        match ar.get(key) {
            None => out.push(format!("{area}: {key:?} is in en, not in ar")),
            Some(a) => {
                if matches!(m, Message::Plural(_)) != matches!(a, Message::Plural(_)) {
                    out.push(format!(
                        "{area}: {key:?} has plural forms in one language only"
                    ));
                }
                let extra: Vec<_> = placeholders(a)
                    .difference(&placeholders(m))
                    .cloned()
                    .collect();
                if !extra.is_empty() {
                    out.push(format!(
                        "{area}: {key:?} in ar uses {extra:?}, which en does not give"
                    ));
                }
            }
        }
    }
    for key in ar.keys().filter(|k| !en.contains_key(*k)) {
        out.push(format!("{area}: {key:?} is in ar, not in en"));
    }
    for (lang, msgs) in cat {
        for (key, m) in msgs {
            if let Message::Plural(forms) = m {
                if !forms.contains_key("other") {
                    out.push(format!("{area}: {lang} {key:?} has no `other` form"));
                }
                for f in forms.keys().filter(|f| !CATEGORIES.contains(&f.as_str())) {
                    out.push(format!(
                        "{area}: {lang} {key:?}: {f:?} is no plural category"
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_catalogue_has_the_same_keys_in_english_and_arabic() {
    let dir = assets().join("i18n");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "js"))
        .collect();
    files.sort();
    assert!(files.len() > 1, "catalogues in {}", dir.display());
    let merger = std::fs::read_to_string(assets().join("i18n.js")).unwrap();
    let mut all = Vec::new();
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for f in &files {
        let area = f.file_stem().unwrap().to_string_lossy().to_string();
        assert!(
            merger.contains(&format!("from \"./i18n/{area}.js\"")),
            "i18n.js does not merge i18n/{area}.js"
        );
        let cat = read(f);
        all.extend(problems(&area, &cat));
        // Areas are merged into one catalogue: a key belongs to one area only.
        for key in cat.get("en").into_iter().flat_map(|m| m.keys()) {
            if let Some(other) = keys.insert(key.clone(), area.clone()) {
                all.push(format!("{key:?} is in both {other} and {area}"));
            }
        }
    }
    assert!(all.is_empty(), "catalogues disagree:\n{}", all.join("\n"));
}

#[test]
fn the_checks_find_what_they_look_for() {
    let cat = |en: &str, ar: &str| {
        let dir = tempfile_dir();
        let p = dir.join("x.js");
        std::fs::write(
            &p,
            format!("// c\nexport default {{\n  en: {{ {en} }},\n  ar: {{ {ar} }},\n}};\n"),
        )
        .unwrap();
        let c = read(&p);
        problems("x", &c)
    };
    assert!(cat(r#""a": "A {n}","#, r#""a": "ا {n}""#).is_empty());
    assert_eq!(
        cat(r#""a": "A", "b": "B""#, r#""a": "ا""#).len(),
        1,
        "missing in ar"
    );
    assert_eq!(
        cat(r#""a": "A""#, r#""a": "ا", "c": "ج""#).len(),
        1,
        "missing in en"
    );
    assert_eq!(
        cat(r#""a": "A {n}""#, r#""a": "ا {m}""#).len(),
        1,
        "placeholder"
    );
    assert_eq!(
        cat(r#""a": { one: "1", other: "{n}" }"#, r#""a": "{n}""#).len(),
        1,
        "plural in one language"
    );
    assert_eq!(
        cat(
            r#""a": { one: "{n}" }"#,
            r#""a": { one: "1", several: "{n}", other: "{n}" }"#
        )
        .len(),
        2,
        "no other; unknown category"
    );
}

fn tempfile_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "catalogues-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
