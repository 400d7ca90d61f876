//! Output of the `cidr-lookup` subcommand: one JSON object per IP.
//!
//! Owns: [`lookup_json`] and [`write_lookup_json`]. Guarantees: the object is
//! `{"ip":"<canonical address>","groups":[names, most specific first],"labels":{merged labels}}` on one line;
//! an input that is not an IP address is an [`InvalidIp`] naming the input, never a panic.

use std::net::IpAddr;

use crate::table::PrefixTable;

/// The input was not an IPv4 or IPv6 address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid IP address {input:?}")]
pub struct InvalidIp {
    /// The input as given.
    pub input: String,
}

/// Look `input` (surrounding whitespace ignored) up and render the JSON object.
pub fn lookup_json(table: &PrefixTable, input: &str) -> Result<String, InvalidIp> {
    let mut out = Vec::with_capacity(96);
    write_lookup_json(table, input, &mut out)?;
    String::from_utf8(out).map_err(|_| InvalidIp {
        input: input.to_owned(),
    })
}

/// [`lookup_json`] appending to a reusable buffer (no trailing newline).
pub fn write_lookup_json(
    table: &PrefixTable,
    input: &str,
    out: &mut Vec<u8>,
) -> Result<(), InvalidIp> {
    let ip: IpAddr = input.trim().parse().map_err(|_| InvalidIp {
        input: input.to_owned(),
    })?;
    let m = table.lookup(ip);
    out.extend_from_slice(b"{\"ip\":\"");
    out.extend_from_slice(ip.to_string().as_bytes());
    out.extend_from_slice(b"\",\"groups\":");
    m.write_groups_json(out);
    out.extend_from_slice(b",\"labels\":");
    m.write_labels_json(out);
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GroupSet, Prefix};

    fn table() -> PrefixTable {
        let mut set = GroupSet::new();
        let g = set.entry("geo-ru");
        g.labels.insert("geo".into(), "ru".into());
        g.labels
            .insert("note".into(), "quote \" and \\ kept".into());
        g.prefixes.push(Prefix::parse("203.0.113.0/24").unwrap());
        let g = set.entry("block\"list");
        g.prefixes.push(Prefix::parse("203.0.113.64/26").unwrap());
        PrefixTable::build(&set)
    }

    #[test]
    fn renders_groups_and_labels_as_valid_json() {
        let t = table();
        let s = lookup_json(&t, " 203.0.113.70\n").unwrap();
        assert_eq!(
            s,
            r#"{"ip":"203.0.113.70","groups":["block\"list","geo-ru"],"labels":{"geo":"ru","note":"quote \" and \\ kept"}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["groups"][0], "block\"list");
        assert_eq!(
            lookup_json(&t, "::FFFF:203.0.113.1").unwrap(),
            r#"{"ip":"::ffff:203.0.113.1","groups":["geo-ru"],"labels":{"geo":"ru","note":"quote \" and \\ kept"}}"#
        );
        assert_eq!(
            lookup_json(&t, "192.0.2.1").unwrap(),
            r#"{"ip":"192.0.2.1","groups":[],"labels":{}}"#
        );
    }

    #[test]
    fn invalid_input_is_an_error_naming_it() {
        let err = lookup_json(&table(), "10.0.0.0/8").unwrap_err();
        assert_eq!(err.input, "10.0.0.0/8");
        assert_eq!(err.to_string(), "invalid IP address \"10.0.0.0/8\"");
    }
}
