//! Compiles every file under `assets/` into the binary: writes `assets.rs` into `OUT_DIR`
//! with one entry (path under `/assets/`, content type, bytes) per file, so a new script,
//! message catalogue or map layer needs no edit to the server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("assets");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .expect("under assets")
            .to_str()
            .expect("asset paths are UTF-8")
            .replace('\\', "/");
        let Some(content_type) = content_type(&rel) else {
            continue;
        };
        let _ = writeln!(
            out,
            "    Asset {{ name: {rel:?}, content_type: {content_type:?}, bytes: include_bytes!({:?}) }},",
            file.display().to_string()
        );
    }
    out.push(']');
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("assets.rs");
    std::fs::write(dest, out).expect("write assets.rs");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("read assets").path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The content type a file is served with; other files (HTML pages, served by their own
/// routes; notes) are not assets.
fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('.').next().unwrap_or_default();
    Some(match ext {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "pbf" => "application/x-protobuf",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ if name.ends_with("LICENSE") => "text/plain; charset=utf-8",
        _ => return None,
    })
}
