//! Writers that append agent/exporter lines to a log file and rotate it the way kubelet (CRI logs,
//! `0.log` → `0.log.<ts>`, later gzipped through `.tmp`) or lumberjack (`events.log` → `events-<ts>.log`,
//! optionally gzipped in place) do, for tests that follow files across rotations.

use super::flows::{self, FlowGen};
use super::XorShift;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How files are rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `0.log` → `0.log.YYYYMMDD-HHMMSS` (the runtime keeps writing to the renamed file for a moment), new
    /// `0.log`; at the next rotation the previous rotated file is gzipped through `<name>.tmp` → `<name>.gz`
    /// and removed, as kubelet's container log manager does. CRI framing, some lines split in `P`/`F` chunks.
    Kubelet,
    /// `events.log` → `events-2026-01-01T00-00-00.000.log`, new `events.log`; half of the rotated files are
    /// then gzipped in place (`.log.gz` written in two steps, original removed), as lumberjack's mill does.
    Lumberjack,
}

/// Appends to a log file and rotates it like kubelet or lumberjack.
pub struct RotatingWriter {
    dir: PathBuf,
    scheme: Scheme,
    file: File,
    /// Rotations done.
    pub rotations: u32,
    /// Rotated files not yet compressed (kubelet compresses them at the next rotation).
    uncompressed: Vec<PathBuf>,
    /// Rotated files gzipped.
    pub gzipped: u32,
}

impl RotatingWriter {
    /// Creates the active log in `dir`.
    pub fn new(dir: &Path, scheme: Scheme) -> Self {
        RotatingWriter {
            dir: dir.to_owned(),
            scheme,
            file: File::create(dir.join(Self::active_name(scheme))).expect("create active log"),
            rotations: 0,
            uncompressed: Vec::new(),
            gzipped: 0,
        }
    }

    fn active_name(scheme: Scheme) -> &'static str {
        match scheme {
            Scheme::Kubelet => "0.log",
            Scheme::Lumberjack => "events.log",
        }
    }

    fn active(&self) -> PathBuf {
        self.dir.join(Self::active_name(self.scheme))
    }

    /// Writes one logical line, sometimes in two writes (a reader may see half a line).
    pub fn write_line(&mut self, gen: &mut FlowGen, rng: &mut XorShift, line: &str) {
        let framed = match self.scheme {
            Scheme::Kubelet => {
                let stream = if line.starts_with('{') && line.contains("\"flow\"") {
                    "stdout"
                } else if rng.chance(50) {
                    "stderr"
                } else {
                    "stdout"
                };
                let t = gen.cri_time();
                flows::cri(&t, stream, line, rng.chance(10))
            }
            Scheme::Lumberjack => format!("{line}\n"),
        };
        if rng.chance(5) {
            let cut = rng.range(1, framed.len() as u64) as usize;
            self.file
                .write_all(&framed.as_bytes()[..cut])
                .expect("write");
            std::thread::sleep(Duration::from_millis(rng.range(0, 3)));
            self.file
                .write_all(&framed.as_bytes()[cut..])
                .expect("write");
        } else {
            self.file.write_all(framed.as_bytes()).expect("write");
        }
    }

    fn gzip_in_two_steps(src: &Path, dest: &Path, rng: &mut XorShift) {
        let data = fs::read(src).expect("read rotated file");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).expect("gzip");
        let gz = enc.finish().expect("gzip finish");
        let mut f = File::create(dest).expect("create gzip");
        let cut = gz.len() / 2;
        f.write_all(&gz[..cut]).expect("write gzip");
        f.flush().expect("flush gzip");
        std::thread::sleep(Duration::from_millis(rng.range(0, 5)));
        f.write_all(&gz[cut..]).expect("write gzip");
    }

    /// Rotates as `scheme` does.
    pub fn rotate(&mut self, gen: &mut FlowGen, rng: &mut XorShift) {
        self.rotations += 1;
        let n = self.rotations;
        match self.scheme {
            Scheme::Kubelet => {
                for old in std::mem::take(&mut self.uncompressed) {
                    let tmp = PathBuf::from(format!("{}.tmp", old.display()));
                    let gz = PathBuf::from(format!("{}.gz", old.display()));
                    Self::gzip_in_two_steps(&old, &tmp, rng);
                    fs::rename(&tmp, &gz).expect("rename .tmp → .gz");
                    fs::remove_file(&old).expect("remove compressed original");
                    self.gzipped += 1;
                }
                let rotated = self.dir.join(format!(
                    "0.log.20260101-{:02}{:02}{:02}",
                    n / 3600,
                    n / 60 % 60,
                    n % 60
                ));
                fs::rename(self.active(), &rotated).expect("rotate 0.log");
                // The runtime writes a few more lines to the renamed file before it reopens.
                for _ in 0..rng.range(0, 4) {
                    let l = gen.next_line(rng);
                    self.write_line(gen, rng, &l);
                }
                self.uncompressed.push(rotated);
            }
            Scheme::Lumberjack => {
                let rotated = self.dir.join(format!(
                    "events-2026-01-01T{:02}-{:02}-{:02}.000.log",
                    n / 3600,
                    n / 60 % 60,
                    n % 60
                ));
                fs::rename(self.active(), &rotated).expect("rotate events.log");
                if rng.chance(50) {
                    let gz = PathBuf::from(format!("{}.gz", rotated.display()));
                    Self::gzip_in_two_steps(&rotated, &gz, rng);
                    fs::remove_file(&rotated).expect("remove compressed original");
                    self.gzipped += 1;
                }
            }
        }
        self.file = File::create(self.active()).expect("create the new active log");
    }
}

/// What a writer thread wrote.
pub struct Written {
    /// Uuids the default filter keeps.
    pub kept: Vec<String>,
    /// Uuids it drops.
    pub unkept: Vec<String>,
    /// Rotations done.
    pub rotations: u32,
    /// Rotated files gzipped.
    pub gzipped: u32,
}

/// Appends random lines to the active log of `scheme` in `dir` for `write_for`, rotating every 150-500 lines.
pub fn writer_thread(
    dir: PathBuf,
    scheme: Scheme,
    seed: u64,
    run: u32,
    write_for: Duration,
) -> std::thread::JoinHandle<Written> {
    std::thread::spawn(move || {
        let mut rng = XorShift::new(seed ^ 0x5DEE_CE66_D1CE_4E5B);
        let mut gen = FlowGen::new(run);
        let mut w = RotatingWriter::new(&dir, scheme);
        let start = Instant::now();
        let mut until_rotation = rng.range(150, 500);
        while start.elapsed() < write_for {
            for _ in 0..rng.range(1, 16) {
                let l = gen.next_line(&mut rng);
                w.write_line(&mut gen, &mut rng, &l);
                until_rotation = until_rotation.saturating_sub(1);
            }
            if until_rotation == 0 {
                w.rotate(&mut gen, &mut rng);
                until_rotation = rng.range(150, 500);
            }
            std::thread::sleep(Duration::from_millis(rng.range(4, 20)));
        }
        Written {
            kept: gen.kept,
            unkept: gen.unkept,
            rotations: w.rotations,
            gzipped: w.gzipped,
        }
    })
}
