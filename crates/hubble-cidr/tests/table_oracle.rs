//! Property test: `PrefixTable::lookup` agrees with a brute-force scan over every (prefix, group) pair,
//! for random nested IPv4/IPv6 prefixes (host bits set on purpose), IPv4-mapped IPv6 addresses and prefixes:
//! the groups in specificity order, the same set in name order (`names_by_name`), and the merged labels.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hubble_cidr::{GroupSet, Prefix, PrefixTable};
use proptest::prelude::*;

/// Addresses cluster around a few bases so that prefixes nest and overlap often.
fn v4_addr() -> impl Strategy<Value = u32> {
    (0usize..4, any::<u32>(), 0u32..=32).prop_map(|(base, noise, keep)| {
        let bases = [0x0a00_0000u32, 0xc633_6400, 0xcb00_7100, 0xffff_ff00];
        let noise = if keep == 32 { 0 } else { noise >> keep };
        bases[base] ^ noise
    })
}

fn v6_addr() -> impl Strategy<Value = u128> {
    (0usize..3, any::<u128>(), 0u32..=128).prop_map(|(base, noise, keep)| {
        let bases = [0x2001_0db8_u128 << 96, 0x2a00_u128 << 112, 0];
        let noise = if keep == 128 { 0 } else { noise >> keep };
        bases[base] ^ noise
    })
}

#[derive(Debug, Clone)]
enum Spec {
    V4(u32, u8),
    V6(u128, u8),
    Mapped(u32, u8),
}

fn prefix_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (v4_addr(), 0u8..=32).prop_map(|(a, l)| Spec::V4(a, l)),
        (v6_addr(), 0u8..=128).prop_map(|(a, l)| Spec::V6(a, l)),
        (v4_addr(), 0u8..=32).prop_map(|(a, l)| Spec::Mapped(a, l)),
    ]
    .prop_map(|s| match s {
        Spec::V4(a, l) => format!("{}/{}", Ipv4Addr::from(a), l),
        Spec::V6(a, l) => format!("{}/{}", Ipv6Addr::from(a), l),
        Spec::Mapped(a, l) => format!(
            "{}/{}",
            Ipv4Addr::from(a).to_ipv6_mapped(),
            u16::from(l) + 96
        ),
    })
}

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v4_addr().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        v6_addr().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        v4_addr().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
    ]
}

type Defs = Vec<(String, Vec<(String, String)>, Vec<String>)>;

fn groups() -> impl Strategy<Value = Defs> {
    prop::collection::vec(
        (
            0usize..6,
            prop::collection::vec((0usize..3, 0usize..3), 0..3),
            prop::collection::vec(prefix_text(), 0..12),
        ),
        0..8,
    )
    .prop_map(|defs| {
        defs.into_iter()
            .map(|(g, labels, prefixes)| {
                let labels = labels
                    .into_iter()
                    .map(|(k, v)| (format!("k{k}"), format!("g{g}v{v}")))
                    .collect();
                (format!("g{g}"), labels, prefixes)
            })
            .collect()
    })
}

/// Brute force: IPv4-mapped addresses are compared as IPv4; mapped prefixes of length >= 96 as the IPv4
/// prefix they denote; host bits of prefixes ignored.
fn oracle(set: &GroupSet, ip: IpAddr) -> (Vec<String>, Vec<(String, String)>) {
    let ip = match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        v4 => v4,
    };
    let mut hits: Vec<(u8, String)> = Vec::new();
    for g in set.iter() {
        for p in &g.prefixes {
            let inside = match (p.addr(), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    p.len() == 0
                        || (u32::from(n) >> (32 - p.len())) == (u32::from(a) >> (32 - p.len()))
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    p.len() == 0
                        || (u128::from(n) >> (128 - p.len())) == (u128::from(a) >> (128 - p.len()))
                }
                _ => false,
            };
            if inside {
                hits.push((p.len(), g.name.clone()));
            }
        }
    }
    hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut names: Vec<String> = Vec::new();
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (_, name) in hits {
        if names.contains(&name) {
            continue;
        }
        if let Some(g) = set.get(&name) {
            for (k, v) in &g.labels {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        names.push(name);
    }
    (names, labels.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn lookup_matches_brute_force(defs in groups(), probes in prop::collection::vec(address(), 1..40)) {
        let mut set = GroupSet::new();
        for (name, labels, prefixes) in &defs {
            let g = set.entry(name);
            for (k, v) in labels {
                g.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for p in prefixes {
                g.prefixes.push(Prefix::parse(p).map_err(|e| TestCaseError::fail(format!("{p}: {e}")))?);
            }
        }
        let table = PrefixTable::build(&set);
        // Probe the given addresses and every prefix's first and last address and their neighbours.
        let mut all = probes.clone();
        for g in set.iter() {
            for p in &g.prefixes {
                match p.addr() {
                    IpAddr::V4(n) => {
                        let n = u32::from(n);
                        let last = n | (u32::MAX.checked_shr(u32::from(p.len())).unwrap_or(0));
                        for a in [n.wrapping_sub(1), n, last, last.wrapping_add(1)] {
                            all.push(IpAddr::V4(Ipv4Addr::from(a)));
                        }
                    }
                    IpAddr::V6(n) => {
                        let n = u128::from(n);
                        let last = n | (u128::MAX.checked_shr(u32::from(p.len())).unwrap_or(0));
                        for a in [n.wrapping_sub(1), n, last, last.wrapping_add(1)] {
                            all.push(IpAddr::V6(Ipv6Addr::from(a)));
                        }
                    }
                }
            }
        }
        for ip in all {
            let m = table.lookup(ip);
            let (names, labels) = oracle(&set, ip);
            let got: Vec<String> = m.names().map(str::to_string).collect();
            prop_assert_eq!(&got, &names, "groups for {}", ip);
            let got_labels: Vec<(String, String)> = m.labels().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            prop_assert_eq!(got_labels, labels, "labels for {}", ip);
            let mut sorted = names.clone();
            sorted.sort();
            let by_name: Vec<String> = m.names_by_name().map(str::to_string).collect();
            prop_assert_eq!(by_name, sorted, "groups by name for {}", ip);
            let ids: Vec<String> = m.groups().iter().filter_map(|&id| table.group(id)).map(|g| g.name.to_string()).collect();
            prop_assert_eq!(ids, names);
        }
    }
}
