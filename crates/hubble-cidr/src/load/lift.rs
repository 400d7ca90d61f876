//! The fast path for long CIDR lists in YAML manifests: block sequences under `externalCIDRs:` / `nets:` are
//! read line by line here instead of through the YAML parser.
//!
//! Owns: [`lift_cidr_blocks`] and the marker that stands for a lifted block in the rewritten text.
//! Guarantees:
//! - A block is lifted only when every line of it has the one plain shape geo-blocking lists use
//!   (`<indent>- <prefix>` or `<indent>- "<prefix>"`/`'<prefix>'`, optional trailing comment, blank and comment
//!   lines between items) and every entry is a valid prefix with a length. Anything else (an invalid entry, a
//!   bare address, a tab, a nested node, a multi-line scalar, flow syntax) leaves the block to the YAML parser,
//!   so diagnostics and semantics are those of the slow path; the fast path changes speed, never results
//!   (property test below).
//! - The rewritten text has the same number of lines as the original: the key line becomes
//!   `<key>: "<marker>"` and each lifted line becomes empty, so YAML error positions stay true.
//! - The marker carries a per-process random nonce, so text in a manifest cannot name a lifted block.
//!
//! Why: a 200k-prefix CiliumCIDRGroup file spent ~60 % of its load time in YAML tokenizing (BENCHMARKS.md,
//! "CIDR table load").

use std::sync::OnceLock;

use crate::prefix::Prefix;

/// A manifest's text with its CIDR blocks taken out, and the prefixes of each block (index = marker number).
pub(crate) struct Lifted {
    pub text: String,
    pub blocks: Vec<Vec<Prefix>>,
}

fn marker_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        use std::hash::BuildHasher;
        let nonce = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        format!("hubble-cidr-lifted-{nonce:016x}-")
    })
}

/// The block number a marker string stands for, if `text` is a marker of this process.
pub(crate) fn marker_index(text: &str) -> Option<usize> {
    text.strip_prefix(marker_prefix())?.parse().ok()
}

const KEYS: [&str; 2] = ["externalCIDRs", "nets"];

/// Lifts every liftable CIDR block out of `text`; `None` when there is none (the text is parsed as it is).
pub(crate) fn lift_cidr_blocks(text: &str) -> Option<Lifted> {
    if !KEYS.iter().any(|k| text.contains(k)) {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut blocks = Vec::new();
    let mut copied_to = 0; // lines[..copied_to] are in `out` (only once something was lifted)
    let mut i = 0;
    while i < lines.len() {
        let Some(key_indent) = key_line(lines[i]) else {
            i += 1;
            continue;
        };
        let Some((end, prefixes)) = block(&lines, i + 1, key_indent) else {
            i += 1;
            continue;
        };
        if out.capacity() == 0 {
            out.reserve(text.len() / 8 + 64);
        }
        for l in &lines[copied_to..i] {
            out.push_str(l);
        }
        let key_line = lines[i].trim_end_matches(['\n', '\r']);
        let key_end = key_line.find(':').unwrap_or(key_line.len());
        out.push_str(&key_line[..key_end]);
        out.push_str(": \"");
        out.push_str(marker_prefix());
        out.push_str(&blocks.len().to_string());
        out.push_str("\"\n");
        for _ in i + 1..end {
            out.push('\n');
        }
        blocks.push(prefixes);
        copied_to = end;
        i = end;
    }
    if blocks.is_empty() {
        return None;
    }
    for l in &lines[copied_to..] {
        out.push_str(l);
    }
    Some(Lifted { text: out, blocks })
}

/// `<spaces>externalCIDRs:` or `<spaces>nets:`, then only spaces or a comment: the key's indentation.
fn key_line(line: &str) -> Option<usize> {
    let body = line.trim_end_matches(['\n', '\r']);
    let rest = body.trim_start_matches(' ');
    let indent = body.len() - rest.len();
    let key = KEYS.iter().find(|k| rest.starts_with(*k))?;
    let after = rest[key.len()..].strip_prefix(':')?;
    is_blank_or_comment(after).then_some(indent)
}

/// Nothing, spaces, or spaces then a comment (YAML needs a space before `#`).
fn is_blank_or_comment(s: &str) -> bool {
    let t = s.trim_start_matches(' ');
    t.is_empty() || (t.starts_with('#') && t.len() < s.len())
}

/// The block sequence that starts at `lines[start]` under a key at `key_indent`: the index of the first
/// line after it and its prefixes, or `None` when any line is not of the plain shape.
fn block(lines: &[&str], start: usize, key_indent: usize) -> Option<(usize, Vec<Prefix>)> {
    let mut item_indent = None;
    let mut prefixes = Vec::new();
    let mut last_item = start; // first line after the last item
    let mut i = start;
    while i < lines.len() {
        let body = lines[i].trim_end_matches(['\n', '\r']);
        if body.contains('\t') {
            return None;
        }
        let rest = body.trim_start_matches(' ');
        let indent = body.len() - rest.len();
        if rest.is_empty() || rest.starts_with('#') {
            i += 1;
            continue;
        }
        let is_item = rest.starts_with("- ") || rest == "-";
        match item_indent {
            None if is_item && indent >= key_indent => item_indent = Some(indent),
            Some(n) if is_item && indent == n => {}
            // The next key (or the end of the document): the block ended before it.
            _ if indent <= key_indent && !is_item => break,
            _ if indent < key_indent => break,
            _ => return None,
        }
        prefixes.push(entry(&rest[1..])?);
        i += 1;
        last_item = i;
    }
    if prefixes.is_empty() {
        return None;
    }
    // Trailing blank/comment lines stay with whatever follows.
    Some((last_item, prefixes))
}

/// `<spaces><prefix>[<spaces>[#comment]]`, the prefix plain or quoted without escapes.
fn entry(after_dash: &str) -> Option<Prefix> {
    let s = after_dash.strip_prefix(' ')?.trim_start_matches(' ');
    let (scalar, rest) = match s.as_bytes().first()? {
        q @ (b'"' | b'\'') => {
            let close = s[1..].find(*q as char)? + 1;
            (&s[1..close], &s[close + 1..])
        }
        _ => {
            let end = s.find(' ').unwrap_or(s.len());
            (&s[..end], &s[end..])
        }
    };
    if scalar.is_empty()
        || !scalar
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'/'))
        || !scalar.contains('/')
        || !is_blank_or_comment(rest)
    {
        return None;
    }
    Prefix::parse(scalar).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifted(text: &str) -> Option<(String, Vec<Vec<String>>)> {
        lift_cidr_blocks(text).map(|l| {
            let blocks = l
                .blocks
                .iter()
                .map(|b| b.iter().map(|p| p.to_string()).collect())
                .collect();
            (l.text.replace(marker_prefix(), "M"), blocks)
        })
    }

    #[test]
    fn lifts_a_plain_block_and_keeps_line_count() {
        let text = "spec:\n  externalCIDRs: # geo\n  - \"10.0.0.0/8\"\n\n  # note\n  - 192.0.2.0/24 # x\n  - '2001:db8::/32'\nother: 1\n";
        let (out, blocks) = lifted(text).unwrap();
        assert_eq!(out, "spec:\n  externalCIDRs: \"M0\"\n\n\n\n\n\nother: 1\n");
        assert_eq!(out.lines().count(), text.lines().count());
        assert_eq!(
            blocks,
            vec![vec!["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]]
        );
    }

    #[test]
    fn indented_items_and_several_blocks() {
        let text = "a:\n  nets:\n    - 10.0.0.0/8\n---\nspec:\n  externalCIDRs:\n  - 10.1.0.0/16\n";
        let (out, blocks) = lifted(text).unwrap();
        assert_eq!(
            out,
            "a:\n  nets: \"M0\"\n\n---\nspec:\n  externalCIDRs: \"M1\"\n\n"
        );
        assert_eq!(blocks, vec![vec!["10.0.0.0/8"], vec!["10.1.0.0/16"]]);
    }

    #[test]
    fn anything_unusual_is_left_to_the_yaml_parser() {
        for text in [
            "spec:\n  externalCIDRs:\n  - 10.0.0.1\n", // bare address
            "spec:\n  externalCIDRs:\n  - nope/8\n",   // invalid
            "spec:\n  externalCIDRs:\n  - \"10.0.0.0/8\\n\"\n", // escape
            "spec:\n  externalCIDRs:\n  -\n    10.0.0.0/8\n", // nested
            "spec:\n  externalCIDRs:\n  - 10.0.0.0/8\n    10.1.0.0/16\n", // continuation
            "spec:\n  externalCIDRs: [10.0.0.0/8]\n",  // flow
            "spec:\n  externalCIDRs:\n\t- 10.0.0.0/8\n", // tab
            "spec:\n  externalCIDRs:\n  - 10.0.0.0/8#x\n", // not a comment
            "spec:\n  externalCIDRs:\n  - \"10.0.0.0/8\"x\n", // junk after quote
            "spec:\n  externalCIDRs:\nnets: 1\n",      // empty
            "spec:\n  \"externalCIDRs\":\n  - 10.0.0.0/8\n", // quoted key
        ] {
            assert!(lifted(text).is_none(), "{text:?} was lifted");
        }
    }

    #[test]
    fn a_marker_of_another_nonce_is_not_a_marker() {
        assert_eq!(marker_index("hubble-cidr-lifted-0000000000000000-0"), None);
        assert_eq!(marker_index(&format!("{}7", marker_prefix())), Some(7));
    }

    mod equivalence {
        use super::super::super::manifest::{collect, parse_yaml, parse_yaml_text};
        use super::super::super::Diagnostic;
        use crate::group::Origin;
        use proptest::prelude::*;
        use std::path::Path;

        /// What a load yields: groups (name, prefixes) and diagnostics, or the error text.
        fn outcome(
            objects: Result<
                Vec<super::super::super::manifest::RawObject>,
                super::super::super::LoadError,
            >,
        ) -> String {
            match objects {
                Err(e) => format!("error: {e}"),
                Ok(objects) => {
                    let mut diags: Vec<Diagnostic> = Vec::new();
                    let mut out = Vec::new();
                    let origin = Origin::File("m.yaml".into());
                    for (doc, obj) in objects.into_iter().enumerate() {
                        collect(obj, &origin, Some(doc), None, &mut diags, &mut out);
                    }
                    let groups: Vec<String> = out
                        .iter()
                        .map(|g| {
                            let prefixes: Vec<String> =
                                g.group.prefixes.iter().map(ToString::to_string).collect();
                            format!("{} {:?} {prefixes:?}", g.group.name, g.group.labels)
                        })
                        .collect();
                    format!("{groups:#?}\n{diags:#?}")
                }
            }
        }

        fn entry() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => (any::<[u8; 4]>(), 8u8..=32).prop_map(|(a, l)| format!("{}.{}.{}.{}/{l}", a[0], a[1], a[2], a[3])),
                2 => (any::<u16>(), any::<u16>(), 16u8..=64).prop_map(|(a, b, l)| format!("2001:{a:x}:{b:x}::/{l}")),
                1 => Just("10.0.0.1".to_owned()),
                1 => Just("nope/8".to_owned()),
                1 => Just("10.0.0.0/33".to_owned()),
                1 => Just("1.5".to_owned()),
                1 => Just("~".to_owned()),
            ]
        }

        fn item() -> impl Strategy<Value = String> {
            (entry(), 0..6u8, 0..5u8).prop_map(|(e, quote, tail)| {
                let v = match quote {
                    0 | 1 => e,
                    2 | 3 => format!("\"{e}\""),
                    4 => format!("'{e}'"),
                    _ => format!("\"{e}\\u0041\""),
                };
                let tail = match tail {
                    0 => " # c",
                    1 => "  ",
                    2 => "#c",
                    _ => "",
                };
                format!("- {v}{tail}")
            })
        }

        fn document() -> impl Strategy<Value = String> {
            (
                prop::sample::select(vec!["CiliumCIDRGroup", "GlobalNetworkSet", "ConfigMap"]),
                0..3usize,
                prop::collection::vec((item(), 0..4u8), 0..8),
                0..6u8,
                any::<bool>(),
            )
                .prop_map(|(kind, indent, items, after, list)| {
                    let api = if kind == "GlobalNetworkSet" { "projectcalico.org/v3" } else { "cilium.io/v2" };
                    let key = if kind == "GlobalNetworkSet" { "nets" } else { "externalCIDRs" };
                    let pad = " ".repeat(indent);
                    let mut body = format!("kind: {kind}\napiVersion: {api}\nmetadata:\n  name: g-{indent}\nspec:\n  {key}:\n");
                    for (it, extra) in items {
                        match extra {
                            0 => body.push('\n'),
                            1 => body.push_str("  # comment\n"),
                            _ => {}
                        }
                        body.push_str(&format!("  {pad}{it}\n"));
                    }
                    match after {
                        0 => body.push_str("  other: 1\n"),
                        1 => body.push_str(&format!("  {pad}  continued\n")),
                        2 => body.push_str("status: {}\n"),
                        3 => body.push_str(&format!("\t{pad}- 10.0.0.0/8\n")),
                        _ => {}
                    }
                    if list {
                        let indented: String = body.lines().map(|l| format!("  {l}\n")).collect();
                        format!("kind: List\napiVersion: v1\nitems:\n-\n{indented}")
                    } else {
                        body
                    }
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]
            /// The fast path changes speed, never results: groups, prefixes, diagnostics and errors are
            /// those of the YAML parser alone.
            #[test]
            fn lifting_changes_nothing(docs in prop::collection::vec(document(), 1..4)) {
                let text = docs.join("---\n");
                let path = Path::new("m.yaml");
                let fast = outcome(parse_yaml(path, &text));
                let slow = outcome(parse_yaml_text(path, &text));
                prop_assert_eq!(fast, slow, "text:\n{}", text);
            }
        }

        #[test]
        fn the_generator_reaches_the_fast_path() {
            let text = "kind: CiliumCIDRGroup\napiVersion: cilium.io/v2\nmetadata:\n  name: g\nspec:\n  externalCIDRs:\n  - 10.0.0.0/8\n";
            assert!(super::lift_cidr_blocks(text).is_some());
            let path = Path::new("m.yaml");
            assert_eq!(
                outcome(parse_yaml(path, text)),
                outcome(parse_yaml_text(path, text))
            );
            assert!(outcome(parse_yaml(path, text)).contains("10.0.0.0/8"));
        }
    }
}
