//! The project's Python (`scripts/pyenv.sh` makes it; `HUBBLE_INGEST_TEST_PYTHON` overrides), for tests that
//! drive the binary with real clients from PyPI (fluent-logger, msgpack, Microsoft's Kusto SDK).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// That Python if it can `import` every module in `modules` (comma-separated, as in an import statement), else
/// `None` after saying loudly that the calling test is skipped and what it lacks (`what`).
pub fn with_modules(modules: &str, what: &str) -> Option<PathBuf> {
    let p = std::env::var_os("HUBBLE_INGEST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/pyenv/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "\n*** SKIPPED: no Python with {what} at {} — run scripts/pyenv.sh (scripts/test.sh does) ***\n",
            p.display()
        );
    }
    ok.then_some(p)
}
