//! The keyring: the archive key sealed in slots, and the cases' own keys sealed under it.
//!
//! ```json
//! { "format": "athar-keyring/1", "key_id": "<16 hex>",
//!   "slots": [
//!     { "id": "p1", "kind": "passphrase", "m_kib": 65536, "t": 3, "p": 1,
//!       "salt": "<b64>", "sealed": "<b64>" },
//!     { "id": "r1", "kind": "age", "recipient": "age1…", "label": "recovery",
//!       "sealed": "<b64 age file>" } ],
//!   "cases": { "<case label>": "<b64: case key sealed under the archive key>" },
//!   "erased": { "<case label>": "<RFC 3339 time>" } }
//! ```
//!
//! A passphrase slot seals the archive key under argon2id(passphrase); an age slot is the
//! archive key encrypted to an age recipient (X25519 or a plugin's), opened with the
//! matching identity. A case label is a keyed hash of the case's name ([`case_label`]), so
//! the file does not list the cases. Slots are added and removed without touching the data; the last slot
//! cannot be removed. The file holds no key in the clear, so it may be backed up with
//! the archive.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{random, CryptError, Key};

const FORMAT: &str = "athar-keyring/1";

/// argon2id cost of new passphrase slots: 64 MiB, 3 passes (about half a second).
pub const ARGON2_M_KIB: u32 = 64 * 1024;
pub const ARGON2_T: u32 = 3;
pub const ARGON2_P: u32 = 1;

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("wrong passphrase: it opens no slot of this archive's keyring")]
    WrongPassphrase,
    #[error("none of the given age identities opens a slot of this archive's keyring")]
    NoIdentity,
    #[error("keyring: {0}")]
    Invalid(String),
    #[error("keyring: no slot {0:?}")]
    NoSlot(String),
    #[error("keyring: slot {0:?} is the last one; add another before removing it")]
    LastSlot(String),
    #[error("keyring: {0:?} is not an age recipient (age1…): {1}")]
    Recipient(String, String),
    #[error("keyring: the passphrase must not be empty")]
    EmptyPassphrase,
    #[error("case {0:?} was erased: its key is gone")]
    Erased(String),
    #[error(transparent)]
    Crypt(#[from] CryptError),
}

/// What opens the archive key.
pub enum Unlock {
    Passphrase(Zeroizing<String>),
    /// age identities (the contents of an identity file: `AGE-SECRET-KEY-1…` lines).
    Identities(Zeroizing<String>),
}

impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unlock::Passphrase(_) => "Unlock::Passphrase",
            Unlock::Identities(_) => "Unlock::Identities",
        })
    }
}

/// One way in to the archive key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Slot {
    Passphrase {
        id: String,
        m_kib: u32,
        t: u32,
        p: u32,
        salt: String,
        sealed: String,
    },
    Age {
        id: String,
        recipient: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        label: String,
        sealed: String,
    },
}

impl Slot {
    pub fn id(&self) -> &str {
        match self {
            Slot::Passphrase { id, .. } | Slot::Age { id, .. } => id,
        }
    }
}

/// The keyring file's contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Keyring {
    format: String,
    /// The archive key's id: which key the slots open.
    pub key_id: String,
    pub slots: Vec<Slot>,
    /// Each case's own key, sealed under the archive key.
    #[serde(default)]
    pub cases: BTreeMap<String, String>,
    /// Cases whose key was destroyed, and when.
    #[serde(default)]
    pub erased: BTreeMap<String, String>,
}

fn passphrase_key(pass: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<Key, KeyringError> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| KeyringError::Invalid(format!("argon2 parameters: {e}")))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(pass.as_bytes(), salt, out.as_mut())
        .map_err(|e| KeyringError::Invalid(format!("argon2: {e}")))?;
    Ok(Key::from_bytes(*out))
}

fn slot_context(key_id: &str, slot: &str) -> String {
    format!("athar keyring slot {key_id} {slot}")
}

fn case_context(key_id: &str, label: &str) -> String {
    format!("athar case key {key_id} {label}")
}

/// How a case is named in the keyring: 32 hex digits of an HMAC of its name under the
/// archive key, so the keyring (stored in the clear) does not list the cases.
pub fn case_label(key: &Key, case: &str) -> String {
    hex::encode(&key.mac(&[b"athar case label v1", case.as_bytes()])[..16])
}

impl Keyring {
    /// A keyring for `key` with one passphrase slot.
    pub fn create(key: &Key, passphrase: &str) -> Result<Keyring, KeyringError> {
        let mut k = Keyring {
            format: FORMAT.to_owned(),
            key_id: key.id(),
            slots: Vec::new(),
            cases: BTreeMap::new(),
            erased: BTreeMap::new(),
        };
        k.add_passphrase(key, passphrase)?;
        Ok(k)
    }

    /// Parses a keyring file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Keyring, KeyringError> {
        let k: Keyring = serde_json::from_slice(bytes)
            .map_err(|e| KeyringError::Invalid(format!("not a keyring: {e}")))?;
        if k.format != FORMAT {
            return Err(KeyringError::Invalid(format!(
                "format {:?} is not supported (this build reads {FORMAT})",
                k.format
            )));
        }
        Ok(k)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    fn next_id(&self, prefix: char) -> String {
        (1..)
            .map(|n| format!("{prefix}{n}"))
            .find(|id| self.slots.iter().all(|s| s.id() != id))
            .unwrap_or_default()
    }

    fn check_key(&self, key: &Key) -> Result<(), KeyringError> {
        if key.id() == self.key_id {
            Ok(())
        } else {
            Err(KeyringError::Invalid(
                "the key given is not this keyring's archive key".into(),
            ))
        }
    }

    /// Adds a passphrase slot; returns its id.
    pub fn add_passphrase(&mut self, key: &Key, passphrase: &str) -> Result<String, KeyringError> {
        self.add_passphrase_with(key, passphrase, ARGON2_M_KIB, ARGON2_T, ARGON2_P)
    }

    /// [`Keyring::add_passphrase`] with explicit argon2id costs (tests use small ones).
    pub fn add_passphrase_with(
        &mut self,
        key: &Key,
        passphrase: &str,
        m_kib: u32,
        t: u32,
        p: u32,
    ) -> Result<String, KeyringError> {
        self.check_key(key)?;
        if passphrase.is_empty() {
            return Err(KeyringError::EmptyPassphrase);
        }
        let id = self.next_id('p');
        let salt: [u8; 16] = random()?;
        let kek = passphrase_key(passphrase, &salt, m_kib, t, p)?;
        let sealed = kek.seal(&slot_context(&self.key_id, &id), key.expose())?;
        self.slots.push(Slot::Passphrase {
            id: id.clone(),
            m_kib,
            t,
            p,
            salt: B64.encode(salt),
            sealed: B64.encode(sealed),
        });
        Ok(id)
    }

    /// Adds an age recipient slot (`age1…`); returns its id.
    pub fn add_recipient(
        &mut self,
        key: &Key,
        recipient: &str,
        label: &str,
    ) -> Result<String, KeyringError> {
        self.check_key(key)?;
        let r = age::x25519::Recipient::from_str(recipient.trim())
            .map_err(|e| KeyringError::Recipient(recipient.to_owned(), e.to_string()))?;
        let id = self.next_id('r');
        let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
            .map_err(|e| KeyringError::Invalid(e.to_string()))?;
        let mut out = Vec::new();
        let mut w = enc
            .wrap_output(&mut out)
            .map_err(|e| KeyringError::Invalid(e.to_string()))?;
        w.write_all(key.expose())
            .and_then(|()| w.finish().map(|_| ()))
            .map_err(|e| KeyringError::Invalid(e.to_string()))?;
        self.slots.push(Slot::Age {
            id: id.clone(),
            recipient: recipient.trim().to_owned(),
            label: label.to_owned(),
            sealed: B64.encode(out),
        });
        Ok(id)
    }

    /// Removes a slot; the last one is never removed.
    pub fn remove_slot(&mut self, id: &str) -> Result<(), KeyringError> {
        let at = self
            .slots
            .iter()
            .position(|s| s.id() == id)
            .ok_or_else(|| KeyringError::NoSlot(id.to_owned()))?;
        if self.slots.len() == 1 {
            return Err(KeyringError::LastSlot(id.to_owned()));
        }
        self.slots.remove(at);
        Ok(())
    }

    /// Opens the archive key; returns it with the id of the slot that opened it.
    pub fn unlock(&self, how: &Unlock) -> Result<(Key, String), KeyringError> {
        match how {
            Unlock::Passphrase(pass) => {
                for s in &self.slots {
                    if let Slot::Passphrase {
                        id,
                        m_kib,
                        t,
                        p,
                        salt,
                        sealed,
                    } = s
                    {
                        let salt = B64.decode(salt).map_err(|e| bad(id, e))?;
                        let sealed = B64.decode(sealed).map_err(|e| bad(id, e))?;
                        let kek = passphrase_key(pass, &salt, *m_kib, *t, *p)?;
                        if let Ok(bytes) = kek.open(&slot_context(&self.key_id, id), &sealed) {
                            return self.found(&bytes, id);
                        }
                    }
                }
                Err(KeyringError::WrongPassphrase)
            }
            Unlock::Identities(text) => {
                let file = age::IdentityFile::from_buffer(text.as_bytes())
                    .map_err(|e| KeyringError::Invalid(format!("identity file: {e}")))?;
                let ids = file
                    .into_identities()
                    .map_err(|e| KeyringError::Invalid(format!("identity file: {e}")))?;
                for s in &self.slots {
                    if let Slot::Age { id, sealed, .. } = s {
                        let sealed = B64.decode(sealed).map_err(|e| bad(id, e))?;
                        let Ok(d) = age::Decryptor::new(&sealed[..]) else {
                            continue;
                        };
                        if let Ok(mut r) =
                            d.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
                        {
                            let mut bytes = Zeroizing::new(Vec::new());
                            if r.read_to_end(&mut bytes).is_ok() {
                                return self.found(&bytes, id);
                            }
                        }
                    }
                }
                Err(KeyringError::NoIdentity)
            }
        }
    }

    fn found(&self, bytes: &[u8], slot: &str) -> Result<(Key, String), KeyringError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyringError::Invalid(format!("slot {slot}: not a 32-byte key")))?;
        let key = Key::from_bytes(arr);
        self.check_key(&key)?;
        Ok((key, slot.to_owned()))
    }

    /// Gives `case` its own key (sealed under the archive key); returns it. A case that has
    /// one keeps it; an erased case gets none.
    pub fn add_case_key(&mut self, key: &Key, case: &str) -> Result<Key, KeyringError> {
        if let Some(k) = self.case_key(key, case)? {
            return Ok(k);
        }
        self.check_key(key)?;
        let label = case_label(key, case);
        let ck = Key::random()?;
        let sealed = key.seal(&case_context(&self.key_id, &label), ck.expose())?;
        self.cases.insert(label, B64.encode(sealed));
        Ok(ck)
    }

    /// Every case key, by its label (to read what any case's key sealed).
    pub fn case_keys(&self, key: &Key) -> Result<Vec<(String, Key)>, KeyringError> {
        self.cases
            .keys()
            .map(|label| Ok((label.clone(), self.open_case_key(key, label)?)))
            .collect()
    }

    /// Whether `case` was erased, and when.
    pub fn erased_at(&self, key: &Key, case: &str) -> Option<&str> {
        self.erased.get(&case_label(key, case)).map(String::as_str)
    }

    fn open_case_key(&self, key: &Key, label: &str) -> Result<Key, KeyringError> {
        let sealed = self
            .cases
            .get(label)
            .ok_or_else(|| KeyringError::Invalid(format!("no case key {label}")))?;
        let sealed = B64.decode(sealed).map_err(|e| bad(label, e))?;
        let bytes = key.open(&case_context(&self.key_id, label), &sealed)?;
        let arr: [u8; 32] = bytes[..]
            .try_into()
            .map_err(|_| KeyringError::Invalid(format!("case key {label}: not 32 bytes")))?;
        Ok(Key::from_bytes(arr))
    }

    /// The case's own key, if it has one. Errs for an erased case.
    pub fn case_key(&self, key: &Key, case: &str) -> Result<Option<Key>, KeyringError> {
        let label = case_label(key, case);
        if self.erased.contains_key(&label) {
            return Err(KeyringError::Erased(case.to_owned()));
        }
        if !self.cases.contains_key(&label) {
            return Ok(None);
        }
        self.open_case_key(key, &label).map(Some)
    }

    /// Destroys the case's key (the caller writes the keyring durably).
    pub fn erase_case(&mut self, key: &Key, case: &str, at: &str) {
        let label = case_label(key, case);
        self.cases.remove(&label);
        self.erased.insert(label, at.to_owned());
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> KeyringError {
    KeyringError::Invalid(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(key: &Key) -> Keyring {
        let mut r = Keyring {
            format: FORMAT.to_owned(),
            key_id: key.id(),
            slots: Vec::new(),
            cases: BTreeMap::new(),
            erased: BTreeMap::new(),
        };
        r.add_passphrase_with(key, "correct horse", 256, 1, 1)
            .unwrap();
        r
    }

    fn pass(s: &str) -> Unlock {
        Unlock::Passphrase(Zeroizing::new(s.to_owned()))
    }

    #[test]
    fn the_passphrase_opens_the_key_and_a_wrong_one_does_not() {
        let key = Key::random().unwrap();
        let r = Keyring::parse(&ring(&key).to_bytes()).unwrap();
        let (k, slot) = r.unlock(&pass("correct horse")).unwrap();
        assert_eq!(k.expose(), key.expose());
        assert_eq!(slot, "p1");
        assert!(matches!(
            r.unlock(&pass("correct horsE")),
            Err(KeyringError::WrongPassphrase)
        ));
        // No key bytes in the file.
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(!text.contains(&hex::encode(key.expose())));
        assert!(!text.contains(&B64.encode(key.expose())));
    }

    #[test]
    fn slots_are_added_and_removed_without_changing_the_key() {
        let key = Key::random().unwrap();
        let mut r = ring(&key);
        r.add_passphrase_with(&key, "second one", 256, 1, 1)
            .unwrap();
        r.remove_slot("p1").unwrap();
        assert!(matches!(
            r.unlock(&pass("correct horse")),
            Err(KeyringError::WrongPassphrase)
        ));
        assert_eq!(
            r.unlock(&pass("second one")).unwrap().0.expose(),
            key.expose()
        );
        assert!(matches!(
            r.remove_slot("p2"),
            Err(KeyringError::LastSlot(_))
        ));
        assert!(matches!(r.remove_slot("zz"), Err(KeyringError::NoSlot(_))));
        assert!(matches!(
            r.add_passphrase(&Key::random().unwrap(), "x"),
            Err(KeyringError::Invalid(_))
        ));
        assert!(matches!(
            r.add_passphrase(&key, ""),
            Err(KeyringError::EmptyPassphrase)
        ));
    }

    #[test]
    fn an_age_identity_opens_its_slot() {
        let key = Key::random().unwrap();
        let mut r = ring(&key);
        let id = age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        use age::secrecy::ExposeSecret as _;
        let secret = id.to_string().expose_secret().to_owned();
        assert_eq!(r.add_recipient(&key, &recipient, "recovery").unwrap(), "r1");
        let (k, slot) = r
            .unlock(&Unlock::Identities(Zeroizing::new(format!("{secret}\n"))))
            .unwrap();
        assert_eq!((k.expose(), slot.as_str()), (key.expose(), "r1"));
        let other = age::x25519::Identity::generate();
        let other = other.to_string().expose_secret().to_owned();
        assert!(matches!(
            r.unlock(&Unlock::Identities(Zeroizing::new(other))),
            Err(KeyringError::NoIdentity)
        ));
        assert!(matches!(
            r.add_recipient(&key, "age1notarecipient", ""),
            Err(KeyringError::Recipient(..))
        ));
    }

    #[test]
    fn case_keys_are_sealed_and_erasure_destroys_them() {
        let key = Key::random().unwrap();
        let mut r = ring(&key);
        let ck = r.add_case_key(&key, "pits").unwrap();
        assert_eq!(r.add_case_key(&key, "pits").unwrap().expose(), ck.expose());
        let r2 = Keyring::parse(&r.to_bytes()).unwrap();
        assert_eq!(
            r2.case_key(&key, "pits").unwrap().unwrap().expose(),
            ck.expose()
        );
        assert!(r2.case_key(&key, "other").unwrap().is_none());
        assert!(!String::from_utf8(r.to_bytes()).unwrap().contains("pits"));
        assert_eq!(r.case_keys(&key).unwrap().len(), 1);
        r.erase_case(&key, "pits", "2026-12-06T00:00:00Z");
        assert_eq!(r.erased_at(&key, "pits"), Some("2026-12-06T00:00:00Z"));
        assert!(r.case_keys(&key).unwrap().is_empty());
        assert!(matches!(
            r.case_key(&key, "pits"),
            Err(KeyringError::Erased(_))
        ));
        assert!(!String::from_utf8(r.to_bytes())
            .unwrap()
            .contains(&B64.encode(ck.expose())));
    }
}
