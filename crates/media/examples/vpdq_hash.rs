//! Prints vPDQ lines for a video: `vpdq_hash FILE [SECONDS_PER_HASH [W H]]`.

use athar_media::vpdq::{self, VpdqOptions};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = a.first() else {
        eprintln!("usage: vpdq_hash FILE [SECONDS_PER_HASH [W H]]");
        std::process::exit(2);
    };
    let num = |i: usize| a.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    let opts = VpdqOptions {
        seconds_per_hash: num(1),
        downsample_width: num(2) as u32,
        downsample_height: num(3) as u32,
        ..VpdqOptions::default()
    };
    match vpdq::hash_video(file, &opts) {
        Ok(frames) => print!("{}", vpdq::format_lines(&frames)),
        Err(e) => {
            eprintln!("vpdq_hash: {e}");
            std::process::exit(1);
        }
    }
}
