//! `POST /api/cases/{case}/export`: a case handed over as a reproducible BagIt bag (the same
//! `athar_core::handover::export` as `athar export --case`, recording one `export` custody
//! event per item with the user as actor), streamed as a tar download. The JSON body names
//! the recipient and the purpose (both required: they go into the export events and
//! `bag-info.txt`), optionally a description, and whether the case's records go in the bag
//! (`records`, true unless false: `athar export --records`).
//!
//! The bag is built under the archive's `exports/` folder (same filesystem: payload files
//! are hard links to the blobs, nothing is copied), then streamed in name order with fixed
//! owners, modes and times, so the same bag gives the same tar; the folder is removed when
//! the stream ends. Admins and investigators on the case may export; analysts and viewers
//! may not (a hand-over is a custody event).

use std::io::{Read, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use athar_core::accounts::Role;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Json;
use serde_json::Value;

use crate::auth::Caller;
use crate::{blocking, ApiError, AppState};

type St = State<Arc<AppState>>;

/// What the body of an export asks for.
#[derive(Debug, PartialEq)]
struct ExportRequest {
    recipient: String,
    purpose: String,
    description: Option<String>,
    records: bool,
}

/// Reads the body, naming the field at fault: `recipient` and `purpose` required, one line
/// of at most 1000 bytes each (as `description`); `records` a boolean; nothing else.
fn parse_request(body: &Value) -> Result<ExportRequest, ApiError> {
    let Value::Object(m) = body else {
        return Err(ApiError::bad_request("body: must be a JSON object"));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["recipient", "purpose", "description", "records"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!("{k}: unknown field")));
    }
    let text = |name: &str, required: bool| -> Result<Option<String>, ApiError> {
        let v = match m.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim()).filter(|s| !s.is_empty()),
            Some(_) => return Err(ApiError::bad_request(format!("{name}: must be text"))),
        };
        match v {
            None if required => Err(ApiError::bad_request(format!("{name}: required"))),
            Some(s) if s.len() > 1000 || s.chars().any(char::is_control) => Err(
                ApiError::bad_request(format!("{name}: at most 1000 bytes on one line")),
            ),
            v => Ok(v.map(str::to_owned)),
        }
    };
    let recipient = text("recipient", true)?.unwrap_or_default();
    let purpose = text("purpose", true)?.unwrap_or_default();
    let description = text("description", false)?;
    let records = match m.get("records") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("records: must be true or false")),
    };
    Ok(ExportRequest {
        recipient,
        purpose,
        description,
        records,
    })
}

/// A file name made of the case name's safe characters.
fn slug(case: &str) -> String {
    let s: String = case
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if s.is_empty() {
        "case".to_owned()
    } else {
        s
    }
}

/// Removes the staging folder of one export when dropped (the stream ended or failed).
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn export(
    State(state): St,
    caller: Caller,
    Path(case): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let q = parse_request(&body)?;
    if !caller.can_see(&case) {
        return Err(ApiError::not_found("no such case"));
    }
    if !matches!(caller.user.role, Role::Admin | Role::Investigator) {
        return Err(ApiError::forbidden(
            "only admins and investigators hand over evidence",
        ));
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let package = format!("athar-{}-{stamp}", slug(&case));
    let who = caller.user.name.clone();
    let pkg = package.clone();
    let (cleanup, bag) = blocking(&state, move |a| {
        let items = match a.catalog.case_items(&case) {
            Ok(i) => i,
            Err(athar_core::StoreError::NotFound(_)) => {
                return Err(ApiError::not_found("no such case"))
            }
            Err(e) => return Err(e.into()),
        };
        let dir = a
            .work_dir()
            .join("exports")
            .join(crate::auth::new_secret()?);
        std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
        let cleanup = Cleanup(dir.clone());
        let bag = dir.join(&pkg);
        let organisation = a.config.archive.name.clone();
        let mut w = a.writer().map_err(ApiError::internal)?;
        let opts = athar_core::handover::ExportOptions {
            to: Some(q.recipient),
            organisation,
            contact: who,
            description: q.description,
            copy: false,
            recompute_sha512: false,
            case: Some(case),
            purpose: Some(q.purpose),
            records: q.records,
        };
        athar_core::handover::export(
            w.catalog,
            w.blobs,
            w.log,
            &mut w.logger,
            &items,
            &bag,
            &opts,
        )
        .map_err(ApiError::internal)?;
        Ok((cleanup, bag))
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let _cleanup = cleanup;
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write_tar(&bag, &mut out).and_then(|()| out.flush());
        if let Err(e) = result {
            eprintln!("athar serve: export stream: {e}");
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{package}.tar\""))
            .map_err(ApiError::internal)?,
    );
    Ok(res)
}

const CHUNK: usize = 256 * 1024;

/// Hands bytes to the response in chunks; fails when the client went away.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
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
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

/// Every file under `root` (sorted, relative, with `/`), folders before their contents.
fn entries(
    root: &FsPath,
    rel: &str,
    out: &mut Vec<(String, PathBuf, bool)>,
) -> std::io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(root.join(rel))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for n in names {
        let r = if rel.is_empty() {
            n
        } else {
            format!("{rel}/{n}")
        };
        let p = root.join(&r);
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.is_dir() {
            out.push((r.clone(), p, true));
            entries(root, &r, out)?;
        } else if meta.is_file() {
            out.push((r, p, false));
        } else {
            return Err(std::io::Error::other(format!(
                "{}: not a file or folder",
                p.display()
            )));
        }
    }
    Ok(())
}

/// Writes the folder `bag` as a POSIX ustar archive whose entries start with the folder's
/// name: owners 0, modes 0755/0644, times 0, names in order.
pub fn write_tar(bag: &FsPath, out: &mut dyn Write) -> std::io::Result<()> {
    let top = bag
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| std::io::Error::other("bag has no name"))?;
    let parent = bag.parent().unwrap_or(FsPath::new("."));
    let mut list = vec![(top.clone(), bag.to_path_buf(), true)];
    entries(parent, &top, &mut list)?;
    let mut buf = vec![0u8; CHUNK];
    for (name, path, is_dir) in list {
        if is_dir {
            out.write_all(&header(&format!("{name}/"), 0, true)?)?;
            continue;
        }
        let mut f = std::fs::File::open(&path)?;
        let size = f.metadata()?.len();
        out.write_all(&header(&name, size, false)?)?;
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            f.read_exact(&mut buf[..want])?;
            out.write_all(&buf[..want])?;
            left -= want as u64;
        }
        let pad = (512 - (size % 512) as usize) % 512;
        out.write_all(&vec![0u8; pad])?;
    }
    out.write_all(&[0u8; 1024])
}

/// One ustar header block. Names over 100 bytes are split into prefix and name at a `/`;
/// sizes of 8 GiB and more use the base-256 form GNU tar and others read.
fn header(name: &str, size: u64, dir: bool) -> std::io::Result<[u8; 512]> {
    let mut h = [0u8; 512];
    let bytes = name.as_bytes();
    let (prefix, short) = if bytes.len() <= 100 {
        (&[][..], bytes)
    } else {
        let split = (0..bytes.len())
            .rev()
            .find(|&i| bytes[i] == b'/' && i <= 155 && bytes.len() - i - 1 <= 100)
            .ok_or_else(|| std::io::Error::other(format!("{name}: name too long for tar")))?;
        (&bytes[..split], &bytes[split + 1..])
    };
    h[..short.len()].copy_from_slice(short);
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    let octal = |field: &mut [u8], v: u64| {
        let s = format!("{v:0w$o}", w = field.len() - 1);
        field[..s.len()].copy_from_slice(s.as_bytes());
    };
    octal(&mut h[100..108], if dir { 0o755 } else { 0o644 });
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    if size < (1 << 33) {
        octal(&mut h[124..136], size);
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], 0);
    h[156] = if dir { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tar_is_read_back_by_tar_and_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let bag = dir.path().join("bag-1");
        let deep = format!("data/{}", "d".repeat(90));
        std::fs::create_dir_all(bag.join(&deep)).unwrap();
        std::fs::write(bag.join("bagit.txt"), b"BagIt-Version: 1.0\n").unwrap();
        std::fs::write(bag.join(&deep).join("x".repeat(60)), vec![7u8; 1000]).unwrap();
        let mut a = Vec::new();
        write_tar(&bag, &mut a).unwrap();
        let mut b = Vec::new();
        write_tar(&bag, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len() % 512, 0);
        let tarfile = dir.path().join("out.tar");
        std::fs::write(&tarfile, &a).unwrap();
        let list = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&tarfile)
            .output()
            .unwrap();
        assert!(list.status.success());
        let listed = String::from_utf8(list.stdout).unwrap();
        assert!(listed.contains("bag-1/bagit.txt"), "{listed}");
        assert!(
            listed.contains(&format!("bag-1/{deep}/{}", "x".repeat(60))),
            "{listed}"
        );
        let again = dir.path().join("again");
        std::fs::create_dir(&again).unwrap();
        let x = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&tarfile)
            .arg("-C")
            .arg(&again)
            .output()
            .unwrap();
        assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
        assert_eq!(
            std::fs::read(again.join("bag-1").join(&deep).join("x".repeat(60))).unwrap(),
            vec![7u8; 1000]
        );
    }

    #[test]
    fn export_body_names_the_field_at_fault() {
        let parse = |v: Value| parse_request(&v).map_err(|e| e.message);
        assert_eq!(
            parse(serde_json::json!({"recipient": " Synthetic Court ", "purpose": "trial"})),
            Ok(ExportRequest {
                recipient: "Synthetic Court".into(),
                purpose: "trial".into(),
                description: None,
                records: true,
            })
        );
        for (body, field) in [
            (
                serde_json::json!({"purpose": "trial"}),
                "recipient: required",
            ),
            (
                serde_json::json!({"recipient": "  ", "purpose": "trial"}),
                "recipient: required",
            ),
            (serde_json::json!({"recipient": "c"}), "purpose: required"),
            (
                serde_json::json!({"recipient": "c", "purpose": "a\nb"}),
                "purpose: at most",
            ),
            (
                serde_json::json!({"recipient": "c", "purpose": "p", "records": "yes"}),
                "records:",
            ),
            (
                serde_json::json!({"recipient": "c", "purpose": "p", "to": "x"}),
                "to: unknown",
            ),
            (serde_json::json!([1]), "body:"),
        ] {
            let e = parse(body.clone()).unwrap_err();
            assert!(e.starts_with(field), "{body}: {e}");
        }
    }

    #[test]
    fn huge_sizes_use_base_256() {
        let h = header("big", 10 << 30, false).unwrap();
        assert_eq!(h[124], 0x80);
        assert_eq!(
            u64::from_be_bytes(h[128..136].try_into().unwrap()),
            10 << 30
        );
    }
}
