//! Deterministic synthetic CIDR-group data shared by the benches and the RSS example (no `rand` dependency).

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hubble_cidr::{GroupSet, Prefix};

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A geo/BGP-like length mix: 55 % /24, 10 % /23, 10 % /22, 17 % /16-/21, 1 % /8-/15, 7 % /25-/32.
fn v4_len(r: u64) -> u8 {
    match r % 100 {
        0..=54 => 24,
        55..=64 => 23,
        65..=74 => 22,
        75..=91 => 16 + (r / 100 % 6) as u8,
        92 => 8 + (r / 100 % 8) as u8,
        _ => 25 + (r / 100 % 8) as u8,
    }
}

/// IPv6: /29-/48 inside 2000::/3, like RIR allocations.
fn v6_len(r: u64) -> u8 {
    29 + (r % 20) as u8
}

/// `n` prefixes (70 % IPv4, 30 % IPv6), each with a group index below `groups`.
pub fn prefixes(n: usize, groups: u32, seed: u64) -> Vec<(Prefix, u32)> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            let g = (rng.next_u64() % u64::from(groups)) as u32;
            let p = if r % 10 < 7 {
                Prefix::v4(rng.next_u64() as u32, v4_len(r >> 8))
            } else {
                let bits = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()))
                    & (u128::MAX >> 3)
                    | (1u128 << 125);
                Prefix::v6(bits, v6_len(r >> 8))
            };
            (p, g)
        })
        .collect()
}

pub fn group_set(pairs: &[(Prefix, u32)], groups: u32) -> GroupSet {
    let mut set = GroupSet::new();
    let names: Vec<String> = (0..groups).map(|g| format!("geo-{g:03}")).collect();
    for (g, name) in names.iter().enumerate() {
        set.entry(name).labels.insert("geo".into(), format!("c{g}"));
    }
    for (p, g) in pairs {
        set.entry(&names[*g as usize]).prefixes.push(*p);
    }
    set
}

/// Lookup addresses: half inside random stored prefixes, a third uniformly random IPv4, the rest IPv6 / mapped.
pub fn addresses(pairs: &[(Prefix, u32)], n: usize, seed: u64) -> Vec<IpAddr> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            match r % 6 {
                0..=2 => {
                    let (p, _) = pairs[(rng.next_u64() % pairs.len() as u64) as usize];
                    match p.addr() {
                        IpAddr::V4(a) => {
                            let host = if p.len() == 0 {
                                rng.next_u64() as u32
                            } else {
                                (rng.next_u64() as u32) >> p.len().min(31)
                            };
                            IpAddr::V4(Ipv4Addr::from(u32::from(a) | host))
                        }
                        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(
                            u128::from(a) | u128::from(rng.next_u64() >> 16),
                        )),
                    }
                }
                3 | 4 => IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32)),
                _ => {
                    if r % 12 < 6 {
                        IpAddr::V6(Ipv6Addr::from(
                            (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()),
                        ))
                    } else {
                        IpAddr::V6(Ipv4Addr::from(rng.next_u64() as u32).to_ipv6_mapped())
                    }
                }
            }
        })
        .collect()
}

/// Like [`prefixes`], but shaped like geo lists: the group follows the address block (top 8 bits of IPv4,
/// top 16 of IPv6), so groups rarely nest inside each other.
pub fn geo_prefixes(n: usize, groups: u32, seed: u64) -> Vec<(Prefix, u32)> {
    prefixes(n, groups, seed)
        .into_iter()
        .map(|(p, _)| {
            let block = match p.addr() {
                IpAddr::V4(a) => u32::from(a) >> 24,
                IpAddr::V6(a) => (u128::from(a) >> 112) as u32,
            };
            (p, block % groups)
        })
        .collect()
}

/// A CiliumCIDRGroup YAML document set with `n` prefixes spread over `groups` groups at random.
pub fn ccg_yaml(n: usize, groups: u32, seed: u64) -> String {
    ccg_yaml_of(prefixes(n, groups, seed), groups)
}

/// A CiliumCIDRGroup YAML document set for the given pairs.
pub fn ccg_yaml_of(pairs: Vec<(Prefix, u32)>, groups: u32) -> String {
    let n = pairs.len();
    let mut by_group: Vec<Vec<Prefix>> = vec![Vec::new(); groups as usize];
    for (p, g) in pairs {
        by_group[g as usize].push(p);
    }
    let mut out = String::with_capacity(n * 24);
    for (g, ps) in by_group.iter().enumerate() {
        out.push_str(&format!(
            "---\napiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata:\n  name: geo-{g:03}\n  labels:\n    geo: c{g}\nspec:\n  externalCIDRs:\n"
        ));
        for p in ps {
            out.push_str("  - \"");
            out.push_str(&p.to_string());
            out.push_str("\"\n");
        }
    }
    out
}
