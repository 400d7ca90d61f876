//! The enrich stage: the CIDR groups that contain a kept flow's source and destination addresses.
//!
//! Guarantees: each address is parsed once and looked up in the prefix table once per kept flow; the result
//! ([`Enrichment`]) borrows from the table (no allocation) and is handed to the summary and to the encoder, which
//! never look anything up again. An address that is present but not an IP makes the flow invalid
//! ([`AddressError`]): bad input, counted and skipped by the caller. See ARCHITECTURE.md ("enrich").

use hubble_cidr::{Match, PrefixTable};
use hubble_flow::flow::Flow;
use std::net::IpAddr;

/// The parsed addresses of a flow and the CIDR groups that contain them.
#[derive(Default)]
pub struct Enrichment<'t> {
    /// The source address, when present.
    pub source_ip: Option<IpAddr>,
    /// The destination address, when present.
    pub destination_ip: Option<IpAddr>,
    source: Option<Match<'t>>,
    destination: Option<Match<'t>>,
}

impl<'t> Enrichment<'t> {
    /// The groups containing the source address (none when no table, no address or no group).
    pub fn source_groups(&self) -> Option<Match<'t>> {
        self.source.filter(|m| !m.is_empty())
    }

    /// The groups containing the destination address (none when no table, no address or no group).
    pub fn destination_groups(&self) -> Option<Match<'t>> {
        self.destination.filter(|m| !m.is_empty())
    }

    /// Whether a table was consulted for the destination (so "no group" is an answer, not "not looked up").
    pub fn destination_looked_up(&self) -> bool {
        self.destination.is_some()
    }
}

/// A flow address that is present but not an IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressError;

fn parse(addr: Option<&str>) -> Result<Option<IpAddr>, AddressError> {
    match addr {
        None | Some("") => Ok(None),
        Some(a) => a.parse().map(Some).map_err(|_| AddressError),
    }
}

/// Parses the flow's addresses (source, destination and, for validation, the SNAT source) and looks the source
/// and destination up in `table`.
pub fn enrich<'t>(
    flow: &Flow<'_>,
    table: Option<&'t PrefixTable>,
) -> Result<Enrichment<'t>, AddressError> {
    let Some(ip) = &flow.ip else {
        return Ok(Enrichment::default());
    };
    let source_ip = parse(ip.source.as_deref())?;
    let destination_ip = parse(ip.destination.as_deref())?;
    parse(ip.source_xlated.as_deref())?;
    let look = |a: Option<IpAddr>| table.zip(a).map(|(t, a)| t.lookup(a));
    Ok(Enrichment {
        source_ip,
        destination_ip,
        source: look(source_ip),
        destination: look(destination_ip),
    })
}
