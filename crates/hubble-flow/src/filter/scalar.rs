//! Matchers for scalar flow fields compared by membership: uuid, verdict, drop_reason_desc, traffic_direction,
//! ip_version, reply, identities, workloads, cluster names, interface, trace ids, encrypted.
//!
//! Guarantees: the nil-handling of each cilium filter is kept (e.g. an absent enum is its zero value, an absent
//! endpoint never matches an identity, `trace_id` compares the empty string for events without a trace context,
//! `ip_trace_id` compares 0 for events without one).

use super::build::MatchFn;
use super::spec::{NetworkInterfaceSpec, WorkloadSpec};
use crate::enums::{EnumTable, DROP_REASON, IP_VERSION, TRAFFIC_DIRECTION, VERDICT};
use crate::flow::{Endpoint, Flow};
use crate::json::EnumValue;

/// Which endpoint of a flow a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `source`.
    Source,
    /// `destination`.
    Destination,
}

impl Side {
    /// The endpoint on this side, if present.
    pub fn endpoint<'r, 'a>(self, f: &'r Flow<'a>) -> Option<&'r Endpoint<'a>> {
        match self {
            Side::Source => f.source.as_ref(),
            Side::Destination => f.destination.as_ref(),
        }
    }
}

/// The number of an enum field; absent = 0 (proto3 default); unknown name = `None`.
pub fn enum_code(v: &Option<EnumValue<'_>>, t: &EnumTable) -> Option<i32> {
    match v {
        None => Some(0),
        Some(v) => t.code(v),
    }
}

fn enum_member(values: &[i32], v: &Option<EnumValue<'_>>, t: &EnumTable) -> bool {
    enum_code(v, t).is_some_and(|c| values.contains(&c))
}

/// `uuid`: exact membership of the flow uuid.
pub fn uuid(ids: Vec<String>) -> MatchFn {
    Box::new(move |ev| {
        ev.flow()
            .is_some_and(|f| ids.iter().any(|id| id == f.uuid.as_deref().unwrap_or("")))
    })
}

/// `verdict`.
pub fn verdict(vs: Vec<i32>) -> MatchFn {
    Box::new(move |ev| {
        ev.flow()
            .is_some_and(|f| enum_member(&vs, &f.verdict, &VERDICT))
    })
}

/// `drop_reason_desc`: the flow must be DROPPED and its drop reason in the list.
pub fn drop_reason_desc(rs: Vec<i32>) -> MatchFn {
    Box::new(move |ev| {
        ev.flow().is_some_and(|f| {
            enum_code(&f.verdict, &VERDICT) == Some(2)
                && enum_member(&rs, &f.drop_reason_desc, &DROP_REASON)
        })
    })
}

/// `traffic_direction`.
pub fn traffic_direction(ds: Vec<i32>) -> MatchFn {
    Box::new(move |ev| {
        ev.flow()
            .is_some_and(|f| enum_member(&ds, &f.traffic_direction, &TRAFFIC_DIRECTION))
    })
}

/// `ip_version` (`IP.ipVersion`, absent = IP_NOT_USED).
pub fn ip_version(vs: Vec<i32>) -> MatchFn {
    Box::new(move |ev| {
        ev.flow().is_some_and(|f| match &f.ip {
            None => vs.contains(&0),
            Some(ip) => enum_member(&vs, &ip.ip_version, &IP_VERSION),
        })
    })
}

/// `reply`: uses `is_reply`; absent `is_reply` only counts (as false) for DROPPED flows.
pub fn reply(rs: Vec<bool>) -> MatchFn {
    Box::new(move |ev| {
        let Some(f) = ev.flow() else { return false };
        if f.is_reply.is_none() && enum_code(&f.verdict, &VERDICT) != Some(2) {
            return false;
        }
        rs.contains(&f.is_reply.unwrap_or(false))
    })
}

/// `source_identity` / `destination_identity`: the endpoint must be present.
pub fn identity(ids: Vec<u32>, side: Side) -> MatchFn {
    Box::new(move |ev| {
        ev.flow()
            .and_then(|f| side.endpoint(f))
            .is_some_and(|ep| ids.contains(&ep.identity.unwrap_or(0)))
    })
}

/// `source_workload` / `destination_workload`: empty name/kind are wildcards.
pub fn workload(ws: Vec<WorkloadSpec>, side: Side) -> MatchFn {
    Box::new(move |ev| {
        let Some(ep) = ev.flow().and_then(|f| side.endpoint(f)) else {
            return false;
        };
        ep.workloads.iter().any(|w| {
            let (name, kind) = (w.name.unwrap_or(""), w.kind.unwrap_or(""));
            ws.iter().any(|f| {
                (f.name.is_empty() || f.name == name) && (f.kind.is_empty() || f.kind == kind)
            })
        })
    })
}

/// `source_cluster_name` / `destination_cluster_name`: exact; an empty name is a build error.
pub fn cluster_name(names: Vec<String>, side: Side) -> Result<MatchFn, String> {
    if names.iter().any(String::is_empty) {
        return Err("invalid filter, name must not be empty".into());
    }
    Ok(Box::new(move |ev| {
        let target = ev
            .flow()
            .and_then(|f| side.endpoint(f))
            .and_then(|ep| ep.cluster_name.as_deref())
            .unwrap_or("");
        names.iter().any(|n| n == target)
    }))
}

/// `interface`: the flow must carry an interface; index 0 / empty name are wildcards.
pub fn interface(ifs: Vec<NetworkInterfaceSpec>) -> MatchFn {
    Box::new(move |ev| {
        let Some(i) = ev.flow().and_then(|f| f.interface.as_ref()) else {
            return false;
        };
        let name = i.name.as_deref().unwrap_or("");
        ifs.iter()
            .any(|f| (f.index == 0 || f.index == i.index) && (f.name.is_empty() || f.name == name))
    })
}

/// `trace_id`: `trace_context.parent.trace_id`, the empty string when any part is absent (any event kind).
pub fn trace_id(ids: Vec<String>) -> MatchFn {
    Box::new(move |ev| {
        let t = ev
            .flow()
            .and_then(|f| f.trace_context.as_ref())
            .and_then(|c| c.parent.as_ref())
            .and_then(|p| p.trace_id.as_deref())
            .unwrap_or("");
        ids.iter().any(|id| id == t)
    })
}

/// `ip_trace_id`: `ip_trace_id.trace_id`, 0 when any part is absent (any event kind), as cilium's
/// `ev.GetFlow().GetIpTraceId().GetTraceId()` reads it: `ip_trace_id: [0]` keeps flows without the field.
pub fn ip_trace_id(ids: Vec<u64>) -> MatchFn {
    Box::new(move |ev| {
        let id = ev
            .flow()
            .and_then(|f| f.ip_trace_id.as_ref())
            .and_then(|t| t.trace_id)
            .unwrap_or(0);
        ids.contains(&id)
    })
}

/// `encrypted`: `IP.encrypted` (false when absent), flows only.
pub fn encrypted(es: Vec<bool>) -> MatchFn {
    Box::new(move |ev| {
        ev.flow()
            .is_some_and(|f| es.contains(&f.ip.as_ref().and_then(|i| i.encrypted).unwrap_or(false)))
    })
}
