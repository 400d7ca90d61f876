//! Go RE2 (`regexp` package) syntax → Rust `regex` syntax, for user-supplied patterns (`http_path`, `http_url`,
//! `dns_query`).
//!
//! Guarantees: the translated pattern matches what Go's `regexp.Compile(p).MatchString` matches for the
//! differences that matter in practice: `\d \w \s` (and their negations outside classes) are ASCII-only as in Go;
//! a `{` that does not start a valid repetition is a literal (Go) instead of an error (Rust); `\Q…\E` quotes;
//! inside a class, `[` (other than `[:name:]`), `&&` and `~~` are literals as in Go. Patterns Go rejects may
//! still be rejected by Rust with a different message.

/// Compiles a Go regular expression.
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&translate(pattern)).map_err(|e| format!("{pattern}: {e}"))
}

fn valid_repeat(rest: &[char]) -> bool {
    // rest starts after '{': min [',' [max]] '}'
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < rest.len() && rest[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return false;
    }
    if i < rest.len() && rest[i] == ',' {
        i += 1;
        digits(&mut i);
    }
    i < rest.len() && rest[i] == '}'
}

fn push_escaped(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

/// The Rust-syntax equivalent of a Go pattern.
pub fn translate(p: &str) -> String {
    let c: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < c.len() {
        let ch = c[i];
        if ch == '\\' && i + 1 < c.len() {
            let n = c[i + 1];
            if n == 'Q' {
                i += 2;
                while i < c.len() && !(c[i] == '\\' && c.get(i + 1) == Some(&'E')) {
                    push_escaped(&mut out, c[i]);
                    i += 1;
                }
                i += 2;
                continue;
            }
            let class = match (n, in_class) {
                ('d', false) => Some("[0-9]"),
                ('D', false) => Some("[^0-9]"),
                ('w', false) => Some("[0-9A-Za-z_]"),
                ('W', false) => Some("[^0-9A-Za-z_]"),
                ('s', false) => Some(r"[\t\n\f\r ]"),
                ('S', false) => Some(r"[^\t\n\f\r ]"),
                ('d', true) => Some("0-9"),
                ('w', true) => Some("0-9A-Za-z_"),
                ('s', true) => Some(r"\t\n\f\r "),
                _ => None,
            };
            match class {
                Some(r) => out.push_str(r),
                None => {
                    out.push('\\');
                    out.push(n);
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            match ch {
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' if c.get(i + 1) == Some(&':') => {
                    // [:name:] copied through its closing ":]".
                    while i < c.len() {
                        out.push(c[i]);
                        if c[i] == ']' && i > 0 && c[i - 1] == ':' {
                            break;
                        }
                        i += 1;
                    }
                }
                '[' => out.push_str(r"\["),
                '&' | '~' if c.get(i + 1) == Some(&ch) => {
                    out.push('\\');
                    out.push(ch);
                }
                _ => out.push(ch),
            }
            i += 1;
            continue;
        }
        match ch {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if c.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if c.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                continue;
            }
            '{' if !valid_repeat(&c[i + 1..]) => out.push_str(r"\{"),
            _ => out.push(ch),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        compile(p).unwrap().is_match(s)
    }

    #[test]
    fn go_semantics() {
        assert!(m(r"/post/\d+", "/post/12"));
        assert!(!m(r"^\d$", "٣"), "Go \\d is ASCII");
        assert!(m(r"a{", "a{"));
        assert!(m(r"{foo}", "x{foo}"));
        assert!(m(r"x{2}", "xx"));
        assert!(m(r"a{,3}", "a{,3}"));
        assert!(m(r"\Qa.b\E", "a.b"));
        assert!(!m(r"\Qa.b\E", "axb"));
        assert!(m(r"[\d.]+$", "1.2"));
        assert!(m(r"[a[]", "["));
        assert!(m(r"[[:alpha:]]+", "abc"));
        assert!(m(r"[]a]", "]"));
        assert!(m(r"[a&&b]", "&"));
        assert!(compile("(").is_err());
        assert!(compile("*").is_err());
    }
}
