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
    /// The keys of cases with their own key, by case label: blobs sealed under any of
    /// them are read. Shared by every clone, so a case key made by this process is known to
    /// all its stores.
    cases: Arc<RwLock<BTreeMap<String, CaseKeys>>>,
    /// The case whose key new blobs are sealed under (the archive's blob key when None).
    writing: Option<BlobKey>,
    /// The keyring file, where a case's key is added on first use.
    keyring: Option<std::path::PathBuf>,
}

/// The keys one case's own key gives.
#[derive(Debug, Clone)]
pub struct CaseKeys {
    /// Seals the case's blobs.
    pub blobs: BlobKey,
    /// Seals the identities of the case's protected sources in the catalog.
    pub identities: Key,
}

impl CaseKeys {
    fn new(case_key: &Key) -> CaseKeys {
        CaseKeys {
            blobs: BlobKey::new(case_key.derive("blobs")),
            identities: case_key.derive("source identities"),
        }
    }
}

/// How a sealed source identity starts in the catalog's stored record value.
const SEALED_IDENTITY: &str = "athar-sealed-identity:v1:";

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
            keyring: None,
        }
    }

    /// These keys, with the case keys of the keyring at `path` (blobs sealed under them are
    /// read; a case's key made later is added there).
    pub fn with_keyring(
        mut self,
        path: &std::path::Path,
        ring: &athar_crypt::Keyring,
    ) -> Result<Sealing, StoreError> {
        let keys = ring
            .case_keys(&self.archive)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
        {
            let mut known = self.cases.write().unwrap_or_else(|p| p.into_inner());
            for (label, key) in keys {
                known.insert(label, CaseKeys::new(&key));
            }
        }
        self.keyring = Some(path.to_owned());
        Ok(self)
    }

    /// The keys of `case`'s own key, made on first use and added to the keyring
    /// (atomically and durably). Refused for a case that was erased.
    pub fn case(&self, case: &str) -> Result<CaseKeys, StoreError> {
        let label = athar_crypt::keyring::case_label(&self.archive, case);
        if let Some(k) = self.known(&label) {
            return Ok(k);
        }
        let path = self
            .keyring
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("no keyring to keep a case's key in".into()))?;
        let err =
            |e: &dyn std::fmt::Display| StoreError::Catalog(format!("{}: {e}", path.display()));
        let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        let mut ring = athar_crypt::Keyring::parse(&bytes).map_err(|e| err(&e))?;
        // (An erased case's refusal names the case; whoever asked names the keyring.)
        let key = ring
            .add_case_key(&self.archive, case)
            .map_err(|e| StoreError::Catalog(e.to_string()))?;
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let tmp = dir.join(".keyring.json.new");
        let _ = std::fs::remove_file(&tmp);
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| StoreError::io(&tmp, e))?;
            f.write_all(&ring.to_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| StoreError::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(dir, e))?;
        let keys = CaseKeys::new(&key);
        self.cases
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(label, keys.clone());
        Ok(keys)
    }

    fn known(&self, label: &str) -> Option<CaseKeys> {
        self.cases
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(label)
            .cloned()
    }

    /// The id of the blob key of `case`'s own key, when this process knows one.
    pub fn case_blob_key_id(&self, case: &str) -> Option<String> {
        let label = athar_crypt::keyring::case_label(&self.archive, case);
        self.known(&label).map(|k| k.blobs.id().to_owned())
    }

    /// These keys, sealing new blobs under `keys` (a case's).
    pub fn writing_under(&self, keys: &CaseKeys) -> Sealing {
        Sealing {
            writing: Some(keys.blobs.clone()),
            ..self.clone()
        }
    }

    /// Seals the identity in a protected source's stored value (canonical JSON) under its
    /// case's key; any other value is returned as it is.
    pub(crate) fn seal_identity(&self, body: &str) -> Result<String, StoreError> {
        let Some((mut v, case, identity)) = source_identity(body) else {
            return Ok(body.to_owned());
        };
        let keys = self.case(&case)?;
        let sealed = keys
            .identities
            .seal("athar source identity", identity.as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("sealing a source identity: {e}")))?;
        v["identity"] = serde_json::Value::String(format!(
            "{SEALED_IDENTITY}{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sealed)
        ));
        Ok(v.to_string())
    }

    /// [`Sealing::seal_identity`] of a value that may already be sealed (a catalog being
    /// encrypted in place, again after a stop): one whose identity opens is left as it is.
    pub(crate) fn seal_identity_once(&self, body: &str) -> Result<String, StoreError> {
        if let Some((_, _, identity)) = source_identity(body) {
            if identity.starts_with(SEALED_IDENTITY) && self.open_identity(body).is_ok() {
                return Ok(body.to_owned());
            }
        }
        self.seal_identity(body)
    }

    /// The stored value with its source identity opened (the canonical JSON again).
    pub(crate) fn open_identity(&self, body: &str) -> Result<String, StoreError> {
        let Some((mut v, case, identity)) = source_identity(body) else {
            return Ok(body.to_owned());
        };
        let Some(sealed) = identity.strip_prefix(SEALED_IDENTITY) else {
            return Ok(body.to_owned());
        };
        let gone = || {
            StoreError::Corrupt(format!(
                "a protected source's identity in case {case:?} cannot be opened: the case's \
                 key is not in the keyring"
            ))
        };
        let label = athar_crypt::keyring::case_label(&self.archive, &case);
        let keys = self.known(&label).ok_or_else(gone)?;
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sealed)
            .map_err(|_| gone())?;
        let plain = keys
            .identities
            .open("athar source identity", &bytes)
            .map_err(|_| gone())?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| gone())?;
        v["identity"] = serde_json::Value::String(text);
        Ok(v.to_string())
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
            .chain(cases.values().map(|k| k.blobs.clone()))
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

/// A source record's stored value parsed, with its case and identity, when it is one.
fn source_identity(body: &str) -> Option<(serde_json::Value, String, String)> {
    if !body.contains("\"identity\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if v.get("kind")?.as_str()? != "source" {
        return None;
    }
    let case = v.get("case")?.as_str()?.to_owned();
    let identity = v.get("identity")?.as_str()?.to_owned();
    Some((v, case, identity))
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

/// A blob writer for large blobs that seals on a thread of its own, so that sealing
/// overlaps the caller's reading and hashing (and the inner writer's disk writes).
pub(crate) struct ThreadedSealer {
    chunks: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<Result<(Chunks, u64), StoreError>>>,
    buffers: usize,
}

const SEALER_BUFFERS: usize = 4;

impl ThreadedSealer {
    pub(crate) fn start(
        key: &BlobKey,
        inner: Box<dyn BlobWriter>,
    ) -> Result<ThreadedSealer, StoreError> {
        use std::io::Write as _;
        let chunks = Chunks {
            inner,
            buf: Vec::with_capacity(CHUNK + 65_536),
            error: None,
        };
        let mut stream = key
            .seal_to(chunks)
            .map_err(|e| StoreError::Corrupt(format!("sealing a blob: {e}")))?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(SEALER_BUFFERS);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let thread = std::thread::spawn(move || {
            let mut plain = 0u64;
            for chunk in rx {
                stream.write_all(&chunk).map_err(sealing_error)?;
                plain += chunk.len() as u64;
                let _ = spare_tx.send(chunk);
            }
            let mut chunks = stream.finish().map_err(sealing_error)?;
            if let Err(e) = chunks.flush() {
                return Err(chunks.error.take().unwrap_or_else(|| sealing_error(e)));
            }
            Ok((chunks, plain))
        });
        Ok(ThreadedSealer {
            chunks: Some(tx),
            spare: spare_rx,
            thread: Some(thread),
            buffers: 1,
        })
    }

    fn join(&mut self) -> Result<(Chunks, u64), StoreError> {
        self.chunks = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(StoreError::Corrupt("the sealing thread failed".into())),
        }
    }
}

impl BlobWriter for ThreadedSealer {
    fn write_chunk(&mut self, chunk: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let capacity = chunk.capacity();
        let sent = self
            .chunks
            .as_ref()
            .is_some_and(|tx| tx.send(chunk).is_ok());
        let stopped = |s: &mut ThreadedSealer| match s.join() {
            Err(e) => e,
            Ok(_) => StoreError::Corrupt("the sealing thread stopped".into()),
        };
        if !sent {
            return Err(stopped(self));
        }
        if let Ok(b) = self.spare.try_recv() {
            return Ok(b);
        }
        if self.buffers < SEALER_BUFFERS + 2 {
            self.buffers += 1;
            return Ok(Vec::with_capacity(capacity));
        }
        match self.spare.recv() {
            Ok(b) => Ok(b),
            Err(_) => Err(stopped(self)),
        }
    }

    fn finish(mut self: Box<Self>, sha256: Sha256) -> Result<PendingBlob, StoreError> {
        let (chunks, plain) = self.join()?;
        let mut pending = chunks.inner.finish(sha256)?;
        pending.size = plain;
        Ok(pending)
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
        Ok(open_slot(name, keyring)?.0)
    }

    /// The archive key `keyring` guards and the slot that opened it, from an age identity
    /// file (`ATHAR_IDENTITY`), the passphrase in the environment, or the prompt (never
    /// from this process's cache).
    pub fn open_slot(name: &str, keyring: &Keyring) -> Result<(Key, String), UnlockError> {
        let how = if let Some(ids) = read_secret("ATHAR_IDENTITY")? {
            Unlock::Identities(ids)
        } else {
            match passphrase(&format!("Passphrase of the archive {name}: "))? {
                Some(p) => Unlock::Passphrase(p),
                None => return Err(UnlockError::Locked),
            }
        };
        let (key, slot) = keyring.unlock(&how)?;
        remember(&key);
        Ok((key, slot))
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
