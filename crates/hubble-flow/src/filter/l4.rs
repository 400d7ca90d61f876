//! `protocol`, `source_port`, `destination_port` and `tcp_flags` matchers.
//!
//! Guarantees (cilium `protocol.go`, `port.go`, `tcp.go`): protocol names are case-insensitive; `icmp` means
//! ICMPv4 or ICMPv6; `dns`/`http`/`kafka` test the L7 record; any other name is a build error. Ports are decimal
//! uint16 strings (else build error) and only TCP, UDP and SCTP carry ports. A TCP-flags entry matches when every
//! flag it sets is set in the flow; a flow without TCP flags never matches.

use super::build::MatchFn;
use super::spec::TcpFlagsSpec;
use crate::flow::L4Protocol;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Icmp,
    L4(L4Protocol),
    Dns,
    Http,
    Kafka,
}

/// `protocol`.
pub fn protocol(names: &[String]) -> Result<MatchFn, String> {
    let mut protos = Vec::with_capacity(names.len());
    for n in names {
        let p = match n.to_lowercase().as_str() {
            "icmp" => Proto::Icmp,
            "icmpv4" => Proto::L4(L4Protocol::Icmpv4),
            "icmpv6" => Proto::L4(L4Protocol::Icmpv6),
            "tcp" => Proto::L4(L4Protocol::Tcp),
            "udp" => Proto::L4(L4Protocol::Udp),
            "sctp" => Proto::L4(L4Protocol::Sctp),
            "vrrp" => Proto::L4(L4Protocol::Vrrp),
            "igmp" => Proto::L4(L4Protocol::Igmp),
            "dns" => Proto::Dns,
            "http" => Proto::Http,
            "kafka" => Proto::Kafka,
            _ => return Err(format!("unknown protocol: {n:?}")),
        };
        protos.push(p);
    }
    Ok(Box::new(move |ev| {
        let Some(f) = ev.flow() else { return false };
        let l4 = f.l4.as_ref();
        let l7 = f.l7.as_ref();
        protos.iter().any(|p| match p {
            Proto::Icmp => l4.is_some_and(|l| l.icmpv4.is_some() || l.icmpv6.is_some()),
            Proto::L4(want) => l4.is_some_and(|l| match want {
                L4Protocol::Tcp => l.tcp.is_some(),
                L4Protocol::Udp => l.udp.is_some(),
                L4Protocol::Sctp => l.sctp.is_some(),
                L4Protocol::Icmpv4 => l.icmpv4.is_some(),
                L4Protocol::Icmpv6 => l.icmpv6.is_some(),
                L4Protocol::Vrrp => l.vrrp.is_some(),
                L4Protocol::Igmp => l.igmp.is_some(),
            }),
            Proto::Dns => l7.is_some_and(|l| l.dns.is_some()),
            Proto::Http => l7.is_some_and(|l| l.http.is_some()),
            Proto::Kafka => l7.is_some_and(|l| l.kafka.is_some()),
        })
    }))
}

/// Parses a port like Go's `strconv.ParseUint(p, 10, 16)`.
pub fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port {p:?}: invalid syntax"));
    }
    p.parse::<u16>()
        .map_err(|_| format!("invalid port {p:?}: value out of range"))
}

/// `source_port` (`source == true`) / `destination_port`.
pub fn port(entries: &[String], source: bool) -> Result<MatchFn, String> {
    let ports = entries
        .iter()
        .map(|p| parse_port(p))
        .collect::<Result<Vec<u16>, String>>()?;
    Ok(Box::new(move |ev| {
        let Some((s, d)) = ev
            .flow()
            .and_then(|f| f.l4.as_ref())
            .and_then(|l| l.ports())
        else {
            return false;
        };
        // Go truncates the uint32 port to uint16.
        let p = (if source { s } else { d }) as u16;
        ports.contains(&p)
    }))
}

/// `tcp_flags`.
pub fn tcp_flags(entries: Vec<TcpFlagsSpec>) -> MatchFn {
    Box::new(move |ev| {
        let Some(flags) = ev
            .flow()
            .and_then(|f| f.l4.as_ref())
            .and_then(|l| l.tcp.as_ref())
            .and_then(|t| t.flags)
        else {
            return false;
        };
        let have = flags.iter();
        entries.iter().any(|e| {
            e.iter()
                .iter()
                .zip(have.iter())
                .all(|((_, want), (_, got))| !*want || *got)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_like_parseuint() {
        assert_eq!(parse_port("80"), Ok(80));
        assert_eq!(parse_port("065535"), Ok(65535));
        assert!(parse_port("999999").is_err());
        assert!(parse_port("+80").is_err());
        assert!(parse_port("").is_err());
        assert!(parse_port(" 80").is_err());
    }
}
