//! Exporter records wrapped in cilium-agent log lines, unwrapped back into the record.
//!
//! Evidence (Cilium sources): `hubble-export-file-path: stdout` was added by cilium/cilium PR #31422 (merged
//! 2024-03, first released in v1.16); the PR's own sample of `kubectl logs` output shows each flow as an agent
//! log entry whose message is the record, `level=info msg="{\"flow\":{\"time\":…}}"` (Go-quoted). Current
//! sources write the JSON line itself to stdout instead (`pkg/hubble/exporter/writer.go` `StdoutNoOpWriter`:
//! `os.Stdout` behind a no-op `Close`; records are written by the `encoding/json` encoder of `encoder.go`; files go
//! through `lumberjack.Logger` in `FileWriter`), which needs no unwrapping. So some releases did write wrapped
//! lines, and they are unwrapped here: logfmt entries (`msg=` followed by a Go-quoted string, as the logrus and
//! slog text handlers write it) and, should the agent log in JSON, entries `{"level":…,"msg":"{\"flow\"…"}`.
//!
//! Guarantees: a line is unwrapped only when its `msg` value decodes completely (Go string quoting for logfmt,
//! JSON for JSON entries) and the message is one complete JSON object; anything else, including ordinary agent log
//! lines, is left as it is. Exporter lines (`{"flow"…`) cost one prefix comparison. Never panics.

use memchr::memmem::Finder;
use std::sync::LazyLock;

/// The logfmt form: `msg=` followed by a Go-quoted string that starts a JSON object.
const LOGFMT_NEEDLE: &[u8] = br#"msg="{\""#;
/// The JSON form: a `"msg"` member whose string starts a JSON object.
const JSON_NEEDLE: &[u8] = br#""msg":"{\""#;
/// Searchers built once: `memmem::find` builds one per call, which cost more than the search on short lines.
static LOGFMT_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(LOGFMT_NEEDLE));
static JSON_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(JSON_NEEDLE));

/// The record inside a wrapped agent log line, or `None` when `line` is not one.
pub fn unwrap(line: &[u8]) -> Option<Vec<u8>> {
    if line.starts_with(br#"{"flow""#) {
        return None;
    }
    if line.first() == Some(&b'{') {
        return unwrap_json_entry(line);
    }
    let at = LOGFMT_FINDER.find(line)?;
    if at > 0 && !line[at - 1].is_ascii_whitespace() {
        return None;
    }
    let msg = go_unquote(&line[at + 4..])?;
    is_json_object(&msg).then_some(msg)
}

/// Whether `msg` is one complete JSON object (a record, possibly an unknown kind; the decoder judges it).
fn is_json_object(msg: &[u8]) -> bool {
    msg.starts_with(b"{") && serde_json::from_slice::<serde::de::IgnoredAny>(msg).is_ok()
}

fn unwrap_json_entry(line: &[u8]) -> Option<Vec<u8>> {
    JSON_FINDER.find(line)?;
    let entry: serde_json::Value = serde_json::from_slice(line).ok()?;
    let msg = entry.get("msg")?.as_str()?.trim_end();
    is_json_object(msg.as_bytes()).then(|| msg.as_bytes().to_vec())
}

/// Decodes the Go-quoted string (`strconv.Quote` / `%q`) at the start of `s` (which begins with `"`).
fn go_unquote(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 1;
    if s.first() != Some(&b'"') {
        return None;
    }
    loop {
        let c = *s.get(i)?;
        i += 1;
        match c {
            b'"' => return Some(out),
            b'\\' => {
                let e = *s.get(i)?;
                i += 1;
                match e {
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0C),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(0x0B),
                    b'\\' | b'"' | b'\'' => out.push(e),
                    b'x' => {
                        out.push(u8::try_from(hex(s.get(i..i + 2)?)?).ok()?);
                        i += 2;
                    }
                    b'u' | b'U' => {
                        let n = if e == b'u' { 4 } else { 8 };
                        let ch = char::from_u32(hex(s.get(i..i + n)?)?)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        i += n;
                    }
                    b'0'..=b'7' => {
                        let digits = s.get(i - 1..i + 2)?;
                        let mut v: u32 = 0;
                        for &d in digits {
                            if !(b'0'..=b'7').contains(&d) {
                                return None;
                            }
                            v = v * 8 + u32::from(d - b'0');
                        }
                        out.push(u8::try_from(v).ok()?);
                        i += 2;
                    }
                    _ => return None,
                }
            }
            _ => out.push(c),
        }
    }
}

fn hex(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quotes like Go's `strconv.Quote` for the characters exporter JSON contains.
    fn go_quote(s: &str) -> String {
        let mut q = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\t' => q.push_str("\\t"),
                c if (c as u32) < 0x20 => q.push_str(&format!("\\x{:02x}", c as u32)),
                c => q.push(c),
            }
        }
        q.push('"');
        q
    }

    const RECORD: &str = r#"{"flow":{"time":"2024-03-15T22:23:36.124398461Z","uuid":"a4100bd7","verdict":"DROPPED","source":{"labels":["k8s:app=x"],"pod_name":"p\"q\\r é"},"Summary":"line\nbreak"},"node_name":"kind-worker","time":"2024-03-15T22:23:36.124398461Z"}"#;

    #[test]
    fn logfmt_lines_unwrap_to_the_record() {
        for line in [
            format!("level=info msg={}", go_quote(RECORD)),
            format!(
                "time=\"2024-03-15T22:23:36Z\" level=info msg={} subsys=hubble",
                go_quote(RECORD)
            ),
            format!(
                "time=2024-03-15T22:23:36.1Z level=INFO source=/go/src/exporter.go:99 msg={}",
                go_quote(RECORD)
            ),
        ] {
            let got = unwrap(line.as_bytes()).unwrap_or_else(|| panic!("not unwrapped: {line}"));
            assert_eq!(String::from_utf8(got).unwrap(), RECORD);
        }
    }

    #[test]
    fn json_log_entries_unwrap_to_the_record() {
        let entry =
            serde_json::json!({"level": "info", "msg": format!("{RECORD}\n"), "subsys": "hubble"});
        let got = unwrap(entry.to_string().as_bytes()).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), RECORD);
    }

    #[test]
    fn other_lines_are_left_alone() {
        for line in [
            RECORD.to_string(),
            r#"level=info msg="Starting Hubble server" subsys=hubble"#.to_string(),
            r#"level=info msg="{\"flow\":{}" cut"#.to_string() + "\\",
            r#"level=info msg="{\"flow\":{} never closed"#.to_string(),
            r#"level=info xmsg="{\"flow\":{}}""#.to_string(),
            r#"level=info msg="{\"flow\" \q bad escape""#.to_string(),
            r#"{"level":"info","msg":"Starting"}"#.to_string(),
            r#"{"level":"info","msg":"{\"flow\":{}}" broken json"#.to_string(),
            String::new(),
        ] {
            assert!(unwrap(line.as_bytes()).is_none(), "{line}");
        }
    }

    #[test]
    fn go_escapes() {
        assert_eq!(
            go_unquote(br#""a\x41\u00e9\U0001F600\101\"\\\t""#).unwrap(),
            "aAé😀A\"\\\t".as_bytes()
        );
        assert!(go_unquote(br#""\u12""#).is_none());
        assert!(go_unquote(br#""\xZZ""#).is_none());
        assert!(go_unquote(br#""\777""#).is_none());
    }
}
