//! Differential property test of the Go-syntax regex parser (`filter::goregex`) against the `regex` crate on the
//! part of the syntax where Go's and Rust's dialects mean the same thing: ASCII literals, bracket classes
//! (plain, ranged, negated), `.`, `^`, `$`, `\A`, `\z`, groups (capturing, non-capturing, flag groups with `i`,
//! `m`, `s`), alternation and one repetition operator per atom (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, lazy or
//! not). For every generated pattern both must compile, and they must agree on every generated input. It catches
//! parser slips (precedence, group and flag scoping, class parsing) that the Go oracle sample might not reach.

use hubble_flow::filter::goregex;
use proptest::prelude::*;

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "c", "A", "-", "x"]).prop_map(str::to_owned),
        1 => Just(".".to_owned()),
        1 => Just(r"\.".to_owned()),
        2 => prop::sample::select(vec![
            "[ab]", "[^a]", "[a-c]", "[^\\n]", "[-a]", "[a-]", "[]a]", "[^]a]", "[A-Za-z]", "[.]"
        ])
        .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["^", "$", r"\A", r"\z"]).prop_map(str::to_owned),
    ]
}

fn repeat() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(String::new()),
        1 => prop::sample::select(vec!["*", "+", "?", "{2}", "{1,}", "{0,2}", "{1,3}"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["*?", "+?", "??", "{2,}?"]).prop_map(str::to_owned),
    ]
}

fn regex_tree() -> impl Strategy<Value = String> {
    let leaf = (atom(), repeat()).prop_map(|(a, r)| {
        // Repeating an assertion is fine in Go; the regex crate rejects some forms, so keep assertions bare.
        if matches!(a.as_str(), "^" | "$" | r"\A" | r"\z") {
            a
        } else {
            a + &r
        }
    });
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join("|")),
            (
                prop::sample::select(vec![
                    "(", "(?:", "(?i:", "(?s:", "(?m:", "(?-i:", "(?is:", "(?U:"
                ]),
                inner.clone(),
                repeat()
            )
                .prop_map(|(open, body, r)| format!("{open}{body}){r}")),
            (
                prop::sample::select(vec!["(?i)", "(?m)", "(?s)", "(?-i)"]),
                inner
            )
                .prop_map(|(flags, body)| format!("{flags}{body}")),
        ]
    })
}

fn input() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!['a', 'b', 'c', 'A', 'B', '-', '.', '\n', 'x', ']']),
        0..8,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn go_parser_agrees_with_rust_on_the_shared_syntax(pattern in regex_tree(), inputs in prop::collection::vec(input(), 1..8)) {
        let rust = regex::Regex::new(&pattern);
        let go = goregex::compile(&pattern);
        match (go, rust) {
            (Ok(go), Ok(rust)) => {
                for s in &inputs {
                    prop_assert_eq!(go.is_match(s), rust.is_match(s), "pattern {:?} on {:?}", pattern, s);
                }
            }
            // Both dialects accept every pattern of the shared syntax above (named groups are left out: Rust
            // rejects duplicate names, Go does not).
            (go, rust) => prop_assert!(
                go.is_err() && rust.is_err(),
                "pattern {:?}: go {:?}, rust {:?}",
                pattern,
                go.err(),
                rust.err()
            ),
        }
    }
}

/// Pieces of Go regexp syntax, valid and broken, for the never-panics property.
fn go_syntax_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "(", ")", "(?", "(?i", "(?-", ":", "(?P<", "(?<", ">", "n", "[", "]", "^", "-", "[:",
            ":]", "alpha", "\\", "\\p", "\\P", "{", "}", "\\x", "\\x{", "\\Q", "\\E", "\\b", "\\B",
            "\\d", "\\0", "\\1", "\\7", "*", "+", "?", "{2}", "{1,}", "{0,1001}", "{", ",", "1",
            "0", "|", ".", "$", "a", "é", "k", "\u{212A}", "Greek", "^L", "Lu", "ff", "10FFFF",
            "D800", "\n",
        ]),
        0..24,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn any_pattern_compiles_or_errors_without_panicking(pattern in go_syntax_soup(), s in "[a-zA-Zé\\n\u{212A}-]{0,6}") {
        if let Ok(re) = goregex::compile(&pattern) {
            let _ = re.is_match(&s);
        }
    }
}
