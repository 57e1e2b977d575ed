//! WACZ 1.1.1 packaging (<https://specs.webrecorder.net/wacz/1.1.1/>), signed as the WACZ
//! signing recommendation's "anonymous" variant (<https://specs.webrecorder.net/wacz-auth/0.1.0/>),
//! and its verification.
//!
//! The zip holds, in this order:
//! - `archive/data.warc.gz`: the WARC ([`crate::warc`]), stored (not deflated) so that
//!   index offsets address records inside the zip;
//! - `indexes/index.cdx`: the CDXJ index, stored. Named `.cdx` (its content is CDXJ, as the
//!   spec requires): `wb-manager add --unpack-wacz` of pywb 2.10 only picks up
//!   `*.cdx`/`*.cdx.gz`, and ReplayWeb.page reads `*.cdx` and `*.cdxj` alike;
//! - `pages/pages.jsonl`: a header line, then one page per line with its visible text as
//!   `text` (full-text search in ReplayWeb.page);
//! - `datapackage.json`: each of the above with its size and `sha256:` hash;
//! - `datapackage-digest.json`: the hash of `datapackage.json` and `signedData`: that hash
//!   signed with ECDSA P-384 / SHA-256 over its UTF-8 text, the signature base64 of the raw
//!   96-byte `r‖s` form, the public key base64 of its SubjectPublicKeyInfo DER: what
//!   ArchiveWeb.page makes and ReplayWeb.page checks (WebCrypto, `namedCurve: "P-384"`,
//!   `hash: "SHA-256"`). Signatures of P-256 keys (Athar's bundles before this) still
//!   verify, raw or DER.
//!
//! The signature proves only that whoever holds the key made the package: the verifier
//! must compare [`VerifiedWacz::public_key`] with the key it expects.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use base64::Engine as _;
use p384::ecdsa::signature::hazmat::{PrehashSigner as _, PrehashVerifier as _};
use p384::ecdsa::SigningKey;
use p384::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use crate::exchange::Exchange;
use crate::warc::{self, WarcError, WarcInfo, WarcWriter};

/// The WACZ version written.
pub const WACZ_VERSION: &str = "1.1.1";
/// The WARC's path in the zip.
pub const WARC_PATH: &str = "archive/data.warc.gz";
/// The CDXJ index's path in the zip.
pub const INDEX_PATH: &str = "indexes/index.cdx";
/// The page list's path in the zip.
pub const PAGES_PATH: &str = "pages/pages.jsonl";
/// The manifest's path in the zip.
pub const DATAPACKAGE_PATH: &str = "datapackage.json";
/// The signed digest's path in the zip.
pub const DIGEST_PATH: &str = "datapackage-digest.json";

/// The largest `datapackage.json` or `datapackage-digest.json` read when verifying.
const MAX_JSON_BYTES: u64 = 16 << 20;

/// What went wrong writing or verifying a WACZ; names the zip entry at fault.
#[derive(Debug, thiserror::Error)]
pub enum WaczError {
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file or entry.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// The WARC could not be written.
    #[error(transparent)]
    Warc(#[from] WarcError),
    /// The zip structure is unreadable, or an entry could not be added.
    #[error("zip entry {entry}: {source}")]
    Zip {
        /// The entry (or `(zip)` for the whole archive).
        entry: String,
        /// The cause.
        source: zip::result::ZipError,
    },
    /// An entry the package needs is not in the zip.
    #[error("{entry} is missing from the WACZ")]
    MissingEntry {
        /// The entry's path.
        entry: String,
    },
    /// An entry is not what the format says it must be.
    #[error("{entry}: {reason}")]
    Invalid {
        /// The entry's path.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry's hash differs from the one recorded for it.
    #[error("{entry}: hash {actual} does not match the recorded {expected}")]
    HashMismatch {
        /// The entry's path.
        entry: String,
        /// The hash recorded (in `datapackage.json`, or the digest file for it).
        expected: String,
        /// The hash of the bytes found.
        actual: String,
    },
    /// An entry's size differs from the one recorded for it.
    #[error("{entry}: {actual} bytes, but datapackage.json records {expected}")]
    SizeMismatch {
        /// The entry's path.
        entry: String,
        /// The size recorded.
        expected: u64,
        /// The size found.
        actual: u64,
    },
    /// The signature in `datapackage-digest.json` does not verify.
    #[error("datapackage-digest.json: signature: {0}")]
    Signature(String),
    /// The input to [`write_wacz`] is unusable.
    #[error("WACZ input: {0}")]
    Input(String),
}

/// One page of the capture, for `pages/pages.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The page's URL.
    pub url: String,
    /// When it was captured, RFC 3339.
    pub ts: String,
    /// Its title.
    pub title: Option<String>,
    /// Its visible text, for full-text search.
    pub text: Option<String>,
}

/// What goes into a WACZ.
#[derive(Debug, Clone)]
pub struct WaczInput<'a> {
    /// The recorded exchanges, in the order they happened.
    pub exchanges: &'a [Exchange],
    /// The pages (the first usually the main page).
    pub pages: Vec<Page>,
    /// The page replay should open first (`mainPageURL`).
    pub main_page_url: String,
    /// When that page was captured, RFC 3339 (`mainPageDate`; empty: left out).
    pub main_page_date: String,
    /// The collection's title.
    pub title: String,
    /// The software, e.g. `Athar 0.1.0`.
    pub software: String,
    /// When the package was made, RFC 3339 (written in UTC, to the second).
    pub created: String,
    /// The key that signs `datapackage-digest.json`.
    pub signing_key: &'a SigningKey,
}

/// One file of the package as `datapackage.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The file's name (lowercase), e.g. `data.warc.gz`.
    pub name: String,
    /// Its path in the zip.
    pub path: String,
    /// `sha256:<hex>`.
    pub hash: String,
    /// Its size.
    pub bytes: u64,
}

/// What [`write_wacz`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaczSummary {
    /// `sha256:<hex>` of `datapackage.json`, the value signed.
    pub datapackage_hash: String,
    /// The files `datapackage.json` lists.
    pub resources: Vec<Resource>,
    /// WARC records written (the `warcinfo` record included).
    pub records: usize,
    /// The `created` time written.
    pub created: String,
    /// The signing key's SubjectPublicKeyInfo DER, base64 (as in `signedData.publicKey`).
    pub public_key: String,
}

/// What [`verify_wacz`] found in a package whose every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWacz {
    /// `sha256:<hex>` of `datapackage.json`.
    pub datapackage_hash: String,
    /// The files `datapackage.json` lists, each checked.
    pub resources: Vec<Resource>,
    /// `datapackage.json`'s `wacz_version`.
    pub wacz_version: String,
    /// `created`, if present.
    pub created: Option<String>,
    /// `software`, if present.
    pub software: Option<String>,
    /// `title`, if present.
    pub title: Option<String>,
    /// `mainPageURL`, if present.
    pub main_page_url: Option<String>,
    /// The key whose valid signature `datapackage-digest.json` holds (its
    /// SubjectPublicKeyInfo DER, base64, as written there); None when unsigned. Anyone can
    /// sign: compare it with the key expected ([`public_key_of`]).
    pub public_key: Option<String>,
}

/// Writes a signed WACZ to `path` (replacing it; written beside it first, then renamed).
pub fn write_wacz(path: &Path, input: &WaczInput<'_>) -> Result<WaczSummary, WaczError> {
    let created = normalize_time(&input.created)
        .ok_or_else(|| WaczError::Input(format!("created is not RFC 3339: {:?}", input.created)))?;
    let main_page_date = if input.main_page_date.trim().is_empty() {
        None
    } else {
        Some(normalize_time(&input.main_page_date).ok_or_else(|| {
            WaczError::Input(format!(
                "main_page_date is not RFC 3339: {:?}",
                input.main_page_date
            ))
        })?)
    };
    for page in &input.pages {
        if OffsetDateTime::parse(page.ts.trim(), &Rfc3339).is_err() {
            return Err(WaczError::Input(format!(
                "page {}: ts is not RFC 3339: {:?}",
                page.url, page.ts
            )));
        }
    }
    let created_time = OffsetDateTime::parse(&created, &Rfc3339)
        .map_err(|e| WaczError::Input(format!("created: {e}")))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let io_err = |what: &str| {
        let what = what.to_owned();
        move |source: io::Error| WaczError::Io { what, source }
    };

    // The WARC, into a scratch file beside the target.
    let warc_file =
        tempfile::tempfile_in(dir).map_err(io_err("creating a scratch file for the WARC"))?;
    let fields = [("title", input.title.as_str())];
    let info = WarcInfo {
        software: &input.software,
        created: created_time,
        fields: &fields,
    };
    let warc_name = WARC_PATH.rsplit('/').next().unwrap_or(WARC_PATH);
    let mut writer = WarcWriter::new(BufWriter::new(warc_file), warc_name, &info)?;
    for exchange in input.exchanges {
        writer.write_exchange(exchange)?;
    }
    let output = writer.finish()?;
    let mut warc_file = output.out.into_inner().map_err(|e| WaczError::Io {
        what: format!("writing {WARC_PATH}"),
        source: e.into_error(),
    })?;
    let records = output.records.len();

    // The index and the page list.
    let mut index = warc::cdxj_lines(&output.records).join("\n");
    if !index.is_empty() {
        index.push('\n');
    }
    let pages = pages_jsonl(&input.pages);

    let resources = vec![
        Resource {
            name: file_name(WARC_PATH),
            path: WARC_PATH.to_owned(),
            hash: format!("sha256:{}", output.sha256),
            bytes: output.bytes,
        },
        resource(INDEX_PATH, index.as_bytes()),
        resource(PAGES_PATH, pages.as_bytes()),
    ];

    let datapackage = DataPackage {
        profile: "data-package".to_owned(),
        resources: resources.clone(),
        wacz_version: WACZ_VERSION.to_owned(),
        title: Some(input.title.clone()),
        main_page_url: Some(input.main_page_url.clone()).filter(|u| !u.is_empty()),
        main_page_date,
        created: Some(created.clone()),
        software: Some(input.software.clone()),
    };
    let datapackage_bytes = to_json(&datapackage);
    let datapackage_hash = format!("sha256:{}", hex::encode(Sha256::digest(&datapackage_bytes)));

    let signature: p384::ecdsa::Signature = input
        .signing_key
        .sign_prehash(&Sha256::digest(datapackage_hash.as_bytes()))
        .map_err(|e| WaczError::Input(format!("signing: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let public_key = public_key_of(input.signing_key)?;
    let digest = DigestFile {
        path: DATAPACKAGE_PATH.to_owned(),
        hash: datapackage_hash.clone(),
        signed_data: Some(SignedData {
            hash: datapackage_hash.clone(),
            created: Some(created.clone()),
            software: Some(input.software.clone()),
            signature: b64.encode(signature.to_bytes()),
            public_key: Some(public_key.clone()),
        }),
    };
    let digest_bytes = to_json(&digest);

    // The zip, beside the target, then renamed over it.
    let scratch = tempfile::NamedTempFile::new_in(dir)
        .map_err(io_err("creating a scratch file for the WACZ"))?;
    let zip_file = scratch
        .reopen()
        .map_err(io_err("opening the scratch WACZ"))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(zip_file));
    let when = zip_time(created_time);
    let options = |method: CompressionMethod, size: u64| {
        SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(when)
            .unix_permissions(0o644)
            .large_file(size >= u64::from(u32::MAX) - 1024)
    };
    let zip_err = |entry: &str| {
        let entry = entry.to_owned();
        move |source: zip::result::ZipError| WaczError::Zip { entry, source }
    };

    zip.start_file(WARC_PATH, options(CompressionMethod::Stored, output.bytes))
        .map_err(zip_err(WARC_PATH))?;
    warc_file
        .seek(SeekFrom::Start(0))
        .map_err(io_err("reading back the WARC"))?;
    let copied =
        io::copy(&mut warc_file, &mut zip).map_err(io_err(&format!("writing {WARC_PATH}")))?;
    if copied != output.bytes {
        return Err(WaczError::Invalid {
            entry: WARC_PATH.to_owned(),
            reason: format!("{copied} bytes copied of {}", output.bytes),
        });
    }
    let small: [(&str, CompressionMethod, &[u8]); 4] = [
        (INDEX_PATH, CompressionMethod::Stored, index.as_bytes()),
        (PAGES_PATH, CompressionMethod::Deflated, pages.as_bytes()),
        (
            DATAPACKAGE_PATH,
            CompressionMethod::Deflated,
            &datapackage_bytes,
        ),
        (DIGEST_PATH, CompressionMethod::Deflated, &digest_bytes),
    ];
    for (entry, method, bytes) in small {
        zip.start_file(entry, options(method, bytes.len() as u64))
            .map_err(zip_err(entry))?;
        zip.write_all(bytes)
            .map_err(io_err(&format!("writing {entry}")))?;
    }
    let buffered = zip.finish().map_err(zip_err("(zip)"))?;
    let file = buffered.into_inner().map_err(|e| WaczError::Io {
        what: "writing the WACZ".to_owned(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err("syncing the WACZ"))?;
    drop(file);
    scratch.persist(path).map_err(|e| WaczError::Io {
        what: format!("moving the WACZ into place at {}", path.display()),
        source: e.error,
    })?;

    Ok(WaczSummary {
        datapackage_hash,
        resources,
        records,
        created,
        public_key,
    })
}

/// Checks a WACZ: every file `datapackage.json` lists is there with its size and hash, no
/// other file is (but the two datapackage files), `datapackage-digest.json` holds
/// `datapackage.json`'s hash, and its signature (if any) verifies with the public key it
/// carries and is over that hash, made at `created`.
pub fn verify_wacz(path: &Path) -> Result<VerifiedWacz, WaczError> {
    let file = File::open(path).map_err(|source| WaczError::Io {
        what: format!("opening {}", path.display()),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(|source| WaczError::Zip {
        entry: "(zip)".to_owned(),
        source,
    })?;
    check_entry_count(path, archive.len())?;

    let datapackage_bytes = read_small(&mut archive, DATAPACKAGE_PATH)?;
    let datapackage: DataPackage =
        serde_json::from_slice(&datapackage_bytes).map_err(|e| WaczError::Invalid {
            entry: DATAPACKAGE_PATH.to_owned(),
            reason: format!("not a WACZ data package: {e}"),
        })?;
    if datapackage.profile != "data-package" {
        return Err(WaczError::Invalid {
            entry: DATAPACKAGE_PATH.to_owned(),
            reason: format!("profile is {:?}, not \"data-package\"", datapackage.profile),
        });
    }
    let datapackage_hash = format!("sha256:{}", hex::encode(Sha256::digest(&datapackage_bytes)));

    // The digest and its signature.
    let digest_bytes = read_small(&mut archive, DIGEST_PATH)?;
    let digest: DigestFile =
        serde_json::from_slice(&digest_bytes).map_err(|e| WaczError::Invalid {
            entry: DIGEST_PATH.to_owned(),
            reason: format!("not a datapackage digest: {e}"),
        })?;
    if digest.path != DATAPACKAGE_PATH {
        return Err(WaczError::Invalid {
            entry: DIGEST_PATH.to_owned(),
            reason: format!("path is {:?}, not {DATAPACKAGE_PATH:?}", digest.path),
        });
    }
    if !digest.hash.eq_ignore_ascii_case(&datapackage_hash) {
        return Err(WaczError::HashMismatch {
            entry: DATAPACKAGE_PATH.to_owned(),
            expected: digest.hash,
            actual: datapackage_hash,
        });
    }
    let public_key = match &digest.signed_data {
        None => None,
        Some(signed) => Some(check_signature(signed, &datapackage_hash, &datapackage)?),
    };

    // Every listed file, by size and hash.
    let mut listed = HashSet::new();
    for resource in &datapackage.resources {
        if resource.path == DATAPACKAGE_PATH || resource.path == DIGEST_PATH {
            return Err(WaczError::Invalid {
                entry: DATAPACKAGE_PATH.to_owned(),
                reason: format!("lists {} as a resource", resource.path),
            });
        }
        if !listed.insert(resource.path.as_str()) {
            return Err(WaczError::Invalid {
                entry: DATAPACKAGE_PATH.to_owned(),
                reason: format!("lists {} twice", resource.path),
            });
        }
        let Some(expected) = resource
            .hash
            .strip_prefix("sha256:")
            .map(str::to_ascii_lowercase)
        else {
            return Err(WaczError::Invalid {
                entry: resource.path.clone(),
                reason: format!(
                    "unsupported hash {:?} (only sha256 is checked)",
                    resource.hash
                ),
            });
        };
        let (bytes, actual) = hash_entry(&mut archive, &resource.path)?;
        if bytes != resource.bytes {
            return Err(WaczError::SizeMismatch {
                entry: resource.path.clone(),
                expected: resource.bytes,
                actual: bytes,
            });
        }
        if actual != expected {
            return Err(WaczError::HashMismatch {
                entry: resource.path.clone(),
                expected: resource.hash.clone(),
                actual: format!("sha256:{actual}"),
            });
        }
    }
    // Nothing unlisted.
    let names: BTreeSet<String> = archive.file_names().map(str::to_owned).collect();
    for name in &names {
        if name.ends_with('/') || name == DATAPACKAGE_PATH || name == DIGEST_PATH {
            continue;
        }
        if !listed.contains(name.as_str()) {
            return Err(WaczError::Invalid {
                entry: name.clone(),
                reason: "not listed in datapackage.json".to_owned(),
            });
        }
    }

    Ok(VerifiedWacz {
        datapackage_hash,
        resources: datapackage.resources,
        wacz_version: datapackage.wacz_version,
        created: datapackage.created,
        software: datapackage.software,
        title: datapackage.title,
        main_page_url: datapackage.main_page_url,
        public_key,
    })
}

// ---------------------------------------------------------------------------------------
// The JSON files

#[derive(Debug, Serialize, Deserialize)]
struct DataPackage {
    profile: String,
    resources: Vec<Resource>,
    wacz_version: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    title: Option<String>,
    #[serde(
        rename = "mainPageURL",
        skip_serializing_if = "Option::is_none",
        default
    )]
    main_page_url: Option<String>,
    #[serde(
        rename = "mainPageDate",
        skip_serializing_if = "Option::is_none",
        default
    )]
    main_page_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    software: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DigestFile {
    path: String,
    hash: String,
    #[serde(
        rename = "signedData",
        skip_serializing_if = "Option::is_none",
        default
    )]
    signed_data: Option<SignedData>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SignedData {
    hash: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    software: Option<String>,
    signature: String,
    #[serde(rename = "publicKey", skip_serializing_if = "Option::is_none", default)]
    public_key: Option<String>,
}

#[derive(Serialize)]
struct PageLine<'a> {
    id: String,
    url: &'a str,
    ts: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

/// The page list: a header line, then one JSON object per page.
fn pages_jsonl(pages: &[Page]) -> String {
    let has_text = pages.iter().any(|p| p.text.is_some());
    let mut header = serde_json::json!({
        "format": "json-pages-1.0",
        "id": "pages",
        "title": "All Pages",
    });
    if has_text {
        header["hasText"] = serde_json::Value::Bool(true);
    }
    let mut out = header.to_string();
    out.push('\n');
    for page in pages {
        let id = hex::encode(&Sha256::digest(format!("{}\n{}", page.ts, page.url))[..10]);
        let line = PageLine {
            id,
            url: &page.url,
            ts: page.ts.trim(),
            title: page.title.as_deref(),
            text: page.text.as_deref(),
        };
        out.push_str(&serde_json::to_string(&line).unwrap_or_default());
        out.push('\n');
    }
    out
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

fn resource(path: &str, bytes: &[u8]) -> Resource {
    Resource {
        name: file_name(path),
        path: path.to_owned(),
        hash: format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
        bytes: bytes.len() as u64,
    }
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase()
}

/// RFC 3339 → UTC, to the second, `Z` (what py-wacz writes and parses).
fn normalize_time(text: &str) -> Option<String> {
    let time = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    time.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .ok()
}

fn zip_time(time: OffsetDateTime) -> zip::DateTime {
    let t = time.to_offset(UtcOffset::UTC);
    u16::try_from(t.year())
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )
            .ok()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Verification helpers

/// `key`'s public half as `signedData.publicKey` holds it: SubjectPublicKeyInfo DER,
/// base64.
pub fn public_key_of(key: &SigningKey) -> Result<String, WaczError> {
    let der = key
        .verifying_key()
        .to_public_key_der()
        .map_err(|e| WaczError::Input(format!("encoding the public key: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(der.as_bytes()))
}

/// Checks an ECDSA signature over SHA-256 of `message` with a P-384 or P-256 key (SPKI
/// DER), the signature raw `r‖s` (WebCrypto) or DER (authsign, OpenSSL).
fn verify_ecdsa(spki: &[u8], message: &[u8], raw: &[u8]) -> Result<(), WaczError> {
    let bad = |e: String| WaczError::Signature(e);
    let prehash = Sha256::digest(message);
    if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(spki) {
        let sig = if raw.len() == 96 {
            p384::ecdsa::Signature::from_slice(raw)
        } else {
            p384::ecdsa::Signature::from_der(raw)
        }
        .map_err(|e| bad(format!("malformed signature: {e}")))?;
        return key
            .verify_prehash(&prehash, &sig)
            .map_err(|_| bad("does not verify with publicKey".to_owned()));
    }
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki)
        .map_err(|e| bad(format!("publicKey is not a P-384 or P-256 key: {e}")))?;
    let sig = if raw.len() == 64 {
        p256::ecdsa::Signature::from_slice(raw)
    } else {
        p256::ecdsa::Signature::from_der(raw)
    }
    .map_err(|e| bad(format!("malformed signature: {e}")))?;
    {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        key.verify_prehash(&prehash, &sig)
    }
    .map_err(|_| bad("does not verify with publicKey".to_owned()))
}

fn check_signature(
    signed: &SignedData,
    datapackage_hash: &str,
    datapackage: &DataPackage,
) -> Result<String, WaczError> {
    if signed.hash != datapackage_hash {
        return Err(WaczError::Signature(format!(
            "signs {}, not datapackage.json's {datapackage_hash}",
            signed.hash
        )));
    }
    if signed.created.is_some() && signed.created != datapackage.created {
        return Err(WaczError::Signature(format!(
            "signed at {:?} but datapackage.json was created {:?}",
            signed.created, datapackage.created
        )));
    }
    let Some(public_key) = &signed.public_key else {
        return Err(WaczError::Signature(
            "no publicKey (certificate-based signatures are not checked here)".to_owned(),
        ));
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let der = b64
        .decode(public_key.trim())
        .map_err(|e| WaczError::Signature(format!("publicKey is not base64: {e}")))?;
    let raw = b64
        .decode(signed.signature.trim())
        .map_err(|e| WaczError::Signature(format!("signature is not base64: {e}")))?;
    verify_ecdsa(&der, signed.hash.as_bytes(), &raw)?;
    Ok(public_key.trim().to_owned())
}

/// Reads a small entry whole.
fn read_small(archive: &mut zip::ZipArchive<File>, entry: &str) -> Result<Vec<u8>, WaczError> {
    let file = archive.by_name(entry).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => WaczError::MissingEntry {
            entry: entry.to_owned(),
        },
        source => WaczError::Zip {
            entry: entry.to_owned(),
            source,
        },
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| WaczError::Io {
            what: format!("reading {entry}"),
            source,
        })?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(WaczError::Invalid {
            entry: entry.to_owned(),
            reason: format!("larger than {MAX_JSON_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// Streams an entry through SHA-256; its size and lowercase hex hash.
fn hash_entry(
    archive: &mut zip::ZipArchive<File>,
    entry: &str,
) -> Result<(u64, String), WaczError> {
    let mut file = archive.by_name(entry).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => WaczError::MissingEntry {
            entry: entry.to_owned(),
        },
        source => WaczError::Zip {
            entry: entry.to_owned(),
            source,
        },
    })?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|source| WaczError::Io {
            what: format!("reading {entry}"),
            source,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// The zip's own count of entries must match the names read: a zip with two entries of
/// one name reads differently in different tools.
fn check_entry_count(path: &Path, names: usize) -> Result<(), WaczError> {
    let io_err = |source: io::Error| WaczError::Io {
        what: format!("reading {}", path.display()),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let size = file.seek(SeekFrom::End(0)).map_err(io_err)?;
    let tail_len = size.min(22 + 65_535);
    file.seek(SeekFrom::Start(size - tail_len))
        .map_err(io_err)?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.take(tail_len).read_to_end(&mut tail).map_err(io_err)?;
    let Some(eocd) = tail.windows(4).rposition(|w| w == [0x50, 0x4b, 0x05, 0x06]) else {
        return Ok(()); // The zip reader already accepted the file; nothing more to check.
    };
    let Some(count) = tail.get(eocd + 10..eocd + 12) else {
        return Ok(());
    };
    let count = u16::from_le_bytes([count[0], count[1]]);
    if count != u16::MAX && usize::from(count) != names {
        return Err(WaczError::Invalid {
            entry: "(zip)".to_owned(),
            reason: format!(
                "the central directory has {count} entries but {names} distinct names (duplicate entries)"
            ),
        });
    }
    Ok(())
}
