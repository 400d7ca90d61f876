//! The structure ARCHITECTURE.md promises, checked on the source text:
//! - no import cycle between the top-level modules of any crate of the workspace;
//! - outside the command layer (`main.rs`, `cli.rs`, `config.rs`, `commands/`) no module imports `cli`;
//! - `hubble-adx` names no column of the Hubble record;
//! - every source path ARCHITECTURE.md names exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`None` for the crate root files).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let name = first.trim_end_matches(".rs").to_owned();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// `crate::NAME` references in `text`, including `use crate::{a, b::c}` groups.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let before_ok = i == 0
            || !rest.as_bytes()[i - 1].is_ascii_alphanumeric() && rest.as_bytes()[i - 1] != b'_';
        if before_ok {
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
        rest = after;
    }
    out
}

/// The text without comment lines (doc links are not imports).
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Module → modules it references, for the crate whose sources are in `src`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(src, f)).collect();
    for f in &files {
        let Some(m) = top_module(src, f) else {
            continue;
        };
        let text = code_only(&std::fs::read_to_string(f).unwrap());
        let refs = crate_refs(&text);
        let entry = graph.entry(m.clone()).or_default();
        for r in refs {
            if r != m && modules.contains(&r) {
                entry.insert(r);
            }
        }
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn crate_sources() -> Vec<PathBuf> {
    let mut v = vec![root().join("src")];
    for c in ["hubble-flow", "hubble-cidr", "hubble-adx", "hubble-tail"] {
        v.push(root().join("crates").join(c).join("src"));
    }
    v
}

#[test]
fn no_import_cycle_between_modules_of_any_crate() {
    for src in crate_sources() {
        let graph = module_graph(&src);
        assert!(graph.len() > 3, "{}: modules not found", src.display());
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{}: import cycle {}", src.display(), cycle.join(" → "));
        }
    }
}

#[test]
fn the_detector_sees_cycles_and_groups() {
    let refs =
        crate_refs("use crate::{sink::x, spool};\nlet a = crate::pipeline::run();\nnotcrate::x");
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["pipeline", "sink", "spool"]
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn only_the_command_layer_knows_the_command_line() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files {
        let m = top_module(&src, &f);
        if matches!(m.as_deref(), None | Some("cli" | "config" | "commands")) {
            continue;
        }
        let text = code_only(&std::fs::read_to_string(&f).unwrap());
        assert!(
            !crate_refs(&text).contains("cli"),
            "{} imports the command line (crate::cli)",
            f.display()
        );
        assert!(
            !text.contains("args_os"),
            "{} reads the process's arguments",
            f.display()
        );
        assert!(!text.contains("clap::"), "{} uses clap", f.display());
    }
}

#[test]
fn hubble_adx_knows_no_hubble_column() {
    let mut files = Vec::new();
    rust_files(&root().join("crates/hubble-adx/src"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for c in hubble_ingest::record::schema::Column::ALL {
            let quoted = format!("\"{}\"", c.name());
            assert!(
                !text.contains(&quoted),
                "{} names the record column {quoted}",
                f.display()
            );
        }
        assert!(!text.contains("CidrGroup"), "{}", f.display());
    }
}

#[test]
fn architecture_md_names_only_paths_that_exist() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut named = 0;
    for piece in text.split('`').skip(1).step_by(2) {
        let p = piece.trim_end_matches('/');
        let looks_like_path = (p.starts_with("src/") || p.starts_with("crates/"))
            && !p.contains(' ')
            && !p.contains('*');
        if looks_like_path {
            named += 1;
            assert!(
                root().join(p).exists(),
                "ARCHITECTURE.md names {p}, which does not exist"
            );
        }
    }
    assert!(named > 20, "ARCHITECTURE.md names only {named} paths");
    // Every top-level module of the binary is described.
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| top_module(&root().join("src"), f))
        .collect();
    for m in modules {
        let as_file = format!("src/{m}.rs");
        let as_dir = format!("src/{m}/");
        assert!(
            text.contains(&as_file) || text.contains(&as_dir),
            "ARCHITECTURE.md does not describe module {m}"
        );
    }
}
