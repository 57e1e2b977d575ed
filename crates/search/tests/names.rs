//! Name pairs: the same name (across scripts and romanisations) or not.

use athar_search::{name_keys, name_similarity, NAME_THRESHOLD};

#[track_caller]
fn check(a: &str, b: &str, same: bool) {
    let s = name_similarity(a, b);
    assert_eq!(
        s >= NAME_THRESHOLD,
        same,
        "{a:?} ~ {b:?}: similarity {s:.3}"
    );
    assert!(
        (s - name_similarity(b, a)).abs() < 1e-6,
        "not symmetric: {a:?} {b:?}"
    );
    if same {
        let (ka, kb) = (name_keys(a), name_keys(b));
        assert!(
            ka.iter().any(|k| kb.contains(k)),
            "{a:?} {ka:?} and {b:?} {kb:?} share no key"
        );
    }
}

#[test]
fn same_names() {
    for (a, b) in [
        ("محمد", "Mohammad"),
        ("محمد", "Muhammad"),
        ("محمد", "Mohamed"),
        ("محمد", "Mohammed"),
        ("Mohamed", "Muhammad"),
        ("المسمية", "Masmiyah"),
        ("المسمية", "al-Masmiyah"),
        ("المسمية", "Al Masmiya"),
        ("المسميه", "el-Masmiyeh"),
        ("محمود", "Mahmoud"),
        ("محمود", "Mahmud"),
        ("قاسم", "Qasim"),
        ("قاسم", "Kassem"),
        ("قاسم", "Gasim"),
        ("خالد", "Xalid"),
        ("شريف", "Cherif"),
        ("ظافر", "Dhafer"),
        ("ظافر", "Zafer"),
        ("هيثم", "Haytham"),
        ("غسان", "Ghassan"),
        ("يوسف", "Yusuf"),
        ("يوسف", "Youssef"),
        ("سعيد", "Sa'id"),
        ("سعيد", "Saeed"),
        ("زيد", "Zeid"),
        ("فاطمة", "Fatimah"),
        ("فاطمة", "Fatma"),
        ("هدى", "هدي"),
        ("مصطفى", "Mustafa"),
        ("عبد الرحمن", "Abdul Rahman"),
        ("عبدالرحمن", "Abd al-Rahman"),
        ("عبد الرحمن", "Abdel-Rahman"),
        ("عبد الله", "Abdullah"),
        ("عبد الله", "Abdulah"),
        ("أبو بكر", "Abubakr"),
        ("ابوبكر", "Abu Bakr"),
        ("محمد أحمد المصري", "Mohamed Ahmed el-Masry"),
        // a list sorted by family name
        ("محمد أحمد المصري", "al-Masri Mohammed Ahmad"),
    ] {
        check(a, b, true);
    }
}

#[test]
fn different_names() {
    for (a, b) in [
        ("محمد", "محمود"),
        ("محمد", "Mahmoud"),
        ("Muhammad", "Mahmoud"),
        ("Muhammad", "محمود"),
        ("محمد", "Mahmud"),
        ("محمد", "أحمد"),
        ("Ahmad", "Hamid"),
        ("حسن", "حسين"),
        ("Hassan", "Hussein"),
        ("سعد", "سعيد"),
        ("Saad", "Saeed"),
        ("علي", "علا"),
        ("عمر", "عماد"),
        ("المسمية", "المزة"),
        ("Masmiyah", "Mezzeh"),
        // father and son: the same words in another order
        ("محمد أحمد المصري", "أحمد محمد المصري"),
        // one word missing
        ("محمد أحمد المصري", "محمد المصري"),
        ("", "محمد"),
    ] {
        check(a, b, false);
    }
}
