//! What an encrypted archive's stores need beyond a plain one: the keys derived from the
//! archive key, and the writer that seals a blob's bytes on their way to the disk.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use athar_core::{BlobWriter, PendingBlob, Sha256, StoreError};
use athar_crypt::{BlobKey, Key, KeyedName};

/// Keys of an unlocked encrypted archive, each derived from the archive key for one use.
#[derive(Debug, Clone)]
pub struct Sealing {
    /// The archive key's id (names the archive's scratch folder, checks the keyring).
    pub key_id: String,
    /// SQLCipher's raw key for the catalog.
    pub catalog: Key,
    /// Seals blobs.
    pub blobs: BlobKey,
    /// Names blobs.
    pub names: Arc<KeyedName>,
    /// Seals the secret files under `keys/`.
    pub files: Key,
    /// The archive key itself (seals case keys in the keyring).
    pub archive: Key,
    /// The blob keys of cases with their own key, by case label: blobs sealed under any of
    /// them are read. Shared by every clone, so a case key made by this process is known to
    /// all its stores.
    cases: Arc<RwLock<BTreeMap<String, BlobKey>>>,
    /// The case whose key new blobs are sealed under (the archive's blob key when None).
    writing: Option<BlobKey>,
}

impl Sealing {
    /// The keys derived from `archive`.
    pub fn new(archive: Key) -> Sealing {
        Sealing {
            key_id: archive.id(),
            catalog: archive.derive("catalog"),
            blobs: BlobKey::new(archive.derive("blobs")),
            names: Arc::new(KeyedName::new(archive.derive("blob names"))),
            files: archive.derive("key files"),
            archive,
            cases: Arc::default(),
            writing: None,
        }
    }

    /// The blob key of a case's own key.
    pub fn case_blob_key(case_key: &Key) -> BlobKey {
        BlobKey::new(case_key.derive("blobs"))
    }

    /// Knows the case keys of `ring` (blobs sealed under them are read).
    pub fn add_case_keys(&self, ring: &athar_crypt::Keyring) -> Result<(), StoreError> {
        let keys = ring
            .case_keys(&self.archive)
            .map_err(|e| StoreError::Corrupt(format!("keyring: {e}")))?;
        let mut known = self.cases.write().unwrap_or_else(|p| p.into_inner());
        for (label, key) in keys {
            known.insert(label, Sealing::case_blob_key(&key));
        }
        Ok(())
    }

    /// These keys, sealing new blobs under `case_key` (a case's own key), and knowing it.
    pub fn writing_under(&self, label: &str, case_key: &Key) -> Sealing {
        let blob_key = Sealing::case_blob_key(case_key);
        self.cases
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(label.to_owned(), blob_key.clone());
        Sealing {
            writing: Some(blob_key),
            ..self.clone()
        }
    }

    /// Forgets a case's key (its blobs become unreadable to this process too).
    pub fn forget_case(&self, label: &str) {
        self.cases
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(label);
    }

    /// The key new blobs are sealed under.
    pub fn write_key(&self) -> &BlobKey {
        self.writing.as_ref().unwrap_or(&self.blobs)
    }

    /// Every key a blob may be sealed under: the archive's, then each case's.
    pub fn read_keys(&self) -> Vec<BlobKey> {
        let cases = self.cases.read().unwrap_or_else(|p| p.into_inner());
        std::iter::once(self.blobs.clone())
            .chain(cases.values().cloned())
            .collect()
    }

    /// The id of the key a sealed blob is sealed under, from its first bytes (`header`).
    pub fn sealed_under(header: &[u8]) -> Option<String> {
        // The header is text; the payload after it is not.
        let text = String::from_utf8_lossy(&header[..header.len().min(512)]);
        let line = text
            .lines()
            .take_while(|l| !l.starts_with("---"))
            .find_map(|l| l.strip_prefix("-> athar-key "))?;
        Some(line.trim().to_owned())
    }
}

/// Collects sealed bytes and hands them to the inner writer in chunks of about 1 MiB.
struct Chunks {
    inner: Box<dyn BlobWriter>,
    buf: Vec<u8>,
    error: Option<StoreError>,
}

const CHUNK: usize = 1 << 20;

impl std::io::Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::take(&mut self.buf);
        match self.inner.write_chunk(full) {
            Ok(mut spare) => {
                spare.clear();
                self.buf = spare;
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                self.error = Some(e);
                Err(std::io::Error::other(msg))
            }
        }
    }
}

/// A blob writer whose bytes are sealed (age format) before the inner writer stores them.
pub(crate) struct SealingWriter {
    stream: Option<age::stream::StreamWriter<Chunks>>,
    plain: u64,
}

impl SealingWriter {
    pub(crate) fn new(
        key: &BlobKey,
        inner: Box<dyn BlobWriter>,
    ) -> Result<SealingWriter, StoreError> {
        let chunks = Chunks {
            inner,
            buf: Vec::with_capacity(CHUNK + 65_536),
            error: None,
        };
        let stream = key
            .seal_to(chunks)
            .map_err(|e| StoreError::Corrupt(format!("sealing a blob: {e}")))?;
        Ok(SealingWriter {
            stream: Some(stream),
            plain: 0,
        })
    }
}

fn sealing_error(e: std::io::Error) -> StoreError {
    StoreError::Corrupt(format!("sealing a blob: {e}"))
}

impl BlobWriter for SealingWriter {
    fn write_chunk(&mut self, chunk: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        use std::io::Write as _;
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("sealing writer already finished".into()))?;
        // The inner writer's error (naming its file) comes through in the message.
        stream.write_all(&chunk).map_err(sealing_error)?;
        self.plain += chunk.len() as u64;
        Ok(chunk)
    }

    fn finish(mut self: Box<Self>, sha256: Sha256) -> Result<PendingBlob, StoreError> {
        use std::io::Write as _;
        let stream = self
            .stream
            .take()
            .ok_or_else(|| StoreError::Corrupt("sealing writer already finished".into()))?;
        let mut chunks = stream.finish().map_err(sealing_error)?;
        if let Err(e) = chunks.flush() {
            return Err(chunks.error.take().unwrap_or_else(|| sealing_error(e)));
        }
        let mut pending = chunks.inner.finish(sha256)?;
        pending.size = self.plain;
        Ok(pending)
    }
}

impl Sealing {
    /// Where an encrypted archive keeps derived and transient files that hold plain
    /// content (search and similarity indexes, staged uploads, bags being built): a private
    /// folder in memory (`ATHAR_SCRATCH`, else `/dev/shm`, else the temporary folder),
    /// never the archive's disk.
    pub fn work_dir(&self) -> std::path::PathBuf {
        let base = match std::env::var_os("ATHAR_SCRATCH") {
            Some(p) => std::path::PathBuf::from(p),
            None if std::path::Path::new("/dev/shm").is_dir() => "/dev/shm".into(),
            None => std::env::temp_dir(),
        };
        base.join(format!("athar-{}", self.key_id))
    }
}

/// Where the unlocked archive keys come from in this process.
pub mod unlock {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use athar_crypt::{Key, Keyring, KeyringError, Unlock};
    use zeroize::Zeroizing;

    /// Asks a person for a passphrase (the CLI sets one when it runs on a terminal).
    pub type Prompt = fn(&str) -> Option<Zeroizing<String>>;

    static PROMPT: OnceLock<Prompt> = OnceLock::new();
    /// Keys unlocked in this process, by key id, so that every connection the process
    /// opens does not ask again.
    static KEYS: Mutex<Option<HashMap<String, Key>>> = Mutex::new(None);

    /// Sets the prompt (once per process).
    pub fn set_prompt(prompt: Prompt) {
        let _ = PROMPT.set(prompt);
    }

    /// Why no key could be had.
    #[derive(Debug, thiserror::Error)]
    pub enum UnlockError {
        #[error(
            "the archive is encrypted: give its passphrase (ATHAR_PASSPHRASE, \
             ATHAR_PASSPHRASE_FILE, or at the prompt on a terminal) or an age identity file \
             (ATHAR_IDENTITY)"
        )]
        Locked,
        #[error("{0}: {1}")]
        File(String, std::io::Error),
        #[error(transparent)]
        Keyring(#[from] KeyringError),
    }

    fn read_secret(var: &str) -> Result<Option<Zeroizing<String>>, UnlockError> {
        let Some(path) = std::env::var_os(var) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| UnlockError::File(format!("{var}={}", path.to_string_lossy()), e))?;
        Ok(Some(Zeroizing::new(text)))
    }

    /// The passphrase given in the environment, if any.
    pub fn passphrase_from_env() -> Result<Option<Zeroizing<String>>, UnlockError> {
        if let Ok(p) = std::env::var("ATHAR_PASSPHRASE") {
            return Ok(Some(Zeroizing::new(p)));
        }
        Ok(read_secret("ATHAR_PASSPHRASE_FILE")?
            .map(|t| Zeroizing::new(t.trim_end_matches(['\r', '\n']).to_owned())))
    }

    /// A passphrase from the environment, else from the prompt; None when neither has one.
    pub fn passphrase(question: &str) -> Result<Option<Zeroizing<String>>, UnlockError> {
        if let Some(p) = passphrase_from_env()? {
            return Ok(Some(p));
        }
        Ok(PROMPT.get().and_then(|ask| ask(question)))
    }

    /// The archive key `keyring` guards: from this process's cache, an age identity file
    /// (`ATHAR_IDENTITY`), the passphrase in the environment, or the prompt.
    pub fn archive_key(name: &str, keyring: &Keyring) -> Result<Key, UnlockError> {
        if let Some(k) = cached(&keyring.key_id) {
            return Ok(k);
        }
        let how = if let Some(ids) = read_secret("ATHAR_IDENTITY")? {
            Unlock::Identities(ids)
        } else {
            match passphrase(&format!("Passphrase of the archive {name}: "))? {
                Some(p) => Unlock::Passphrase(p),
                None => return Err(UnlockError::Locked),
            }
        };
        let (key, _slot) = keyring.unlock(&how)?;
        remember(&key);
        Ok(key)
    }

    fn cached(id: &str) -> Option<Key> {
        KEYS.lock()
            .ok()
            .and_then(|m| m.as_ref().and_then(|m| m.get(id).cloned()))
    }

    /// Keeps an unlocked key for the rest of the process.
    pub fn remember(key: &Key) {
        if let Ok(mut m) = KEYS.lock() {
            m.get_or_insert_with(HashMap::new)
                .insert(key.id(), key.clone());
        }
    }
}
