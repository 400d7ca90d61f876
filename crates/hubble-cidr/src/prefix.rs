//! IP prefixes as CIDR-group sources write them, normalised the way Cilium accepts them.
//!
//! Owns: parsing a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a bare address (`192.0.2.1` → `/32`,
//! `2001:db8::1` → `/128`) into a [`Prefix`]. Guarantees: host bits are masked (`10.1.2.3/8` → `10.0.0.0/8`,
//! as Cilium accepts it); an IPv4-mapped IPv6 prefix of length ≥ 96 (`::ffff:192.0.2.0/120`) becomes the
//! IPv4 prefix it denotes (`192.0.2.0/24`), because lookups treat a mapped address as its IPv4 address.
//! Parsing never panics; bad text is a [`PrefixError`] that says what was wrong.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A normalised IPv4 or IPv6 prefix (host bits zero). 18 bytes, no heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

/// Why a prefix string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The text is empty after trimming.
    #[error("empty prefix")]
    Empty,
    /// The address part is not an IPv4 or IPv6 address.
    #[error("not an IP address")]
    BadAddress,
    /// The length after `/` is not a decimal number without leading zeros.
    #[error("prefix length is not a number")]
    BadLength,
    /// The length exceeds 32 (IPv4) or 128 (IPv6).
    #[error("prefix length {len} exceeds {max}")]
    LengthTooLong {
        /// The length given.
        len: u32,
        /// The maximum for the address family.
        max: u8,
    },
}

impl Prefix {
    /// Parse a CIDR or a bare IP address (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Prefix, PrefixError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PrefixError::Empty);
        }
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| PrefixError::BadAddress)?;
        let max = match addr {
            IpAddr::V4(_) => 32u8,
            IpAddr::V6(_) => 128u8,
        };
        let len = match len_text {
            None => u32::from(max),
            Some(l) => parse_len(l)?,
        };
        if len > u32::from(max) {
            return Err(PrefixError::LengthTooLong { len, max });
        }
        // `len <= max <= 128` here, so the conversion is lossless.
        Ok(Prefix::new(addr, len as u8))
    }

    /// Build a prefix from an address and a length, masking host bits and unmapping `::ffff:0:0/96`
    /// sub-prefixes. A length beyond the family's width is clamped to it.
    pub fn new(addr: IpAddr, len: u8) -> Prefix {
        match addr {
            IpAddr::V4(a) => Prefix::v4(u32::from(a), len),
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                if len >= 96 && (bits >> 32) == 0xffff {
                    // IPv4-mapped: `::ffff:a.b.c.d/len` covers exactly `a.b.c.d/(len-96)`.
                    Prefix::v4(bits as u32, len - 96)
                } else {
                    Prefix::v6(bits, len)
                }
            }
        }
    }

    /// IPv4 prefix from host-order bits.
    pub fn v4(bits: u32, len: u8) -> Prefix {
        let len = len.min(32);
        Prefix {
            addr: IpAddr::V4(Ipv4Addr::from(bits & mask32(len))),
            len,
        }
    }

    /// IPv6 prefix from host-order bits (no unmapping; use [`Prefix::new`] for that).
    pub fn v6(bits: u128, len: u8) -> Prefix {
        let len = len.min(128);
        Prefix {
            addr: IpAddr::V6(Ipv6Addr::from(bits & mask128(len))),
            len,
        }
    }

    /// The network address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether `ip` is inside this prefix, with the same rule as table lookups: an IPv4-mapped IPv6
    /// address is looked at as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, normalize_addr(ip)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => (u32::from(a) & mask32(self.len)) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                (u128::from(a) & mask128(self.len)) == u128::from(net)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl std::str::FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        Prefix::parse(s)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes its IPv4 address; anything else is unchanged.
pub fn normalize_addr(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(a),
        },
        v4 => v4,
    }
}

fn parse_len(text: &str) -> Result<u32, PrefixError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 3 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(PrefixError::BadLength);
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return Err(PrefixError::BadLength);
    }
    text.parse().map_err(|_| PrefixError::BadLength)
}

/// Network mask of an IPv4 prefix length (0..=32).
pub(crate) fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// Network mask of an IPv6 prefix length (0..=128).
pub(crate) fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        Prefix::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn masks_host_bits() {
        assert_eq!(p("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(p("2001:db8::1/32").to_string(), "2001:db8::/32");
        assert_eq!(p("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(p("::/0").to_string(), "::/0");
    }

    #[test]
    fn bare_addresses_are_host_prefixes() {
        assert_eq!(p(" 192.0.2.7 ").to_string(), "192.0.2.7/32");
        assert_eq!(p("2001:db8::7").to_string(), "2001:db8::7/128");
    }

    #[test]
    fn mapped_prefixes_become_ipv4() {
        assert_eq!(p("::ffff:192.0.2.0/120").to_string(), "192.0.2.0/24");
        assert_eq!(p("::ffff:192.0.2.9").to_string(), "192.0.2.9/32");
        // Shorter than /96: stays IPv6.
        assert_eq!(p("::ffff:0:0/80").to_string(), "::/80");
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(Prefix::parse(""), Err(PrefixError::Empty));
        assert_eq!(
            Prefix::parse("10.0.0.0/33"),
            Err(PrefixError::LengthTooLong { len: 33, max: 32 })
        );
        assert_eq!(
            Prefix::parse("::/129"),
            Err(PrefixError::LengthTooLong { len: 129, max: 128 })
        );
        assert_eq!(Prefix::parse("10.0.0.0/"), Err(PrefixError::BadLength));
        assert_eq!(Prefix::parse("10.0.0.0/08"), Err(PrefixError::BadLength));
        assert_eq!(Prefix::parse("10.0.0.0/+8"), Err(PrefixError::BadLength));
        assert_eq!(Prefix::parse("10.0.0/8"), Err(PrefixError::BadAddress));
        assert_eq!(Prefix::parse("example.com"), Err(PrefixError::BadAddress));
        assert_eq!(Prefix::parse("fe80::1%eth0"), Err(PrefixError::BadAddress));
    }

    #[test]
    fn contains_treats_mapped_addresses_as_ipv4() {
        let net = p("192.0.2.0/24");
        assert!(net.contains("192.0.2.200".parse().unwrap()));
        assert!(net.contains("::ffff:192.0.2.200".parse().unwrap()));
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        assert!(!p("::/0").contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(p("::/0").contains("2001:db8::1".parse().unwrap()));
    }
}
