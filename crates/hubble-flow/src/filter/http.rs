//! L7 matchers: `http_status_code`, `http_method`, `http_path`, `http_url`, `http_header`, and `dns_query`.
//!
//! Guarantees (cilium `http.go`, `fqdn.go`): the five HTTP fields are build errors unless `event_type` is empty or
//! has an entry of type 129 (L7). Status codes are `NNN` (`[1-5][0-9]{2}`, exact) or `N+`/`NN+` (prefix of the
//! zero-padded code); a flow code of 0 never matches. Methods compare case-insensitively. Paths and URLs are
//! unanchored regexes; the path is taken from the URL as Go's `url.ParseRequestURI` does (unparsable URLs never
//! match). Headers compare key and value exactly. DNS queries are unanchored regexes on `l7.dns.query`.

use super::build::{BuildError, MatchFn};
use super::goregex::GoRegex;
use super::spec::FlowFilterSpec;
use crate::flow::Http;
use std::borrow::Cow;

const L7_TYPE: i32 = 129;

fn compile_regexes(list: &[String]) -> Result<Vec<GoRegex>, String> {
    list.iter().map(|r| super::goregex::compile(r)).collect()
}

fn http_of<'r, 'a>(ev: super::Event<'r, 'a>) -> Option<&'r Http<'a>> {
    ev.flow()
        .and_then(|f| f.l7.as_ref())
        .and_then(|l| l.http.as_ref())
}

/// The flow's non-empty `l7.http.url`.
fn url_of<'r>(ev: super::Event<'r, '_>) -> Option<&'r str> {
    http_of(ev)
        .and_then(|h| h.url.as_deref())
        .filter(|u| !u.is_empty())
}

/// Adds the HTTP matchers of `s` through `add`.
pub fn add_matchers(
    s: &FlowFilterSpec,
    add: &mut impl FnMut(&'static str, Result<MatchFn, String>) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    let l7_compatible =
        s.event_type.is_empty() || s.event_type.iter().any(|t| t.event_type == L7_TYPE);
    let require = |name: &'static str, what: &str| -> Result<(), BuildError> {
        if l7_compatible {
            Ok(())
        } else {
            Err((
                name,
                format!(
                    "filtering by {what} requires the event type filter to only match 'l7' events"
                ),
            ))
        }
    };
    if !s.http_status_code.is_empty() {
        require("http_status_code", "http status code")?;
        add("http_status_code", status_code(&s.http_status_code))?;
    }
    if !s.http_method.is_empty() {
        require("http_method", "http method")?;
        let methods = s.http_method.clone();
        add(
            "http_method",
            Ok(Box::new(move |ev| {
                let Some(m) = http_of(ev)
                    .and_then(|h| h.method.as_deref())
                    .filter(|m| !m.is_empty())
                else {
                    return false;
                };
                methods.iter().any(|x| eq_fold(x, m))
            })),
        )?;
    }
    if !s.http_path.is_empty() {
        require("http_path", "http path")?;
        let res = compile_regexes(&s.http_path)
            .map_err(|e| ("http_path", format!("invalid http path filter: {e}")))?;
        add(
            "http_path",
            Ok(Box::new(move |ev| {
                let Some(url) = url_of(ev) else {
                    return false;
                };
                match request_uri_path(url) {
                    Some(path) => res.iter().any(|r| r.is_match(&path)),
                    None => false,
                }
            })),
        )?;
    }
    if !s.http_url.is_empty() {
        require("http_url", "http url")?;
        let res = compile_regexes(&s.http_url)
            .map_err(|e| ("http_url", format!("invalid http url filter: {e}")))?;
        add(
            "http_url",
            Ok(Box::new(move |ev| {
                let Some(url) = url_of(ev) else {
                    return false;
                };
                res.iter().any(|r| r.is_match(url))
            })),
        )?;
    }
    if !s.http_header.is_empty() {
        require("http_header", "http headers")?;
        let want = s.http_header.clone();
        add(
            "http_header",
            Ok(Box::new(move |ev| {
                let Some(h) = http_of(ev) else { return false };
                h.headers.iter().any(|fh| {
                    let (k, v) = (
                        fh.key.as_deref().unwrap_or(""),
                        fh.value.as_deref().unwrap_or(""),
                    );
                    want.iter().any(|w| w.key == k && w.value == v)
                })
            })),
        )?;
    }
    Ok(())
}

/// Unicode simple case folding equality, as Go's `strings.EqualFold`.
fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    let mut x = a.chars().flat_map(char::to_lowercase);
    let mut y = b.chars().flat_map(char::to_lowercase);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p == q => {}
            _ => return false,
        }
    }
}

fn status_code(entries: &[String]) -> Result<MatchFn, String> {
    let mut full: Vec<u32> = Vec::new();
    let mut prefix: Vec<String> = Vec::new();
    for s in entries {
        let b = s.as_bytes();
        let is_full =
            b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && b[1..].iter().all(u8::is_ascii_digit);
        let is_prefix = (b.len() == 2 || b.len() == 3)
            && b[b.len() - 1] == b'+'
            && (b'1'..=b'5').contains(&b[0])
            && b[1..b.len() - 1].iter().all(u8::is_ascii_digit);
        if is_full {
            full.push(
                s.parse()
                    .map_err(|_| format!("invalid status code prefix: {s:?}"))?,
            );
        } else if is_prefix {
            prefix.push(s[..s.len() - 1].to_string());
        } else {
            return Err(format!(
                "invalid http status code filter: invalid status code prefix: {s:?}"
            ));
        }
    }
    Ok(Box::new(move |ev| {
        let Some(h) = http_of(ev) else { return false };
        if h.code == 0 {
            return false;
        }
        if full.contains(&h.code) {
            return true;
        }
        if prefix.is_empty() {
            return false;
        }
        // `%03d` without allocating: at most 10 digits.
        let mut buf = [0u8; 12];
        let text = pad3(h.code, &mut buf);
        prefix.iter().any(|p| text.starts_with(p.as_str()))
    }))
}

fn pad3(mut n: u32, buf: &mut [u8; 12]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while buf.len() - i < 3 {
        i -= 1;
        buf[i] = b'0';
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

/// `dns_query`.
pub fn dns_query(patterns: &[String]) -> Result<MatchFn, String> {
    let res = compile_regexes(patterns)
        .map_err(|e| format!("invalid DNS query filter: failed to compile regexp: {e}"))?;
    Ok(Box::new(move |ev| {
        let Some(dns) = ev
            .flow()
            .and_then(|f| f.l7.as_ref())
            .and_then(|l| l.dns.as_ref())
        else {
            return false;
        };
        let q = dns.query.as_deref().unwrap_or("");
        res.iter().any(|r| r.is_match(q))
    }))
}

/// The decoded path of `url` as Go's `url.ParseRequestURI(url).Path`, or `None` where Go returns an error.
/// Borrows unless the path has `%` escapes.
pub fn request_uri_path(raw: &str) -> Option<Cow<'_, str>> {
    if raw.is_empty() || raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    if raw == "*" {
        return Some(Cow::Borrowed("*"));
    }
    // Scheme.
    let mut scheme = "";
    let mut rest = raw;
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' => {
                if i == 0 {
                    return None; // missing protocol scheme
                }
                scheme = &raw[..i];
                rest = &raw[i + 1..];
                break;
            }
            _ => break,
        }
    }
    // Query (a request URI has no fragment: '#' stays in the path).
    if let Some(q) = rest.find('?') {
        rest = &rest[..q];
    }
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            return Some(Cow::Borrowed("")); // opaque URL, empty Path
        }
        return None; // invalid URI for request
    }
    if !scheme.is_empty() && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        if !valid_authority(authority) {
            return None;
        }
        rest = path;
    }
    unescape_path(rest)
}

fn valid_authority(a: &str) -> bool {
    let host = match a.rfind('@') {
        Some(i) => {
            let user = &a[..i];
            if !user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b))
            {
                return false;
            }
            &a[i + 1..]
        }
        None => a,
    };
    let port = if let Some(stripped) = host.strip_prefix('[') {
        match stripped.find(']') {
            Some(i) => &stripped[i + 1..],
            None => return false,
        }
    } else {
        match host.rfind(':') {
            Some(i) => &host[i..],
            None => "",
        }
    };
    if !(port.is_empty() || port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    unescape_path(host).is_some()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unescape_path(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_uri_paths_like_go() {
        assert_eq!(
            request_uri_path("http://myhost/some/path?x=1").as_deref(),
            Some("/some/path")
        );
        assert_eq!(
            request_uri_path("/page/1234").as_deref(),
            Some("/page/1234")
        );
        assert_eq!(request_uri_path("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(request_uri_path("/a%zz"), None);
        assert_eq!(request_uri_path("relative/path"), None);
        assert_eq!(request_uri_path(""), None);
        assert_eq!(request_uri_path(":foo"), None);
        assert_eq!(request_uri_path("mailto:x@y").as_deref(), Some(""));
        assert_eq!(
            request_uri_path("http://host:80/x#frag").as_deref(),
            Some("/x#frag")
        );
        assert_eq!(request_uri_path("http://host:8x/x"), None);
        assert_eq!(request_uri_path("http://host").as_deref(), Some(""));
    }

    #[test]
    fn padding_and_folding() {
        let mut b = [0u8; 12];
        assert_eq!(pad3(4, &mut b), "004");
        assert_eq!(pad3(40, &mut b), "040");
        assert_eq!(pad3(503, &mut b), "503");
        assert_eq!(pad3(12345, &mut b), "12345");
        assert!(eq_fold("get", "GET"));
        assert!(!eq_fold("get", "GETS"));
    }
}
