//! Discovery: which files the globs match right now, and their content ids.
//!
//! Owns the glob patterns and a per-path cache of fingerprints keyed by the file's shape (dev, inode, size,
//! mtime), so an unchanged file is not re-read each pass. Guarantees: each path appears once, in glob order;
//! directories are skipped silently, vanished files too but the scan says so ([`Scan::raced`]); a fingerprint
//! error is reported once per file shape.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::PathBuf;

use crate::events::TailEvent;
use crate::fingerprint::{Fingerprinter, Probe};
use crate::watcher::Sig;

/// A file matched by a glob.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub(crate) path: PathBuf,
    pub(crate) sig: Sig,
    pub(crate) probe: Probe,
}

/// What one scan found.
pub(crate) struct Scan {
    pub(crate) found: Vec<Found>,
    /// A listed path vanished or named another file before it could be identified: a rotation happened during
    /// the scan, and what it moved is not in `found`.
    pub(crate) raced: bool,
}

/// An invalid glob pattern.
#[derive(Debug, thiserror::Error)]
#[error("invalid glob pattern {pattern:?}: {message}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub message: String,
}

pub(crate) struct Scanner {
    patterns: Vec<String>,
    exclude: Vec<glob::Pattern>,
    cache: HashMap<PathBuf, (Sig, Probe)>,
    failed: HashMap<PathBuf, Sig>,
}

impl Scanner {
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<Scanner, PatternError> {
        let compile = |pattern: &String| {
            glob::Pattern::new(pattern).map_err(|e| PatternError {
                pattern: pattern.clone(),
                message: e.msg.to_string(),
            })
        };
        for pattern in include {
            compile(pattern)?;
        }
        let exclude = exclude.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
        Ok(Scanner {
            patterns: include.to_vec(),
            exclude,
            cache: HashMap::new(),
            failed: HashMap::new(),
        })
    }

    pub(crate) fn scan(
        &mut self,
        fingerprinter: &mut Fingerprinter,
        events: &mut Vec<TailEvent>,
    ) -> Scan {
        let mut found = Vec::new();
        let mut raced = false;
        let mut seen = HashSet::new();
        for pattern in &self.patterns {
            let Ok(paths) = glob::glob(pattern) else {
                continue;
            };
            for entry in paths {
                let path = match entry {
                    Ok(path) => path,
                    Err(err) => {
                        events.push(TailEvent::Error {
                            path: err.path().to_path_buf(),
                            message: err.to_string(),
                        });
                        continue;
                    }
                };
                if self.exclude.iter().any(|p| p.matches_path(&path)) || !seen.insert(path.clone())
                {
                    continue;
                }
                let meta = match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => meta,
                    Ok(_) => continue,
                    Err(err) => {
                        // Gone since it was listed (renamed or deleted): a rotation during the scan. A symlink
                        // whose target is gone counts once, when its target was a file found before, so that
                        // a dangling link left behind does not make every scan come early.
                        if err.kind() == io::ErrorKind::NotFound {
                            let was_found = self.cache.remove(&path).is_some();
                            raced |= was_found || fs::symlink_metadata(&path).is_err();
                        }
                        continue;
                    }
                };
                let sig = Sig::of(&meta);
                let probe = match self.cache.get(&path) {
                    Some((cached, probe)) if *cached == sig => *probe,
                    // Probe through an open handle whose identity is the one just stat'ed: a rotation between the
                    // stat and the probe must not pair this path's signature with another file's fingerprint.
                    _ => match fs::File::open(&path).and_then(|file| {
                        let now = Sig::of(&file.metadata()?);
                        if now.dev != sig.dev || now.ino != sig.ino {
                            return Err(io::Error::new(
                                io::ErrorKind::NotFound,
                                "replaced while being fingerprinted",
                            ));
                        }
                        fingerprinter.probe_file(&file)
                    }) {
                        Ok(probe) => {
                            self.failed.remove(&path);
                            self.cache.insert(path.clone(), (sig, probe));
                            probe
                        }
                        Err(err) if err.kind() == io::ErrorKind::NotFound => {
                            raced = true;
                            continue;
                        }
                        Err(err) => {
                            if self.failed.get(&path) != Some(&sig) {
                                events.push(TailEvent::Error {
                                    path: path.clone(),
                                    message: err.to_string(),
                                });
                                self.failed.insert(path.clone(), sig);
                            }
                            continue;
                        }
                    },
                };
                found.push(Found { path, sig, probe });
            }
        }
        self.cache.retain(|path, _| seen.contains(path));
        self.failed.retain(|path, _| seen.contains(path));
        Scan { found, raced }
    }
}
