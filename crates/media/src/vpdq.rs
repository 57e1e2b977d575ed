//! vPDQ video hashing: PDQ of decoded frames, compatible with Meta
//! ThreatExchange's reference vPDQ (`vpdq/cpp`, PyPI `vpdq` 0.2.5).
//!
//! Frames are decoded by FFmpeg running as a supervised child process
//! (time and memory limits), converted to RGB24 by swscale with `SWS_AREA`
//! at the native or requested size, and streamed over a pipe one frame at a
//! time (constant memory). FFmpeg is started first and ffprobe beside it:
//! FFmpeg reads its filter graph (size, range, frame selection: what the
//! probe decides) from stdin once it has opened the input, so the two
//! start-ups overlap. Each frame is hashed as the reference does: float
//! luma (`fillFloatLumaFromRGB`) and `pdqHash256FromFloatLuma`, including its
//! shortcut that skips filtering for exactly 64×64 frames; frames are hashed
//! on all cores while FFmpeg decodes the next ones.
//!
//! With the frame variants ([`crate::variants`]), FFmpeg writes a second output: every
//! decoded frame's luma plane, reduced as the variants' frames are, to a named pipe read on
//! its own thread ([`crate::process::SideOutput`]); the `area` variant is taken from it.
//!
//! Frame numbers count decoded frames from 0; the timestamp is
//! `frame_number / frame_rate` in single precision, like the reference.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::local_match::{self, LocalFrame};
use crate::pdq::{LumaMode, PdqHash, PdqHasher, MATCH_DISTANCE, MIN_HASHABLE_DIM, MIN_QUALITY};
use crate::process::{self, Limits};
use crate::variants::VariantHash;
use crate::windows::QueryGrid;
use crate::MediaError;

/// Largest frame side accepted (guards buffer sizes against hostile headers).
pub const MAX_FRAME_DIM: u32 = 16384;

/// How to hash a video.
#[derive(Clone, Debug, PartialEq)]
pub struct VpdqOptions {
    /// 0: hash every frame. Otherwise hash frame `n` when
    /// `n % trunc(seconds_per_hash * frame_rate) == 0` (reference rule).
    pub seconds_per_hash: f64,
    /// Scale frames to this width before hashing; 0 keeps the native width.
    pub downsample_width: u32,
    /// Scale frames to this height before hashing; 0 keeps the native height.
    pub downsample_height: u32,
    /// Stop after this many decoded frames (`None`: the whole video).
    pub max_frames: Option<u64>,
    /// Hashing threads (0: one per available core). Frames are emitted in
    /// order whatever this is.
    pub threads: usize,
    /// Limits for each FFmpeg/ffprobe child process.
    pub limits: Limits,
    /// FFmpeg executable (looked up on PATH when not a path).
    pub ffmpeg: PathBuf,
    /// ffprobe executable (looked up on PATH when not a path).
    pub ffprobe: PathBuf,
}

impl Default for VpdqOptions {
    fn default() -> Self {
        VpdqOptions {
            seconds_per_hash: 0.0,
            downsample_width: 0,
            downsample_height: 0,
            max_frames: None,
            threads: 0,
            limits: Limits {
                time: Duration::from_secs(30 * 60),
                memory_bytes: 4 << 30,
            },
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
        }
    }
}

/// The PDQ hash of one video frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqFrame {
    /// Index of the frame among all decoded frames, from 0.
    pub frame_number: u64,
    /// PDQ quality 0..=100.
    pub quality: u8,
    pub hash: PdqHash,
    /// Seconds from the start: `frame_number / frame_rate` (single precision).
    pub timestamp: f64,
}

impl VpdqFrame {
    /// `frame,quality,hex,timestamp` as the reference writes it.
    pub fn to_line(&self) -> String {
        format!(
            "{},{},{},{:.3}",
            self.frame_number, self.quality, self.hash, self.timestamp
        )
    }

    /// Parses one `frame,quality,hex,timestamp` line.
    pub fn parse_line(line: &str) -> Result<Self, MediaError> {
        let bad = |reason: &str| MediaError::BadVpdqLine {
            line: 0,
            reason: reason.to_string(),
        };
        let mut f = line.trim().split(',');
        let (Some(n), Some(q), Some(h), Some(t), None) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err(bad("expected 4 comma-separated fields"));
        };
        let frame_number = n.trim().parse().map_err(|_| bad("bad frame number"))?;
        let quality: u8 = q.trim().parse().map_err(|_| bad("bad quality"))?;
        if quality > 100 {
            return Err(bad("quality above 100"));
        }
        let hash = PdqHash::from_hex(h.trim()).map_err(|_| bad("bad hash"))?;
        let timestamp: f64 = t.trim().parse().map_err(|_| bad("bad timestamp"))?;
        if !timestamp.is_finite() {
            return Err(bad("bad timestamp"));
        }
        Ok(VpdqFrame {
            frame_number,
            quality,
            hash,
            timestamp,
        })
    }
}

/// Parses a whole vPDQ file (one frame per line; blank lines ignored).
pub fn parse_lines(text: &str) -> Result<Vec<VpdqFrame>, MediaError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            VpdqFrame::parse_line(l).map_err(|e| match e {
                MediaError::BadVpdqLine { reason, .. } => MediaError::BadVpdqLine {
                    line: i + 1,
                    reason,
                },
                other => other,
            })
        })
        .collect()
}

/// Formats frames as the reference's text output, one line each.
pub fn format_lines(frames: &[VpdqFrame]) -> String {
    frames.iter().map(|f| f.to_line() + "\n").collect()
}

/// Video stream properties, as the reference reads them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// `avg_frame_rate`, or `r_frame_rate` when that is 0 or undefined.
    pub frame_rate: f64,
    pub pix_fmt_is_yuvj: bool,
    pub pix_fmt_is_yuv: bool,
}

/// Hashes a video, returning all selected frames in order.
pub fn hash_video(
    path: impl AsRef<Path>,
    opts: &VpdqOptions,
) -> Result<Vec<VpdqFrame>, MediaError> {
    let mut out = Vec::new();
    hash_video_each(path, opts, |f| out.push(f))?;
    Ok(out)
}

/// Hashes a video, handing each frame's hash to `sink` as soon as it is
/// computed (memory stays constant).
pub fn hash_video_each(
    path: impl AsRef<Path>,
    opts: &VpdqOptions,
    mut sink: impl FnMut(VpdqFrame),
) -> Result<(), MediaError> {
    hash_video_inner(
        path.as_ref(),
        opts,
        Extras::None,
        false,
        &mut |f, _, _, _| sink(f),
    )
    .map(|_| ())
}

/// Hashes a video as [`hash_video`] does and, from the same decoded frames, each frame's
/// [`crate::variants`] hashes (Athar's own, for matching beyond the reference). The
/// reference hashes are identical to [`hash_video`]'s.
pub fn hash_video_with_variants(
    path: impl AsRef<Path>,
    opts: &VpdqOptions,
) -> Result<(Vec<VpdqFrame>, Vec<VariantHash>), MediaError> {
    let (frames, variants, _) = hash_video_fingerprints(path, opts, false)?;
    Ok((frames, variants))
}

/// A video's fingerprints as the archive stores them, from one decode: the reference
/// hashes (identical to [`hash_video`]'s), the frame variants and, with `local`, the local
/// features of sampled frames ([`crate::local_match`]: the first frame of every
/// [`local_match::SAMPLE_SECONDS`], thinned to [`local_match::MAX_FRAMES`]).
#[allow(clippy::type_complexity)]
pub fn hash_video_fingerprints(
    path: impl AsRef<Path>,
    opts: &VpdqOptions,
    local: bool,
) -> Result<(Vec<VpdqFrame>, Vec<VariantHash>, Vec<LocalFrame>), MediaError> {
    let (mut frames, mut variants, mut locals) = (Vec::new(), Vec::new(), Vec::new());
    let luma = hash_video_inner(
        path.as_ref(),
        opts,
        Extras::Variants,
        local,
        &mut |f, v, _, l| {
            frames.push(f);
            variants.extend(v);
            locals.extend(l);
        },
    )?;
    merge_luma(&frames, &mut variants, luma);
    Ok((frames, variants, local_match::thin(locals)))
}

/// Adds the variants taken from the decoder's luma ([`crate::variants::luma_area`]) to a
/// video's others, for the frames that were hashed, in frame order.
fn merge_luma(frames: &[VpdqFrame], variants: &mut Vec<VariantHash>, luma: Vec<VariantHash>) {
    let last = frames.last().map_or(0, |f| f.frame_number);
    variants.extend(luma.into_iter().filter(|v| v.frame_number <= last));
    variants.sort_by_key(|v| v.frame_number);
}

/// A video hashed to be searched for: its frames, their variants and the crop window grids
/// of a sample of its frames ([`crate::windows`]; computed for queries, not stored).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryHashes {
    pub frames: Vec<VpdqFrame>,
    pub variants: Vec<VariantHash>,
    pub grids: Vec<QueryGrid>,
    /// Local features of sampled frames ([`crate::local_match`]).
    pub local: Vec<LocalFrame>,
}

/// Hashes a video as [`hash_video_with_variants`] does and lays the crop window grid over
/// about one frame a second ([`crate::windows::SAMPLE_SECONDS`]); the local features of
/// sampled frames as [`hash_video_fingerprints`] makes them.
pub fn hash_video_for_query(
    path: impl AsRef<Path>,
    opts: &VpdqOptions,
) -> Result<QueryHashes, MediaError> {
    let mut out = QueryHashes::default();
    let luma = hash_video_inner(
        path.as_ref(),
        opts,
        Extras::Grids,
        true,
        &mut |f, v, g, l| {
            out.frames.push(f);
            out.variants.extend(v);
            out.grids.extend(g);
            out.local.extend(l);
        },
    )?;
    merge_luma(&out.frames, &mut out.variants, luma);
    out.local = local_match::thin(std::mem::take(&mut out.local));
    Ok(out)
}

/// What the frame hashers compute beside the reference hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Extras {
    None,
    /// The frame variants.
    Variants,
    /// The frame variants and, on sampled frames, the crop window grid.
    Grids,
}

/// What the frame hashers hand on: the reference hash and (when asked) the variants, the
/// crop window grid and the local features.
type Sink<'a> = dyn FnMut(VpdqFrame, Vec<VariantHash>, Option<QueryGrid>, Option<LocalFrame>) + 'a;

/// An output's stream options: the first video stream alone, every decoded frame passed
/// on as it is (no frames dropped or repeated to a rate).
const VIDEO_ONLY: [&str; 7] = [
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    "-fps_mode",
    "passthrough",
];

/// Hashes the frames, handing each to `sink`; with extras, also returns the variants taken
/// from the decoder's luma, which arrive on a second output ([`LumaOutput`]).
fn hash_video_inner(
    path: &Path,
    opts: &VpdqOptions,
    extras: Extras,
    local: bool,
    sink: &mut Sink<'_>,
) -> Result<Vec<VariantHash>, MediaError> {
    crate::regular_file(path)?;
    let ffmpeg = find_tool(&opts.ffmpeg, path)?;
    let side = match extras {
        Extras::None => None,
        Extras::Variants | Extras::Grids => Some(LumaOutput::start().map_err(|e| {
            MediaError::io(
                path,
                io::Error::new(
                    e.kind(),
                    format!("cannot make a pipe in the temporary folder: {e}"),
                ),
            )
        })?),
    };
    // FFmpeg is started before the probe and reads its filter graph (the
    // only part of its command line that depends on the probe) from stdin,
    // after it has opened the input: its start-up and input probing overlap
    // ffprobe's instead of following it.
    let mut args: Vec<OsString> = [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-noautorotate",
        "-i",
    ]
    .iter()
    .map(OsString::from)
    .chain([path.as_os_str().to_owned()])
    .chain(
        VIDEO_ONLY
            .iter()
            .chain(&[
                "-filter_script:v",
                "pipe:0",
                "-pix_fmt",
                "rgb24",
                "-f",
                "rawvideo",
                "pipe:1",
            ])
            .map(OsString::from),
    )
    .collect();
    if let Some(side) = &side {
        // The same frames' luma, reduced as the variants' frames are, as a second output
        // (the named pipe exists already: `-y` lets FFmpeg open it).
        args.insert(0, "-y".into());
        let filter = luma_filter(opts);
        args.extend(
            VIDEO_ONLY
                .iter()
                .chain(&["-vf", &filter, "-f", "rawvideo"])
                .map(OsString::from),
        );
        // `file:`, so that no character of the temporary folder's path reads as a protocol.
        let mut to = OsString::from("file:");
        to.push(side.side.path());
        args.push(to);
    }
    let mut child = process::spawn_with_input(&ffmpeg, &args, opts.limits, path)?;
    let plan = probe(path, opts).and_then(|info| plan_frames(path, &info, opts));
    let (plan, filter) = match plan {
        Ok(p) => p,
        Err(e) => {
            child.abort();
            return Err(e);
        }
    };
    let (width, height, frame_mod, fps32) = (plan.width, plan.height, plan.frame_mod, plan.fps);
    if let Some(side) = &side {
        let _ = side.plan.send(LumaPlan {
            size: crate::variants::reduced_size(width as usize, height as usize),
            frame_mod,
            fps: fps32,
        });
    }
    if let Err(e) = child.send_input(filter.as_bytes()) {
        child.abort();
        return Err(e);
    }
    child.grow_stdout_pipe(width as usize * height as usize * 3);
    let job = FrameJob {
        width: width as usize,
        height: height as usize,
        frame_mod,
        stride: frame_mod,
        max_frames: opts.max_frames,
        fps: fps32,
        path: path.to_path_buf(),
        extras,
        local,
    };
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let outcome = if threads <= 1 {
        hash_frames_sequential(&mut child, &job, sink)
    } else {
        hash_frames_parallel(&mut child, &job, threads, sink)
    };
    match outcome {
        Ok(Stop::EndOfStream) => child.finish().map(|_| ())?,
        Ok(Stop::FrameLimit) => {
            // The luma of the last frames hashed may still be on its way: give the reader
            // a bounded moment to take it in before FFmpeg is stopped.
            if let (Some(side), Some(max)) = (&side, opts.max_frames) {
                side.wait_for(max, std::time::Duration::from_secs(2));
            }
            child.abort();
        }
        Err(e) => {
            child.abort();
            return Err(e);
        }
    }
    match side.map(LumaOutput::finish) {
        None => Ok(Vec::new()),
        Some(Some(Ok(luma))) => Ok(luma),
        Some(Some(Err(e))) => Err(MediaError::io(path, e)),
        Some(None) => Err(MediaError::io(
            path,
            io::Error::other("luma reader stopped"),
        )),
    }
}

/// What the luma output's reader needs to know of the frames.
struct LumaPlan {
    /// Size of each luma frame (`None`: too small for variants; the output is drained).
    size: Option<(usize, usize)>,
    frame_mod: u64,
    fps: f32,
}

/// FFmpeg's filter for the luma output: every decoded frame's luma plane, reduced as
/// [`crate::variants::reduced_size`] reduces the hashed frame size (written with FFmpeg's
/// `iw`/`ih` where the frame keeps its native size, so it needs no probe).
fn luma_filter(opts: &VpdqOptions) -> String {
    let side = |set: u32, native: &str| {
        if set > 0 {
            set.to_string()
        } else {
            native.to_owned()
        }
    };
    let (w, h) = (
        side(opts.downsample_width, "iw"),
        side(opts.downsample_height, "ih"),
    );
    let f = format!("max(1,trunc(min({w},{h})/{}))", crate::variants::WORK_SIDE);
    format!("scale=w='trunc({w}/{f})':h='trunc({h}/{f})':flags=area,format=gray")
}

/// FFmpeg's second output when variants are made: the decoded frames' reduced luma, read as
/// it arrives; the reader learns the frame plan once the probe is in.
struct LumaOutput {
    /// Dropped first (fields drop in order), so a reader still waiting for the plan stops.
    plan: mpsc::Sender<LumaPlan>,
    side: process::SideOutput<io::Result<Vec<VariantHash>>>,
    /// Luma frames read so far.
    read: Arc<AtomicU64>,
}

impl LumaOutput {
    /// Starts the reader: it reads every decoded frame's reduced luma plane and, for the
    /// frames that are hashed, computes the `area` variant from it.
    fn start() -> io::Result<LumaOutput> {
        let (plan, wait) = mpsc::channel::<LumaPlan>();
        let read = Arc::new(AtomicU64::new(0));
        let counter = read.clone();
        let side = process::SideOutput::start(move |pipe| {
            let mut pipe = pipe?;
            let Ok(plan) = wait.recv() else {
                return Ok(Vec::new());
            };
            let _ = rustix::pipe::fcntl_setpipe_size(&pipe, 1 << 20);
            // A frame too small for variants is still read (FFmpeg must not block on it).
            let (w, h) = plan.size.unwrap_or((0, 0));
            let mut record = vec![0u8; if w * h > 0 { w * h } else { 1 << 16 }];
            let mut out = Vec::new();
            let mut n: u64 = 0;
            while read_full(&mut pipe, &mut record)? {
                if plan.size.is_some() && n % plan.frame_mod == 0 {
                    let t = frame_time(n, plan.fps);
                    out.extend(crate::variants::luma_area(&record, w, h, n, t));
                }
                n += 1;
                counter.store(n, Ordering::Release);
            }
            Ok(out)
        })?;
        Ok(LumaOutput { plan, side, read })
    }

    /// Waits until `frames` luma frames were read, or `limit` has passed.
    fn wait_for(&self, frames: u64, limit: std::time::Duration) {
        let start = std::time::Instant::now();
        while self.read.load(Ordering::Acquire) < frames && start.elapsed() < limit {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Once FFmpeg has ended: the `area` variants read (`None` if the reader panicked).
    fn finish(self) -> Option<io::Result<Vec<VariantHash>>> {
        let LumaOutput { plan, side, .. } = self;
        drop(plan);
        side.finish()
    }
}

/// Fills `buf` from `r`; `false` at the end of the stream (a part-filled last record is
/// dropped).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// A frame's timestamp as the reference computes it (single precision).
fn frame_time(n: u64, fps: f32) -> f64 {
    ((n as f32) / fps) as f64
}

/// Frame size, selection and rate for one video, from its probe.
struct FramePlan {
    width: u32,
    height: u32,
    frame_mod: u64,
    fps: f32,
}

/// Works out the frames to hash and the FFmpeg filter graph that delivers
/// them: (frame selection,) scaling and conversion as the reference does.
fn plan_frames(
    path: &Path,
    info: &VideoInfo,
    opts: &VpdqOptions,
) -> Result<(FramePlan, String), MediaError> {
    let width = if opts.downsample_width > 0 {
        opts.downsample_width
    } else {
        info.width
    };
    let height = if opts.downsample_height > 0 {
        opts.downsample_height
    } else {
        info.height
    };
    if width > MAX_FRAME_DIM || height > MAX_FRAME_DIM {
        return Err(MediaError::BadVideo {
            path: path.to_path_buf(),
            reason: format!("frame size {width}x{height} above the {MAX_FRAME_DIM} limit"),
        });
    }
    if (width as usize) < MIN_HASHABLE_DIM || (height as usize) < MIN_HASHABLE_DIM {
        return Err(MediaError::BadVideo {
            path: path.to_path_buf(),
            reason: format!("frame size {width}x{height} below the minimum hashable size"),
        });
    }
    let frame_mod = {
        let m = (opts.seconds_per_hash * info.frame_rate) as i64;
        if m <= 0 {
            1
        } else {
            m as u64
        }
    };
    let mut scale = format!("scale={width}:{height}:flags=area:in_color_matrix=bt601");
    // sws_getContext in the reference takes the range from the pixel format
    // alone (full only for yuvj*), whatever the stream's tags say.
    if info.pix_fmt_is_yuvj {
        scale.push_str(":in_range=pc");
    } else if info.pix_fmt_is_yuv {
        scale.push_str(":in_range=tv");
    }
    // Frames that will not be hashed are dropped by FFmpeg before they are
    // converted and piped: the select filter sees every decoded frame, so
    // its `n` is the reference's frame number.
    if frame_mod > 1 {
        scale = format!("select='not(mod(n,{frame_mod}))',{scale}");
    }
    let plan = FramePlan {
        width,
        height,
        frame_mod,
        fps: info.frame_rate as f32,
    };
    Ok((plan, scale))
}

/// Why frame reading stopped.
enum Stop {
    EndOfStream,
    FrameLimit,
}

struct FrameJob {
    width: usize,
    height: usize,
    frame_mod: u64,
    /// Frame-number step between frames read from the pipe.
    stride: u64,
    max_frames: Option<u64>,
    fps: f32,
    path: PathBuf,
    /// Also compute each frame's variant hashes (and grids).
    extras: Extras,
    /// Also extract local features from sampled frames.
    local: bool,
}

impl FrameJob {
    fn frame_bytes(&self) -> usize {
        self.width * self.height * 3
    }

    fn hash(&self, hasher: &mut PdqHasher, buf: &[u8], n: u64) -> Result<Frame, MediaError> {
        let (w, h) = (self.width, self.height);
        let timestamp = frame_time(n, self.fps);
        let (hash, quality, variants) = if self.extras != Extras::None {
            // The variants need the frame's dihedral hashes.
            let r = hasher.hash_rgb_mode(buf, w, h, w * 3, LumaMode::Float, true)?;
            let v = crate::variants::frame_variants(hasher, buf, w, h, &r, n, timestamp)?;
            (r.hash, r.quality, v)
        } else {
            let (hash, quality) = hasher.hash_rgb_plain(buf, w, h, w * 3, LumaMode::Float, true)?;
            (hash, quality, Vec::new())
        };
        let previous = n.checked_sub(self.stride).map(|p| frame_time(p, self.fps));
        let features = if self.local && local_match::sampled(timestamp, previous) {
            Some(LocalFrame {
                frame_number: n,
                timestamp,
                features: local_match::frame_features(buf, w, h)?,
            })
        } else {
            None
        };
        let grid = if self.extras == Extras::Grids && crate::windows::sampled(timestamp, previous) {
            Some(QueryGrid {
                frame_number: n,
                timestamp,
                hashes: crate::windows::frame_grid(hasher, buf, w, h)?,
            })
        } else {
            None
        };
        Ok((
            VpdqFrame {
                frame_number: n,
                quality,
                hash,
                timestamp,
            },
            variants,
            grid,
            features,
        ))
    }
}

/// A frame's reference hash, its variants, its crop window grid and its local features.
type Frame = (
    VpdqFrame,
    Vec<VariantHash>,
    Option<QueryGrid>,
    Option<LocalFrame>,
);

fn hash_frames_sequential(
    child: &mut process::Supervised,
    job: &FrameJob,
    sink: &mut Sink<'_>,
) -> Result<Stop, MediaError> {
    let mut buf = vec![0u8; job.frame_bytes()];
    let mut hasher = PdqHasher::new();
    let mut n: u64 = 0;
    loop {
        if job.max_frames.is_some_and(|max| n >= max) {
            return Ok(Stop::FrameLimit);
        }
        if !child.read_frame(&mut buf)? {
            return Ok(Stop::EndOfStream);
        }
        if n % job.frame_mod == 0 {
            let (f, v, g, l) = job.hash(&mut hasher, &buf, n)?;
            sink(f, v, g, l);
        }
        n += job.stride;
    }
}

type Hashed = (u64, Result<Frame, MediaError>, Vec<u8>);

/// Reads frames on this thread and hashes them on `threads` workers; at most
/// `2 * threads + 1` frame buffers exist at once. Results are re-ordered so
/// `sink` sees frames in order.
fn hash_frames_parallel(
    child: &mut process::Supervised,
    job: &FrameJob,
    threads: usize,
    sink: &mut Sink<'_>,
) -> Result<Stop, MediaError> {
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, u64, Vec<u8>)>(threads);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<Hashed>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let res_tx = res_tx.clone();
            let job_rx = &job_rx;
            s.spawn(move || {
                let mut hasher = PdqHasher::new();
                loop {
                    let next = job_rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok((seq, n, buf)) = next else { break };
                    let r = job.hash(&mut hasher, &buf, n);
                    if res_tx.send((seq, r, buf)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);

        let mut st = Reorder::default();
        let max_buffers = 2 * threads + 1;
        let mut n: u64 = 0;
        let mut next_seq: u64 = 0;
        let outcome = loop {
            if let Some(e) = st.error.take() {
                break Err(e);
            }
            if job.max_frames.is_some_and(|max| n >= max) {
                break Ok(Stop::FrameLimit);
            }
            let mut buf = match st.pool.pop() {
                Some(b) => b,
                None if st.buffers < max_buffers => {
                    st.buffers += 1;
                    vec![0u8; job.frame_bytes()]
                }
                None => {
                    match res_rx.recv() {
                        Ok(done) => st.accept(done, sink),
                        Err(_) => break Err(worker_gone(&job.path)),
                    }
                    continue;
                }
            };
            match child.read_frame(&mut buf) {
                Ok(true) => {}
                Ok(false) => break Ok(Stop::EndOfStream),
                Err(e) => break Err(e),
            }
            if n % job.frame_mod == 0 {
                if job_tx.send((next_seq, n, buf)).is_err() {
                    break Err(worker_gone(&job.path));
                }
                next_seq += 1;
                st.in_flight += 1;
            } else {
                st.pool.push(buf);
            }
            n += job.stride;
            while let Ok(done) = res_rx.try_recv() {
                st.accept(done, sink);
            }
        };
        drop(job_tx);
        while st.in_flight > 0 {
            match res_rx.recv() {
                Ok(done) => st.accept(done, sink),
                Err(_) => break,
            }
        }
        match (outcome, st.error.take()) {
            (Err(e), _) | (Ok(_), Some(e)) => Err(e),
            (Ok(stop), None) => Ok(stop),
        }
    })
}

fn worker_gone(path: &Path) -> MediaError {
    MediaError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("frame hashing worker stopped"),
    }
}

#[derive(Default)]
struct Reorder {
    pool: Vec<Vec<u8>>,
    buffers: usize,
    in_flight: usize,
    pending: BTreeMap<u64, Frame>,
    next_emit: u64,
    error: Option<MediaError>,
}

impl Reorder {
    fn accept(&mut self, (seq, r, buf): Hashed, sink: &mut Sink<'_>) {
        self.in_flight -= 1;
        self.pool.push(buf);
        match r {
            Ok(f) => {
                self.pending.insert(seq, f);
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        while let Some((f, v, g, l)) = self.pending.remove(&self.next_emit) {
            sink(f, v, g, l);
            self.next_emit += 1;
        }
    }
}

/// Reads the first video stream's size, frame rate and pixel format.
pub fn probe(path: &Path, opts: &VpdqOptions) -> Result<VideoInfo, MediaError> {
    let ffprobe = find_tool(&opts.ffprobe, path)?;
    let args: Vec<OsString> = [
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height,pix_fmt,avg_frame_rate,r_frame_rate",
        "-of",
        "default=noprint_wrappers=1",
    ]
    .iter()
    .map(OsString::from)
    .chain([path.as_os_str().to_owned()])
    .collect();
    let limits = Limits {
        time: opts.limits.time.min(Duration::from_secs(60)),
        ..opts.limits
    };
    let mut child = process::spawn(&ffprobe, &args, limits, path)?;
    let mut text = Vec::new();
    {
        use std::io::Read;
        let mut limited = (&mut child.stdout).take(64 * 1024);
        if let Err(e) = limited.read_to_end(&mut text) {
            child.abort();
            return Err(MediaError::io(path, e));
        }
    }
    child.finish()?;
    parse_probe(&String::from_utf8_lossy(&text)).map_err(|reason| MediaError::BadVideo {
        path: path.to_path_buf(),
        reason,
    })
}

fn parse_probe(text: &str) -> Result<VideoInfo, String> {
    let get = |k: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(key, _)| key.trim() == k)
            .map(|(_, v)| v.trim())
    };
    let width: u32 = get("width")
        .ok_or("no video stream")?
        .parse()
        .map_err(|_| "bad width")?;
    let height: u32 = get("height")
        .ok_or("no video stream")?
        .parse()
        .map_err(|_| "bad height")?;
    if width == 0 || height == 0 {
        return Err("width or height is 0".into());
    }
    let rate = |k: &str| -> Option<f64> {
        let (n, d) = get(k)?.split_once('/')?;
        let (n, d): (i64, i64) = (n.parse().ok()?, d.parse().ok()?);
        (n != 0 && d != 0).then(|| n as f64 / d as f64)
    };
    let frame_rate = rate("avg_frame_rate")
        .or_else(|| rate("r_frame_rate"))
        .ok_or("frame rate is 0")?;
    if !(frame_rate.is_finite() && frame_rate > 0.0) {
        return Err("bad frame rate".into());
    }
    let pix = get("pix_fmt").unwrap_or("");
    Ok(VideoInfo {
        width,
        height,
        frame_rate,
        pix_fmt_is_yuvj: pix.starts_with("yuvj"),
        pix_fmt_is_yuv: pix.starts_with("yuv"),
    })
}

/// Resolves a tool name on PATH (or checks an explicit path).
pub(crate) fn find_tool(tool: &Path, media: &Path) -> Result<PathBuf, MediaError> {
    let missing = || MediaError::ToolMissing {
        path: media.to_path_buf(),
        tool: tool.display().to_string(),
    };
    if tool.components().count() > 1 {
        return if tool.is_file() {
            Ok(tool.to_path_buf())
        } else {
            Err(missing())
        };
    }
    let paths = std::env::var_os("PATH").ok_or_else(missing)?;
    std::env::split_paths(&paths)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or_else(missing)
}

/// Whether FFmpeg and ffprobe can be found with these options.
pub fn ffmpeg_available(opts: &VpdqOptions) -> bool {
    let p = Path::new("");
    find_tool(&opts.ffmpeg, p).is_ok() && find_tool(&opts.ffprobe, p).is_ok()
}

/// Matching thresholds; defaults are the reference's (distance ≤ 31,
/// quality ≥ 50).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchOptions {
    /// Frames match when their Hamming distance is at most this.
    pub max_distance: u32,
    /// Frames with quality below this are left out on both sides.
    pub min_quality: u8,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            max_distance: MATCH_DISTANCE,
            min_quality: MIN_QUALITY,
        }
    }
}

/// Result of comparing two videos as bags of frame hashes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqMatch {
    /// Percentage (0..=100) of the query's usable frames that have a match in
    /// the target.
    pub query_matched_percent: f64,
    /// Percentage (0..=100) of the target's (compared video's) usable frames
    /// that have a match in the query.
    pub target_matched_percent: f64,
}

/// Compares two videos the way the reference's brute-force matcher does:
/// drop frames below `min_quality`, then count frames of each side that have
/// at least one partner on the other side within `max_distance`. A side with
/// no usable frames scores 0 %.
pub fn match_videos(query: &[VpdqFrame], target: &[VpdqFrame], opts: &MatchOptions) -> VpdqMatch {
    let usable = |v: &[VpdqFrame]| -> Vec<PdqHash> {
        v.iter()
            .filter(|f| f.quality >= opts.min_quality)
            .map(|f| f.hash)
            .collect()
    };
    let (q, t) = (usable(query), usable(target));
    let matched = |a: &[PdqHash], b: &[PdqHash]| {
        a.iter()
            .filter(|x| b.iter().any(|y| x.distance(y) <= opts.max_distance))
            .count()
    };
    let pct = |n: usize, d: usize| {
        if d == 0 {
            0.0
        } else {
            n as f64 * 100.0 / d as f64
        }
    };
    VpdqMatch {
        query_matched_percent: pct(matched(&q, &t), q.len()),
        target_matched_percent: pct(matched(&t, &q), t.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u64, quality: u8, words: [u16; 16]) -> VpdqFrame {
        VpdqFrame {
            frame_number: n,
            quality,
            hash: PdqHash::from_words(words),
            timestamp: n as f64 / 30.0,
        }
    }

    /// A hash with the lowest `bits` bits set.
    fn ones(bits: usize) -> [u16; 16] {
        let mut w = [0u16; 16];
        for k in 0..bits {
            w[k / 16] |= 1 << (k % 16);
        }
        w
    }

    #[test]
    fn line_round_trip() {
        let line = "2,100,c0f10b78372c6aacc5dea25b748fb7d22f434c89c9a9cb249776b6216c8d855c,0.067";
        let f = VpdqFrame::parse_line(line).unwrap();
        assert_eq!((f.frame_number, f.quality), (2, 100));
        assert_eq!(f.to_line(), line);
        let g = frame(1, 100, ones(3));
        assert_eq!(g.to_line().rsplit(',').next().unwrap(), "0.033");
        for bad in ["", "1,2,3", "x,100,00,0.0", "1,101,ab,0.0", "1,50,zz,0.1,9"] {
            assert!(VpdqFrame::parse_line(bad).is_err(), "{bad}");
        }
        let e = parse_lines("0,100,0000000000000000000000000000000000000000000000000000000000000000,0.000\nnonsense\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn check_match_cases() {
        let check = |q: &[VpdqFrame], t: &[VpdqFrame], want: (f64, f64)| {
            let m = match_videos(q, t, &MatchOptions::default());
            assert_eq!(
                (m.query_matched_percent, m.target_matched_percent),
                want,
                "{q:?} vs {t:?}"
            );
        };
        let z = frame(0, 100, ones(0));
        // Distance exactly 31 matches; 32 does not.
        check(&[z], &[frame(0, 100, ones(31))], (100.0, 100.0));
        check(&[z], &[frame(0, 100, ones(32))], (0.0, 0.0));
        // Low-quality frames are ignored on both sides.
        check(&[z, frame(1, 49, ones(200))], &[z], (100.0, 100.0));
        check(&[frame(0, 49, ones(0))], &[z], (0.0, 0.0));
        // Quality exactly 50 is usable.
        check(&[frame(0, 50, ones(0))], &[z], (100.0, 100.0));
        // Asymmetric: 1 of 2 query frames found; the target's one frame found.
        check(
            &[z, frame(1, 100, ones(200))],
            &[frame(0, 100, ones(5))],
            (50.0, 100.0),
        );
        // Empty sides score 0.
        check(&[], &[z], (0.0, 0.0));
    }

    #[test]
    fn probe_parsing() {
        let info = parse_probe(
            "width=720\nheight=480\npix_fmt=yuv420p\nr_frame_rate=30/1\navg_frame_rate=0/0\n",
        )
        .unwrap();
        assert_eq!((info.width, info.height, info.frame_rate), (720, 480, 30.0));
        assert!(info.pix_fmt_is_yuv && !info.pix_fmt_is_yuvj);
        assert!(parse_probe("").is_err());
        assert!(parse_probe("width=0\nheight=4\navg_frame_rate=1/1").is_err());
        assert!(parse_probe("width=4\nheight=4\navg_frame_rate=0/0\nr_frame_rate=0/0").is_err());
    }

    #[test]
    fn missing_file_and_tool_are_typed_errors() {
        let e = hash_video("/nonexistent/athar-clip.mp4", &VpdqOptions::default()).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        let opts = VpdqOptions {
            ffprobe: PathBuf::from("athar-no-such-ffprobe"),
            ..VpdqOptions::default()
        };
        let e = probe(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("Cargo.toml")
                .as_path(),
            &opts,
        )
        .unwrap_err();
        assert!(matches!(e, MediaError::ToolMissing { .. }), "{e}");
    }
}
