//! One-time passwords for the second factor: HOTP (RFC 4226) and TOTP (RFC 6238), the
//! key's base32 form and `otpauth://` URI for authenticator apps, its QR code, and
//! recovery codes.
//!
//! The algorithm is generic (HMAC-SHA-1, -SHA-256 or -SHA-512, any time step, 6 to 9
//! digits) so the RFCs' test vectors check it; users get what every authenticator app
//! understands: [`Algorithm::Sha1`], [`STEP`] seconds, [`DIGITS`] digits, 160-bit keys.
//! A code is accepted for the current time step and one step either side (clocks drift),
//! compared in constant time, and only for a step later than the last one accepted for
//! that user ([`check`]): a code seen once, or an older one, is refused.

use hmac::{Mac, SimpleHmac};

/// The HMAC hash of an OTP key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// The time step users' codes are counted in (RFC 6238's default), in seconds.
pub const STEP: i64 = 30;
/// Digits of a user's code.
pub const DIGITS: u32 = 6;
/// Bytes of a user's key (160 bits, RFC 4226's recommendation).
pub const KEY_BYTES: usize = 20;
/// How many recovery codes a confirmation (or a renewal) gives.
pub const RECOVERY_CODES: usize = 10;
/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "Athar";

fn hmac<D>(key: &[u8], msg: &[u8]) -> Vec<u8>
where
    D: hmac::digest::Digest + hmac::digest::core_api::BlockSizeUser,
{
    // `SimpleHmac` takes keys of any length (hashed first when over a block).
    let mut m = <SimpleHmac<D> as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// HOTP (RFC 4226 §5.3): the `digits`-digit value for `counter` under `key` (dynamic
/// truncation of the HMAC of the big-endian counter). `digits` is 6 to 9.
pub fn hotp(alg: Algorithm, key: &[u8], counter: u64, digits: u32) -> u32 {
    let msg = counter.to_be_bytes();
    let mac = match alg {
        Algorithm::Sha1 => hmac::<sha1::Sha1>(key, &msg),
        Algorithm::Sha256 => hmac::<sha2::Sha256>(key, &msg),
        Algorithm::Sha512 => hmac::<sha2::Sha512>(key, &msg),
    };
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    bin % 10u32.pow(digits.clamp(6, 9))
}

/// TOTP (RFC 6238 §4): HOTP of the number of `step`-second steps since the Unix epoch
/// (T0 = 0) at `unix_time`.
pub fn totp(alg: Algorithm, key: &[u8], unix_time: u64, step: u64, digits: u32) -> u32 {
    hotp(alg, key, unix_time / step.max(1), digits)
}

/// The time step of `unix_time` for users' codes.
pub fn step_of(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP)
}

/// A user's code for time step `step`, zero-padded to [`DIGITS`] digits.
pub fn code_for_step(key: &[u8], step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!(
        "{:0width$}",
        hotp(Algorithm::Sha1, key, counter, DIGITS),
        width = DIGITS as usize
    )
}

/// A user's code at `unix_time` (what an authenticator app shows then).
pub fn code_at(key: &[u8], unix_time: i64) -> String {
    code_for_step(key, step_of(unix_time))
}

/// Whether `code` has the shape of a user's code: [`DIGITS`] ASCII digits (spaces, as
/// apps show them, are ignored).
pub fn looks_like_code(code: &str) -> bool {
    let digits: Vec<u8> = code.bytes().filter(|b| *b != b' ').collect();
    digits.len() == DIGITS as usize && digits.iter().all(u8::is_ascii_digit)
}

/// The time step `code` is valid for at `now` (Unix seconds): the current step or one
/// either side, and only a step later than `last_step` (an earlier or equal one is a
/// replay). Every candidate is compared, in constant time. `None` when it is not valid.
pub fn check(key: &[u8], code: &str, now: i64, last_step: Option<i64>) -> Option<i64> {
    if !looks_like_code(code) {
        return None;
    }
    let given: Vec<u8> = code.bytes().filter(|b| *b != b' ').collect();
    let current = step_of(now);
    let mut found = None;
    for step in current - 1..=current + 1 {
        let want = code_for_step(key, step);
        let fresh = last_step.is_none_or(|last| step > last);
        if crate::auth::same_bytes(want.as_bytes(), &given) && fresh {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 alphabet.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `bytes` in RFC 4648 base32, upper case, without padding (as `otpauth://` URIs carry
/// keys).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (either case; spaces and `=` padding ignored). `None` for any other
/// character or leftover bits that are not zero.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b' ' && *c != b'=') {
        let v = BASE32.iter().position(|a| *a == c.to_ascii_uppercase())?;
        acc = (acc << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    (acc == 0).then_some(out)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://totp/…` URI an authenticator app reads (from the QR code or by hand):
/// label `Athar:<account>`, the key in base32, the issuer, SHA1, 6 digits, 30 seconds.
pub fn otpauth_uri(key: &[u8], account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        percent(ISSUER),
        percent(account),
        base32(key),
        percent(ISSUER),
    )
}

/// The QR code of `text` as an SVG document (black on white, no script, no style), or
/// `None` when the text is too long for a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// Recovery code letters: lower-case letters and digits without those read alike (0/o,
/// 1/l/i): 31 characters.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new recovery code: three groups of four characters (about 59 bits), e.g.
/// `k7ph-2mxr-bw9t`.
pub fn new_recovery_code() -> Result<String, getrandom::Error> {
    let n = RECOVERY_ALPHABET.len();
    // Bytes at or above the largest multiple of 31 are drawn again, so every character is
    // equally likely.
    let limit = u8::try_from(256 / n * n).unwrap_or(u8::MAX);
    let mut chars = Vec::with_capacity(12);
    while chars.len() < 12 {
        let mut raw = [0u8; 16];
        getrandom::getrandom(&mut raw)?;
        for b in raw.into_iter().filter(|b| *b < limit) {
            if chars.len() < 12 {
                chars.push(char::from(RECOVERY_ALPHABET[usize::from(b) % n]));
            }
        }
    }
    Ok(chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// A recovery code as typed, in the one form it is hashed in: lower case, without
/// spaces or dashes. `None` when it cannot be a recovery code.
pub fn normalize_recovery_code(code: &str) -> Option<String> {
    let c: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let ok = c.len() == 12 && c.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    ok.then_some(c)
}

/// How a user's recovery code is stored: the hex SHA-256 of the code bound to the user.
pub fn recovery_code_sha256(user_id: i64, normalized: &str) -> String {
    crate::auth::sha256_hex(&format!("athar-recovery-v1\n{user_id}\n{normalized}"))
}

/// A new random key for a user.
pub fn new_key() -> Result<[u8; KEY_BYTES], getrandom::Error> {
    let mut k = [0u8; KEY_BYTES];
    getrandom::getrandom(&mut k)?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4226 Appendix D: HOTP values for counters 0 to 9 under the ASCII key
    /// "12345678901234567890".
    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let key = b"12345678901234567890";
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, w) in want.into_iter().enumerate() {
            assert_eq!(
                hotp(Algorithm::Sha1, key, counter as u64, 6),
                w,
                "{counter}"
            );
        }
    }

    /// RFC 6238 Appendix B: 8-digit TOTP values, 30-second steps, for SHA-1, SHA-256 and
    /// SHA-512 with their 20-, 32- and 64-byte seeds.
    #[test]
    fn totp_matches_rfc_6238_appendix_b() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let vectors: [(u64, Algorithm, &str); 18] = [
            (59, Algorithm::Sha1, "94287082"),
            (59, Algorithm::Sha256, "46119246"),
            (59, Algorithm::Sha512, "90693936"),
            (1111111109, Algorithm::Sha1, "07081804"),
            (1111111109, Algorithm::Sha256, "68084774"),
            (1111111109, Algorithm::Sha512, "25091201"),
            (1111111111, Algorithm::Sha1, "14050471"),
            (1111111111, Algorithm::Sha256, "67062674"),
            (1111111111, Algorithm::Sha512, "99943326"),
            (1234567890, Algorithm::Sha1, "89005924"),
            (1234567890, Algorithm::Sha256, "91819424"),
            (1234567890, Algorithm::Sha512, "93441116"),
            (2000000000, Algorithm::Sha1, "69279037"),
            (2000000000, Algorithm::Sha256, "90698825"),
            (2000000000, Algorithm::Sha512, "38618901"),
            (20000000000, Algorithm::Sha1, "65353130"),
            (20000000000, Algorithm::Sha256, "77737706"),
            (20000000000, Algorithm::Sha512, "47863826"),
        ];
        for (t, alg, want) in vectors {
            let key = match alg {
                Algorithm::Sha1 => &sha1,
                Algorithm::Sha256 => &sha256,
                Algorithm::Sha512 => &sha512,
            };
            let got = format!("{:08}", totp(alg, key, t, 30, 8));
            assert_eq!(got, want, "{alg:?} at {t}");
        }
    }

    #[test]
    fn users_codes_are_the_six_digit_sha1_ones() {
        let key = b"12345678901234567890";
        // RFC 6238's SHA-1 value at 59 s is 94287082; six digits keep the last six.
        assert_eq!(code_at(key, 59), "287082");
        assert_eq!(code_at(key, 1111111109), "081804");
        assert_eq!(code_for_step(key, 1), "287082");
        assert_eq!(step_of(59), 1);
        assert_eq!(step_of(60), 2);
        assert_eq!(step_of(-1), -1);
    }

    #[test]
    fn codes_are_accepted_one_step_either_side_and_never_twice() {
        let key = b"synthetic-key-20byte";
        let now = 1_700_000_015; // inside step 56_666_667
        let s = step_of(now);
        let code = |step: i64| code_for_step(key, step);
        assert_eq!(check(key, &code(s), now, None), Some(s));
        assert_eq!(
            check(key, &code(s - 1), now, None),
            Some(s - 1),
            "just before"
        );
        assert_eq!(
            check(key, &code(s + 1), now, None),
            Some(s + 1),
            "clock ahead"
        );
        assert_eq!(check(key, &code(s - 2), now, None), None, "expired");
        assert_eq!(check(key, &code(s + 2), now, None), None, "too far ahead");
        // Replays: the step last accepted, or any before it, is refused.
        assert_eq!(check(key, &code(s), now, Some(s)), None, "replayed");
        assert_eq!(check(key, &code(s - 1), now, Some(s)), None, "older");
        assert_eq!(check(key, &code(s + 1), now, Some(s)), Some(s + 1));
        assert_eq!(check(key, &code(s), now, Some(s - 1)), Some(s));
        // Another key's code, malformed codes.
        let other = code_for_step(b"another-key-20-bytes", s);
        if other != code(s) {
            assert_eq!(check(key, &other, now, None), None);
        }
        let spaced = format!("{} {}", &code(s)[..3], &code(s)[3..]);
        assert_eq!(check(key, &spaced, now, None), Some(s), "spaces ignored");
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "１２３４５６",
            &format!("{}0", code(s)),
        ] {
            assert_eq!(check(key, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        // RFC 4648 §10 (without padding).
        for (raw, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(raw.as_bytes()), enc);
            assert_eq!(from_base32(enc).unwrap(), raw.as_bytes());
        }
        assert_eq!(from_base32("mzxw 6ytb oi==").unwrap(), b"foobar");
        assert!(from_base32("MZXW1").is_none(), "not in the alphabet");
        assert!(from_base32("MZ").is_none(), "leftover bits");
        let key = new_key().unwrap();
        assert_eq!(base32(&key).len(), 32);
        assert_eq!(from_base32(&base32(&key)).unwrap(), key);
        assert_ne!(new_key().unwrap(), key, "random");
    }

    #[test]
    fn otpauth_uri_names_account_issuer_and_key() {
        let uri = otpauth_uri(b"12345678901234567890", "amal q/x");
        assert_eq!(
            uri,
            "otpauth://totp/Athar:amal%20q%2Fx?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Athar&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        assert!(!svg.contains("<script") && !svg.contains("style="), "{svg}");
    }

    #[test]
    fn recovery_codes_are_random_and_normalized() {
        let a = new_recovery_code().unwrap();
        let b = new_recovery_code().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
        assert_eq!(a.matches('-').count(), 2);
        let n = normalize_recovery_code(&a).unwrap();
        assert_eq!(n, a.replace('-', ""));
        assert_eq!(
            normalize_recovery_code(&format!(" {} ", a.to_uppercase())).unwrap(),
            n,
            "case, spaces"
        );
        assert!(normalize_recovery_code("123456").is_none());
        assert!(normalize_recovery_code("k7ph-2mxr-bw9").is_none(), "short");
        assert!(
            normalize_recovery_code("k7ph-2mxr-bw90").is_none(),
            "0 is not used"
        );
        assert_ne!(
            recovery_code_sha256(1, &n),
            recovery_code_sha256(2, &n),
            "bound to the user"
        );
    }
}
