//! The Forward protocol v1 handshake: the server's HELO, the client's PING, the server's PONG.
//!
//! ```text
//! HELO ["HELO", {"nonce": n, "auth": user_salt | "", "keepalive": true}]
//! PING ["PING", client_hostname, key_salt, hex(sha512(key_salt + client_hostname + n + shared_key)),
//!       username, hex(sha512(user_salt + username + password))]
//! PONG ["PONG", ok, reason, server_hostname, hex(sha512(key_salt + server_hostname + n + shared_key))]
//! ```
//!
//! Guarantees: the nonce and user salt are fresh random bytes per connection; digests are compared in constant
//! time; a failed PONG names only the kind of failure, never a key, password or digest; a client calling itself
//! by the server's own hostname is refused (the spec's loop guard).

use super::msgpack::{self, Value};
use ring::digest::{Context, SHA512};
use ring::rand::{SecureRandom, SystemRandom};

/// The server's credentials.
#[derive(Clone)]
pub struct Credentials {
    /// The shared key both sides know.
    pub shared_key: Vec<u8>,
    /// `(username, password)` pairs; empty = no user authentication.
    pub users: Vec<(Vec<u8>, Vec<u8>)>,
    /// The server's hostname, sent in PONG.
    pub self_hostname: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("shared_key", &"<redacted>")
            .field("users", &self.users.len())
            .field("self_hostname", &self.self_hostname)
            .finish()
    }
}

/// One connection's challenge.
pub struct Challenge {
    nonce: [u8; 16],
    user_salt: Option<[u8; 16]>,
}

/// Why a PING was refused (the PONG reason and the metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a PING of the right shape.
    Malformed,
    /// The client claims the server's own hostname.
    SameHostname,
    /// Shared key digest mismatch.
    SharedKey,
    /// Unknown user or wrong password.
    UserPassword,
}

impl Refusal {
    /// The text sent in PONG and used as the metrics label.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed_ping",
            Refusal::SameHostname => "same_hostname",
            Refusal::SharedKey => "shared_key_mismatch",
            Refusal::UserPassword => "username_or_password_mismatch",
        }
    }
}

fn sha512_hex(parts: &[&[u8]]) -> String {
    let mut c = Context::new(&SHA512);
    for p in parts {
        c.update(p);
    }
    let mut s = String::with_capacity(128);
    for b in c.finish().as_ref() {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Challenge {
    /// Fresh random nonce (and user salt when users are configured).
    pub fn new(creds: &Credentials) -> Result<Challenge, ring::error::Unspecified> {
        let rng = SystemRandom::new();
        let mut nonce = [0u8; 16];
        rng.fill(&mut nonce)?;
        let user_salt = if creds.users.is_empty() {
            None
        } else {
            let mut s = [0u8; 16];
            rng.fill(&mut s)?;
            Some(s)
        };
        Ok(Challenge { nonce, user_salt })
    }

    /// The HELO message.
    pub fn helo(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(64);
        msgpack::write_array_len(&mut m, 2);
        msgpack::write_str(&mut m, b"HELO");
        msgpack::write_map_len(&mut m, 3);
        msgpack::write_str(&mut m, b"nonce");
        msgpack::write_bin(&mut m, &self.nonce);
        msgpack::write_str(&mut m, b"auth");
        msgpack::write_bin(&mut m, self.user_salt.as_ref().map_or(&[][..], |s| &s[..]));
        msgpack::write_str(&mut m, b"keepalive");
        msgpack::write_bool(&mut m, true);
        m
    }

    /// Checks a PING; returns the PONG to send and the refusal, if any.
    pub fn answer(&self, creds: &Credentials, ping: &[u8]) -> (Vec<u8>, Option<Refusal>) {
        let verdict = self.check(creds, ping);
        let mut m = Vec::with_capacity(200);
        msgpack::write_array_len(&mut m, 5);
        msgpack::write_str(&mut m, b"PONG");
        match verdict {
            Ok(key_salt) => {
                msgpack::write_bool(&mut m, true);
                msgpack::write_str(&mut m, b"");
                msgpack::write_str(&mut m, creds.self_hostname.as_bytes());
                let digest = sha512_hex(&[
                    &key_salt,
                    creds.self_hostname.as_bytes(),
                    &self.nonce,
                    &creds.shared_key,
                ]);
                msgpack::write_str(&mut m, digest.as_bytes());
                (m, None)
            }
            Err(r) => {
                msgpack::write_bool(&mut m, false);
                msgpack::write_str(&mut m, r.reason().as_bytes());
                msgpack::write_str(&mut m, creds.self_hostname.as_bytes());
                msgpack::write_str(&mut m, b"");
                (m, Some(r))
            }
        }
    }

    /// Ok(key salt) when the PING authenticates.
    fn check(&self, creds: &Credentials, ping: &[u8]) -> Result<Vec<u8>, Refusal> {
        let v = match msgpack::read(ping) {
            Ok((v, n)) if n == ping.len() => v,
            _ => return Err(Refusal::Malformed),
        };
        let Value::Array(a) = v else {
            return Err(Refusal::Malformed);
        };
        let [kind, host, key_salt, key_digest, user, pass_digest] = a.as_slice() else {
            return Err(Refusal::Malformed);
        };
        let (Some(b"PING"), Some(host), Some(key_salt), Some(key_digest), Some(user), Some(pass)) = (
            kind.as_bytes(),
            host.as_bytes(),
            key_salt.as_bytes(),
            key_digest.as_bytes(),
            user.as_bytes(),
            pass_digest.as_bytes(),
        ) else {
            return Err(Refusal::Malformed);
        };
        if host == creds.self_hostname.as_bytes() {
            return Err(Refusal::SameHostname);
        }
        let want = sha512_hex(&[key_salt, host, &self.nonce, &creds.shared_key]);
        if !same(want.as_bytes(), key_digest) {
            return Err(Refusal::SharedKey);
        }
        if let Some(salt) = &self.user_salt {
            let mut ok = false;
            for (name, password) in &creds.users {
                let digest = sha512_hex(&[salt, name, password]);
                ok |= same(name, user) & same(digest.as_bytes(), pass);
            }
            if !ok {
                return Err(Refusal::UserPassword);
            }
        }
        Ok(key_salt.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(users: bool) -> Credentials {
        Credentials {
            shared_key: b"s3cret".to_vec(),
            users: if users {
                vec![(b"alice".to_vec(), b"pw".to_vec())]
            } else {
                vec![]
            },
            self_hostname: "server".into(),
        }
    }

    fn helo_fields(helo: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (v, _) = msgpack::read(helo).unwrap();
        let Value::Array(a) = v else { panic!() };
        assert_eq!(a[0], Value::Str(b"HELO"));
        (
            a[1].get(b"nonce").unwrap().as_bytes().unwrap().to_vec(),
            a[1].get(b"auth").unwrap().as_bytes().unwrap().to_vec(),
        )
    }

    fn ping(nonce: &[u8], salt: &[u8], host: &str, key: &[u8], user: &[u8], pw: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        msgpack::write_array_len(&mut m, 6);
        msgpack::write_str(&mut m, b"PING");
        msgpack::write_str(&mut m, host.as_bytes());
        msgpack::write_str(&mut m, b"ksalt");
        msgpack::write_str(
            &mut m,
            sha512_hex(&[b"ksalt", host.as_bytes(), nonce, key]).as_bytes(),
        );
        msgpack::write_str(&mut m, user);
        msgpack::write_str(&mut m, sha512_hex(&[salt, user, pw]).as_bytes());
        m
    }

    fn pong_ok(pong: &[u8]) -> bool {
        let (v, _) = msgpack::read(pong).unwrap();
        let Value::Array(a) = v else { panic!() };
        a[1] == Value::Bool(true)
    }

    #[test]
    fn good_key_passes_and_pong_proves_the_server_knows_it() {
        let c = creds(false);
        let ch = Challenge::new(&c).unwrap();
        let (nonce, salt) = helo_fields(&ch.helo());
        assert!(salt.is_empty());
        let (pong, refusal) = ch.answer(&c, &ping(&nonce, &salt, "client", b"s3cret", b"", b""));
        assert_eq!(refusal, None);
        assert!(pong_ok(&pong));
        let (v, _) = msgpack::read(&pong).unwrap();
        let Value::Array(a) = v else { panic!() };
        let want = sha512_hex(&[b"ksalt", b"server", &nonce, b"s3cret"]);
        assert_eq!(a[4].as_bytes(), Some(want.as_bytes()));
    }

    #[test]
    fn refusals() {
        let c = creds(true);
        let ch = Challenge::new(&c).unwrap();
        let (nonce, salt) = helo_fields(&ch.helo());
        assert_eq!(salt.len(), 16);
        let cases = [
            (
                ping(&nonce, &salt, "client", b"wrong", b"alice", b"pw"),
                Some(Refusal::SharedKey),
            ),
            (
                ping(&nonce, &salt, "client", b"s3cret", b"alice", b"no"),
                Some(Refusal::UserPassword),
            ),
            (
                ping(&nonce, &salt, "client", b"s3cret", b"bob", b"pw"),
                Some(Refusal::UserPassword),
            ),
            (
                ping(&nonce, &salt, "server", b"s3cret", b"alice", b"pw"),
                Some(Refusal::SameHostname),
            ),
            (
                ping(b"stale", &salt, "client", b"s3cret", b"alice", b"pw"),
                Some(Refusal::SharedKey),
            ),
            (b"\x92\xa4PING\xc0".to_vec(), Some(Refusal::Malformed)),
            (
                ping(&nonce, &salt, "client", b"s3cret", b"alice", b"pw"),
                None,
            ),
        ];
        for (p, want) in cases {
            let (pong, got) = ch.answer(&c, &p);
            assert_eq!(got, want);
            assert_eq!(pong_ok(&pong), want.is_none());
            assert!(!String::from_utf8_lossy(&pong).contains("s3cret"));
        }
    }
}
