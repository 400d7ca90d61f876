//! FQDN patterns (`source_fqdn`, `destination_fqdn`) and node-name patterns (`node_name`).
//!
//! Guarantees (cilium `patterns.go`): a pattern is trimmed, loses one trailing `.`, is lowercased, and may only
//! contain `[-0-9_a-z.*]`; `*` matches `[-.0-9a-z]*`; the whole list is one anchored alternation. Node-name
//! patterns are `cluster/node` or `node` (any cluster); an empty part matches any FQDN-shaped name; more than one
//! `/` or an empty pattern is an error. A flow node name without `/` is matched as `default/<name>`. Matching
//! does not allocate.

use super::build::MatchFn;
use super::goregex::{compile, GoRegex as Regex};

const FQDN_RE: &str = r"(?:[-0-9_a-z]+(?:\.[-0-9_a-z]+)*)";

fn append_fqdn_pattern(out: &mut String, pattern: &str) -> Result<(), String> {
    let p = pattern.trim();
    let p = p.strip_suffix('.').unwrap_or(p).to_lowercase();
    if p.is_empty() {
        return Err("empty pattern".into());
    }
    if p.ends_with('.') {
        return Err("multiple trailing dots in pattern".into());
    }
    for c in p.chars() {
        match c {
            '.' => out.push_str(r"\."),
            '*' => out.push_str("[-.0-9a-z]*"),
            '-' | '_' | '0'..='9' | 'a'..='z' => out.push(c),
            _ => return Err(format!("{c:?}: invalid rune in pattern")),
        }
    }
    Ok(())
}

/// The anchored regex for a list of FQDN patterns.
pub fn compile_fqdn_patterns(patterns: &[String]) -> Result<Regex, String> {
    let mut re = String::from(r"\A(?:");
    for (i, p) in patterns.iter().enumerate() {
        if i > 0 {
            re.push('|');
        }
        append_fqdn_pattern(&mut re, p)?;
    }
    re.push_str(r")\z");
    compile(&re)
}

/// Which name list of the flow.
#[derive(Debug, Clone, Copy)]
pub enum Names {
    /// `source_names`.
    Source,
    /// `destination_names`.
    Destination,
}

/// `source_fqdn` / `destination_fqdn`: any of the flow's names matches any pattern.
pub fn fqdn_matcher(patterns: &[String], which: Names) -> Result<MatchFn, String> {
    let re = compile_fqdn_patterns(patterns)?;
    Ok(Box::new(move |ev| {
        let Some(f) = ev.flow() else { return false };
        let names = match which {
            Names::Source => &f.source_names,
            Names::Destination => &f.destination_names,
        };
        names.iter().any(|n| re.is_match(n))
    }))
}

/// One node-name pattern compiled as (cluster regex, node regex).
#[derive(Debug)]
struct NodePattern {
    cluster: Regex,
    node: Regex,
}

fn compile_part(part: &str) -> Result<Regex, String> {
    let mut re = String::from(r"\A");
    if part.is_empty() {
        re.push_str(FQDN_RE);
    } else {
        append_fqdn_pattern(&mut re, part)?;
    }
    re.push_str(r"\z");
    compile(&re)
}

/// `node_name` patterns.
pub fn node_name_matcher(patterns: &[String]) -> Result<MatchFn, String> {
    let mut compiled = Vec::with_capacity(patterns.len());
    for p in patterns {
        if p.is_empty() {
            return Err("empty pattern".into());
        }
        let parts: Vec<&str> = p.split('/').collect();
        let (cluster, node) = match parts.as_slice() {
            [node] => ("", *node),
            [cluster, node] => (*cluster, *node),
            _ => return Err("too many slashes in pattern".into()),
        };
        compiled.push(NodePattern {
            cluster: compile_part(cluster)?,
            node: compile_part(node)?,
        });
    }
    Ok(Box::new(move |ev| {
        let Some(name) = ev.flow().and_then(|f| f.node_name.as_deref()) else {
            return false;
        };
        if name.is_empty() {
            return false;
        }
        // Neither part of a compiled pattern can match '/', so splitting at the first '/' is equivalent to
        // matching `cluster/node` against the joined regex.
        let (cluster, node) = name.split_once('/').unwrap_or(("default", name));
        compiled
            .iter()
            .any(|p| p.cluster.is_match(cluster) && p.node.is_match(node))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_patterns() {
        let re = compile_fqdn_patterns(&["*.cilium.io.".into(), " EXAMPLE.com ".into()]).unwrap();
        assert!(re.is_match("docs.cilium.io"));
        assert!(re.is_match(".cilium.io"));
        assert!(!re.is_match("docs.cilium.io."));
        assert!(re.is_match("example.com"));
        assert!(!re.is_match("EXAMPLE.com"));
        assert!(compile_fqdn_patterns(&["..".into()]).is_err());
        assert!(compile_fqdn_patterns(&[".".into()]).is_err());
        assert!(compile_fqdn_patterns(&["a b".into()]).is_err());
        assert!(compile_fqdn_patterns(&["*".into()]).unwrap().is_match(""));
    }
}
