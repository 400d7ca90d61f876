//! Label selectors over endpoint and node labels: `source_label`, `destination_label`, `node_labels`.
//!
//! Owns three pieces of cilium/Kubernetes behaviour:
//! - [`translate_selector`]: hubble's `translateSelector` (the first `:` of each key becomes `.`, keys without a
//!   source get `any.`);
//! - [`Selector::parse`]: the Kubernetes label-selector grammar and validation (`,` AND; `=`, `==`, `!=`,
//!   `in (...)`, `notin (...)`, `key`, `!key`, `>`, `<`), as in `k8s.io/apimachinery/pkg/labels`;
//! - [`ParsedLabel::parse`] and the lookup rules of cilium's `LabelArray` (`source.key` lookups, `any` matches
//!   every source, `cidr` keys match by prefix containment).
//!
//! Guarantees: matching parses flow labels in place and does not allocate. The empty selector matches
//! everything. Labels of non-flow events are the empty set (cilium reads them through nil-safe getters).

use super::build::MatchFn;
use super::ip::Prefix;
use crate::flow::{Flow, StrList};

/// hubble's `translateSelector`.
pub fn translate_selector(selector: &str) -> String {
    let chars: Vec<char> = selector.chars().collect();
    let mut out = String::with_capacity(selector.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        // advance to the next key
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '!') {
            out.push(chars[i]);
            i += 1;
        }
        // the key
        let start = i;
        while i < chars.len() && !(chars[i].is_whitespace() || matches!(chars[i], '=' | '!' | ','))
        {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        let key = if key.contains(':') {
            key
        } else {
            format!("any:{key}")
        };
        out.push_str(&key.replacen(':', ".", 1));
        // advance to the next selector
        let mut nesting = 0i32;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '(' => nesting += 1,
                ')' => nesting -= 1,
                _ => {}
            }
            out.push(c);
            if c == ',' && nesting == 0 {
                break;
            }
        }
    }
    out
}

/// A selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `in (...)`
    In,
    /// `notin (...)`
    NotIn,
    /// `=` / `==`
    Equals,
    /// `!=`
    NotEquals,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `>`
    GreaterThan,
    /// `<`
    LessThan,
}

/// One requirement, with its key split into cilium (source, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Label source (`any` matches every source).
    pub source: String,
    /// Label key.
    pub key: String,
    /// Operator.
    pub op: Op,
    /// Values (sorted, unique).
    pub values: Vec<String>,
    /// The integer for `>`/`<`.
    pub number: i64,
}

/// A parsed selector: all requirements must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The requirements.
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    In,
    NotIn,
    Bang,
    NotEq,
    Eq,
    DoubleEq,
    Gt,
    Lt,
    Comma,
    Open,
    Close,
    End,
}

impl Tok {
    fn text(&self) -> &str {
        match self {
            Tok::Ident(s) => s,
            Tok::In => "in",
            Tok::NotIn => "notin",
            Tok::Bang => "!",
            Tok::NotEq => "!=",
            Tok::Eq => "=",
            Tok::DoubleEq => "==",
            Tok::Gt => ">",
            Tok::Lt => "<",
            Tok::Comma => ",",
            Tok::Open => "(",
            Tok::Close => ")",
            Tok::End => "",
        }
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}
fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn special_token(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b"!" => Tok::Bang,
        b"!=" => Tok::NotEq,
        b"(" => Tok::Open,
        b")" => Tok::Close,
        b"," => Tok::Comma,
        b"=" => Tok::Eq,
        b"==" => Tok::DoubleEq,
        b">" => Tok::Gt,
        b"<" => Tok::Lt,
        _ => return None,
    })
}

fn lex(input: &str) -> Result<Vec<Tok>, String> {
    let b = input.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] == 0 {
            toks.push(Tok::End);
            return Ok(toks);
        }
        if is_special(b[i]) {
            let start = i;
            let mut last: Option<(Tok, usize)> = None;
            while i < b.len() && is_special(b[i]) {
                match special_token(&b[start..=i]) {
                    Some(t) => last = Some((t, i + 1)),
                    None if last.is_some() => break,
                    None => {}
                }
                i += 1;
            }
            match last {
                Some((t, end)) => {
                    i = end;
                    toks.push(t);
                }
                None => {
                    return Err(format!(
                        "error expected: keyword found '{}'",
                        String::from_utf8_lossy(&b[start..i])
                    ))
                }
            }
        } else {
            let start = i;
            while i < b.len() && !is_ws(b[i]) && !is_special(b[i]) && b[i] != 0 {
                i += 1;
            }
            let word = &input[start..i];
            toks.push(match word {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident(word.to_string()),
            });
        }
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    /// Token in "values" context: keywords read as identifiers.
    fn peek_value(&self) -> Tok {
        match self.toks.get(self.pos).cloned().unwrap_or(Tok::End) {
            Tok::In => Tok::Ident("in".into()),
            Tok::NotIn => Tok::Ident("notin".into()),
            t => t,
        }
    }
    fn next_value(&mut self) -> Tok {
        let t = self.peek_value();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn next_raw(&mut self) -> Tok {
        let t = self.toks.get(self.pos).cloned().unwrap_or(Tok::End);
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
                && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn validate_key(k: &str) -> Result<(), String> {
    let parts: Vec<&str> = k.split('/').collect();
    let name = match parts.as_slice() {
        [n] => *n,
        [p, n] => {
            if p.is_empty() || !is_dns1123_subdomain(p) {
                return Err(format!(
                    "invalid label key {k:?}: prefix part must be a DNS-1123 subdomain"
                ));
            }
            *n
        }
        _ => {
            return Err(format!(
                "invalid label key {k:?}: a qualified name must have at most one '/'"
            ))
        }
    };
    if !is_qualified_name_part(name) {
        return Err(format!(
            "invalid label key {k:?}: name part must be a valid qualified name"
        ));
    }
    Ok(())
}

fn validate_value(v: &str) -> Result<(), String> {
    if v.is_empty() || is_qualified_name_part(v) {
        Ok(())
    } else {
        Err(format!("invalid label value: {v:?}"))
    }
}

impl Selector {
    /// Parses a translated selector (`k8s.app=foo, any.bar`) with Kubernetes' grammar and validation.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut p = Parser {
            toks: lex(text)?,
            pos: 0,
        };
        let mut reqs = Vec::new();
        loop {
            match p.peek_value() {
                Tok::Ident(_) | Tok::Bang => {
                    reqs.push(
                        parse_requirement(&mut p)
                            .map_err(|e| format!("unable to parse requirement: {e}"))?,
                    );
                    match p.next_value() {
                        Tok::End => break,
                        Tok::Comma => match p.peek_value() {
                            Tok::Ident(_) | Tok::Bang => {}
                            t => {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    t.text()
                                ))
                            }
                        },
                        t => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                t.text()
                            ))
                        }
                    }
                }
                Tok::End => break,
                t => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        t.text()
                    ))
                }
            }
        }
        Ok(Selector { requirements: reqs })
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &StrList<'_>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

fn parse_requirement(p: &mut Parser) -> Result<Requirement, String> {
    let mut op = None;
    let mut t = p.next_value();
    if t == Tok::Bang {
        op = Some(Op::DoesNotExist);
        t = p.next_value();
    }
    let Tok::Ident(key) = t else {
        return Err(format!("found '{}', expected: identifier", t.text()));
    };
    validate_key(&key)?;
    if matches!(p.peek_value(), Tok::End | Tok::Comma) && op.is_none() {
        op = Some(Op::Exists);
    }
    let (op, values) = match op {
        Some(o) => (o, Vec::new()),
        None => {
            let o = match p.next_raw() {
                Tok::In => Op::In,
                Tok::NotIn => Op::NotIn,
                Tok::Eq | Tok::DoubleEq => Op::Equals,
                Tok::NotEq => Op::NotEquals,
                Tok::Gt => Op::GreaterThan,
                Tok::Lt => Op::LessThan,
                t => {
                    return Err(format!(
                        "found '{}', expected: [!= = == in notin gt lt]",
                        t.text()
                    ))
                }
            };
            let vals = match o {
                Op::In | Op::NotIn => parse_values(p)?,
                _ => parse_exact_value(p)?,
            };
            (o, vals)
        }
    };
    new_requirement(key, op, values)
}

fn parse_values(p: &mut Parser) -> Result<Vec<String>, String> {
    let t = p.next_value();
    if t != Tok::Open {
        return Err(format!("found '{}' expected: '('", t.text()));
    }
    match p.peek_value() {
        Tok::Ident(_) | Tok::Comma => {
            let s = parse_identifiers(p)?;
            let t = p.next_value();
            if t != Tok::Close {
                return Err(format!("found '{}', expected: ')'", t.text()));
            }
            Ok(s)
        }
        Tok::Close => {
            p.next_value();
            Ok(vec![String::new()])
        }
        t => Err(format!(
            "found '{}', expected: ',', ')' or identifier",
            t.text()
        )),
    }
}

fn parse_identifiers(p: &mut Parser) -> Result<Vec<String>, String> {
    let mut s: Vec<String> = Vec::new();
    loop {
        match p.next_value() {
            Tok::Ident(v) => {
                s.push(v);
                match p.peek_value() {
                    Tok::Comma => continue,
                    Tok::Close => return Ok(s),
                    t => return Err(format!("found '{}', expected: ',' or ')'", t.text())),
                }
            }
            Tok::Comma => {
                if s.is_empty() {
                    s.push(String::new());
                }
                match p.peek_value() {
                    Tok::Close => {
                        s.push(String::new());
                        return Ok(s);
                    }
                    Tok::Comma => {
                        p.next_value();
                        s.push(String::new());
                    }
                    _ => {}
                }
            }
            t => {
                return Err(format!(
                    "found '{}', expected: ',', or identifier",
                    t.text()
                ))
            }
        }
    }
}

fn parse_exact_value(p: &mut Parser) -> Result<Vec<String>, String> {
    match p.peek_value() {
        Tok::End | Tok::Comma => Ok(vec![String::new()]),
        _ => match p.next_value() {
            Tok::Ident(v) => Ok(vec![v]),
            t => Err(format!("found '{}', expected: identifier", t.text())),
        },
    }
}

fn new_requirement(key: String, op: Op, mut values: Vec<String>) -> Result<Requirement, String> {
    values.sort();
    values.dedup();
    let mut number = 0;
    match op {
        Op::In | Op::NotIn if values.is_empty() => {
            return Err("for 'in', 'notin' operators, values set can't be empty".into())
        }
        Op::Equals | Op::NotEquals if values.len() != 1 => {
            return Err("exact-match compatibility requires one single value".into())
        }
        Op::GreaterThan | Op::LessThan => {
            if values.len() != 1 {
                return Err("for 'Gt', 'Lt' operators, exactly one value is required".into());
            }
            number = values[0].parse::<i64>().map_err(|_| {
                "for 'Gt', 'Lt' operators, the value must be an integer".to_string()
            })?;
        }
        _ => {}
    }
    for v in &values {
        validate_value(v)?;
    }
    let (source, k) = split_select_key(&key);
    Ok(Requirement {
        source: source.to_string(),
        key: k.to_string(),
        op,
        values,
        number,
    })
}

/// cilium `parseSelectLabel(key, '.')` without the value part: (source, key); no `.` means source `any`.
fn split_select_key(key: &str) -> (&str, &str) {
    if let Some(rest) = key.strip_prefix('$') {
        return ("reserved", rest);
    }
    match key.split_once('.') {
        Some((s, k)) => (if s.is_empty() { "any" } else { s }, k),
        None => ("any", key),
    }
}

/// A flow label (`source:key=value`) split as cilium's `ParseLabel` does, borrowing from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedLabel<'s> {
    /// Source (`unspec` when none is given).
    pub source: &'s str,
    /// Key.
    pub key: &'s str,
    /// Value (may be empty).
    pub value: &'s str,
}

impl<'s> ParsedLabel<'s> {
    /// Parses one label string.
    pub fn parse(s: &'s str) -> ParsedLabel<'s> {
        let (src, next) = if s.is_empty() {
            ("", "")
        } else if let Some(rest) = s.strip_prefix('$') {
            ("reserved", rest)
        } else if let Some((a, b)) = s.split_once(':') {
            (a, b)
        } else if let Some(rest) = s.strip_prefix("reserved.") {
            ("reserved", rest)
        } else {
            ("", s)
        };
        let source = if src.is_empty() { "unspec" } else { src };
        let (key, value) = match next.find('=') {
            None => (next, ""),
            Some(0) if src == "reserved" => (&next[1..], ""),
            Some(i) => (&next[..i], &next[i + 1..]),
        };
        ParsedLabel { source, key, value }
    }
}

fn cidr_prefix(key: &str) -> Option<Prefix> {
    if key.contains('-') {
        Prefix::parse(&key.replace('-', ":"))
    } else {
        Prefix::parse(key)
    }
}

impl Requirement {
    /// cilium `Label.HasKey(target)` with this requirement as the target.
    fn has_key(&self, l: &ParsedLabel<'_>) -> bool {
        if self.source != "any" && l.source != self.source {
            return false;
        }
        if self.source == "cidr" && l.source == "cidr" {
            if let (Some(t), Some(p)) = (cidr_prefix(&self.key), cidr_prefix(l.key)) {
                return t.bits() <= p.bits() && t.contains(p.addr());
            }
        }
        l.key == self.key
    }

    /// `Get`: the value of the first label with this key.
    fn lookup<'s>(&self, labels: &'s StrList<'_>) -> Option<&'s str> {
        labels
            .iter()
            .map(ParsedLabel::parse)
            .find(|l| self.has_key(l))
            .map(|l| l.value)
    }

    /// Whether the labels satisfy this requirement (Kubernetes semantics).
    pub fn matches(&self, labels: &StrList<'_>) -> bool {
        let found = self.lookup(labels);
        match self.op {
            Op::In | Op::Equals => found.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn | Op::NotEquals => found.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Op::Exists => found.is_some(),
            Op::DoesNotExist => found.is_none(),
            Op::GreaterThan | Op::LessThan => match found.and_then(|v| v.parse::<i64>().ok()) {
                Some(n) => {
                    if self.op == Op::GreaterThan {
                        n > self.number
                    } else {
                        n < self.number
                    }
                }
                None => false,
            },
        }
    }
}

/// Compiles one user selector (translation + parse).
pub fn compile_selector(user: &str) -> Result<Selector, String> {
    Selector::parse(&translate_selector(user))
}

/// Which label list.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    /// `source.labels`.
    Source,
    /// `destination.labels`.
    Destination,
    /// `node_labels`.
    Node,
}

/// The labels of an absent endpoint or flow.
static NO_LABELS: StrList<'static> = StrList::EMPTY;

fn labels_of<'r, 'a>(f: &'r Flow<'a>, w: Which) -> &'r StrList<'a> {
    match w {
        Which::Source => f.source.as_ref().map_or(&NO_LABELS, |e| &e.labels),
        Which::Destination => f.destination.as_ref().map_or(&NO_LABELS, |e| &e.labels),
        Which::Node => &f.node_labels,
    }
}

/// Builds the matcher: any selector matching is a match.
pub fn matcher(selectors: &[String], which: Which) -> Result<MatchFn, String> {
    let compiled = selectors
        .iter()
        .map(|s| compile_selector(s))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Box::new(move |ev| {
        let labels = match ev.flow() {
            Some(f) => labels_of(f, which),
            None => &NO_LABELS,
        };
        compiled.iter().any(|s| s.matches(labels))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn l(v: &[&'static str]) -> StrList<'static> {
        v.iter()
            .map(|s| Cow::Borrowed(*s))
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn translation() {
        assert_eq!(translate_selector("k8s:foo, bar"), "k8s.foo, any.bar");
        assert_eq!(translate_selector("foo in (a,b,c)"), "any.foo in (a,b,c)");
        assert_eq!(translate_selector("!k8s:b"), "!k8s.b");
        assert_eq!(translate_selector(""), "");
    }

    #[test]
    fn selector_grammar() {
        assert!(compile_selector("").unwrap().requirements.is_empty());
        assert!(compile_selector("()").is_err());
        assert!(compile_selector("=").is_err());
        assert!(compile_selector("any:k8s:bla").is_err());
        assert!(compile_selector("k8s:app in ()").is_ok());
        assert!(compile_selector("k8s:n > x").is_err());
        assert!(compile_selector("a=b,").is_err());
        assert!(compile_selector("!a=b").is_err());
        assert!(compile_selector("a==b, c!=d, e notin (x,y), !f, g, h>3, i<4").is_ok());
    }

    #[test]
    fn matching() {
        let labels = l(&[
            "k8s:app=foo",
            "reserved:world",
            "k8s:n=5",
            "cidr:10.0.0.0/24",
        ]);
        let m = |s: &str| compile_selector(s).unwrap().matches(&labels);
        assert!(m("k8s:app=foo"));
        assert!(m("app=foo"));
        assert!(!m("container:app=foo"));
        assert!(m("reserved:world"));
        assert!(m("!k8s:missing"));
        assert!(m("k8s:missing!=x"));
        assert!(m("k8s:app notin (bar)"));
        assert!(m("k8s:n>4"));
        assert!(!m("k8s:n<5"));
        assert!(m(""));
        assert!(m("cidr:10.0.0.0/8"));
        assert!(!m("cidr:10.0.0.0/25"));
        assert!(m("k8s:app in (foo, bar), reserved:world"));
    }

    #[test]
    fn cilium_label_parsing() {
        assert_eq!(
            ParsedLabel::parse("k8s:a=b=c"),
            ParsedLabel {
                source: "k8s",
                key: "a",
                value: "b=c"
            }
        );
        assert_eq!(
            ParsedLabel::parse("$host"),
            ParsedLabel {
                source: "reserved",
                key: "host",
                value: ""
            }
        );
        assert_eq!(
            ParsedLabel::parse("foo"),
            ParsedLabel {
                source: "unspec",
                key: "foo",
                value: ""
            }
        );
        assert_eq!(
            ParsedLabel::parse("reserved.host"),
            ParsedLabel {
                source: "reserved",
                key: "host",
                value: ""
            }
        );
    }
}
