//! Plain prefix lists: one CIDR or bare IP per line (ipdeny zone files, FireHOL netsets, Spamhaus DROP).
//!
//! Owns: parsing such a file into prefixes. Guarantees: blank lines and comments (`#` or `;`, whole-line or
//! trailing) are ignored; a UTF-8 BOM and CRLF line ends are accepted; a bare IP is a `/32` or `/128`; every other
//! line that is not exactly one prefix becomes a [`Diagnostic`] with its line number and is skipped.

use std::path::Path;

use super::{Diagnostic, DiagnosticKind};
use crate::prefix::Prefix;

/// File extensions that mark a plain list.
pub(crate) const LIST_EXTENSIONS: &[&str] = &[
    "txt", "zone", "list", "lst", "cidr", "cidrs", "netset", "ipset", "net",
];

/// The meaningful part of a line: comment and surrounding whitespace removed.
pub(crate) fn content(line: &str) -> &str {
    let end = line.find(['#', ';']).unwrap_or(line.len());
    line[..end].trim()
}

/// Parse the list; invalid lines are reported into `diags` (1-based line numbers).
pub(crate) fn parse_list(path: &Path, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Prefix> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() / 16);
    for (i, line) in text.lines().enumerate() {
        let c = content(line);
        if c.is_empty() {
            continue;
        }
        let mut words = c.split_ascii_whitespace();
        let first = words.next().unwrap_or("");
        let problem = match (Prefix::parse(first), words.next()) {
            (Ok(p), None) => {
                out.push(p);
                continue;
            }
            (Ok(_), Some(extra)) => {
                format!("unexpected text {extra:?} after the prefix; line skipped")
            }
            (Err(e), _) => format!("invalid CIDR {first:?}: {e}; line skipped"),
        };
        diags.push(Diagnostic {
            file: Some(path.to_path_buf()),
            document: None,
            object: None,
            entry: Some(c.to_owned()),
            line: Some(i as u64 + 1),
            kind: DiagnosticKind::InvalidEntry,
            message: problem,
        });
    }
    out
}

/// Whether the first meaningful line of `text` is a prefix (used to recognise lists without a known extension).
pub(crate) fn looks_like_list(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .map(content)
        .find(|c| !c.is_empty())
        .and_then(|c| c.split_ascii_whitespace().next())
        .is_some_and(|w| Prefix::parse(w).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_bare_ips_and_bad_lines() {
        let text = "\u{feff}# ipdeny zone\r\n192.0.2.0/24\r\n\n  198.51.100.7   # a host\n2001:db8::/32 ; trailing\n10.0.0.0/33\n203.0.113.0/24 extra\n";
        let mut diags = Vec::new();
        let got = parse_list(Path::new("ru.zone"), text, &mut diags);
        let got: Vec<String> = got.iter().map(|p| p.to_string()).collect();
        assert_eq!(got, ["192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32"]);
        assert_eq!(diags.len(), 2);
        assert_eq!(diags[0].line, Some(6));
        assert_eq!(diags[0].entry.as_deref(), Some("10.0.0.0/33"));
        assert!(
            diags[0].message.contains("exceeds 32"),
            "{}",
            diags[0].message
        );
        assert_eq!(diags[1].line, Some(7));
        assert!(
            diags[1].to_string().starts_with("ru.zone:7: "),
            "{}",
            diags[1]
        );
    }

    #[test]
    fn sniffs_lists() {
        assert!(looks_like_list("# header\n\n10.0.0.0/8\n"));
        assert!(looks_like_list("2001:db8::1\n"));
        assert!(!looks_like_list("apiVersion: v1\nkind: List\n"));
        assert!(!looks_like_list("{\"kind\":\"List\"}"));
        assert!(!looks_like_list(""));
    }
}
