//! CIDR-group tables for hubble-ingest.
#![warn(missing_docs)]

pub mod group;
pub mod prefix;
pub mod table;

pub use group::{Group, GroupSet, GroupSource, Origin};
pub use prefix::{Prefix, PrefixError};
pub use table::{GroupId, GroupInfo, Match, PrefixTable, TableStats};
