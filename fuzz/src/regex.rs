//! Properties of the Go regexp parser (`goregex`) on arbitrary pattern text.

use hubble_flow::filter::goregex;

/// Haystacks every compiled pattern is run on: ASCII, multi-byte UTF-8, case-fold specials, newlines.
const HAYSTACKS: &[&str] = &[
    "",
    "a",
    "/api/v1/users/42",
    "caf\u{e9} x\nK\u{212a}\u{17f}s",
    "\u{1F600}\u{10FFFF}\u{0}",
];

/// `parse` and `compile` never panic; a pattern that parses also compiles (unless the automaton is over its
/// size limit, which is an error, not a panic) and its matcher runs on every haystack.
pub fn check(data: &[u8]) {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = goregex::parse(pattern);
    match goregex::compile(pattern) {
        Ok(re) => {
            assert!(parsed.is_ok(), "{pattern:?} compiles but does not parse");
            for h in HAYSTACKS {
                let _ = re.is_match(h);
            }
        }
        Err(e) => assert!(
            parsed.is_err() || e.contains("error compiling regexp"),
            "{pattern:?}: parses but fails to compile: {e}"
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples_pass() {
        for p in [
            "a**",
            "(?i)k",
            r"\p{Greek}+",
            "[[:alpha:]",
            r"\x{110000}",
            "((a){2}){501}",
        ] {
            super::check(p.as_bytes());
        }
    }
}
