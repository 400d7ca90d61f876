//! Azurite (the Azure Storage emulator, installed by `crates/hubble-adx/scripts/azurite.sh`, which
//! `scripts/test.sh` runs) for queued-ingestion tests of the real binary: start it on free loopback ports, sign
//! an account SAS with the emulator's public development key, and a tiny blocking HTTP/1.0 client for its
//! blob and queue REST APIs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The emulator's development account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's documented, public development key (not a secret).
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite, killed on drop.
pub struct Azurite {
    child: Child,
    /// `http://127.0.0.1:PORT/devstoreaccount1` of the blob service.
    pub blob_base: String,
    /// `http://127.0.0.1:PORT/devstoreaccount1` of the queue service.
    pub queue_base: String,
    _data: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn present(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts Azurite, or says loudly why it cannot and returns `None`.
pub fn start(test: &str) -> Option<Azurite> {
    if !present("node") || !present("npm") {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED {test}: node/npm are not installed, so the Azurite storage\n\
             !!! emulator cannot run. Install Node.js to run this test.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/hubble-adx/scripts/azurite.sh");
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new("bash")
        .arg(&script)
        .arg("run")
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start azurite.sh");
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut first)
        .expect("azurite.sh prints its ports");
    // Keep draining: Azurite dies of SIGPIPE if its stdout is closed.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let port = |key: &str| -> u16 {
        first
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {first:?}"))
    };
    let (blob, queue) = (port("blob="), port("queue="));
    for p in [blob, queue] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", p)).is_err() {
            assert!(Instant::now() < deadline, "Azurite did not listen on {p}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Some(Azurite {
        child,
        blob_base: format!("http://127.0.0.1:{blob}/{ACCOUNT}"),
        queue_base: format!("http://127.0.0.1:{queue}/{ACCOUNT}"),
        _data: data,
    })
}

/// An account SAS (version 2019-12-12) for blob and queue, every resource type, broad permissions.
pub fn account_sas() -> String {
    let (sv, ss, srt, sp, se) = (
        "2019-12-12",
        "bq",
        "sco",
        "rwdlacup",
        "2099-01-01T00:00:00Z",
    );
    let to_sign = format!("{ACCOUNT}\n{sp}\n{ss}\n{srt}\n\n{se}\n\nhttps,http\n{sv}\n");
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &base64_decode(ACCOUNT_KEY).expect("the development key is base64"),
    );
    let sig = base64_encode(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref());
    let sig: String = sig
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={se}&spr=https%2Chttp&sig={sig}")
}

/// `METHOD url` with `body` over HTTP/1.0 (no chunked replies); returns the status and body.
pub fn request(method: &str, url: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (host, path) = rest.split_once('/').expect("URL with a path");
    let mut s = TcpStream::connect(host).expect("connect to Azurite");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "{method} /{path} HTTP/1.0\r\nHost: {host}\r\nx-ms-version: 2019-12-12\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("write request");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read reply");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("reply header end");
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, raw[end + 4..].to_vec())
}

/// The text of every `<tag>…</tag>` in `xml`.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|part| part.split(close.as_str()).next())
        .map(|v| v.replace("&amp;", "&"))
        .collect()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional); `None` on a foreign character.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
