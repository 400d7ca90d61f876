//! Shared helpers for the root crate's integration tests that drive the real binary: a seeded RNG, a generator
//! of agent/exporter lines with unique flow uuids, an ADX stand-in on 127.0.0.1 that can go down, a child-process
//! wrapper that kills the child on drop, a tiny HTTP GET, and a poll-until helper.
//!
//! Each test binary compiles this module on its own and uses a subset of it.
#![allow(dead_code)]

pub mod adx;
pub mod azurite;
pub mod flows;
pub mod http;
pub mod process;
pub mod python;
pub mod rotation;

use std::time::{Duration, Instant};

/// Polls `cond` every 50 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, cond: impl FnMut() -> bool) -> bool {
    wait_every(timeout, Duration::from_millis(50), cond)
}

/// Polls `cond` every `every` until it holds (true) or `timeout` passes (false).
pub fn wait_every(timeout: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A tiny xorshift64* generator: reproducible randomness from a seed printed in failure messages.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// The seed for randomized tests: `HUBBLE_TEST_SEED` if set, else derived from the clock.
pub fn seed() -> u64 {
    if let Some(s) = std::env::var("HUBBLE_TEST_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return s;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// A temporary directory that is kept (and its path printed) when the test fails, for a post-mortem.
pub struct TestDir(Option<tempfile::TempDir>);

impl TestDir {
    /// A fresh directory.
    pub fn new() -> TestDir {
        TestDir(Some(tempfile::tempdir().expect("tempdir")))
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        self.0
            .as_ref()
            .map_or(std::path::Path::new("/nonexistent"), |d| d.path())
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(d) = self.0.take() {
                let kept = d.keep();
                eprintln!("test failed; its files are kept in {}", kept.display());
            }
        }
    }
}
