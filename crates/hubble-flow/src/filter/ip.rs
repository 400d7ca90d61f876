//! `source_ip`, `destination_ip`, `source_ip_xlated` matchers.
//!
//! Guarantees (cilium v1.19 `ip.go`): an entry containing `/` is a prefix (host bits may be set, `1.2.3.4/16`)
//! matched by containment of the parsed flow address; any other entry must parse as an address but is matched by
//! exact string equality with the flow's text (no normalisation). An empty flow address never matches. Invalid
//! entries are build errors.

use super::build::MatchFn;
use std::net::IpAddr;

/// Which address of `flow.IP`.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    /// `IP.source`.
    Source,
    /// `IP.destination`.
    Destination,
    /// `IP.source_xlated`.
    SourceXlated,
}

/// A parsed prefix (`netip.Prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    addr: IpAddr,
    bits: u8,
}

impl Prefix {
    /// Parses `addr/bits` like Go's `netip.ParsePrefix` (no zones, decimal bits within the family's length).
    pub fn parse(s: &str) -> Option<Prefix> {
        let (a, b) = s.split_once('/')?;
        if b.is_empty()
            || b.len() > 3
            || !b.bytes().all(|c| c.is_ascii_digit())
            || (b.len() > 1 && b.starts_with('0'))
        {
            return None;
        }
        let bits: u8 = b.parse().ok()?;
        let addr = parse_addr(a)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if bits > max || a.contains('%') {
            return None;
        }
        Some(Prefix { addr, bits })
    }

    /// The prefix length.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The address as written (host bits kept).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Whether `ip` is inside the prefix (same family only, as `netip.Prefix.Contains`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.bits))
                };
                (u32::from(p) & mask) == (u32::from(a) & mask)
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.bits))
                };
                (u128::from(p) & mask) == (u128::from(a) & mask)
            }
            _ => false,
        }
    }
}

/// Parses an address like `netip.ParseAddr`: IPv4 dotted quad (no leading zeros), IPv6 with an optional zone.
pub fn parse_addr(s: &str) -> Option<IpAddr> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some(a);
    }
    // IPv6 with a zone (`fe80::1%eth0`): valid for ParseAddr.
    let (a, zone) = s.split_once('%')?;
    if zone.is_empty() {
        return None;
    }
    a.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// Builds the matcher for one IP field.
pub fn matcher(entries: &[String], which: Which) -> Result<MatchFn, String> {
    let mut exact = Vec::new();
    let mut prefixes = Vec::new();
    for e in entries {
        if e.contains('/') {
            prefixes
                .push(Prefix::parse(e).ok_or_else(|| format!("invalid CIDR in filter: {e:?}"))?);
        } else {
            parse_addr(e).ok_or_else(|| format!("invalid IP address in filter: {e:?}"))?;
            exact.push(e.clone());
        }
    }
    Ok(Box::new(move |ev| {
        let Some(ip) = ev.flow().and_then(|f| f.ip.as_ref()) else {
            return false;
        };
        let text = match which {
            Which::Source => ip.source.as_deref(),
            Which::Destination => ip.destination.as_deref(),
            Which::SourceXlated => ip.source_xlated.as_deref(),
        }
        .unwrap_or("");
        if text.is_empty() {
            return false;
        }
        if exact.iter().any(|e| e == text) {
            return true;
        }
        if prefixes.is_empty() {
            return false;
        }
        // A zoned address never lies inside a prefix.
        match text.parse::<IpAddr>() {
            Ok(a) => prefixes.iter().any(|p| p.contains(a)),
            Err(_) => false,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_like_netip() {
        let p = Prefix::parse("1.2.3.4/16").unwrap();
        assert!(p.contains("1.2.200.1".parse().unwrap()));
        assert!(!p.contains("1.3.0.1".parse().unwrap()));
        assert!(Prefix::parse("1.1.1.1/1234").is_none());
        assert!(Prefix::parse("1.1.1.1/33").is_none());
        assert!(Prefix::parse("2001::/129").is_none());
        assert!(Prefix::parse("1.1.1.1/").is_none());
        assert!(Prefix::parse("0.0.0.0/0")
            .unwrap()
            .contains("9.9.9.9".parse().unwrap()));
        assert!(!Prefix::parse("0.0.0.0/0")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(Prefix::parse("f00d::/16")
            .unwrap()
            .contains("f00d::a10:0:0:9195".parse().unwrap()));
        assert!(parse_addr("fe80::1%eth0").is_some());
        assert!(parse_addr("320.320.320.320").is_none());
        assert!(parse_addr("").is_none());
        assert!(parse_addr("01.1.1.1").is_none());
    }
}
