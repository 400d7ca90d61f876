//! Loading CIDR groups from files and directories (`--cidr-groups PATH`).
//!
//! Owns: [`Source`], [`load_groups`] / [`load_sources`] (pure: read files, return groups, a table and
//! diagnostics; no global state, safe to run on any thread off the hot path), [`Diagnostic`], [`LoadError`].
//! Guarantees:
//! - A directory is read recursively in name order; names starting with `.` are skipped (so a ConfigMap volume's
//!   `..data`/`..2025_…` directories are read once, through the top-level symlinks); symlinks are followed.
//! - Format per file: `.yaml`/`.yml`/`.json` → manifests; `.txt`/`.zone`/`.list`/`.lst`/`.cidr`/`.cidrs`/
//!   `.netset`/`.ipset`/`.net` → plain list (group = file stem, e.g. `ru.zone` → `ru`); other names are sniffed
//!   (first meaningful line is a prefix → list; `{`/`[` or `apiVersion`/`kind` → manifest). In a directory,
//!   files that are neither are skipped; a file named directly is read as a manifest.
//! - Invalid entries never fail a load: they are skipped and returned as [`Diagnostic`]s (file, document,
//!   object, entry; line for lists). Unreadable files and malformed YAML/JSON fail it with a [`LoadError`]
//!   naming file, line and column.
//! - The same group name from several places is merged (prefixes unioned; first labels win); two manifest
//!   objects with one name also yield a [`DiagnosticKind::DuplicateGroup`].

mod lift;
mod manifest;
mod plain;

use manifest::ManifestGroup;
#[allow(unused_imports)]
pub(crate) use manifest::{collect, RawObject};

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::group::{Group, GroupSet, GroupSource, Origin};
use crate::table::PrefixTable;

/// A `--cidr-groups` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file or directory.
    Path(PathBuf),
    /// The Kubernetes API (`k8s`); served by the `k8s` module's watcher, skipped by [`load_sources`].
    Kubernetes,
}

impl Source {
    /// `k8s` → [`Source::Kubernetes`]; anything else is a path.
    pub fn parse(arg: &str) -> Source {
        if arg == "k8s" {
            Source::Kubernetes
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }
}

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagnosticKind {
    /// A CIDR entry (or list line) that is not a valid prefix; it was skipped.
    InvalidEntry,
    /// A group object without `metadata.name`; it was skipped.
    MissingName,
    /// A CiliumCIDRGroup/network-set kind with an apiVersion this crate does not read; it was skipped.
    UnsupportedVersion,
    /// Two manifest objects define the same group name; they were merged.
    DuplicateGroup,
    /// A YAML/JSON file holds no Kubernetes object at all; nothing was loaded from it.
    NotAManifest,
}

/// A non-fatal problem found while loading. `check` reports these as errors; `run` logs them as warnings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, if the group came from a file.
    pub file: Option<PathBuf>,
    /// 0-based document index in a multi-document file.
    pub document: Option<usize>,
    /// The object, e.g. `CiliumCIDRGroup geo-ru` or `items[3] CiliumCIDRGroup geo-ru`.
    pub object: Option<String>,
    /// The offending entry as written.
    pub entry: Option<String>,
    /// 1-based line (plain lists).
    pub line: Option<u64>,
    /// What kind of problem.
    pub kind: DiagnosticKind,
    /// Human-readable explanation.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(p), Some(l)) => write!(f, "{}:{l}: ", p.display())?,
            (Some(p), None) => write!(f, "{}: ", p.display())?,
            (None, _) => f.write_str("kubernetes: ")?,
        }
        if let Some(d) = self.document {
            write!(f, "document {d}: ")?;
        }
        if let Some(o) = &self.object {
            write!(f, "{o}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a load failed as a whole (the previous table, if any, should stay in use).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path could not be read or listed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not valid UTF-8.
    #[error("{}: not UTF-8 text (byte {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// Malformed YAML or JSON.
    #[error("{}:{}:{}: malformed {format}: {message}", path.display(), line.map_or("?".into(), |l| l.to_string()), column.map_or("?".into(), |c| c.to_string()))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// 1-based line.
        line: Option<u64>,
        /// 1-based column.
        column: Option<u64>,
        /// Parser message (without position).
        message: String,
    },
}

/// Groups read from sources, with diagnostics and the files that were read (for change watching).
#[derive(Debug, Default)]
pub struct LoadedGroups {
    /// All groups.
    pub groups: GroupSet,
    /// Non-fatal problems (skipped entries and objects).
    pub diagnostics: Vec<Diagnostic>,
    /// Every file that contributed (or was examined), in read order.
    pub files: Vec<PathBuf>,
}

/// A ready table plus what went into it.
#[derive(Debug)]
pub struct LoadedTable {
    /// The lookup table, ready to be swapped in.
    pub table: Arc<PrefixTable>,
    /// The groups it was built from (keep them to merge with Kubernetes groups; drop them to save memory).
    pub groups: GroupSet,
    /// Non-fatal problems.
    pub diagnostics: Vec<Diagnostic>,
    /// Files read.
    pub files: Vec<PathBuf>,
}

/// Read every [`Source::Path`] (Kubernetes sources are skipped) and build the table.
pub fn load_sources(sources: &[Source]) -> Result<LoadedTable, LoadError> {
    let loaded = load_groups(sources)?;
    let table = Arc::new(PrefixTable::build(&loaded.groups));
    Ok(LoadedTable {
        table,
        groups: loaded.groups,
        diagnostics: loaded.diagnostics,
        files: loaded.files,
    })
}

/// Read every [`Source::Path`] into groups (no table).
pub fn load_groups(sources: &[Source]) -> Result<LoadedGroups, LoadError> {
    let mut state = Loader::default();
    for s in sources {
        if let Source::Path(p) = s {
            state.load_path(p)?;
        }
    }
    Ok(state.out)
}

/// Read one file or directory into groups.
pub fn load_path(path: &Path) -> Result<LoadedGroups, LoadError> {
    load_groups(&[Source::Path(path.to_path_buf())])
}

/// Parse text as if it were the file `path` (format chosen from the name and content). For tests and tools.
pub fn load_text(path: &Path, text: &str) -> Result<LoadedGroups, LoadError> {
    let mut state = Loader::default();
    state.load_text(path, text, true)?;
    Ok(state.out)
}

#[derive(Default)]
struct Loader {
    out: LoadedGroups,
    manifest_names: HashSet<String>,
    visited_dirs: HashSet<PathBuf>,
}

const MAX_DEPTH: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Yaml,
    Json,
    List,
}

impl Loader {
    fn load_path(&mut self, path: &Path) -> Result<(), LoadError> {
        let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            self.load_dir(path, 0)
        } else {
            self.load_file(path, true)
        }
    }

    fn load_dir(&mut self, dir: &Path, depth: usize) -> Result<(), LoadError> {
        let io = |source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        };
        // Symlink loops: each real directory once.
        let real = std::fs::canonicalize(dir).map_err(io)?;
        if depth > MAX_DEPTH || !self.visited_dirs.insert(real) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            let Ok(meta) = std::fs::metadata(&p) else {
                continue; // dangling symlink
            };
            if meta.is_dir() {
                self.load_dir(&p, depth + 1)?;
            } else if meta.is_file() {
                self.load_file(&p, false)?;
            }
        }
        Ok(())
    }

    fn load_file(&mut self, path: &Path, explicit: bool) -> Result<(), LoadError> {
        let ext = extension(path);
        if !explicit && !ext.is_empty() && !is_known_extension(&ext) {
            return Ok(());
        }
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        self.load_text(path, &text, explicit)
    }

    fn load_text(&mut self, path: &Path, text: &str, explicit: bool) -> Result<(), LoadError> {
        let Some(format) = detect(path, text, explicit) else {
            return Ok(());
        };
        self.out.files.push(path.to_path_buf());
        match format {
            Format::List => {
                let prefixes = plain::parse_list(path, text, &mut self.out.diagnostics);
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                self.out.groups.add(Group {
                    name,
                    labels: Default::default(),
                    sources: vec![GroupSource {
                        origin: Origin::File(path.to_path_buf()),
                        document: None,
                    }],
                    prefixes,
                });
            }
            Format::Yaml | Format::Json => {
                let groups = match manifest::parse_manifest(
                    path,
                    text,
                    format == Format::Json,
                    &mut self.out.diagnostics,
                ) {
                    Ok(g) => g,
                    // Flow-style YAML that is not JSON: retry as YAML unless the file says it is JSON.
                    Err(_) if format == Format::Json && extension(path) != "json" => {
                        manifest::parse_manifest(path, text, false, &mut self.out.diagnostics)?
                    }
                    Err(e) => return Err(e),
                };
                for ManifestGroup { group } in groups {
                    self.add_manifest_group(group);
                }
            }
        }
        Ok(())
    }

    fn add_manifest_group(&mut self, group: Group) {
        if !self.manifest_names.insert(group.name.clone()) {
            let here = group.sources.first();
            self.out.diagnostics.push(Diagnostic {
                file: here.and_then(|s| match &s.origin {
                    Origin::File(p) => Some(p.clone()),
                    Origin::Kubernetes { .. } => None,
                }),
                document: here.and_then(|s| s.document),
                object: Some(group.name.clone()),
                entry: None,
                line: None,
                kind: DiagnosticKind::DuplicateGroup,
                message: format!(
                    "group {:?} is defined more than once; definitions merged",
                    group.name
                ),
            });
        }
        self.out.groups.add(group);
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_known_extension(ext: &str) -> bool {
    matches!(ext, "yaml" | "yml" | "json") || plain::LIST_EXTENSIONS.contains(&ext)
}

fn detect(path: &Path, text: &str, explicit: bool) -> Option<Format> {
    let first = text.trim_start_matches('\u{feff}').trim_start();
    let json_like = first.starts_with('{') || first.starts_with('[');
    match extension(path).as_str() {
        "json" => return Some(Format::Json),
        "yaml" | "yml" => {
            return Some(if json_like {
                Format::Json
            } else {
                Format::Yaml
            })
        }
        e if plain::LIST_EXTENSIONS.contains(&e) => return Some(Format::List),
        _ => {}
    }
    if plain::looks_like_list(text) {
        Some(Format::List)
    } else if json_like {
        Some(Format::Json)
    } else if explicit || (text.contains("apiVersion") && text.contains("kind")) {
        Some(Format::Yaml)
    } else {
        None
    }
}
