//! `athar key`: the keyring of an encrypted archive. Slots are added and removed without
//! touching the data.

use athar_crypt::Slot;
use athar_store::Archive;
use serde_json::json;

/// What `athar key` does.
#[derive(clap::Subcommand, Debug)]
pub enum KeyCommand {
    /// The keyring's slots (passphrases and age recipients) and cases with their own key.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Adds a passphrase (from ATHAR_NEW_PASSPHRASE, else typed twice on the terminal).
    /// To change the passphrase, add the new one and remove the old slot.
    AddPassphrase,
    /// Adds an age recipient (`age1…`): its identity opens the archive (ATHAR_IDENTITY),
    /// for a second admin or an offline recovery key.
    AddRecipient {
        recipient: String,
        /// What the recipient is (shown by `athar key list`).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Removes a slot by its id (`p1`, `r1` …); the last one is never removed.
    Remove { slot: String },
}

/// `athar unlock`: opens the keyring with what is given (ATHAR_IDENTITY, ATHAR_PASSPHRASE,
/// ATHAR_PASSPHRASE_FILE or the prompt), as every command does, and says which slot opened
/// it; nothing else is done. Checks a recovery key or a new passphrase before it is needed.
pub fn unlock(root: &std::path::Path, as_json: bool) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let path = root.join("keys/keyring.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Not an archive at all, or a plain one: say which.
            let archive = Archive::open(root, athar_store::Access::Read)?;
            anyhow::ensure!(
                archive.is_encrypted(),
                "{}: the archive is not encrypted; there is nothing to unlock",
                root.display()
            );
            return Err(e).with_context(|| path.display().to_string());
        }
        Err(e) => return Err(e).with_context(|| path.display().to_string()),
    };
    let ring = athar_crypt::Keyring::parse(&bytes).with_context(|| path.display().to_string())?;
    let (key, slot) = athar_store::sealed::unlock::open_slot(&root.display().to_string(), &ring)
        .map_err(|source| athar_store::ArchiveError::Unlock {
            path: root.to_owned(),
            source,
        })?;
    if as_json {
        println!("{}", json!({"key_id": key.id(), "slot": slot}));
    } else {
        println!("Slot {slot} opens archive key {}", key.id());
    }
    Ok(())
}

/// Runs a key command on an archive opened for writing.
pub fn run(archive: &Archive, cmd: &KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::List { json } => list(archive, *json),
        KeyCommand::AddPassphrase => {
            let pass = new_passphrase()?;
            let id = archive.change_keyring(|ring, key| ring.add_passphrase(key, &pass))?;
            println!("Added passphrase slot {id}");
            Ok(())
        }
        KeyCommand::AddRecipient { recipient, label } => {
            let id =
                archive.change_keyring(|ring, key| ring.add_recipient(key, recipient, label))?;
            println!("Added age recipient slot {id}");
            Ok(())
        }
        KeyCommand::Remove { slot } => {
            archive.change_keyring(|ring, _| ring.remove_slot(slot))?;
            println!("Removed slot {slot}");
            Ok(())
        }
    }
}

fn list(archive: &Archive, as_json: bool) -> anyhow::Result<()> {
    let Some(ring) = archive.keyring()? else {
        anyhow::bail!("the archive is not encrypted: it has no keyring");
    };
    let slots: Vec<_> = ring
        .slots
        .iter()
        .map(|s| match s {
            Slot::Passphrase { id, .. } => json!({"slot": id, "kind": "passphrase"}),
            Slot::Age {
                id,
                recipient,
                label,
                ..
            } => json!({"slot": id, "kind": "age", "recipient": recipient, "label": label}),
        })
        .collect();
    if as_json {
        let v = json!({"key_id": ring.key_id, "slots": slots,
            "case_keys": ring.cases.keys().collect::<Vec<_>>(), "erased": ring.erased});
        println!("{v}");
        return Ok(());
    }
    println!("Archive key {}", ring.key_id);
    for s in &slots {
        let extra = match s["kind"].as_str() {
            Some("age") => format!(
                "  {}  {}",
                s["recipient"].as_str().unwrap_or_default(),
                s["label"].as_str().unwrap_or_default()
            ),
            _ => String::new(),
        };
        println!(
            "{}  {}{extra}",
            s["slot"].as_str().unwrap_or_default(),
            s["kind"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// A new passphrase from ATHAR_NEW_PASSPHRASE, else typed twice on the terminal.
fn new_passphrase() -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Ok(p) = std::env::var("ATHAR_NEW_PASSPHRASE") {
        anyhow::ensure!(
            !p.is_empty(),
            "ATHAR_NEW_PASSPHRASE: the passphrase must not be empty"
        );
        return Ok(zeroize::Zeroizing::new(p));
    }
    let first = crate::ask_passphrase("New passphrase: ").ok_or_else(|| {
        anyhow::anyhow!("give the new passphrase in ATHAR_NEW_PASSPHRASE, or run on a terminal")
    })?;
    anyhow::ensure!(!first.is_empty(), "the passphrase must not be empty");
    let again = crate::ask_passphrase("The same passphrase again: ").unwrap_or_default();
    anyhow::ensure!(
        *first == *again,
        "the two passphrases differ; nothing was changed"
    );
    Ok(first)
}
