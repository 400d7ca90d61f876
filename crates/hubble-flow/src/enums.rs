//! Name ↔ number tables for the protobuf enums that appear in Hubble flow JSON (cilium v1.19 `flow.proto`).
//!
//! Decoding keeps enum values as written ([`EnumValue`]); these tables resolve them when a filter or the
//! encoder needs the number or the canonical name. Unknown names resolve to `None`; unknown numbers have no
//! name (the encoder then writes the number, as protojson does).

use crate::json::EnumValue;

/// A protobuf enum's value table.
#[derive(Debug)]
pub struct EnumTable {
    /// The enum's protobuf name, for messages.
    pub name: &'static str,
    /// (value name, number) pairs.
    pub values: &'static [(&'static str, i32)],
}

impl EnumTable {
    /// The number of a value written by name or number (`None` for an unknown name).
    pub fn code(&self, v: &EnumValue<'_>) -> Option<i32> {
        match v {
            EnumValue::Number(n) => i32::try_from(*n).ok(),
            EnumValue::Name(name) => self.code_of_name(name),
        }
    }

    /// The name of a value written by name (as written) or number (its canonical name; `None` when unknown).
    pub fn name<'v>(&self, v: &'v EnumValue<'_>) -> Option<&'v str> {
        match v {
            EnumValue::Name(n) => Some(n.as_ref()),
            EnumValue::Number(n) => i32::try_from(*n).ok().and_then(|c| self.name_of(c)),
        }
    }

    /// The number of a value name (exact, case-sensitive, as protojson).
    pub fn code_of_name(&self, name: &str) -> Option<i32> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, c)| c)
    }

    /// The canonical name of a number, if known.
    pub fn name_of(&self, code: i32) -> Option<&'static str> {
        self.values
            .iter()
            .find(|&&(_, c)| c == code)
            .map(|&(n, _)| n)
    }
}

/// `flow.Verdict`.
pub static VERDICT: EnumTable = EnumTable {
    name: "Verdict",
    values: &[
        ("VERDICT_UNKNOWN", 0),
        ("FORWARDED", 1),
        ("DROPPED", 2),
        ("ERROR", 3),
        ("AUDIT", 4),
        ("REDIRECTED", 5),
        ("TRACED", 6),
        ("TRANSLATED", 7),
    ],
};

/// `flow.TrafficDirection`.
pub static TRAFFIC_DIRECTION: EnumTable = EnumTable {
    name: "TrafficDirection",
    values: &[
        ("TRAFFIC_DIRECTION_UNKNOWN", 0),
        ("INGRESS", 1),
        ("EGRESS", 2),
    ],
};

/// `flow.IPVersion`.
pub static IP_VERSION: EnumTable = EnumTable {
    name: "IPVersion",
    values: &[("IP_NOT_USED", 0), ("IPv4", 1), ("IPv6", 2)],
};

/// `flow.FlowType`.
pub static FLOW_TYPE: EnumTable = EnumTable {
    name: "FlowType",
    values: &[("UNKNOWN_TYPE", 0), ("L3_L4", 1), ("L7", 2), ("SOCK", 3)],
};

/// `flow.L7FlowType`.
pub static L7_FLOW_TYPE: EnumTable = EnumTable {
    name: "L7FlowType",
    values: &[
        ("UNKNOWN_L7_TYPE", 0),
        ("REQUEST", 1),
        ("RESPONSE", 2),
        ("SAMPLE", 3),
    ],
};

/// `flow.AgentEventType`.
pub static AGENT_EVENT_TYPE: EnumTable = EnumTable {
    name: "AgentEventType",
    values: &[
        ("AGENT_EVENT_UNKNOWN", 0),
        ("AGENT_STARTED", 2),
        ("POLICY_UPDATED", 3),
        ("POLICY_DELETED", 4),
        ("ENDPOINT_REGENERATE_SUCCESS", 5),
        ("ENDPOINT_REGENERATE_FAILURE", 6),
        ("ENDPOINT_CREATED", 7),
        ("ENDPOINT_DELETED", 8),
        ("IPCACHE_UPSERTED", 9),
        ("IPCACHE_DELETED", 10),
        ("SERVICE_UPSERTED", 11),
        ("SERVICE_DELETED", 12),
    ],
};

/// `flow.DropReason` (names from flow.proto; deprecated values included).
pub static DROP_REASON: EnumTable = EnumTable {
    name: "DropReason",
    values: &[
        ("DROP_REASON_UNKNOWN", 0),
        ("INVALID_SOURCE_MAC", 130),
        ("INVALID_DESTINATION_MAC", 131),
        ("INVALID_SOURCE_IP", 132),
        ("POLICY_DENIED", 133),
        ("INVALID_PACKET_DROPPED", 134),
        ("CT_TRUNCATED_OR_INVALID_HEADER", 135),
        ("CT_MISSING_TCP_ACK_FLAG", 136),
        ("CT_UNKNOWN_L4_PROTOCOL", 137),
        ("CT_CANNOT_CREATE_ENTRY_FROM_PACKET", 138),
        ("UNSUPPORTED_L3_PROTOCOL", 139),
        ("MISSED_TAIL_CALL", 140),
        ("ERROR_WRITING_TO_PACKET", 141),
        ("UNKNOWN_L4_PROTOCOL", 142),
        ("UNKNOWN_ICMPV4_CODE", 143),
        ("UNKNOWN_ICMPV4_TYPE", 144),
        ("UNKNOWN_ICMPV6_CODE", 145),
        ("UNKNOWN_ICMPV6_TYPE", 146),
        ("ERROR_RETRIEVING_TUNNEL_KEY", 147),
        ("ERROR_RETRIEVING_TUNNEL_OPTIONS", 148),
        ("INVALID_GENEVE_OPTION", 149),
        ("UNKNOWN_L3_TARGET_ADDRESS", 150),
        ("STALE_OR_UNROUTABLE_IP", 151),
        ("NO_MATCHING_LOCAL_CONTAINER_FOUND", 152),
        ("ERROR_WHILE_CORRECTING_L3_CHECKSUM", 153),
        ("ERROR_WHILE_CORRECTING_L4_CHECKSUM", 154),
        ("CT_MAP_INSERTION_FAILED", 155),
        ("INVALID_IPV6_EXTENSION_HEADER", 156),
        ("IP_FRAGMENTATION_NOT_SUPPORTED", 157),
        ("SERVICE_BACKEND_NOT_FOUND", 158),
        ("NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT", 160),
        ("FAILED_TO_INSERT_INTO_PROXYMAP", 161),
        ("REACHED_EDT_RATE_LIMITING_DROP_HORIZON", 162),
        ("UNKNOWN_CONNECTION_TRACKING_STATE", 163),
        ("LOCAL_HOST_IS_UNREACHABLE", 164),
        ("NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION", 165),
        ("UNSUPPORTED_L2_PROTOCOL", 166),
        ("NO_MAPPING_FOR_NAT_MASQUERADE", 167),
        ("UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE", 168),
        ("FIB_LOOKUP_FAILED", 169),
        ("ENCAPSULATION_TRAFFIC_IS_PROHIBITED", 170),
        ("INVALID_IDENTITY", 171),
        ("UNKNOWN_SENDER", 172),
        ("NAT_NOT_NEEDED", 173),
        ("IS_A_CLUSTERIP", 174),
        ("FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND", 175),
        ("FORBIDDEN_ICMPV6_MESSAGE", 176),
        ("DENIED_BY_LB_SRC_RANGE_CHECK", 177),
        ("SOCKET_LOOKUP_FAILED", 178),
        ("SOCKET_ASSIGN_FAILED", 179),
        ("PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL", 180),
        ("POLICY_DENY", 181),
        ("VLAN_FILTERED", 182),
        ("INVALID_VNI", 183),
        ("INVALID_TC_BUFFER", 184),
        ("NO_SID", 185),
        ("MISSING_SRV6_STATE", 186),
        ("NAT46", 187),
        ("NAT64", 188),
        ("AUTH_REQUIRED", 189),
        ("CT_NO_MAP_FOUND", 190),
        ("SNAT_NO_MAP_FOUND", 191),
        ("INVALID_CLUSTER_ID", 192),
        ("UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP", 193),
        ("NO_EGRESS_GATEWAY", 194),
        ("UNENCRYPTED_TRAFFIC", 195),
        ("TTL_EXCEEDED", 196),
        ("NO_NODE_ID", 197),
        ("DROP_RATE_LIMITED", 198),
        ("IGMP_HANDLED", 199),
        ("IGMP_SUBSCRIBED", 200),
        ("MULTICAST_HANDLED", 201),
        ("DROP_HOST_NOT_READY", 202),
        ("DROP_EP_NOT_READY", 203),
        ("DROP_NO_EGRESS_IP", 204),
        ("DROP_PUNT_PROXY", 205),
    ],
};

/// `flow.DebugEventType` (cilium v1.19 flow.proto).
pub static DEBUG_EVENT_TYPE: EnumTable = EnumTable {
    name: "DebugEventType",
    values: &[
        ("DBG_EVENT_UNKNOWN", 0),
        ("DBG_GENERIC", 1),
        ("DBG_LOCAL_DELIVERY", 2),
        ("DBG_ENCAP", 3),
        ("DBG_LXC_FOUND", 4),
        ("DBG_POLICY_DENIED", 5),
        ("DBG_CT_LOOKUP", 6),
        ("DBG_CT_LOOKUP_REV", 7),
        ("DBG_CT_MATCH", 8),
        ("DBG_CT_CREATED", 9),
        ("DBG_CT_CREATED2", 10),
        ("DBG_ICMP6_HANDLE", 11),
        ("DBG_ICMP6_REQUEST", 12),
        ("DBG_ICMP6_NS", 13),
        ("DBG_ICMP6_TIME_EXCEEDED", 14),
        ("DBG_CT_VERDICT", 15),
        ("DBG_DECAP", 16),
        ("DBG_PORT_MAP", 17),
        ("DBG_ERROR_RET", 18),
        ("DBG_TO_HOST", 19),
        ("DBG_TO_STACK", 20),
        ("DBG_PKT_HASH", 21),
        ("DBG_LB6_LOOKUP_FRONTEND", 22),
        ("DBG_LB6_LOOKUP_FRONTEND_FAIL", 23),
        ("DBG_LB6_LOOKUP_BACKEND_SLOT", 24),
        ("DBG_LB6_LOOKUP_BACKEND_SLOT_SUCCESS", 25),
        ("DBG_LB6_LOOKUP_BACKEND_SLOT_V2_FAIL", 26),
        ("DBG_LB6_LOOKUP_BACKEND_FAIL", 27),
        ("DBG_LB6_REVERSE_NAT_LOOKUP", 28),
        ("DBG_LB6_REVERSE_NAT", 29),
        ("DBG_LB4_LOOKUP_FRONTEND", 30),
        ("DBG_LB4_LOOKUP_FRONTEND_FAIL", 31),
        ("DBG_LB4_LOOKUP_BACKEND_SLOT", 32),
        ("DBG_LB4_LOOKUP_BACKEND_SLOT_SUCCESS", 33),
        ("DBG_LB4_LOOKUP_BACKEND_SLOT_V2_FAIL", 34),
        ("DBG_LB4_LOOKUP_BACKEND_FAIL", 35),
        ("DBG_LB4_REVERSE_NAT_LOOKUP", 36),
        ("DBG_LB4_REVERSE_NAT", 37),
        ("DBG_LB4_LOOPBACK_SNAT", 38),
        ("DBG_LB4_LOOPBACK_SNAT_REV", 39),
        ("DBG_CT_LOOKUP4", 40),
        ("DBG_RR_BACKEND_SLOT_SEL", 41),
        ("DBG_REV_PROXY_LOOKUP", 42),
        ("DBG_REV_PROXY_FOUND", 43),
        ("DBG_REV_PROXY_UPDATE", 44),
        ("DBG_L4_POLICY", 45),
        ("DBG_NETDEV_IN_CLUSTER", 46),
        ("DBG_NETDEV_ENCAP4", 47),
        ("DBG_CT_LOOKUP4_1", 48),
        ("DBG_CT_LOOKUP4_2", 49),
        ("DBG_CT_CREATED4", 50),
        ("DBG_CT_LOOKUP6_1", 51),
        ("DBG_CT_LOOKUP6_2", 52),
        ("DBG_CT_CREATED6", 53),
        ("DBG_SKIP_PROXY", 54),
        ("DBG_L4_CREATE", 55),
        ("DBG_IP_ID_MAP_FAILED4", 56),
        ("DBG_IP_ID_MAP_FAILED6", 57),
        ("DBG_IP_ID_MAP_SUCCEED4", 58),
        ("DBG_IP_ID_MAP_SUCCEED6", 59),
        ("DBG_LB_STALE_CT", 60),
        ("DBG_INHERIT_IDENTITY", 61),
        ("DBG_SK_LOOKUP4", 62),
        ("DBG_SK_LOOKUP6", 63),
        ("DBG_SK_ASSIGN", 64),
        ("DBG_L7_LB", 65),
        ("DBG_SKIP_POLICY", 66),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn resolves_names_and_numbers() {
        assert_eq!(
            VERDICT.code(&EnumValue::Name(Cow::Borrowed("DROPPED"))),
            Some(2)
        );
        assert_eq!(VERDICT.code(&EnumValue::Number(7)), Some(7));
        assert_eq!(
            VERDICT.code(&EnumValue::Name(Cow::Borrowed("dropped"))),
            None
        );
        assert_eq!(DROP_REASON.name_of(181), Some("POLICY_DENY"));
        assert_eq!(DROP_REASON.code_of_name("POLICY_DENIED"), Some(133));
        assert_eq!(DROP_REASON.name_of(206), None);
    }
}
